package io.condcast;

import java.util.Arrays;

/**
 * Rebuilds the missing source symbols of one FEC block from as many parity symbols (SPEC 10.5; mirrors
 * the TypeScript {@code FecDecoder}): the syndromes y_r = parity_{i_r} + Σ_{j present} C(i_r, j) ·
 * source_j, the e × e Cauchy matrix C(i_r, E_c) inverted by Gauss-Jordan in GF(2^8), then each missing
 * source is Σ_r inv[c][r] · y_r. Scratch space is allocated once for the largest symbol size; decoding
 * allocates nothing else (the array-based {@link #decode(byte[][], boolean[], byte[][], boolean[], int)}
 * grows its parity workspace when needed). Not thread-safe.
 */
public final class FecDecoder {
    private final int maxSymbolSize;
    private final long[][] planes;
    private final Bitslice.Subsets subsets;
    private final long[][] out;
    private final byte[] scratch;
    private final byte[] tail = new byte[64];
    private final int[] missing = new int[FecLayout.MAX_SYMBOLS_PER_BLOCK];
    private final int[] rowsWork = new int[FecLayout.MAX_SYMBOLS_PER_BLOCK];
    private final int[] offsetsWork = new int[FecLayout.MAX_SYMBOLS_PER_BLOCK];
    private final int[] lengthsWork = new int[FecLayout.MAX_SYMBOLS_PER_BLOCK];
    private final byte[][] dataWork = new byte[FecLayout.MAX_SYMBOLS_PER_BLOCK][];
    /** Gauss-Jordan workspace: e rows of [A | I], 2e columns. */
    private final byte[] aug;
    private final byte[] inverse;
    private long[][][] accs = new long[0][][];
    private int accsSegs;

    /**
     * A decoder for symbols of up to maxSymbolSize bytes.
     *
     * @param maxSymbolSize the largest symbol size it decodes (at most 65507)
     */
    public FecDecoder(final int maxSymbolSize) {
        if (maxSymbolSize < 1 || maxSymbolSize > Wire.MAX_DATAGRAM_SIZE) {
            throw new IllegalArgumentException("symbol size " + maxSymbolSize);
        }
        this.maxSymbolSize = maxSymbolSize;
        final int segs = Bitslice.segments(maxSymbolSize);
        this.planes = new long[8][segs];
        this.subsets = new Bitslice.Subsets(planes, segs);
        this.out = new long[8][segs];
        this.scratch = new byte[64 * segs];
        final int n = FecLayout.MAX_SYMBOLS_PER_BLOCK - 1;
        this.aug = new byte[n * 2 * n];
        this.inverse = new byte[n * n];
    }

    /** A decoder for every symbol size. */
    public FecDecoder() {
        this(Wire.MAX_DATAGRAM_SIZE);
    }

    /** @return the largest symbol size this decoder handles */
    public int maxSymbolSize() {
        return maxSymbolSize;
    }

    /**
     * Loads a parity symbol into the bitsliced form {@link #decodeInPlace} consumes.
     *
     * @param src the parity bytes
     * @param off where they start
     * @param symbolSize their length
     * @param dst a symbol from {@link #newSymbol(int)}
     */
    public void loadParity(final byte[] src, final int off, final int symbolSize, final long[][] dst) {
        Bitslice.load(src, off, symbolSize, dst, Bitslice.segments(symbolSize), tail);
    }

    /**
     * Loads a parity symbol from a buffer (absolute positions) into the bitsliced form.
     *
     * @param src the buffer
     * @param off where the bytes start
     * @param symbolSize their length
     * @param dst a symbol from {@link #newSymbol(int)}
     */
    public void loadParity(final java.nio.ByteBuffer src, final int off, final int symbolSize, final long[][] dst) {
        src.get(off, scratch, 0, symbolSize);
        Bitslice.load(scratch, 0, symbolSize, dst, Bitslice.segments(symbolSize), tail);
    }

    /**
     * A bitsliced symbol to hold one parity symbol for {@link #decodeInPlace}.
     *
     * @param symbolSize the symbol size
     * @return 8 planes of ceil(symbolSize / 64) longs
     */
    public static long[][] newSymbol(final int symbolSize) {
        return Bitslice.newSymbol(Bitslice.segments(symbolSize));
    }

    /**
     * @param symbolSize a symbol size
     * @return the bytes of long data in {@link #newSymbol(int)} (without the array headers)
     */
    public static long symbolBytes(final int symbolSize) {
        return 64L * Bitslice.segments(symbolSize);
    }

    /**
     * The core: rebuilds the missing sources of a block in place.
     *
     * @param k the block's source count
     * @param symbolSize the symbol size
     * @param data per source position j &lt; k, the array holding it
     * @param offsets where source j starts in data[j]
     * @param lengths source j's length (&le; symbolSize; zero-padded; a rebuilt source is cut to it)
     * @param present which sources are held
     * @param e how many parity symbols are given: exactly the number of missing sources
     * @param rows the parity row index i of each given parity symbol
     * @param parityPlanes the given parity symbols in bitsliced form ({@link #loadParity}); overwritten
     * @throws IllegalArgumentException when e is not the number of missing sources
     */
    public void decodeInPlace(final int k, final int symbolSize, final byte[][] data, final int[] offsets,
                              final int[] lengths, final boolean[] present, final int e, final int[] rows,
                              final long[][][] parityPlanes) {
        if (symbolSize > maxSymbolSize) {
            throw new IllegalArgumentException("symbol size " + symbolSize + " above " + maxSymbolSize);
        }
        int missingCount = 0;
        for (int j = 0; j < k; j++) {
            if (!present[j]) {
                missing[missingCount++] = j;
            }
        }
        if (missingCount != e) {
            throw new IllegalArgumentException(missingCount + " sources missing, " + e + " parity symbols given");
        }
        if (e == 0) {
            return;
        }
        final int segs = Bitslice.segments(symbolSize);
        // Syndromes: y_r = parity_{i_r} + Σ_{j present} C(i_r, j) · source_j.
        for (int j = 0; j < k; j++) {
            if (!present[j]) {
                continue;
            }
            Bitslice.load(data[j], offsets[j], lengths[j], planes, segs, tail);
            if (e >= Bitslice.SUBSET_MIN_ROWS) {
                subsets.compute(segs);
                for (int r = 0; r < e; r++) {
                    Bitslice.mulAddSubsets(parityPlanes[r], subsets, Gf256.cauchyCoefficient(rows[r], j), segs);
                }
            } else {
                for (int r = 0; r < e; r++) {
                    Bitslice.mulAdd(parityPlanes[r], planes, Gf256.cauchyCoefficient(rows[r], j), segs);
                }
            }
        }
        invert(e, rows);
        for (int c = 0; c < e; c++) {
            for (final long[] p : out) {
                Arrays.fill(p, 0, segs, 0L);
            }
            for (int r = 0; r < e; r++) {
                Bitslice.mulAdd(out, parityPlanes[r], inverse[c * e + r] & 0xFF, segs);
            }
            final int j = missing[c];
            Bitslice.store(out, segs, data[j], offsets[j], lengths[j], tail);
        }
    }

    /** inverse = (C(rows[r], missing[c]))^-1, e × e, by Gauss-Jordan. */
    private void invert(final int e, final int[] rows) {
        final int w = 2 * e;
        for (int r = 0; r < e; r++) {
            for (int c = 0; c < e; c++) {
                aug[r * w + c] = (byte) Gf256.cauchyCoefficient(rows[r], missing[c]);
                aug[r * w + e + c] = (byte) (r == c ? 1 : 0);
            }
        }
        for (int col = 0; col < e; col++) {
            int pivot = col;
            while (pivot < e && aug[pivot * w + col] == 0) {
                pivot++;
            }
            if (pivot == e) {
                throw new ArithmeticException("singular FEC matrix"); // impossible for a Cauchy matrix
            }
            if (pivot != col) {
                for (int c = 0; c < w; c++) {
                    final byte t = aug[col * w + c];
                    aug[col * w + c] = aug[pivot * w + c];
                    aug[pivot * w + c] = t;
                }
            }
            final int scale = Gf256.inv(aug[col * w + col]);
            for (int c = 0; c < w; c++) {
                aug[col * w + c] = (byte) Gf256.mul(aug[col * w + c], scale);
            }
            for (int r = 0; r < e; r++) {
                final int f = aug[r * w + col] & 0xFF;
                if (r == col || f == 0) {
                    continue;
                }
                for (int c = 0; c < w; c++) {
                    aug[r * w + c] ^= (byte) Gf256.mul(f, aug[col * w + c]);
                }
            }
        }
        for (int r = 0; r < e; r++) {
            System.arraycopy(aug, r * w + e, inverse, r * e, e);
        }
    }

    /**
     * Rebuilds the missing sources of a block held in arrays (for tests, tools and the benchmark): uses
     * the first e given parity symbols, e = the number of missing sources.
     *
     * @param sources the k source symbols, each symbolSize bytes; missing ones are overwritten
     * @param present which sources are held
     * @param parity the m parity symbols (symbolSize bytes each; entries may be null when absent)
     * @param parityPresent which parity symbols are held
     * @param symbolSize the symbol size
     * @return the number of sources rebuilt
     * @throws IllegalArgumentException when fewer parity symbols than missing sources are held
     */
    public int decode(final byte[][] sources, final boolean[] present, final byte[][] parity,
                      final boolean[] parityPresent, final int symbolSize) {
        final int k = sources.length;
        int e = 0;
        for (int j = 0; j < k; j++) {
            if (!present[j]) {
                e++;
            }
        }
        if (e == 0) {
            return 0;
        }
        final int segs = Bitslice.segments(symbolSize);
        if (accs.length < e || accsSegs < segs) {
            accsSegs = Math.max(accsSegs, segs);
            final long[][][] grown = new long[Math.max(e, accs.length)][][];
            for (int r = 0; r < grown.length; r++) {
                grown[r] = Bitslice.newSymbol(accsSegs);
            }
            accs = grown;
        }
        int r = 0;
        for (int i = 0; i < parity.length && r < e; i++) {
            if (parityPresent[i]) {
                rowsWork[r] = i;
                loadParity(parity[i], 0, symbolSize, accs[r]);
                r++;
            }
        }
        if (r < e) {
            throw new IllegalArgumentException(e + " sources missing, only " + r + " parity symbols held");
        }
        for (int j = 0; j < k; j++) {
            dataWork[j] = sources[j];
            offsetsWork[j] = 0;
            lengthsWork[j] = symbolSize;
        }
        decodeInPlace(k, symbolSize, dataWork, offsetsWork, lengthsWork, present, e, rowsWork, accs);
        Arrays.fill(dataWork, 0, k, null);
        return e;
    }
}
