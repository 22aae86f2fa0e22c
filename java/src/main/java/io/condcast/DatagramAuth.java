package io.condcast;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * HMAC-SHA256 truncated to 16 bytes (SPEC 2.3), computed without allocation over a datagram in a
 * (direct or heap) buffer. One instance per thread and key (mirrors {@code ts/src/wire/auth.ts}).
 */
final class DatagramAuth {
    private static final int BLOCK = 64;
    private final MessageDigest sha256;
    private final byte[] innerPad = new byte[BLOCK];
    private final byte[] outerPad = new byte[BLOCK];
    private final byte[] innerHash = new byte[32];
    private final byte[] mac = new byte[32];

    DatagramAuth(final byte[] key) {
        sha256 = newSha256();
        byte[] k = key;
        if (k.length > BLOCK) {
            k = sha256.digest(k);
        }
        for (int i = 0; i < BLOCK; i++) {
            final byte b = i < k.length ? k[i] : 0;
            innerPad[i] = (byte) (b ^ 0x36);
            outerPad[i] = (byte) (b ^ 0x5c);
        }
    }

    static MessageDigest newSha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (final NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Computes the HMAC of buf[0, end) (absolute positions; buf's position and limit are restored).
     * The first 16 bytes of the returned array (owned by this instance) are the MAC.
     */
    byte[] compute(final ByteBuffer buf, final int end) {
        final int position = buf.position();
        final int limit = buf.limit();
        try {
            sha256.reset();
            sha256.update(innerPad);
            buf.limit(end).position(0);
            sha256.update(buf);
            sha256.digest(innerHash, 0, 32);
            sha256.update(outerPad);
            sha256.update(innerHash);
            sha256.digest(mac, 0, 32);
        } catch (final java.security.DigestException e) {
            throw new IllegalStateException(e);
        } finally {
            buf.limit(limit).position(position);
        }
        return mac;
    }

    /**
     * Writes the trailer into buf[length - 20, length): the preamble must carry the auth flag and the
     * body end at length - 20.
     */
    void sign(final ByteBuffer buf, final int length, final long keyId) {
        final int at = length - Wire.AUTH_TRAILER_LENGTH;
        buf.put(at, (byte) (keyId >>> 24));
        buf.put(at + 1, (byte) (keyId >>> 16));
        buf.put(at + 2, (byte) (keyId >>> 8));
        buf.put(at + 3, (byte) keyId);
        final byte[] m = compute(buf, length - Wire.AUTH_MAC_LENGTH);
        for (int i = 0; i < Wire.AUTH_MAC_LENGTH; i++) {
            buf.put(length - Wire.AUTH_MAC_LENGTH + i, m[i]);
        }
    }

    /** Constant-time comparison of the trailer's MAC with the computed one. */
    boolean verify(final ByteBuffer buf, final int length) {
        final byte[] m = compute(buf, length - Wire.AUTH_MAC_LENGTH);
        int diff = 0;
        for (int i = 0; i < Wire.AUTH_MAC_LENGTH; i++) {
            diff |= m[i] ^ buf.get(length - Wire.AUTH_MAC_LENGTH + i);
        }
        return diff == 0;
    }
}
