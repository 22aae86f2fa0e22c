package io.condcast;

import java.nio.ByteBuffer;
import java.util.UUID;

/**
 * The Fragment message (kind 1) on the hot path (mirrors {@code ts/src/wire/fragment.ts}): a flyweight
 * that reads a Fragment body in place, and a writer of its header with the exact bytes protobuf's
 * serializer produces (SPEC 3). Neither allocates. Reuse one view for every datagram; its fields are
 * valid until the next {@link #parse}.
 */
public final class FragmentView {
    // Tags: (field number << 3) | wire type.
    static final int TAG_SENDER_ID = 0x09; // 1, fixed64
    static final int TAG_SEQUENCE = 0x10; // 2, varint
    static final int TAG_OBJECT_ID = 0x1a; // 3, length-delimited
    static final int TAG_ENVELOPE_LENGTH = 0x20; // 4, varint
    static final int TAG_METADATA_LENGTH = 0x28; // 5, varint
    static final int TAG_FRAGMENT_SIZE = 0x30; // 6, varint
    static final int TAG_INDEX = 0x38; // 7, varint
    static final int TAG_FEC_SCHEME = 0x40; // 8, varint
    static final int TAG_FEC_BLOCK_LENGTH = 0x48; // 9, varint
    static final int TAG_FEC_PARITY_COUNT = 0x50; // 10, varint
    static final int TAG_CHUNK = 0x7a; // 15, length-delimited

    private ByteBuffer buf;
    private long senderId;
    private long sequence;
    private int objectIdOffset;
    private int objectIdLength;
    private long envelopeLength;
    private long metadataLength;
    private long fragmentSize;
    private long index;
    private long fecScheme;
    private long fecBlockLength;
    private long fecParityCount;
    private long fragmentCount;
    private int chunkOffset;
    private int chunkLength;
    /** Read cursor; -1 after a malformed varint. */
    private int pos;

    /**
     * Parses buf[start, end) (absolute positions) and applies SPEC 5.1 rows 10 to 17.
     *
     * @param buffer the datagram
     * @param start where the body starts
     * @param end where the body ends (before any trailer)
     * @param maxEnvelopeLength the receiver's envelope cap
     * @return the drop reason, or null when the fragment is valid
     */
    public DropReason parse(final ByteBuffer buffer, final int start, final int end, final long maxEnvelopeLength) {
        if (!read(buffer, start, end)) {
            return DropReason.MALFORMED;
        }
        if (sequence < 1 || sequence > Wire.MAX_SEQUENCE) { // negative = above 2^63 unsigned
            return DropReason.MALFORMED;
        }
        if (objectIdLength != Wire.OBJECT_ID_LENGTH) {
            return DropReason.BAD_OBJECT_ID;
        }
        if (fecScheme != 0 && fecScheme != FecLayout.SCHEME_RS8) {
            return DropReason.UNSUPPORTED_FEC;
        }
        if (fecScheme == 0 ? fecBlockLength != 0 || fecParityCount != 0
            : fecBlockLength < 1 || fecParityCount < 1
                || fecBlockLength + fecParityCount > FecLayout.MAX_SYMBOLS_PER_BLOCK) {
            return DropReason.BAD_FEC;
        }
        if (Long.compareUnsigned(envelopeLength, maxEnvelopeLength) > 0) {
            return DropReason.OVERSIZE;
        }
        if (envelopeLength < 1 || metadataLength < 1 || metadataLength > envelopeLength
            || fragmentSize < 1 || fragmentSize > Wire.MAX_DATAGRAM_SIZE) {
            return DropReason.BAD_LENGTH;
        }
        final long count = Wire.fragmentCount(envelopeLength, fragmentSize);
        fragmentCount = count;
        // Scheme 1: N · m parity fragments follow the T source fragments (SPEC 10.2).
        final long limit = fecScheme == 0 ? count
            : count + (count + fecBlockLength - 1) / fecBlockLength * fecParityCount;
        if (index >= limit) {
            return DropReason.INDEX_OUT_OF_RANGE;
        }
        final long expected = index >= count ? Math.min(fragmentSize, envelopeLength)
            : index == count - 1 ? envelopeLength - (count - 1) * fragmentSize : fragmentSize;
        if (chunkLength != expected) {
            return DropReason.BAD_LENGTH;
        }
        return null;
    }

    private boolean read(final ByteBuffer b, final int start, final int end) {
        buf = b;
        senderId = 0;
        sequence = 0;
        objectIdOffset = -1;
        objectIdLength = 0;
        envelopeLength = 0;
        metadataLength = 0;
        fragmentSize = 0;
        index = 0;
        fecScheme = 0;
        fecBlockLength = 0;
        fecParityCount = 0;
        fragmentCount = 0;
        chunkOffset = end;
        chunkLength = 0;
        pos = start;
        while (pos < end) {
            final int tagStart = pos;
            final long tag = readVarint(end);
            // field numbers end at 2^29 - 1; a tag is a uint32 varint of at most 5 bytes (SPEC 5.1 row 10)
            if (pos < 0 || tag < 0 || tag > 0xFFFFFFFFL || pos - tagStart > WireTypeCheck.MAX_TAG_LENGTH) {
                return false;
            }
            final long field = tag >>> 3;
            final int wireType = (int) (tag & 7);
            if (field == 0) {
                return false;
            }
            if (field == 1) {
                if (wireType != 1 || end - pos < 8) {
                    return false;
                }
                senderId = longLittleEndian(b, pos);
                pos += 8;
            } else if (field == 2) {
                if (wireType != 0) {
                    return false;
                }
                sequence = readVarint(end);
                if (pos < 0) {
                    return false;
                }
            } else if (field == 3 || field == 15) {
                if (wireType != 2) {
                    return false;
                }
                final long length = readVarint(end);
                if (pos < 0 || length < 0 || length > end - pos) {
                    return false;
                }
                if (field == 3) {
                    objectIdOffset = pos;
                    objectIdLength = (int) length;
                } else {
                    chunkOffset = pos;
                    chunkLength = (int) length;
                }
                pos += (int) length;
            } else if (field >= 4 && field <= 10) {
                if (wireType != 0) {
                    return false;
                }
                final long value = readVarint(end);
                if (pos < 0) {
                    return false;
                }
                // uint32 fields keep the low 32 bits, as protobuf does; envelope_length is uint64.
                if (field == 4) {
                    envelopeLength = value;
                } else if (field == 5) {
                    metadataLength = value & 0xFFFFFFFFL;
                } else if (field == 6) {
                    fragmentSize = value & 0xFFFFFFFFL;
                } else if (field == 7) {
                    index = value & 0xFFFFFFFFL;
                } else if (field == 8) {
                    fecScheme = value & 0xFFFFFFFFL;
                } else if (field == 9) {
                    fecBlockLength = value & 0xFFFFFFFFL;
                } else {
                    fecParityCount = value & 0xFFFFFFFFL;
                }
            } else if (!skipField(wireType, end)) {
                return false;
            }
        }
        return true;
    }

    /** Reads a varint of up to 10 bytes at pos; sets pos to -1 when it is truncated or too long. */
    private long readVarint(final int end) {
        long value = 0;
        for (int shift = 0; shift < 70; shift += 7) {
            if (pos >= end) {
                pos = -1;
                return 0;
            }
            final int b = buf.get(pos++);
            value |= (long) (b & 0x7F) << shift;
            if (b >= 0) {
                return value;
            }
        }
        pos = -1;
        return 0;
    }

    private boolean skipField(final int wireType, final int end) {
        switch (wireType) {
            case 0:
                readVarint(end);
                return pos >= 0;
            case 1:
                if (end - pos < 8) {
                    return false;
                }
                pos += 8;
                return true;
            case 2: {
                final long length = readVarint(end);
                if (pos < 0 || length < 0 || length > end - pos) {
                    return false;
                }
                pos += (int) length;
                return true;
            }
            case 5:
                if (end - pos < 4) {
                    return false;
                }
                pos += 4;
                return true;
            default:
                return false; // groups (3, 4) and undefined wire types
        }
    }

    static long longLittleEndian(final ByteBuffer b, final int at) {
        long v = 0;
        for (int i = 7; i >= 0; i--) {
            v = (v << 8) | (b.get(at + i) & 0xFF);
        }
        return v;
    }

    /** @return the buffer of the last parse */
    public ByteBuffer buffer() {
        return buf;
    }

    /** @return sender_id (unsigned 64 bits) */
    public long senderId() {
        return senderId;
    }

    /** @return sequence */
    public long sequence() {
        return sequence;
    }

    /** @return offset of the 16 object id bytes in the buffer; -1 when absent */
    public int objectIdOffset() {
        return objectIdOffset;
    }

    /** @return the object id's length on the wire */
    public int objectIdLength() {
        return objectIdLength;
    }

    /** @return the object id's most significant 8 bytes (big-endian); only after a valid parse */
    public long objectIdHigh() {
        return Ids.longBigEndian(buf, objectIdOffset);
    }

    /** @return the object id's least significant 8 bytes (big-endian); only after a valid parse */
    public long objectIdLow() {
        return Ids.longBigEndian(buf, objectIdOffset + 8);
    }

    /** @return the object id (allocates; not for the per-datagram path) */
    public UUID objectId() {
        return Ids.uuidAt(buf, objectIdOffset);
    }

    /** @return envelope_length (unsigned) */
    public long envelopeLength() {
        return envelopeLength;
    }

    /** @return metadata_length */
    public long metadataLength() {
        return metadataLength;
    }

    /** @return fragment_size */
    public long fragmentSize() {
        return fragmentSize;
    }

    /** @return index */
    public long index() {
        return index;
    }

    /** @return fec_scheme */
    public long fecScheme() {
        return fecScheme;
    }

    /** @return fec_block_length (B) */
    public long fecBlockLength() {
        return fecBlockLength;
    }

    /** @return fec_parity_count (m) */
    public long fecParityCount() {
        return fecParityCount;
    }

    /** @return T, the number of source fragments; only after a valid parse */
    public long fragmentCount() {
        return fragmentCount;
    }

    /** @return whether this is a parity fragment (scheme 1, index &ge; T); only after a valid parse */
    public boolean isParity() {
        return index >= fragmentCount;
    }

    /** @return offset of the chunk's bytes in the buffer */
    public int chunkOffset() {
        return chunkOffset;
    }

    /** @return the chunk's length */
    public int chunkLength() {
        return chunkLength;
    }

    /** @return the sender id as 16 hex digits (allocates) */
    public String senderIdHex() {
        return Ids.formatSenderId(senderId);
    }

    // ---- writing -------------------------------------------------------------------------------

    /**
     * Writes Fragment fields 1 to 7 and the chunk's tag and length, without FEC (scheme 0).
     *
     * @param out the buffer
     * @param offset where the header starts
     * @param senderId sender_id
     * @param sequence sequence
     * @param objectIdHigh the object id's first 8 bytes, big-endian
     * @param objectIdLow the object id's last 8 bytes, big-endian
     * @param envelopeLength envelope_length
     * @param metadataLength metadata_length
     * @param fragmentSize fragment_size
     * @param index index
     * @param chunkLength the chunk's length
     * @return the offset where the chunk's bytes go
     */
    public static int writeHeader(final ByteBuffer out, final int offset, final long senderId, final long sequence,
                                  final long objectIdHigh, final long objectIdLow, final long envelopeLength,
                                  final long metadataLength, final long fragmentSize, final long index,
                                  final int chunkLength) {
        return writeHeader(out, offset, senderId, sequence, objectIdHigh, objectIdLow, envelopeLength, metadataLength,
            fragmentSize, index, 0, 0, 0, chunkLength);
    }

    /**
     * Writes Fragment fields 1 to 10 and the chunk's tag and length at {@code offset} (absolute; proto3:
     * zero values, including a zero sender_id, omitted; fec fields of 0 are omitted).
     *
     * @param out the buffer
     * @param offset where the header starts
     * @param senderId sender_id
     * @param sequence sequence
     * @param objectIdHigh the object id's first 8 bytes, big-endian
     * @param objectIdLow the object id's last 8 bytes, big-endian
     * @param envelopeLength envelope_length
     * @param metadataLength metadata_length
     * @param fragmentSize fragment_size
     * @param index index
     * @param fecScheme fec_scheme
     * @param fecBlockLength fec_block_length
     * @param fecParityCount fec_parity_count
     * @param chunkLength the chunk's length
     * @return the offset where the chunk's bytes go
     */
    public static int writeHeader(final ByteBuffer out, final int offset, final long senderId, final long sequence,
                                  final long objectIdHigh, final long objectIdLow, final long envelopeLength,
                                  final long metadataLength, final long fragmentSize, final long index,
                                  final long fecScheme, final long fecBlockLength, final long fecParityCount,
                                  final int chunkLength) {
        int at = offset;
        if (senderId != 0) { // proto3 omits a zero fixed64 too
            out.put(at++, (byte) TAG_SENDER_ID);
            for (int i = 0; i < 8; i++) {
                out.put(at++, (byte) (senderId >>> (8 * i)));
            }
        }
        at = writeVarintField(out, at, TAG_SEQUENCE, sequence);
        out.put(at++, (byte) TAG_OBJECT_ID);
        out.put(at++, (byte) Wire.OBJECT_ID_LENGTH);
        for (int i = 7; i >= 0; i--) {
            out.put(at++, (byte) (objectIdHigh >>> (8 * i)));
        }
        for (int i = 7; i >= 0; i--) {
            out.put(at++, (byte) (objectIdLow >>> (8 * i)));
        }
        at = writeVarintField(out, at, TAG_ENVELOPE_LENGTH, envelopeLength);
        at = writeVarintField(out, at, TAG_METADATA_LENGTH, metadataLength);
        at = writeVarintField(out, at, TAG_FRAGMENT_SIZE, fragmentSize);
        at = writeVarintField(out, at, TAG_INDEX, index);
        at = writeVarintField(out, at, TAG_FEC_SCHEME, fecScheme);
        at = writeVarintField(out, at, TAG_FEC_BLOCK_LENGTH, fecBlockLength);
        at = writeVarintField(out, at, TAG_FEC_PARITY_COUNT, fecParityCount);
        if (chunkLength > 0) {
            out.put(at++, (byte) TAG_CHUNK);
            at = writeVarint(out, at, chunkLength);
        }
        return at;
    }

    private static int writeVarintField(final ByteBuffer out, final int offset, final int tag, final long value) {
        if (value == 0) {
            return offset;
        }
        out.put(offset, (byte) tag);
        return writeVarint(out, offset + 1, value);
    }

    /**
     * Writes an unsigned varint at {@code offset} (absolute).
     *
     * @param out the buffer
     * @param offset where to write
     * @param value the value (unsigned 64 bits)
     * @return the offset after it
     */
    public static int writeVarint(final ByteBuffer out, final int offset, final long value) {
        int at = offset;
        long v = value;
        while ((v & ~0x7FL) != 0) {
            out.put(at++, (byte) ((v & 0x7F) | 0x80));
            v >>>= 7;
        }
        out.put(at++, (byte) v);
        return at;
    }
}
