package io.condcast;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * The arithmetic engine of FEC scheme 1: symbols in bitsliced form, so that multiplying a whole symbol
 * by a GF(2^8) constant and adding it to another is a handful of 64-bit XOR loops.
 *
 * <p>A symbol is cut into 64-byte segments. Each segment (8 little-endian longs x_0..x_7) is transposed
 * by three delta swaps so that long b holds bit b of all 64 bytes (its "plane" b). Multiplication by a
 * constant c is GF(2)-linear on the 8 bits of every byte: output plane o is the XOR of the input planes
 * i where bit o of c·2^i is set. So c·x + y costs, per 64 bytes, one XOR per set bit of c's 8×8 bit
 * matrix (about 32), done with long arithmetic over whole planes. Layout: a symbol is {@code long[8][segs]},
 * plane b of segment s at {@code [b][s]}: every loop indexes its arrays alike, which is what C2
 * vectorizes, and each output plane is written once per coefficient (its inputs XORed in one pass).
 *
 * <p>The transposition is an involution and the mapping of bytes to bit positions is the same on the
 * way in and out, so the bitsliced form is only internal: bytes in, bytes out.
 */
final class Bitslice {
    static final VarHandle LONGS = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
    private static final long M0 = 0x5555555555555555L;
    private static final long M1 = 0x3333333333333333L;
    private static final long M2 = 0x0F0F0F0F0F0F0F0FL;
    /** INPUTS[c][o]: the input planes whose XOR is output plane o of c · x. */
    static final int[][][] INPUTS = new int[256][8][];

    static {
        for (int c = 0; c < 256; c++) {
            for (int o = 0; o < 8; o++) {
                final int[] tmp = new int[8];
                int n = 0;
                for (int i = 0; i < 8; i++) {
                    if ((Gf256.mul(c, 1 << i) >>> o & 1) != 0) {
                        tmp[n++] = i;
                    }
                }
                INPUTS[c][o] = java.util.Arrays.copyOf(tmp, n);
            }
        }
    }

    /** MASKS[c][o]: bit i set when input plane i contributes to output plane o of c · x. */
    static final int[][] MASKS = new int[256][8];

    static {
        for (int c = 0; c < 256; c++) {
            for (int o = 0; o < 8; o++) {
                for (final int i : INPUTS[c][o]) {
                    MASKS[c][o] |= 1 << i;
                }
            }
        }
    }

    /** Below this many rows per source, the subset tables do not pay for themselves. */
    static final int SUBSET_MIN_ROWS = 3;

    private Bitslice() {
    }

    /**
     * Subset tables of one bitsliced symbol: {@code lo[s]} is the XOR of planes i &lt; 4 with bit i of s
     * set, {@code hi[s]} the same for planes 4 + i. Then any output plane of c · x is at most two XORs
     * ({@link #mulAddSubsets}) instead of about four: worth it when one symbol is multiplied by several
     * coefficients (the m parity rows of the encoder, the e syndromes of the decoder).
     */
    static final class Subsets {
        final long[][] lo = new long[16][];
        final long[][] hi = new long[16][];
        private final long[][] planes;

        /** Tables over {@code planes} (the single-plane entries are the planes themselves). */
        Subsets(final long[][] planes, final int segs) {
            this.planes = planes;
            for (int s = 1; s < 16; s++) {
                if (Integer.bitCount(s) == 1) {
                    lo[s] = planes[Integer.numberOfTrailingZeros(s)];
                    hi[s] = planes[4 + Integer.numberOfTrailingZeros(s)];
                } else {
                    lo[s] = new long[segs];
                    hi[s] = new long[segs];
                }
            }
        }

        /** Recomputes the tables from the planes (segs segments). */
        void compute(final int segs) {
            for (int s = 3; s < 16; s++) {
                if (Integer.bitCount(s) == 1) {
                    continue;
                }
                final int low = Integer.lowestOneBit(s);
                final int rest = s ^ low;
                final int b = Integer.numberOfTrailingZeros(low);
                xorInto(lo[s], lo[rest], planes[b], segs);
                xorInto(hi[s], hi[rest], planes[4 + b], segs);
            }
        }
    }

    private static void xorInto(final long[] d, final long[] a, final long[] b, final int n) {
        for (int t = 0; t < n; t++) {
            d[t] = a[t] ^ b[t];
        }
    }

    /** dst += c · x, x given by its {@link Subsets} tables. */
    static void mulAddSubsets(final long[][] dst, final Subsets x, final int c, final int segs) {
        final int[] masks = MASKS[c & 0xFF];
        for (int o = 0; o < 8; o++) {
            final int mask = masks[o];
            final int l = mask & 15;
            final int h = mask >>> 4;
            if (l != 0 && h != 0) {
                xor2(dst[o], x.lo[l], x.hi[h], segs);
            } else if (l != 0) {
                xor1(dst[o], x.lo[l], segs);
            } else if (h != 0) {
                xor1(dst[o], x.hi[h], segs);
            }
        }
    }

    /** @return 64-byte segments of a symbol */
    static int segments(final int symbolSize) {
        return (symbolSize + 63) >>> 6;
    }

    /**
     * Loads bytes src[off, off + len) (zero-padded to segs · 64) into planes[b][0, segs).
     *
     * @param tail a 64-byte scratch for the last, partial segment
     */
    static void load(final byte[] src, final int off, final int len, final long[][] planes, final int segs,
                     final byte[] tail) {
        final int full = Math.min(len >>> 6, segs);
        for (int s = 0; s < full; s++) {
            loadSegment(src, off + (s << 6), planes, s);
        }
        if (full < segs) {
            final int rest = len - (full << 6);
            if (rest > 0) {
                System.arraycopy(src, off + (full << 6), tail, 0, rest);
            }
            java.util.Arrays.fill(tail, Math.max(rest, 0), 64, (byte) 0);
            loadSegment(tail, 0, planes, full);
            if (full + 1 < segs) {
                java.util.Arrays.fill(tail, (byte) 0);
                for (int s = full + 1; s < segs; s++) {
                    loadSegment(tail, 0, planes, s);
                }
            }
        }
    }

    private static void loadSegment(final byte[] src, final int at, final long[][] planes, final int p) {
        long x0 = (long) LONGS.get(src, at);
        long x1 = (long) LONGS.get(src, at + 8);
        long x2 = (long) LONGS.get(src, at + 16);
        long x3 = (long) LONGS.get(src, at + 24);
        long x4 = (long) LONGS.get(src, at + 32);
        long x5 = (long) LONGS.get(src, at + 40);
        long x6 = (long) LONGS.get(src, at + 48);
        long x7 = (long) LONGS.get(src, at + 56);
        long t;
        t = ((x0 >>> 1) ^ x1) & M0; x1 ^= t; x0 ^= t << 1;
        t = ((x2 >>> 1) ^ x3) & M0; x3 ^= t; x2 ^= t << 1;
        t = ((x4 >>> 1) ^ x5) & M0; x5 ^= t; x4 ^= t << 1;
        t = ((x6 >>> 1) ^ x7) & M0; x7 ^= t; x6 ^= t << 1;
        t = ((x0 >>> 2) ^ x2) & M1; x2 ^= t; x0 ^= t << 2;
        t = ((x1 >>> 2) ^ x3) & M1; x3 ^= t; x1 ^= t << 2;
        t = ((x4 >>> 2) ^ x6) & M1; x6 ^= t; x4 ^= t << 2;
        t = ((x5 >>> 2) ^ x7) & M1; x7 ^= t; x5 ^= t << 2;
        t = ((x0 >>> 4) ^ x4) & M2; x4 ^= t; x0 ^= t << 4;
        t = ((x1 >>> 4) ^ x5) & M2; x5 ^= t; x1 ^= t << 4;
        t = ((x2 >>> 4) ^ x6) & M2; x6 ^= t; x2 ^= t << 4;
        t = ((x3 >>> 4) ^ x7) & M2; x7 ^= t; x3 ^= t << 4;
        planes[0][p] = x0;
        planes[1][p] = x1;
        planes[2][p] = x2;
        planes[3][p] = x3;
        planes[4][p] = x4;
        planes[5][p] = x5;
        planes[6][p] = x6;
        planes[7][p] = x7;
    }

    /**
     * Stores planes[b][0, segs) as bytes into dst[off, off + len) (the padding beyond len is
     * not written).
     *
     * @param tail a 64-byte scratch for the last, partial segment
     */
    static void store(final long[][] planes, final int segs, final byte[] dst, final int off,
                      final int len, final byte[] tail) {
        final int full = Math.min(len >>> 6, segs);
        for (int s = 0; s < full; s++) {
            storeSegment(planes, s, dst, off + (s << 6));
        }
        final int rest = len - (full << 6);
        if (full < segs && rest > 0) {
            storeSegment(planes, full, tail, 0);
            System.arraycopy(tail, 0, dst, off + (full << 6), rest);
        }
    }

    private static void storeSegment(final long[][] planes, final int p, final byte[] dst, final int at) {
        long x0 = planes[0][p];
        long x1 = planes[1][p];
        long x2 = planes[2][p];
        long x3 = planes[3][p];
        long x4 = planes[4][p];
        long x5 = planes[5][p];
        long x6 = planes[6][p];
        long x7 = planes[7][p];
        long t;
        t = ((x0 >>> 1) ^ x1) & M0; x1 ^= t; x0 ^= t << 1;
        t = ((x2 >>> 1) ^ x3) & M0; x3 ^= t; x2 ^= t << 1;
        t = ((x4 >>> 1) ^ x5) & M0; x5 ^= t; x4 ^= t << 1;
        t = ((x6 >>> 1) ^ x7) & M0; x7 ^= t; x6 ^= t << 1;
        t = ((x0 >>> 2) ^ x2) & M1; x2 ^= t; x0 ^= t << 2;
        t = ((x1 >>> 2) ^ x3) & M1; x3 ^= t; x1 ^= t << 2;
        t = ((x4 >>> 2) ^ x6) & M1; x6 ^= t; x4 ^= t << 2;
        t = ((x5 >>> 2) ^ x7) & M1; x7 ^= t; x5 ^= t << 2;
        t = ((x0 >>> 4) ^ x4) & M2; x4 ^= t; x0 ^= t << 4;
        t = ((x1 >>> 4) ^ x5) & M2; x5 ^= t; x1 ^= t << 4;
        t = ((x2 >>> 4) ^ x6) & M2; x6 ^= t; x2 ^= t << 4;
        t = ((x3 >>> 4) ^ x7) & M2; x7 ^= t; x3 ^= t << 4;
        LONGS.set(dst, at, x0);
        LONGS.set(dst, at + 8, x1);
        LONGS.set(dst, at + 16, x2);
        LONGS.set(dst, at + 24, x3);
        LONGS.set(dst, at + 32, x4);
        LONGS.set(dst, at + 40, x5);
        LONGS.set(dst, at + 48, x6);
        LONGS.set(dst, at + 56, x7);
    }

    /** dst += c · src over one symbol of segs segments (both bitsliced). */
    static void mulAdd(final long[][] dst, final long[][] src, final int c, final int segs) {
        final int[][] inputs = INPUTS[c & 0xFF];
        for (int o = 0; o < 8; o++) {
            final int[] in = inputs[o];
            final long[] d = dst[o];
            switch (in.length) {
                case 0 -> { }
                case 1 -> xor1(d, src[in[0]], segs);
                case 2 -> xor2(d, src[in[0]], src[in[1]], segs);
                case 3 -> xor3(d, src[in[0]], src[in[1]], src[in[2]], segs);
                case 4 -> xor4(d, src[in[0]], src[in[1]], src[in[2]], src[in[3]], segs);
                case 5 -> {
                    xor4(d, src[in[0]], src[in[1]], src[in[2]], src[in[3]], segs);
                    xor1(d, src[in[4]], segs);
                }
                case 6 -> {
                    xor4(d, src[in[0]], src[in[1]], src[in[2]], src[in[3]], segs);
                    xor2(d, src[in[4]], src[in[5]], segs);
                }
                case 7 -> {
                    xor4(d, src[in[0]], src[in[1]], src[in[2]], src[in[3]], segs);
                    xor3(d, src[in[4]], src[in[5]], src[in[6]], segs);
                }
                default -> {
                    xor4(d, src[in[0]], src[in[1]], src[in[2]], src[in[3]], segs);
                    xor4(d, src[in[4]], src[in[5]], src[in[6]], src[in[7]], segs);
                }
            }
        }
    }

    private static void xor1(final long[] d, final long[] a, final int n) {
        for (int t = 0; t < n; t++) {
            d[t] ^= a[t];
        }
    }

    private static void xor2(final long[] d, final long[] a, final long[] b, final int n) {
        for (int t = 0; t < n; t++) {
            d[t] ^= a[t] ^ b[t];
        }
    }

    private static void xor3(final long[] d, final long[] a, final long[] b, final long[] c, final int n) {
        for (int t = 0; t < n; t++) {
            d[t] ^= a[t] ^ b[t] ^ c[t];
        }
    }

    private static void xor4(final long[] d, final long[] a, final long[] b, final long[] c, final long[] e, final int n) {
        for (int t = 0; t < n; t++) {
            d[t] ^= a[t] ^ b[t] ^ c[t] ^ e[t];
        }
    }

    /** @return a zeroed bitsliced symbol of segs segments */
    static long[][] newSymbol(final int segs) {
        return new long[8][segs];
    }

    /** Zeroes a bitsliced symbol. */
    static void clear(final long[][] planes) {
        for (final long[] p : planes) {
            java.util.Arrays.fill(p, 0L);
        }
    }
}
