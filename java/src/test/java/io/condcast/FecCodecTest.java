package io.condcast;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** FEC scheme 1 (SPEC 10): the field, the block layout, the Cauchy Reed-Solomon encoder and decoder. */
class FecCodecTest {
    @Test
    void fieldMatchesSpec101() {
        final int[] exp = {1, 2, 4, 8, 16, 32, 64, 128, 29};
        for (int i = 0; i < exp.length; i++) {
            assertEquals(exp[i], Gf256.exp(i));
        }
        assertEquals(0x31, Gf256.mul(0x57, 0x83));
        assertEquals(0x8E, Gf256.inv(2));
        for (int a = 1; a < 256; a++) {
            assertEquals(a, Gf256.exp(Gf256.log(a)));
            assertEquals(1, Gf256.mul(a, Gf256.inv(a)));
            assertEquals(0, Gf256.mul(a, 0));
            for (int b = 1; b < 256; b++) {
                // a · b by shift-and-add (carry-less multiply modulo 0x11D) agrees with the tables.
                int x = a;
                int y = b;
                int p = 0;
                while (y != 0) {
                    if ((y & 1) != 0) {
                        p ^= x;
                    }
                    x <<= 1;
                    if ((x & 0x100) != 0) {
                        x ^= 0x11D;
                    }
                    y >>>= 1;
                }
                assertEquals(p, Gf256.mul(a, b));
            }
        }
    }

    @Test
    void cauchyCoefficientsMatchSpec103() {
        final int[][] want = {
            {0xFD, 0x7E, 0xFF, 0x7F, 0x75, 0xE8},
            {0x7E, 0xFD, 0x7F, 0xFF, 0xE8, 0x75},
            {0xFF, 0x7F, 0xFD, 0x7E, 0xD4, 0x42},
        };
        for (int i = 0; i < 3; i++) {
            for (int j = 0; j < 6; j++) {
                assertEquals(want[i][j], Gf256.cauchyCoefficient(i, j), "C(" + i + ", " + j + ")");
            }
        }
    }

    @Test
    void layoutFollowsRfc5052() {
        // T = 10, B = 4: N = 3, A_large = 4, A_small = 3, I_large = 1: blocks of 4, 3, 3.
        FecLayout l = new FecLayout(10, 4, 2);
        assertEquals(3, l.blockCount());
        assertEquals(4, l.aLarge());
        assertEquals(3, l.aSmall());
        assertEquals(1, l.iLarge());
        assertEquals(List.of(0L, 4L, 7L), List.of(l.blockStart(0), l.blockStart(1), l.blockStart(2)));
        assertEquals(List.of(4, 3, 3), List.of(l.blockSourceCount(0), l.blockSourceCount(1), l.blockSourceCount(2)));
        assertEquals(10 + 2 * 2 + 1, l.parityIndex(2, 1));
        assertEquals(16, l.totalCount());
        // T = 1: one block of 1.
        l = new FecLayout(1, 242, 1);
        assertEquals(1, l.blockCount());
        assertEquals(1, l.blockSourceCount(0));
        // SPEC 10.4: a 2 MiB object in 1392-byte fragments is 7 blocks of 216 + 11 (with the metadata).
        final long t = Wire.fragmentCount(2L * 1024 * 1024 + 100, 1392);
        l = FecLayout.forSender(t, 242, 500);
        assertEquals(7, l.blockCount());
        assertEquals(216, l.aLarge());
        assertEquals(11, l.parityCount());
        // T = 243 with B = 242: N = 2, A_large = 122, A_small = 121, I_large = 1.
        l = FecLayout.forSender(243, 242, 500);
        assertEquals(2, l.blockCount());
        assertEquals(List.of(122, 121), List.of(l.blockSourceCount(0), l.blockSourceCount(1)));
        assertEquals(122, l.blockStart(1));
        assertEquals(7, l.parityCount()); // ceil(122 · 0.05)
        // Every source index maps to the block that holds it, for many shapes.
        for (int tt = 1; tt < 600; tt += 7) {
            for (final int b : new int[] {1, 2, 5, 13, 100, 242}) {
                final FecLayout x = new FecLayout(tt, b, 1);
                long next = 0;
                for (long blk = 0; blk < x.blockCount(); blk++) {
                    assertEquals(next, x.blockStart(blk));
                    assertTrue(x.blockSourceCount(blk) <= b);
                    for (int j = 0; j < x.blockSourceCount(blk); j++) {
                        assertEquals(blk, x.blockOf(next + j));
                    }
                    next += x.blockSourceCount(blk);
                }
                assertEquals(tt, next);
            }
        }
    }

    @Test
    void senderParameters() {
        assertEquals(500, FecLayout.parityUnits(0.05));
        assertEquals(0, FecLayout.parityUnits(0));
        assertEquals(10000, FecLayout.parityUnits(1));
        assertEquals(1235, FecLayout.parityUnits(0.12345)); // round half up... of the double 1234.5
        assertEquals(13, FecLayout.parityFor(242, 500));
        assertEquals(1, FecLayout.parityFor(1, 500));
        assertEquals(242, FecLayout.defaultBlockLength(500));
        assertEquals(127, FecLayout.defaultBlockLength(10000));
        assertTrue(FecLayout.validBlockLength(242, 500));
        assertFalse(FecLayout.validBlockLength(243, 500));
        assertFalse(FecLayout.validBlockLength(0, 500));
        assertThrows(IllegalArgumentException.class, () -> FecLayout.parityUnits(1.5));
        assertThrows(IllegalArgumentException.class, () -> FecLayout.parityUnits(Double.NaN));
        // SenderOptions: the defaults of SPEC 7, and B / p / D a sender must refuse.
        final SenderOptions d = SenderOptions.builder().build();
        assertEquals(0.05, d.fecParity());
        assertEquals(242, d.fecBlockLength());
        assertEquals(16, d.fecInterleave());
        assertEquals(127, SenderOptions.builder().fecParity(1).build().fecBlockLength());
        assertEquals(100, SenderOptions.builder().fecBlockLength(100).build().fecBlockLength());
        assertEquals(254, SenderOptions.builder().fecParity(0).fecBlockLength(254).build().fecBlockLength());
        assertThrows(IllegalArgumentException.class, () -> SenderOptions.builder().fecBlockLength(243).build());
        assertThrows(IllegalArgumentException.class, () -> SenderOptions.builder().fecBlockLength(0).build());
        assertThrows(IllegalArgumentException.class, () -> SenderOptions.builder().fecParity(1).fecBlockLength(128).build());
        assertThrows(IllegalArgumentException.class, () -> SenderOptions.builder().fecParity(-0.1).build());
        assertThrows(IllegalArgumentException.class, () -> SenderOptions.builder().fecInterleave(0).build());
        final ObjectMetadata meta = ObjectMetadata.of("A/B", 0, 1, 0, "t", "f", "d41d8cd98f00b204e9800998ecf8427e", java.util.Map.of());
        assertThrows(IllegalArgumentException.class, () -> new ObjectEncoder(1, 1, java.util.UUID.randomUUID(), meta,
            java.nio.ByteBuffer.allocate(0), 1472, null, 0.05, 243, 16));
        // Without FEC the encoder writes no FEC fields and no parity.
        final ObjectEncoder plain = new ObjectEncoder(1, 1, java.util.UUID.randomUUID(), meta, java.nio.ByteBuffer.allocate(5000),
            1472, null, 0, 0, 16);
        assertEquals(plain.sourceCount(), plain.count());
        assertEquals(null, plain.fecLayout());
    }

    /** Parity by the definition of SPEC 10.3, byte by byte with the field tables. */
    static byte[][] referenceParity(final byte[][] sources, final int m, final int symbolSize) {
        final byte[][] parity = new byte[m][symbolSize];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < sources.length; j++) {
                final int c = Gf256.cauchyCoefficient(i, j);
                for (int t = 0; t < sources[j].length; t++) {
                    parity[i][t] ^= (byte) Gf256.mul(c, sources[j][t]);
                }
            }
        }
        return parity;
    }

    static byte[][] randomSources(final Random r, final int k, final int symbolSize) {
        final byte[][] s = new byte[k][symbolSize];
        for (final byte[] x : s) {
            r.nextBytes(x);
        }
        return s;
    }

    @Test
    void encoderMatchesTheDefinition() {
        final Random r = new Random(11);
        for (final int size : new int[] {1, 7, 63, 64, 65, 127, 128, 1000, 1392, 1372, 4096 + 3}) {
            for (final int[] km : new int[][] {{1, 1}, {3, 2}, {10, 4}, {40, 13}, {242, 13}, {1, 254}, {127, 128}}) {
                if (size > 1500 && km[0] > 40) {
                    continue;
                }
                final byte[][] src = randomSources(r, km[0], size);
                if (km[0] > 1) {
                    src[km[0] - 1] = java.util.Arrays.copyOf(src[km[0] - 1], 1 + r.nextInt(size)); // a short last one
                }
                final byte[][] got = FecEncoder.encode(src, km[1], size);
                final byte[][] want = referenceParity(src, km[1], size);
                for (int i = 0; i < km[1]; i++) {
                    assertArrayEquals(want[i], got[i], "size " + size + " k " + km[0] + " m " + km[1] + " row " + i);
                }
            }
        }
    }

    private static void checkRecovery(final byte[][] src, final byte[][] parity, final boolean[] lostSource,
                                      final boolean[] lostParity, final FecDecoder dec, final int size) {
        final int k = src.length;
        final byte[][] work = new byte[k][];
        final boolean[] present = new boolean[k];
        for (int j = 0; j < k; j++) {
            present[j] = !lostSource[j];
            work[j] = present[j] ? src[j].clone() : new byte[size];
            if (!present[j]) {
                java.util.Arrays.fill(work[j], (byte) 0x5A); // garbage to overwrite
            }
        }
        final boolean[] parityPresent = new boolean[parity.length];
        for (int i = 0; i < parity.length; i++) {
            parityPresent[i] = !lostParity[i];
        }
        dec.decode(work, present, parity, parityPresent, size);
        for (int j = 0; j < k; j++) {
            assertArrayEquals(src[j], work[j], "source " + j);
        }
    }

    @Test
    void everyPatternOfUpToMLossesIsRecoveredForSmallBlocks() {
        final Random r = new Random(12);
        final FecDecoder dec = new FecDecoder(2048);
        int patterns = 0;
        for (int k = 1; k <= 7; k++) {
            for (int m = 1; m <= 4; m++) {
                final int size = 1 + r.nextInt(200);
                final byte[][] src = randomSources(r, k, size);
                final byte[][] parity = FecEncoder.encode(src, m, size);
                final int n = k + m;
                for (int mask = 0; mask < 1 << n; mask++) {
                    if (Integer.bitCount(mask) > m) {
                        continue;
                    }
                    final boolean[] ls = new boolean[k];
                    final boolean[] lp = new boolean[m];
                    for (int x = 0; x < n; x++) {
                        if ((mask >>> x & 1) != 0) {
                            if (x < k) {
                                ls[x] = true;
                            } else {
                                lp[x - k] = true;
                            }
                        }
                    }
                    checkRecovery(src, parity, ls, lp, dec, size);
                    patterns++;
                }
            }
        }
        assertEquals(2310, patterns, "every pattern of up to m losses, k ≤ 7, m ≤ 4");
    }

    @Test
    void randomLossPatternsForFullBlocks() {
        final long seed = Long.getLong("condcast.fec.seed", 20261121L);
        final Random r = new Random(seed);
        final FecDecoder dec = new FecDecoder();
        for (final int size : new int[] {1392, 1372, 8972, 100}) {
            final int k = 242;
            final int m = 13;
            final byte[][] src = randomSources(r, k, size);
            final byte[][] parity = FecEncoder.encode(src, m, size);
            for (int round = 0; round < (size == 8972 ? 10 : 40); round++) {
                final int losses = round == 0 ? m : r.nextInt(m + 1);
                final List<Integer> all = new ArrayList<>();
                for (int x = 0; x < k + m; x++) {
                    all.add(x);
                }
                java.util.Collections.shuffle(all, r);
                final boolean[] ls = new boolean[k];
                final boolean[] lp = new boolean[m];
                for (int x = 0; x < losses; x++) {
                    final int which = round == 0 ? x * 17 : all.get(x); // round 0: m sources
                    if (which < k) {
                        ls[which] = true;
                    } else {
                        lp[which - k] = true;
                    }
                }
                checkRecovery(src, parity, ls, lp, dec, size);
            }
        }
    }

    @Test
    void moreThanMLossesFailCleanly() {
        final Random r = new Random(13);
        final byte[][] src = randomSources(r, 10, 300);
        final byte[][] parity = FecEncoder.encode(src, 3, 300);
        final boolean[] present = {false, false, true, true, true, true, true, true, true, false};
        final boolean[] parityPresent = {true, false, true};
        final byte[][] work = new byte[10][];
        for (int j = 0; j < 10; j++) {
            work[j] = present[j] ? src[j].clone() : new byte[300];
        }
        assertThrows(IllegalArgumentException.class, () -> new FecDecoder().decode(work, present, parity, parityPresent, 300));
        for (int j = 0; j < 10; j++) {
            if (present[j]) {
                assertArrayEquals(src[j], work[j], "held sources are untouched");
            }
        }
    }
}
