package io.condcast;

import java.nio.ByteBuffer;
import java.util.Locale;
import java.util.UUID;
import java.util.regex.Pattern;

/**
 * Text forms of the wire's binary ids (SPEC 3): sender ids as 16 lowercase hex digits, object ids as
 * canonical UUIDs (mirrors {@code ts/src/wire/ids.ts}).
 */
public final class Ids {
    private static final Pattern UUID_PATTERN =
        Pattern.compile("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$");
    private static final Pattern SENDER_ID_PATTERN = Pattern.compile("^[0-9a-fA-F]{1,16}$");

    private Ids() {
    }

    /**
     * Whether a text is a UUID in the form 8-4-4-4-12 (any case).
     *
     * @param text the text
     * @return true for a UUID
     */
    public static boolean isUuid(final String text) {
        return text != null && UUID_PATTERN.matcher(text).matches();
    }

    /**
     * Parses a UUID in its 8-4-4-4-12 text form (stricter than {@link UUID#fromString}).
     *
     * @param text the UUID text
     * @return the UUID
     * @throws IllegalArgumentException when the text is not a UUID
     */
    public static UUID parseUuid(final String text) {
        if (!isUuid(text)) {
            throw new IllegalArgumentException("not a UUID: " + text);
        }
        return UUID.fromString(text);
    }

    /**
     * The 16 wire bytes of a UUID, in order.
     *
     * @param id the UUID
     * @return 16 bytes
     */
    public static byte[] uuidToBytes(final UUID id) {
        return ByteBuffer.allocate(16).putLong(id.getMostSignificantBits()).putLong(id.getLeastSignificantBits()).array();
    }

    /**
     * The UUID whose 16 bytes start at {@code offset} of {@code buf} (absolute, big-endian).
     *
     * @param buf the buffer
     * @param offset where the 16 bytes start
     * @return the UUID
     */
    public static UUID uuidAt(final ByteBuffer buf, final int offset) {
        return new UUID(longBigEndian(buf, offset), longBigEndian(buf, offset + 8));
    }

    /**
     * The UUID of 16 bytes.
     *
     * @param bytes exactly 16 bytes
     * @return the UUID
     */
    public static UUID bytesToUuid(final byte[] bytes) {
        if (bytes.length != 16) {
            throw new IllegalArgumentException("an object id is 16 bytes, got " + bytes.length);
        }
        return uuidAt(ByteBuffer.wrap(bytes), 0);
    }

    static long longBigEndian(final ByteBuffer buf, final int offset) {
        long v = 0;
        for (int i = 0; i < 8; i++) {
            v = (v << 8) | (buf.get(offset + i) & 0xFF);
        }
        return v;
    }

    /**
     * A sender id (unsigned 64-bit) from its text form: 1 to 16 hex digits.
     *
     * @param text hex digits
     * @return the id's 64 bits
     * @throws IllegalArgumentException when the text is not 1 to 16 hex digits
     */
    public static long parseSenderId(final String text) {
        if (text == null || !SENDER_ID_PATTERN.matcher(text).matches()) {
            throw new IllegalArgumentException("sender id must be 1 to 16 hex digits, got " + text);
        }
        return Long.parseUnsignedLong(text, 16);
    }

    /**
     * The text form of a sender id: 16 lowercase hex digits.
     *
     * @param senderId the id's 64 bits
     * @return 16 hex digits
     */
    public static String formatSenderId(final long senderId) {
        final String hex = Long.toHexString(senderId);
        return "0000000000000000".substring(hex.length()) + hex.toLowerCase(Locale.ROOT);
    }

    /**
     * Lowercase hex of bytes.
     *
     * @param bytes the bytes
     * @return two hex digits a byte
     */
    public static String hex(final byte[] bytes) {
        final char[] digits = "0123456789abcdef".toCharArray();
        final char[] out = new char[bytes.length * 2];
        for (int i = 0; i < bytes.length; i++) {
            out[2 * i] = digits[(bytes[i] >> 4) & 0xF];
            out[2 * i + 1] = digits[bytes[i] & 0xF];
        }
        return new String(out);
    }

    /**
     * Bytes of a hex text (even length, hex digits only).
     *
     * @param hex the text
     * @return the bytes
     * @throws IllegalArgumentException when the text is not hex
     */
    public static byte[] unhex(final String hex) {
        if (hex.length() % 2 != 0) {
            throw new IllegalArgumentException("odd number of hex digits");
        }
        final byte[] out = new byte[hex.length() / 2];
        for (int i = 0; i < out.length; i++) {
            final int hi = Character.digit(hex.charAt(2 * i), 16);
            final int lo = Character.digit(hex.charAt(2 * i + 1), 16);
            if (hi < 0 || lo < 0) {
                throw new IllegalArgumentException("not hexadecimal text");
            }
            out[i] = (byte) ((hi << 4) | lo);
        }
        return out;
    }
}
