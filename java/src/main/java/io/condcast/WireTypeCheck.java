package io.condcast;

import java.nio.ByteBuffer;

/**
 * The structural checks of SPEC 5.1 row 10 that protobuf-java's parser does not make: it treats a
 * known field with the wrong wire type as an unknown field, and skips groups. This scan rejects both,
 * and field number 0, truncated varints and lengths past the end, before the generated parser runs.
 */
final class WireTypeCheck {
    /** Expected wire type by field number (index), -1 for unknown fields; nested message schemas. */
    private final int[] wireTypes;
    private final WireTypeCheck[] nested;

    private WireTypeCheck(final int[] wireTypes, final WireTypeCheck[] nested) {
        this.wireTypes = wireTypes;
        this.nested = nested;
    }

    private static final int NONE = -1;
    static final WireTypeCheck METADATA_ENTRY = new WireTypeCheck(new int[] {NONE, 2, 2}, new WireTypeCheck[3]);
    static final WireTypeCheck OBJECT_META = new WireTypeCheck(
        new int[] {NONE, 2, 0, 0, 0, 2, 2, 2, 2, 2},
        new WireTypeCheck[] {null, null, null, null, null, null, null, null, METADATA_ENTRY, null});
    /** A tag is a uint32 varint: at most 5 bytes; a longer (padded) tag is malformed. */
    static final int MAX_TAG_LENGTH = 5;

    static final WireTypeCheck KEY_POSITION = new WireTypeCheck(new int[] {NONE, 2, 0}, new WireTypeCheck[3]);
    static final WireTypeCheck HEARTBEAT = new WireTypeCheck(new int[] {NONE, 1, 0, 0, 0, 2, 2},
        new WireTypeCheck[] {null, null, null, null, null, null, KEY_POSITION});
    /** Commit (kind 4): repeated bytes and strings (ids, paths) are one length-delimited value per entry. */
    static final WireTypeCheck COMMIT = new WireTypeCheck(
        new int[] {NONE, 1, 0, 2, 0, 0, 2, 0, 2, 2, 0, 0}, new WireTypeCheck[12]);
    static final WireTypeCheck LIFECYCLE = new WireTypeCheck(
        new int[] {NONE, 1, 0, 2, 0, 2, 0, 2, 0},
        new WireTypeCheck[] {null, null, null, null, null, null, null, METADATA_ENTRY, null});

    /** True when buf[start, end) is structurally a valid encoding of this message. */
    boolean check(final ByteBuffer buf, final int start, final int end) {
        int pos = start;
        while (pos < end) {
            final int tagStart = pos;
            long tag = 0;
            int shift = 0;
            while (true) {
                if (pos >= end || shift >= 70) {
                    return false;
                }
                final int b = buf.get(pos++);
                tag |= (long) (b & 0x7F) << shift;
                shift += 7;
                if (b >= 0) {
                    break;
                }
            }
            // field numbers end at 2^29 - 1; a tag is a uint32 varint of at most 5 bytes (SPEC 5.1 row 10)
            if (tag < 0 || tag > 0xFFFFFFFFL || pos - tagStart > MAX_TAG_LENGTH) {
                return false;
            }
            final long field = tag >>> 3;
            final int wireType = (int) (tag & 7);
            if (field == 0) {
                return false;
            }
            if (field < wireTypes.length && wireTypes[(int) field] != NONE && wireTypes[(int) field] != wireType) {
                return false;
            }
            switch (wireType) {
                case 0: {
                    int n = 0;
                    while (true) {
                        if (pos >= end || n >= 10) {
                            return false;
                        }
                        n++;
                        if (buf.get(pos++) >= 0) {
                            break;
                        }
                    }
                    break;
                }
                case 1:
                    if (end - pos < 8) {
                        return false;
                    }
                    pos += 8;
                    break;
                case 5:
                    if (end - pos < 4) {
                        return false;
                    }
                    pos += 4;
                    break;
                case 2: {
                    long length = 0;
                    int s = 0;
                    while (true) {
                        if (pos >= end || s >= 70) {
                            return false;
                        }
                        final int b = buf.get(pos++);
                        length |= (long) (b & 0x7F) << s;
                        s += 7;
                        if (b >= 0) {
                            break;
                        }
                    }
                    if (length < 0 || length > end - pos) {
                        return false;
                    }
                    final WireTypeCheck sub = field < nested.length ? nested[(int) field] : null;
                    if (sub != null && !sub.check(buf, pos, pos + (int) length)) {
                        return false;
                    }
                    pos += (int) length;
                    break;
                }
                default:
                    return false;
            }
        }
        return true;
    }
}
