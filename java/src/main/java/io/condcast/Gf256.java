package io.condcast;

/**
 * GF(2^8) with the primitive polynomial x^8 + x^4 + x^3 + x^2 + 1 (0x11D) and generator 2 (SPEC 10.1;
 * mirrors the TypeScript {@code Gf256}). Tables are built once: {@code exp}, {@code log}, inverses and
 * the full 64 KB multiplication table.
 */
public final class Gf256 {
    /** The primitive polynomial, with its x^8 term. */
    public static final int POLYNOMIAL = 0x11D;

    /** exp[i] = 2^i for 0 &le; i &lt; 510 (doubled so exp[log a + log b] needs no modulo). */
    static final int[] EXP = new int[510];
    /** log[a] for a &ne; 0; log[0] is unused (0). */
    static final int[] LOG = new int[256];
    /** inv[a] for a &ne; 0; inv[0] = 0. */
    static final int[] INV = new int[256];
    /** MUL[(a &lt;&lt; 8) | b] = a · b. */
    static final byte[] MUL = new byte[65536];

    static {
        int x = 1;
        for (int i = 0; i < 255; i++) {
            EXP[i] = x;
            EXP[i + 255] = x;
            LOG[x] = i;
            x <<= 1;
            if ((x & 0x100) != 0) {
                x ^= POLYNOMIAL;
            }
        }
        for (int a = 1; a < 256; a++) {
            INV[a] = EXP[(255 - LOG[a]) % 255];
            for (int b = 1; b < 256; b++) {
                MUL[(a << 8) | b] = (byte) EXP[LOG[a] + LOG[b]];
            }
        }
    }

    private Gf256() {
    }

    /**
     * @param i 0 &le; i &lt; 255
     * @return 2^i
     */
    public static int exp(final int i) {
        return EXP[i];
    }

    /**
     * @param a 1 to 255
     * @return log_2 a
     */
    public static int log(final int a) {
        if (a == 0) {
            throw new ArithmeticException("log 0");
        }
        return LOG[a];
    }

    /**
     * @param a a field element
     * @param b a field element
     * @return a · b
     */
    public static int mul(final int a, final int b) {
        return MUL[((a & 0xFF) << 8) | (b & 0xFF)] & 0xFF;
    }

    /**
     * @param a a non-zero field element
     * @return a^-1
     */
    public static int inv(final int a) {
        if ((a & 0xFF) == 0) {
            throw new ArithmeticException("inverse of 0");
        }
        return INV[a & 0xFF];
    }

    /**
     * The parity coefficient of SPEC 10.3: C(i, j) = inv((255 − i) XOR j), a Cauchy matrix with
     * x_i = 255 − i and y_j = j.
     *
     * @param i parity row, 0 &le; i &lt; m
     * @param j source position in the block, 0 &le; j &lt; k (k + m &le; 255)
     * @return C(i, j)
     */
    public static int cauchyCoefficient(final int i, final int j) {
        return INV[((255 - i) ^ j) & 0xFF];
    }
}
