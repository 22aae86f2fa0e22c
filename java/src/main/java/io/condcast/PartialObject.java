package io.condcast;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * One object being reassembled (mirrors {@code ts/src/receiver/partial-object.ts}): its envelope buffer
 * (allocated once, on the first fragment), which fragments arrived, and a running MD5 of the payload's
 * contiguous prefix, so completing a large object in order costs no extra pass. With FEC scheme 1
 * (SPEC 10) it also counts each block's sources, holds parity fragments only for blocks that lack
 * sources, and rebuilds a block as soon as it holds k of its k + m fragments. Owned by the receiving
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
    // FEC scheme 1 (null / 0 without FEC).
    private final int fecScheme;
    private final int fecBlockLength;
    private final int fecParityCount;
    private final FecLayout layout;
    private final int symbolSize;
    /** Sources held per block. */
    private final int[] blockSources;
    /** Parity fragments held per block (only while the block lacks sources). */
    private final int[] blockParity;
    /** Parity symbols held, bitsliced, at b · m + i; released when the block completes. */
    private final long[][][] parity;
    private final FecWork work;
    private int blocksDecoded;
    private int fragmentsRecovered;

    PartialObject(final long senderId, final UUID objectId, final long sequence, final int envelopeLength,
                  final int metadataLength, final int fragmentSize, final long now) {
        this(senderId, objectId, sequence, envelopeLength, metadataLength, fragmentSize, 0, 0, 0, null, now);
    }

    PartialObject(final long senderId, final UUID objectId, final long sequence, final int envelopeLength,
                  final int metadataLength, final int fragmentSize, final int fecScheme, final int fecBlockLength,
                  final int fecParityCount, final FecWork work, final long now) {
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
        this.fecScheme = fecScheme;
        this.fecBlockLength = fecBlockLength;
        this.fecParityCount = fecParityCount;
        if (fecScheme == FecLayout.SCHEME_RS8) {
            this.layout = new FecLayout(count, fecBlockLength, fecParityCount);
            this.symbolSize = (int) FecLayout.symbolSize(fragmentSize, envelopeLength);
            this.blockSources = new int[(int) layout.blockCount()];
            this.blockParity = new int[(int) layout.blockCount()];
            this.parity = new long[(int) (layout.blockCount() * fecParityCount)][][];
            this.work = work;
        } else {
            this.layout = null;
            this.symbolSize = 0;
            this.blockSources = null;
            this.blockParity = null;
            this.parity = null;
            this.work = null;
        }
    }

    /**
     * Bytes charged against a receiver's partial-bytes cap for an object without FEC.
     *
     * @param envelopeLength envelope length
     * @param fragmentSize fragment size
     * @return envelope + one byte per fragment + {@link #PARTIAL_OVERHEAD_BYTES}
     */
    public static long chargeFor(final long envelopeLength, final long fragmentSize) {
        return envelopeLength + Wire.fragmentCount(envelopeLength, fragmentSize) + PARTIAL_OVERHEAD_BYTES;
    }

    /** Heap held by one stored parity symbol beyond its bitsliced bytes (9 array headers, 8 references). */
    static final int PARITY_OVERHEAD_BYTES = 9 * 16 + 8 * 8;

    /**
     * Bytes charged for an object (SPEC 5.2): with FEC scheme 1 also room for every parity fragment
     * (N · m symbols, as held: bitsliced, with their array overhead) and the per-block counters.
     *
     * @param envelopeLength envelope length
     * @param fragmentSize fragment size
     * @param fecScheme 0 or 1
     * @param fecBlockLength B
     * @param fecParityCount m
     * @return the charge
     */
    public static long chargeFor(final long envelopeLength, final long fragmentSize, final long fecScheme,
                                 final long fecBlockLength, final long fecParityCount) {
        final long base = chargeFor(envelopeLength, fragmentSize);
        if (fecScheme != FecLayout.SCHEME_RS8) {
            return base;
        }
        final long t = Wire.fragmentCount(envelopeLength, fragmentSize);
        final long blocks = (t + fecBlockLength - 1) / fecBlockLength;
        final long symbol = FecDecoder.symbolBytes((int) FecLayout.symbolSize(fragmentSize, envelopeLength));
        return base + blocks * 8 + blocks * fecParityCount * (8 + symbol + PARITY_OVERHEAD_BYTES);
    }

    /** @return bytes charged against the partial-bytes cap */
    public long chargedBytes() {
        return chargeFor(envelopeLength, fragmentSize, fecScheme, fecBlockLength, fecParityCount);
    }

    /** @return fec_scheme (0 or 1) */
    public int fecScheme() {
        return fecScheme;
    }

    /** @return fec_block_length (B), 0 without FEC */
    public int fecBlockLength() {
        return fecBlockLength;
    }

    /** @return fec_parity_count (m), 0 without FEC */
    public int fecParityCount() {
        return fecParityCount;
    }

    /** @return the FEC layout, or null without FEC */
    public FecLayout fecLayout() {
        return layout;
    }

    /** @return blocks rebuilt with parity so far */
    public int blocksDecoded() {
        return blocksDecoded;
    }

    /** @return source fragments rebuilt with parity so far */
    public int fragmentsRecovered() {
        return fragmentsRecovered;
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

    /** What {@link #store} returns for a fragment already held. */
    static final int DUPLICATE = -1;

    /**
     * Takes a fragment: copies a source chunk into place, or holds a parity chunk for a block that lacks
     * sources; decodes the block when it holds k of its k + m fragments. Allocates nothing for source
     * fragments; a parity fragment that is held allocates its symbol (charged in advance).
     *
     * @return {@link #DUPLICATE} when the fragment was already held; else the number of source fragments
     *     rebuilt by FEC (0 mostly; a parity fragment of a block whose sources are all held is discarded)
     */
    int store(final long index, final ByteBuffer src, final int offset, final int length, final long now) {
        if (index >= count) {
            return storeParity(index, src, offset, now);
        }
        final int i = (int) index;
        if (received[i] != 0) {
            return DUPLICATE;
        }
        envelopeBuffer.put(i * fragmentSize, src, offset, length);
        received[i] = 1;
        receivedCount++;
        lastFragmentAt = now;
        int recovered = 0;
        if (layout != null) {
            recovered = sourceArrived((int) layout.blockOf(i));
        }
        advanceHash();
        return recovered;
    }

    private int storeParity(final long index, final ByteBuffer src, final int offset, final long now) {
        final long p = index - count;
        final int b = (int) (p / fecParityCount);
        final int slot = (int) p;
        lastFragmentAt = now;
        if (blockSources[b] == layout.blockSourceCount(b)) {
            return 0; // not needed (SPEC 5.2), not a drop
        }
        if (parity[slot] != null) {
            return DUPLICATE;
        }
        final long[][] planes = FecDecoder.newSymbol(symbolSize);
        work.decoder.loadParity(src, offset, symbolSize, planes);
        parity[slot] = planes;
        blockParity[b]++;
        if (blockSources[b] + blockParity[b] >= layout.blockSourceCount(b)) {
            final int recovered = decode(b);
            advanceHash();
            return recovered;
        }
        return 0;
    }

    /** A source of block b arrived (or was filled in): complete, decode, or wait. */
    private int sourceArrived(final int b) {
        blockSources[b]++;
        final int k = layout.blockSourceCount(b);
        if (blockSources[b] == k) {
            releaseParity(b);
            return 0;
        }
        if (blockParity[b] > 0 && blockSources[b] + blockParity[b] >= k) {
            return decode(b);
        }
        return 0;
    }

    private void releaseParity(final int b) {
        if (blockParity[b] > 0) {
            java.util.Arrays.fill(parity, b * fecParityCount, (b + 1) * fecParityCount, null);
            blockParity[b] = 0;
        }
    }

    /** Rebuilds block b's missing sources from its held parity (SPEC 10.5); returns how many. */
    private int decode(final int b) {
        final int k = layout.blockSourceCount(b);
        final int start = (int) layout.blockStart(b);
        final int e = k - blockSources[b];
        for (int j = 0; j < k; j++) {
            final int index = start + j;
            work.data[j] = envelope;
            work.offsets[j] = index * fragmentSize;
            work.lengths[j] = (int) Math.min(fragmentSize, (long) envelopeLength - (long) index * fragmentSize);
            work.present[j] = received[index] != 0;
        }
        int r = 0;
        for (int i = 0; i < fecParityCount && r < e; i++) {
            final long[][] planes = parity[b * fecParityCount + i];
            if (planes != null) {
                work.rows[r] = i;
                work.parity[r] = planes;
                r++;
            }
        }
        work.decoder.decodeInPlace(k, symbolSize, work.data, work.offsets, work.lengths, work.present, e, work.rows,
            work.parity);
        java.util.Arrays.fill(work.data, 0, k, null);
        java.util.Arrays.fill(work.parity, 0, r, null);
        for (int j = 0; j < k; j++) {
            if (received[start + j] == 0) {
                received[start + j] = 1;
                receivedCount++;
            }
        }
        blockSources[b] = k;
        releaseParity(b);
        blocksDecoded++;
        fragmentsRecovered += e;
        return e;
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
                if (layout != null) {
                    final int b = (int) layout.blockOf(i);
                    if (blockSources[b] < layout.blockSourceCount(b)) {
                        sourceArrived(b);
                    }
                }
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

    /**
     * Missing fragments as merged envelope byte ranges (SPEC 5.2). With FEC, a block holding h &lt; k of
     * its fragments lists only its first k − h missing sources (with them it decodes the rest).
     *
     * @return the ranges
     */
    public List<ByteRange> missingEnvelopeRanges() {
        final List<ByteRange> ranges = new ArrayList<>();
        long openStart = -1;
        long openEnd = -1;
        for (int i = 0; i < count; i++) {
            if (!listedMissing(i)) {
                continue;
            }
            final long s = (long) i * fragmentSize;
            final long e = Math.min((long) (i + 1) * fragmentSize, envelopeLength);
            if (openEnd == s) {
                openEnd = e;
            } else {
                if (openStart >= 0) {
                    ranges.add(new ByteRange(openStart, openEnd));
                }
                openStart = s;
                openEnd = e;
            }
        }
        if (openStart >= 0) {
            ranges.add(new ByteRange(openStart, openEnd));
        }
        return ranges;
    }

    /** Whether source fragment i is one the missing ranges list. */
    private boolean listedMissing(final int i) {
        if (received[i] != 0) {
            return false;
        }
        if (layout == null) {
            return true;
        }
        final int b = (int) layout.blockOf(i);
        final int k = layout.blockSourceCount(b);
        final int needed = k - blockSources[b] - blockParity[b];
        if (needed <= 0) {
            return false;
        }
        // Only the first `needed` missing sources of the block.
        final int start = (int) layout.blockStart(b);
        int before = 0;
        for (int j = start; j < i; j++) {
            if (received[j] == 0) {
                before++;
            }
        }
        return before < needed;
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

    /**
     * @return true when some metadata bytes are listed missing (they must come from an HTTP HEAD; with
     *     FEC, metadata fragments that parity can rebuild do not count)
     */
    public boolean metadataMissing() {
        final int lastMetadataFragment = (metadataLength - 1) / fragmentSize;
        for (int i = 0; i <= lastMetadataFragment; i++) {
            if (listedMissing(i)) {
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
