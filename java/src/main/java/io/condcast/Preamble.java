package io.condcast;

import java.nio.ByteBuffer;

/** The 8-byte preamble (SPEC 2.1): magic, version, kind, flags, reserved (mirrors preamble.ts). */
final class Preamble {
    private Preamble() {
    }

    static int write(final ByteBuffer buf, final int kind, final boolean authenticated) {
        buf.put(0, (byte) 0xCC);
        buf.put(1, (byte) 0xDB);
        buf.put(2, (byte) 0x63);
        buf.put(3, (byte) 0x63);
        buf.put(4, (byte) Wire.PROTOCOL_VERSION);
        buf.put(5, (byte) kind);
        buf.put(6, (byte) (authenticated ? Wire.FLAG_AUTH : 0));
        buf.put(7, (byte) 0);
        return Wire.PREAMBLE_LENGTH;
    }

    /** SPEC 5.1 rows 1 to 5: the reason of the first failure, or null. */
    static DropReason check(final ByteBuffer buf, final int length) {
        if (length < Wire.PREAMBLE_LENGTH) {
            return DropReason.TRUNCATED;
        }
        if ((buf.get(0) & 0xFF) != 0xCC || (buf.get(1) & 0xFF) != 0xDB || buf.get(2) != 0x63 || buf.get(3) != 0x63) {
            return DropReason.BAD_MAGIC;
        }
        if (buf.get(4) != Wire.PROTOCOL_VERSION) {
            return DropReason.BAD_VERSION;
        }
        if ((buf.get(6) & ~Wire.FLAG_AUTH) != 0 || buf.get(7) != 0) {
            return DropReason.BAD_FLAGS;
        }
        final int kind = buf.get(5);
        if (kind < 1 || kind > 4) {
            return DropReason.UNKNOWN_KIND;
        }
        return null;
    }
}
