package io.condcast;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.UUID;

/**
 * Cuts one object into its datagrams (SPEC 2.4, 4.1), mirroring {@code ts/src/wire/object-encoder.ts}.
 * Built once per object; {@link #writeDatagram} fills a caller's (typically direct, reused) buffer with
 * the preamble, a hand-written Fragment header, the chunk and the trailer, without allocating.
 */
public final class ObjectEncoder {
    private final int datagramSize;
    private final int fragmentSize;
    private final long count;
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

    /**
     * An encoder for one object.
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
        this.count = Wire.fragmentCount(envelopeLength, fragmentSize);
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

    /** @return the number of datagrams */
    public long count() {
        return count;
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
     * {@link #datagramSize()} bytes). Allocates nothing.
     *
     * @param index 0-based datagram index
     * @param out the buffer
     * @return the datagram's length
     */
    public int writeDatagram(final long index, final ByteBuffer out) {
        final long start = index * fragmentSize;
        final long end = Math.min(start + fragmentSize, envelopeLength);
        final int chunkLength = (int) (end - start);
        int at = Preamble.write(out, Wire.KIND_FRAGMENT, key != null);
        at = FragmentView.writeHeader(out, at, senderId, sequence, objectIdHigh, objectIdLow, envelopeLength,
            head.length, fragmentSize, index, chunkLength);
        at = copyEnvelope((int) start, (int) end, out, at);
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
     * Every datagram of the object, in send order (for tests and vectors; a sender uses
     * {@link #writeDatagram}).
     *
     * @return the datagrams
     */
    public List<byte[]> datagrams() {
        final List<byte[]> out = new ArrayList<>();
        final ByteBuffer buf = ByteBuffer.allocate(datagramSize);
        for (long i = 0; i < count; i++) {
            final int length = writeDatagram(i, buf);
            final byte[] d = new byte[length];
            buf.get(0, d);
            out.add(d);
        }
        return out;
    }
}
