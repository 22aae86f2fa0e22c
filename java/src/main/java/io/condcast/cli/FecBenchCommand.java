package io.condcast.cli;

import io.condcast.FecDecoder;
import io.condcast.FecEncoder;
import io.condcast.FecLayout;
import io.condcast.Wire;
import java.io.PrintStream;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/**
 * {@code fec-bench}: how fast FEC scheme 1 encodes and decodes blocks of one shape; prints one JSON line
 * {@code {"impl":"java","symbolSize":S,"block":K,"parity":M,"encodeMBps":E,"decodeMBps":D}}. Encode MB/s
 * counts source bytes encoded per second; decode MB/s counts source bytes of blocks rebuilt per second
 * when each block lost M source symbols (the worst case). Warms the JIT up first, then measures for the
 * given time (half encode, half decode).
 */
final class FecBenchCommand {
    static final Map<String, Flags.Type> FLAGS = new LinkedHashMap<>();

    static {
        for (final String name : new String[] {"symbol-size", "block", "parity", "seconds"}) {
            FLAGS.put(name, Flags.Type.STRING);
        }
        FLAGS.put("help", Flags.Type.BOOLEAN);
    }

    static final String USAGE = String.join("\n",
        "usage: condcast-java fec-bench [--symbol-size S] [--block K] [--parity M] [--seconds X]",
        "",
        "Measures FEC scheme 1 (SPEC 10) encoding and worst-case decoding of blocks of K source symbols of",
        "S bytes with M parity symbols; prints one JSON line.",
        "  --symbol-size S  bytes per symbol (default 1392)",
        "  --block K        source symbols per block (default 242)",
        "  --parity M       parity symbols per block (default 13; K + M <= 255)",
        "  --seconds X      measuring time, split between encode and decode (default 2)");

    private FecBenchCommand() {
    }

    static int run(final String[] argv, final Map<String, String> env, final PrintStream out) throws UsageError {
        final Flags args = Flags.parse(argv, FLAGS, env);
        if (args.bool("help")) {
            out.println(USAGE);
            return 0;
        }
        final int size = args.integer("symbol-size", 1392L, 1, Wire.MAX_DATAGRAM_SIZE).intValue();
        final int k = args.integer("block", 242L, 1, 254).intValue();
        final int m = args.integer("parity", 13L, 1, 254).intValue();
        if (k + m > FecLayout.MAX_SYMBOLS_PER_BLOCK) {
            throw new UsageError("--block + --parity must be at most 255");
        }
        final double seconds = args.number("seconds", 2, 0.01);
        if (seconds > 600) {
            throw new UsageError("--seconds must be at most 600");
        }
        final Result r = measure(size, k, m, seconds);
        out.println("{\"impl\":\"java\",\"symbolSize\":" + size + ",\"block\":" + k + ",\"parity\":" + m
            + ",\"encodeMBps\":" + Json.number(round1(r.encodeMBps)) + ",\"decodeMBps\":" + Json.number(round1(r.decodeMBps)) + "}");
        out.flush();
        return 0;
    }

    private static double round1(final double v) {
        return Math.round(v * 10) / 10.0;
    }

    record Result(double encodeMBps, double decodeMBps) {
    }

    static Result measure(final int size, final int k, final int m, final double seconds) {
        final Random random = new Random(1);
        final byte[][] sources = new byte[k][size];
        for (final byte[] s : sources) {
            random.nextBytes(s);
        }
        final FecEncoder enc = new FecEncoder(m, size);
        final byte[][] parity = new byte[m][];
        encode(enc, sources);
        for (int i = 0; i < m; i++) {
            parity[i] = enc.parity(i).clone();
        }
        // Worst case: m sources lost, spread over the block; all parity held.
        final boolean[] present = new boolean[k];
        java.util.Arrays.fill(present, true);
        final int lost = Math.min(m, k);
        for (int x = 0; x < lost; x++) {
            present[(int) ((long) x * k / lost)] = false;
        }
        final boolean[] parityPresent = new boolean[m];
        java.util.Arrays.fill(parityPresent, true);
        final byte[][] work = new byte[k][];
        for (int j = 0; j < k; j++) {
            work[j] = sources[j].clone();
        }
        final FecDecoder dec = new FecDecoder(size);
        // Warm-up: a bounded time of both paths, so C2 compiles the loops before measuring.
        final long warmEnd = System.nanoTime() + (long) (Math.min(1.0, Math.max(0.3, seconds / 2)) * 1e9);
        while (System.nanoTime() < warmEnd) {
            encode(enc, sources);
            dec.decode(work, present, parity, parityPresent, size);
        }
        for (int j = 0; j < k; j++) {
            if (!java.util.Arrays.equals(work[j], sources[j])) {
                throw new IllegalStateException("decode check failed at source " + j);
            }
        }
        final long half = (long) (seconds / 2 * 1e9);
        long blocks = 0;
        long start = System.nanoTime();
        long now = start;
        while (now - start < half || blocks == 0) {
            encode(enc, sources);
            blocks++;
            now = System.nanoTime();
        }
        final double encodeMBps = (double) blocks * k * size / ((now - start) / 1e9) / 1e6;
        blocks = 0;
        start = System.nanoTime();
        now = start;
        while (now - start < half || blocks == 0) {
            dec.decode(work, present, parity, parityPresent, size);
            blocks++;
            now = System.nanoTime();
        }
        final double decodeMBps = (double) blocks * k * size / ((now - start) / 1e9) / 1e6;
        return new Result(encodeMBps, decodeMBps);
    }

    private static void encode(final FecEncoder enc, final byte[][] sources) {
        enc.reset();
        for (int j = 0; j < sources.length; j++) {
            enc.addSource(j, sources[j], 0, sources[j].length);
        }
        enc.finish();
    }
}
