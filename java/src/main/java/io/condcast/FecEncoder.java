package io.condcast;

import java.nio.ByteBuffer;

/**
 * The parity of one FEC block (SPEC 10.3; mirrors the TypeScript {@code FecEncoder}): feed the block's
 * source symbols in any order with {@link #addSource}, then {@link #finish} and read
 * {@link #parity(int)}. Reusable across blocks ({@link #reset}); after construction nothing allocates.
 * Not thread-safe.
 */
public final class FecEncoder {
    private final int maxParityCount;
    private final int maxSymbolSize;
    private int parityCount;
    private int symbolSize;
    private int segs;
    private final long[][][] acc;
    private final long[][] planes;
    private final Bitslice.Subsets subsets;
    private final byte[] scratch;
    private final byte[] tail = new byte[64];
    private final byte[][] parity;

    /**
     * An encoder for blocks with m parity symbols of symbolSize bytes (and, after
     * {@link #reset(int, int)}, for any smaller m and symbol size).
     *
     * @param parityCount m, 1 to 254
     * @param symbolSize bytes per symbol, 1 to 65507
     */
    public FecEncoder(final int parityCount, final int symbolSize) {
        if (parityCount < 1 || parityCount >= FecLayout.MAX_SYMBOLS_PER_BLOCK || symbolSize < 1
            || symbolSize > Wire.MAX_DATAGRAM_SIZE) {
            throw new IllegalArgumentException("invalid FEC encoder m=" + parityCount + " symbolSize=" + symbolSize);
        }
        this.maxParityCount = parityCount;
        this.maxSymbolSize = symbolSize;
        this.parityCount = parityCount;
        this.symbolSize = symbolSize;
        this.segs = Bitslice.segments(symbolSize);
        this.acc = new long[parityCount][8][segs];
        this.planes = new long[8][segs];
        this.subsets = new Bitslice.Subsets(planes, segs);
        this.scratch = new byte[segs * 64];
        this.parity = new byte[parityCount][symbolSize];
    }

    /** @return m */
    public int parityCount() {
        return parityCount;
    }

    /** @return the symbol size */
    public int symbolSize() {
        return symbolSize;
    }

    /** @return the largest m this encoder handles */
    public int maxParityCount() {
        return maxParityCount;
    }

    /** @return the largest symbol size this encoder handles */
    public int maxSymbolSize() {
        return maxSymbolSize;
    }

    /**
     * @param m parity count
     * @param size symbol size
     * @return whether {@link #reset(int, int)} accepts them
     */
    public boolean fits(final int m, final int size) {
        return m >= 1 && m <= maxParityCount && size >= 1 && size <= maxSymbolSize;
    }

    /** Starts a new block with the same m and symbol size. */
    public void reset() {
        for (int i = 0; i < parityCount; i++) {
            final long[][] a = acc[i];
            for (final long[] plane : a) {
                java.util.Arrays.fill(plane, 0, segs, 0L);
            }
        }
    }

    /**
     * Starts a new block with m parity symbols of symbolSize bytes.
     *
     * @param m 1 to the m given at construction
     * @param size 1 to the symbol size given at construction
     */
    public void reset(final int m, final int size) {
        if (!fits(m, size)) {
            throw new IllegalArgumentException("m " + m + " / symbol size " + size + " beyond this encoder's "
                + maxParityCount + " / " + maxSymbolSize);
        }
        parityCount = m;
        symbolSize = size;
        segs = Bitslice.segments(size);
        reset();
    }

    /**
     * Adds source symbol j of the block: src[off, off + len), zero-padded to the symbol size.
     *
     * @param j position in the block, 0 &le; j &lt; 255 − m
     * @param src the bytes
     * @param off where they start
     * @param len how many (&le; symbol size)
     */
    public void addSource(final int j, final byte[] src, final int off, final int len) {
        checkSource(j, len);
        Bitslice.load(src, off, len, planes, segs, tail);
        accumulate(j);
    }

    /**
     * Adds source symbol j from a buffer: buf[off, off + len) (absolute positions), zero-padded.
     *
     * @param j position in the block
     * @param buf the buffer (heap or direct)
     * @param off where the bytes start
     * @param len how many (&le; symbol size)
     */
    public void addSource(final int j, final ByteBuffer buf, final int off, final int len) {
        checkSource(j, len);
        buf.get(off, scratch, 0, len);
        Bitslice.load(scratch, 0, len, planes, segs, tail);
        accumulate(j);
    }

    private void checkSource(final int j, final int len) {
        if (j < 0 || j + parityCount >= FecLayout.MAX_SYMBOLS_PER_BLOCK || len < 0
            || len > symbolSize) {
            throw new IllegalArgumentException("source " + j + " of " + len + " bytes");
        }
    }

    private void accumulate(final int j) {
        if (parityCount >= Bitslice.SUBSET_MIN_ROWS) {
            subsets.compute(segs);
            for (int i = 0; i < parityCount; i++) {
                Bitslice.mulAddSubsets(acc[i], subsets, Gf256.cauchyCoefficient(i, j), segs);
            }
        } else {
            for (int i = 0; i < parityCount; i++) {
                Bitslice.mulAdd(acc[i], planes, Gf256.cauchyCoefficient(i, j), segs);
            }
        }
    }

    /** Computes the parity symbols of the sources added since {@link #reset}. */
    public void finish() {
        for (int i = 0; i < parityCount; i++) {
            Bitslice.store(acc[i], segs, parity[i], 0, symbolSize, tail);
        }
    }

    /**
     * Parity symbol i after {@link #finish} (the encoder's own array: read it before the next block).
     *
     * @param i 0 &le; i &lt; m
     * @return an array whose first symbolSize bytes are the symbol
     */
    public byte[] parity(final int i) {
        return parity[i];
    }

    /**
     * The m parity symbols of a block (allocates; for tests and tools).
     *
     * @param sources the block's source symbols (each at most symbolSize bytes; shorter ones zero-padded)
     * @param parityCount m
     * @param symbolSize the symbol size
     * @return m new arrays of symbolSize bytes
     */
    public static byte[][] encode(final byte[][] sources, final int parityCount, final int symbolSize) {
        final FecEncoder enc = new FecEncoder(parityCount, symbolSize);
        for (int j = 0; j < sources.length; j++) {
            enc.addSource(j, sources[j], 0, sources[j].length);
        }
        enc.finish();
        final byte[][] out = new byte[parityCount][];
        for (int i = 0; i < parityCount; i++) {
            out[i] = java.util.Arrays.copyOf(enc.parity(i), symbolSize);
        }
        return out;
    }
}
