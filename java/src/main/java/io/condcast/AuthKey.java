package io.condcast;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * A shared HMAC key and its id (SPEC 2.3). Immutable: the key bytes are copied in and out.
 */
public final class AuthKey {
    private final long id;
    private final byte[] key;

    /**
     * A key.
     *
     * @param id the key id, unsigned 32-bit (0 to 4294967295)
     * @param key at least 16 bytes
     * @throws IllegalArgumentException when the id or the key's length is out of range
     */
    public AuthKey(final long id, final byte[] key) {
        if (id < 0 || id > 0xFFFFFFFFL) {
            throw new IllegalArgumentException("key id must be a 32-bit unsigned integer, got " + id);
        }
        if (key.length < Wire.MIN_KEY_LENGTH) {
            throw new IllegalArgumentException("key must be at least " + Wire.MIN_KEY_LENGTH + " bytes, got " + key.length);
        }
        this.id = id;
        this.key = key.clone();
    }

    /**
     * A key from its hexadecimal text; white space is ignored.
     *
     * @param id the key id
     * @param text hex digits
     * @return the key
     * @throws IllegalArgumentException when the text is not hex or the key is shorter than 16 bytes
     */
    public static AuthKey fromHex(final long id, final String text) {
        final String hex = text.replaceAll("\\s+", "");
        if (hex.length() % 2 != 0 || !hex.matches("[0-9a-fA-F]*")) {
            throw new IllegalArgumentException("key must be hexadecimal text");
        }
        return new AuthKey(id, Ids.unhex(hex));
    }

    /**
     * Reads a key file: the key as hexadecimal text, white space ignored.
     *
     * @param file the file
     * @param id the key id
     * @return the key
     * @throws IOException when the file cannot be read
     */
    public static AuthKey readKeyFile(final Path file, final long id) throws IOException {
        return fromHex(id, Files.readString(file, StandardCharsets.UTF_8));
    }

    /**
     * The key id.
     *
     * @return unsigned 32-bit id
     */
    public long id() {
        return id;
    }

    /**
     * The key bytes.
     *
     * @return a copy of the key
     */
    public byte[] key() {
        return key.clone();
    }

    byte[] keyNoCopy() {
        return key;
    }

    @Override
    public boolean equals(final Object o) {
        return o instanceof AuthKey && ((AuthKey) o).id == id && Arrays.equals(((AuthKey) o).key, key);
    }

    @Override
    public int hashCode() {
        return Long.hashCode(id) * 31 + Arrays.hashCode(key);
    }

    @Override
    public String toString() {
        return "AuthKey[id=" + id + "]";
    }
}
