package io.condcast;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * One object being reassembled (mirrors {@code ts/src/receiver/partial-object.ts}): its envelope buffer
 * (allocated once, on the first fragment), which fragments arrived, and a running MD5 of the payload's
 * contiguous prefix, so completing a large object in order costs no extra pass. Owned by the receiving
 * thread.
 */
public final class PartialObject {
    /** Fixed cost charged per partial object on top of its buffers, so tiny bogus objects still add up. */
    public static final int PARTIAL_OVERHEAD_BYTES = 256;

    /** The reassembler's key of this object. */
    Reassembler.Key key;
    private final long senderId;
    private final UUID objectId;
    private final long sequence;
    private final int envelopeLength;
    private final int metadataLength;
    private final int fragmentSize;
    private final int count;
    private final byte[] envelope;
    private final ByteBuffer envelopeBuffer;
    private final byte[] received;
    private int receivedCount;
    private final long firstFragmentAt;
    private long lastFragmentAt;
    private final MessageDigest md5 = ObjectCodec.newMd5();
    /** Fragments [0, hashedFragments) have had their payload bytes fed to md5. */
    private int hashedFragments;

    PartialObject(final long senderId, final UUID objectId, final long sequence, final int envelopeLength,
                  final int metadataLength, final int fragmentSize, final long now) {
        this.senderId = senderId;
        this.objectId = objectId;
        this.sequence = sequence;
        this.envelopeLength = envelopeLength;
        this.metadataLength = metadataLength;
        this.fragmentSize = fragmentSize;
        this.count = (int) Wire.fragmentCount(envelopeLength, fragmentSize);
        this.envelope = new byte[envelopeLength];
        this.envelopeBuffer = ByteBuffer.wrap(envelope);
        this.received = new byte[count];
        this.firstFragmentAt = now;
        this.lastFragmentAt = now;
    }

    /**
     * Bytes charged against a receiver's partial-bytes cap for an object.
     *
     * @param envelopeLength envelope length
     * @param fragmentSize fragment size
     * @return envelope + one byte per fragment + {@link #PARTIAL_OVERHEAD_BYTES}
     */
    public static long chargeFor(final long envelopeLength, final long fragmentSize) {
        return envelopeLength + Wire.fragmentCount(envelopeLength, fragmentSize) + PARTIAL_OVERHEAD_BYTES;
    }

    /** @return bytes charged against the partial-bytes cap */
    public long chargedBytes() {
        return chargeFor(envelopeLength, fragmentSize);
    }

    /** @return the sender */
    public long senderId() {
        return senderId;
    }

    /** @return the object id */
    public UUID objectId() {
        return objectId;
    }

    /** @return the sequence the first fragment fixed */
    public long sequence() {
        return sequence;
    }

    /** @return the envelope length */
    public int envelopeLength() {
        return envelopeLength;
    }

    /** @return the metadata length */
    public int metadataLength() {
        return metadataLength;
    }

    /** @return the fragment size */
    public int fragmentSize() {
        return fragmentSize;
    }

    /** @return the fragment count */
    public int count() {
        return count;
    }

    /** @return fragments held */
    public int receivedCount() {
        return receivedCount;
    }

    /** @return when the first fragment arrived, epoch ms */
    public long firstFragmentAt() {
        return firstFragmentAt;
    }

    /** @return when the latest fragment arrived, epoch ms */
    public long lastFragmentAt() {
        return lastFragmentAt;
    }

    /** @return true when every fragment is held */
    public boolean complete() {
        return receivedCount == count;
    }

    ByteBuffer envelopeBuffer() {
        return envelopeBuffer;
    }

    /**
     * Copies a fragment's chunk into place (allocates nothing).
     *
     * @return false when the fragment was already held
     */
    boolean store(final int index, final ByteBuffer src, final int offset, final int length, final long now) {
        if (received[index] != 0) {
            return false;
        }
        envelopeBuffer.put(index * fragmentSize, src, offset, length);
        received[index] = 1;
        receivedCount++;
        lastFragmentAt = now;
        advanceHash();
        return true;
    }

    /**
     * Copies envelope bytes obtained elsewhere (e.g. an HTTP range) into place and marks every fragment
     * they cover entirely as received.
     *
     * @param start envelope offset
     * @param bytes the bytes
     */
    public void fillEnvelope(final int start, final byte[] bytes) {
        if (start < 0 || (long) start + bytes.length > envelopeLength) {
            throw new IllegalArgumentException("range outside the envelope");
        }
        System.arraycopy(bytes, 0, envelope, start, bytes.length);
        final long end = (long) start + bytes.length;
        for (long i = (start + (long) fragmentSize - 1) / fragmentSize; i < count; i++) {
            final long fragmentEnd = Math.min((i + 1) * fragmentSize, envelopeLength);
            if (fragmentEnd > end) {
                break;
            }
            if (received[(int) i] == 0) {
                received[(int) i] = 1;
                receivedCount++;
            }
        }
        advanceHash();
    }

    /**
     * The payload's MD5 (hex); only once complete.
     *
     * @return 32 hex digits
     */
    public String payloadMd5() {
        if (!complete()) {
            throw new IllegalStateException("object is incomplete");
        }
        advanceHash();
        return Ids.hex(md5.digest());
    }

    /** @return missing fragments as merged envelope byte ranges (SPEC 5.2) */
    public List<ByteRange> missingEnvelopeRanges() {
        final List<ByteRange> ranges = new ArrayList<>();
        int i = 0;
        while (i < count) {
            if (received[i] != 0) {
                i++;
                continue;
            }
            final int first = i;
            while (i < count && received[i] == 0) {
                i++;
            }
            ranges.add(new ByteRange((long) first * fragmentSize, Math.min((long) i * fragmentSize, envelopeLength)));
        }
        return ranges;
    }

    /** @return missing payload byte ranges (envelope ranges shifted by the metadata length, clipped at 0) */
    public List<ByteRange> missingPayloadRanges() {
        final List<ByteRange> out = new ArrayList<>();
        for (final ByteRange r : missingEnvelopeRanges()) {
            final long start = Math.max(r.start() - metadataLength, 0);
            final long end = r.end() - metadataLength;
            if (end > start) {
                out.add(new ByteRange(start, end));
            }
        }
        return out;
    }

    /** @return true when some metadata bytes are missing (they must come from an HTTP HEAD) */
    public boolean metadataMissing() {
        final int lastMetadataFragment = (metadataLength - 1) / fragmentSize;
        for (int i = 0; i <= lastMetadataFragment; i++) {
            if (received[i] == 0) {
                return true;
            }
        }
        return false;
    }

    private void advanceHash() {
        while (hashedFragments < count && received[hashedFragments] != 0) {
            final long start = Math.max((long) hashedFragments * fragmentSize, metadataLength);
            final long end = Math.min((long) (hashedFragments + 1) * fragmentSize, envelopeLength);
            if (end > start) {
                md5.update(envelope, (int) start, (int) (end - start));
            }
            hashedFragments++;
        }
    }
}
