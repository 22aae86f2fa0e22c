package io.condcast;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.UUID;

/**
 * Cuts one object into its datagrams (SPEC 2.4, 4.1), mirroring {@code ts/src/wire/object-encoder.ts}.
 * Built once per object; {@link #writeDatagram} fills a caller's (typically direct, reused) buffer with
 * the preamble, a hand-written Fragment header, the chunk and the trailer, without allocating. With FEC
 * (SPEC 10) the object also has parity fragments, and a {@link Cursor} walks the datagrams in the send
 * order of SPEC 10.4, computing each block's parity from its sources as they go out.
 */
public final class ObjectEncoder {
    private final int datagramSize;
    private final int fragmentSize;
    /** T: source fragments. */
    private final long sourceCount;
    /** Every datagram: T + N · m with FEC. */
    private final long count;
    private final FecLayout layout;
    private final int fecScheme;
    private final int interleave;
    private final int symbolSize;
    private final long envelopeLength;
    private final byte[] head;
    private final ByteBuffer payload;
    private final int payloadStart;
    private final long senderId;
    private final long sequence;
    private final long objectIdHigh;
    private final long objectIdLow;
    private final AuthKey key;
    private final DatagramAuth auth;
    /** Chunk position of the last datagram written (absolute offset in the out buffer). */
    private int lastChunkOffset;
    private int lastChunkLength;
    /** For {@link #writeDatagram} of a parity index: the block whose parity {@link #randomAccess} holds. */
    private FecEncoder randomAccess;
    private long randomAccessBlock = -1;

    /**
     * An encoder for one object without FEC.
     *
     * @param senderId the sender (unsigned 64 bits)
     * @param sequence the object's sequence, 1 to 2^53 - 1
     * @param id the object's id
     * @param meta metadata including the payload's MD5
     * @param payload the payload, position to limit (not copied; must not change while sending)
     * @param datagramSize the largest datagram, 256 to 65507
     * @param key the signing key, or null
     * @throws IllegalArgumentException for an invalid sequence, metadata, size, or an envelope over 2^31 - 1
     */
    public ObjectEncoder(final long senderId, final long sequence, final UUID id, final ObjectMetadata meta,
                         final ByteBuffer payload, final int datagramSize, final AuthKey key) {
        this(senderId, sequence, id, meta, payload, datagramSize, key, 0, 0, FecLayout.DEFAULT_INTERLEAVE);
    }

    /**
     * An encoder for one object, with FEC scheme 1 when fecParity &gt; 0 (SPEC 10).
     *
     * @param senderId the sender (unsigned 64 bits)
     * @param sequence the object's sequence, 1 to 2^53 - 1
     * @param id the object's id
     * @param meta metadata including the payload's MD5
     * @param payload the payload, position to limit (not copied; must not change while sending)
     * @param datagramSize the largest datagram, 256 to 65507
     * @param key the signing key, or null
     * @param fecParity the parity ratio p, 0 to 1; 0 = no FEC
     * @param fecBlockLength B, or 0 for the largest allowed
     * @param fecInterleave D, the interleave depth in blocks (&ge; 1)
     * @throws IllegalArgumentException for an invalid sequence, metadata, size, FEC parameters, or an
     *     envelope over 2^31 - 1
     */
    public ObjectEncoder(final long senderId, final long sequence, final UUID id, final ObjectMetadata meta,
                         final ByteBuffer payload, final int datagramSize, final AuthKey key, final double fecParity,
                         final int fecBlockLength, final int fecInterleave) {
        if (sequence < 1 || sequence > Wire.MAX_SEQUENCE) {
            throw new IllegalArgumentException("sequence must be in [1, 2^53 - 1], got " + sequence);
        }
        Objects.requireNonNull(id, "id");
        this.head = ObjectCodec.encodeObjectMeta(meta);
        this.payload = payload.duplicate();
        this.payloadStart = payload.position();
        this.envelopeLength = (long) head.length + payload.remaining();
        if (envelopeLength > Wire.MAX_ENVELOPE_LENGTH) {
            throw new IllegalArgumentException("object too large: envelope of " + envelopeLength + " bytes exceeds "
                + Wire.MAX_ENVELOPE_LENGTH);
        }
        this.datagramSize = datagramSize;
        this.fragmentSize = Wire.fragmentSizeFor(datagramSize, key != null);
        this.sourceCount = Wire.fragmentCount(envelopeLength, fragmentSize);
        final int units = FecLayout.parityUnits(fecParity);
        if (fecInterleave < 1) {
            throw new IllegalArgumentException("FEC interleave depth must be at least 1, got " + fecInterleave);
        }
        this.interleave = fecInterleave;
        if (units > 0) {
            final int b = fecBlockLength == 0 ? FecLayout.defaultBlockLength(units) : fecBlockLength;
            if (!FecLayout.validBlockLength(b, units)) {
                throw new IllegalArgumentException("FEC block length " + b + " with parity " + fecParity
                    + ": B must be at least 1 with B + parity(B) <= 255");
            }
            this.layout = FecLayout.forSender(sourceCount, b, units);
            this.fecScheme = FecLayout.SCHEME_RS8;
            this.symbolSize = (int) FecLayout.symbolSize(fragmentSize, envelopeLength);
            this.count = layout.totalCount();
        } else {
            this.layout = null;
            this.fecScheme = 0;
            this.symbolSize = 0;
            this.count = sourceCount;
        }
        this.senderId = senderId;
        this.sequence = sequence;
        this.objectIdHigh = id.getMostSignificantBits();
        this.objectIdLow = id.getLeastSignificantBits();
        this.key = key;
        this.auth = key != null ? new DatagramAuth(key.keyNoCopy()) : null;
    }

    /** @return the datagram size */
    public int datagramSize() {
        return datagramSize;
    }

    /** @return envelope bytes per datagram */
    public int fragmentSize() {
        return fragmentSize;
    }

    /** @return the number of datagrams, parity fragments included */
    public long count() {
        return count;
    }

    /** @return T, the number of source fragments */
    public long sourceCount() {
        return sourceCount;
    }

    /** @return the FEC layout, or null without FEC */
    public FecLayout fecLayout() {
        return layout;
    }

    /** @return the symbol size (the length of every parity chunk), 0 without FEC */
    public int symbolSize() {
        return symbolSize;
    }

    /** @return metadata plus payload length */
    public long envelopeLength() {
        return envelopeLength;
    }

    /** @return the encoded ObjectMeta's length */
    public int metadataLength() {
        return head.length;
    }

    /**
     * Writes datagram {@code index} into out[0, length) (absolute; out needs room for
     * {@link #datagramSize()} bytes). Source fragments allocate nothing; the first parity fragment asked
     * for this way allocates an encoder, and each block's parity is computed when first needed (a
     * sender uses a {@link Cursor}, which computes parity as the sources go out).
     *
     * @param index 0-based fragment index (parity fragments from T on)
     * @param out the buffer
     * @return the datagram's length
     */
    public int writeDatagram(final long index, final ByteBuffer out) {
        if (index < sourceCount) {
            return writeSource(index, out);
        }
        if (layout == null || index >= count) {
            throw new IndexOutOfBoundsException("fragment " + index + " of " + count);
        }
        final long block = (index - sourceCount) / layout.parityCount();
        if (randomAccess == null) {
            randomAccess = new FecEncoder(layout.parityCount(), symbolSize);
        }
        if (randomAccessBlock != block) {
            randomAccessBlock = -1;
            randomAccess.reset();
            final ByteBuffer scratch = out.duplicate();
            final long start = layout.blockStart(block);
            for (int j = 0; j < layout.blockSourceCount(block); j++) {
                writeSource(start + j, scratch);
                randomAccess.addSource(j, out, lastChunkOffset, lastChunkLength);
            }
            randomAccess.finish();
            randomAccessBlock = block;
        }
        return writeParity(index, randomAccess.parity((int) ((index - sourceCount) % layout.parityCount())), out);
    }

    private int writeSource(final long index, final ByteBuffer out) {
        final long start = index * fragmentSize;
        final long end = Math.min(start + fragmentSize, envelopeLength);
        final int chunkLength = (int) (end - start);
        int at = Preamble.write(out, Wire.KIND_FRAGMENT, key != null);
        at = FragmentView.writeHeader(out, at, senderId, sequence, objectIdHigh, objectIdLow, envelopeLength,
            head.length, fragmentSize, index, fecScheme, layout == null ? 0 : layout.blockLength(),
            layout == null ? 0 : layout.parityCount(), chunkLength);
        lastChunkOffset = at;
        lastChunkLength = chunkLength;
        at = copyEnvelope((int) start, (int) end, out, at);
        return sign(out, at);
    }

    private int writeParity(final long index, final byte[] parity, final ByteBuffer out) {
        int at = Preamble.write(out, Wire.KIND_FRAGMENT, key != null);
        at = FragmentView.writeHeader(out, at, senderId, sequence, objectIdHigh, objectIdLow, envelopeLength,
            head.length, fragmentSize, index, fecScheme, layout.blockLength(), layout.parityCount(), symbolSize);
        out.put(at, parity, 0, symbolSize);
        return sign(out, at + symbolSize);
    }

    private int sign(final ByteBuffer out, final int end) {
        int at = end;
        if (key != null) {
            at += Wire.AUTH_TRAILER_LENGTH;
            auth.sign(out, at, key.id());
        }
        return at;
    }

    private int copyEnvelope(final int from, final int end, final ByteBuffer out, final int offset) {
        int start = from;
        int at = offset;
        if (start < head.length) {
            final int headEnd = Math.min(end, head.length);
            out.put(at, head, start, headEnd - start);
            at += headEnd - start;
            start = headEnd;
        }
        if (start < end) {
            out.put(at, payload, payloadStart + start - head.length, end - start);
            at += end - start;
        }
        return at;
    }

    /**
     * Every datagram of the object, in send order (for tests and vectors; a sender uses a
     * {@link Cursor}).
     *
     * @return the datagrams
     */
    public List<byte[]> datagrams() {
        final List<byte[]> out = new ArrayList<>();
        final ByteBuffer buf = ByteBuffer.allocate(datagramSize);
        final Cursor cursor = cursor(null);
        for (int length = cursor.next(buf); length >= 0; length = cursor.next(buf)) {
            final byte[] d = new byte[length];
            buf.get(0, d);
            out.add(d);
        }
        return out;
    }

    /**
     * A walk over the datagrams in send order (SPEC 4.1, 10.4).
     *
     * @param pool encoders to reuse (from an earlier cursor's {@link Cursor#pool()}), or null
     * @return the cursor
     */
    public Cursor cursor(final FecEncoder[] pool) {
        return new Cursor(pool);
    }

    /**
     * The datagrams of the object in send order: without FEC ascending indexes; with FEC interleave
     * groups of D blocks, each sent in rounds (encoding symbol r of every block of the group), so all
     * source fragments of a group precede its parity. Each block's parity is accumulated as its sources
     * are written, into encoders reused across groups (and across objects, through {@link #pool()}).
     * {@link #next} allocates nothing.
     */
    public final class Cursor {
        private FecEncoder[] encoders;
        private long nextSource;
        private long groupFirst;
        private long groupEnd;
        private int round;
        private long block;

        private Cursor(final FecEncoder[] pool) {
            if (layout == null) {
                encoders = pool;
                return;
            }
            final int depth = (int) Math.min(interleave, layout.blockCount());
            final int m = layout.parityCount();
            if (pool != null && pool.length >= depth && pool[0].fits(m, symbolSize)) {
                encoders = pool;
            } else {
                encoders = new FecEncoder[Math.max(depth, pool == null ? 0 : pool.length)];
                final int capM = pool != null && pool.length > 0 ? Math.max(m, pool[0].maxParityCount()) : m;
                final int capS = pool != null && pool.length > 0 ? Math.max(symbolSize, pool[0].maxSymbolSize()) : symbolSize;
                for (int i = 0; i < encoders.length; i++) {
                    encoders[i] = new FecEncoder(capM, capS);
                }
            }
            startGroup(0);
        }

        private void startGroup(final long first) {
            groupFirst = first;
            groupEnd = Math.min(first + interleave, layout.blockCount());
            round = 0;
            block = first;
            for (long b = first; b < groupEnd; b++) {
                encoders[(int) (b - first)].reset(layout.parityCount(), symbolSize);
            }
        }

        /** @return the encoders, to reuse for the next object */
        public FecEncoder[] pool() {
            return encoders;
        }

        /**
         * Writes the next datagram into out[0, length).
         *
         * @param out a buffer of at least {@link #datagramSize()} bytes
         * @return the datagram's length, or -1 after the last
         */
        public int next(final ByteBuffer out) {
            if (layout == null) {
                return nextSource < sourceCount ? writeSource(nextSource++, out) : -1;
            }
            final int m = layout.parityCount();
            while (groupFirst < layout.blockCount()) {
                if (block >= groupEnd) {
                    block = groupFirst;
                    round++;
                }
                if (round >= layout.blockSourceCount(groupFirst) + m) { // the group's first block is its largest
                    startGroup(groupEnd);
                    continue;
                }
                final long b = block++;
                final int k = layout.blockSourceCount(b);
                if (round >= k + m) {
                    continue;
                }
                final FecEncoder enc = encoders[(int) (b - groupFirst)];
                if (round < k) {
                    final int length = writeSource(layout.blockStart(b) + round, out);
                    enc.addSource(round, out, lastChunkOffset, lastChunkLength);
                    if (round == k - 1) {
                        enc.finish();
                    }
                    return length;
                }
                return writeParity(layout.parityIndex(b, round - k), enc.parity(round - k), out);
            }
            return -1;
        }
    }
}
