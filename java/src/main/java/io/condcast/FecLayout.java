package io.condcast;

/**
 * How FEC scheme 1 cuts an object's source fragments into blocks (SPEC 10.2, RFC 5052 section 9.1;
 * mirrors the TypeScript {@code FecLayout}), and the sender's parameter arithmetic of SPEC 10.4.
 * Immutable.
 */
public final class FecLayout {
    /** The FEC scheme number of Reed-Solomon over GF(2^8). */
    public static final int SCHEME_RS8 = 1;
    /** Most encoding symbols per block (k + m). */
    public static final int MAX_SYMBOLS_PER_BLOCK = 255;
    /** Default parity ratio (SPEC 7). */
    public static final double DEFAULT_PARITY = 0.05;
    /** Default interleave depth in blocks (SPEC 7). */
    public static final int DEFAULT_INTERLEAVE = 16;

    private final long sourceCount;
    private final int blockLength;
    private final int parityCount;
    private final long blockCount;
    private final int aLarge;
    private final int aSmall;
    private final long iLarge;

    /**
     * The layout of an object.
     *
     * @param sourceCount T, the object's fragment count (&ge; 1)
     * @param blockLength B, the largest source count of a block (&ge; 1)
     * @param parityCount m, parity fragments per block (&ge; 0)
     */
    public FecLayout(final long sourceCount, final int blockLength, final int parityCount) {
        if (sourceCount < 1 || blockLength < 1 || parityCount < 0) {
            throw new IllegalArgumentException("invalid FEC layout T=" + sourceCount + " B=" + blockLength + " m=" + parityCount);
        }
        this.sourceCount = sourceCount;
        this.blockLength = blockLength;
        this.parityCount = parityCount;
        this.blockCount = (sourceCount + blockLength - 1) / blockLength;
        this.aLarge = (int) ((sourceCount + blockCount - 1) / blockCount);
        this.aSmall = (int) (sourceCount / blockCount);
        this.iLarge = sourceCount - (long) aSmall * blockCount;
    }

    /** @return T, the number of source fragments */
    public long sourceCount() {
        return sourceCount;
    }

    /** @return B */
    public int blockLength() {
        return blockLength;
    }

    /** @return m */
    public int parityCount() {
        return parityCount;
    }

    /** @return N = ceil(T / B) */
    public long blockCount() {
        return blockCount;
    }

    /** @return A_large = ceil(T / N) */
    public int aLarge() {
        return aLarge;
    }

    /** @return A_small = floor(T / N) */
    public int aSmall() {
        return aSmall;
    }

    /** @return I_large = T − A_small · N, the number of blocks holding A_large source fragments */
    public long iLarge() {
        return iLarge;
    }

    /** @return T + N · m: one past the largest fragment index */
    public long totalCount() {
        return sourceCount + blockCount * parityCount;
    }

    /**
     * @param b block, 0 &le; b &lt; N
     * @return the source index of the block's first fragment
     */
    public long blockStart(final long b) {
        return b < iLarge ? b * aLarge : iLarge * aLarge + (b - iLarge) * aSmall;
    }

    /**
     * @param b block, 0 &le; b &lt; N
     * @return k_b, the block's source count
     */
    public int blockSourceCount(final long b) {
        return b < iLarge ? aLarge : aSmall;
    }

    /**
     * @param sourceIndex 0 &le; index &lt; T
     * @return the block holding that source fragment
     */
    public long blockOf(final long sourceIndex) {
        final long largeEnd = iLarge * aLarge;
        return sourceIndex < largeEnd ? sourceIndex / aLarge : iLarge + (sourceIndex - largeEnd) / aSmall;
    }

    /**
     * @param b block
     * @param i parity row, 0 &le; i &lt; m
     * @return the fragment index of parity fragment i of block b: T + b · m + i
     */
    public long parityIndex(final long b, final int i) {
        return sourceCount + b * parityCount + i;
    }

    // ---- sender parameters (SPEC 10.4) -----------------------------------------------------------

    /**
     * The parity ratio in units of 1/10000: P = round(p · 10000).
     *
     * @param ratio p, 0 &le; p &le; 1
     * @return P
     * @throws IllegalArgumentException when p is outside [0, 1]
     */
    public static int parityUnits(final double ratio) {
        if (!(ratio >= 0 && ratio <= 1)) {
            throw new IllegalArgumentException("FEC parity ratio must be in [0, 1], got " + ratio);
        }
        return (int) Math.round(ratio * 10000);
    }

    /**
     * parity(k) = ceil(k · P / 10000) in integers.
     *
     * @param k source fragments
     * @param units P
     * @return parity fragments for k
     */
    public static int parityFor(final long k, final int units) {
        return (int) ((k * units + 9999) / 10000);
    }

    /**
     * The default block length: the largest B &le; 254 with B + parity(B) &le; 255.
     *
     * @param units P (&ge; 1)
     * @return B
     */
    public static int defaultBlockLength(final int units) {
        for (int b = MAX_SYMBOLS_PER_BLOCK - 1; b >= 1; b--) {
            if (b + parityFor(b, units) <= MAX_SYMBOLS_PER_BLOCK) {
                return b;
            }
        }
        throw new IllegalArgumentException("no block length fits parity units " + units);
    }

    /**
     * Whether a sender may use B with P (B &ge; 1, B + parity(B) &le; 255).
     *
     * @param blockLength B
     * @param units P
     * @return true when allowed
     */
    public static boolean validBlockLength(final int blockLength, final int units) {
        return blockLength >= 1 && blockLength + parityFor(blockLength, units) <= MAX_SYMBOLS_PER_BLOCK;
    }

    /**
     * The layout a sender uses for an object: m = parity(A_large).
     *
     * @param sourceCount T
     * @param blockLength B
     * @param units P (&ge; 1)
     * @return the layout
     */
    public static FecLayout forSender(final long sourceCount, final int blockLength, final int units) {
        final FecLayout shape = new FecLayout(sourceCount, blockLength, 0);
        return new FecLayout(sourceCount, blockLength, parityFor(shape.aLarge(), units));
    }

    /**
     * The symbol size of an object: min(fragment_size, envelope_length).
     *
     * @param fragmentSize fragment size
     * @param envelopeLength envelope length
     * @return the length of every parity chunk
     */
    public static long symbolSize(final long fragmentSize, final long envelopeLength) {
        return Math.min(fragmentSize, envelopeLength);
    }
}
