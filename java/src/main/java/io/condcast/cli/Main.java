package io.condcast.cli;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * The condcast command line in Java: {@code send} and {@code recv}, with the flags, environment
 * variables, JSON lines and exit codes of spec/CLI.md.
 */
public final class Main {
    static final String USAGE = String.join("\n",
        "usage: condcast-java <command> [options]",
        "",
        "commands:",
        "  send   send files as objects over multicast",
        "  recv   receive objects and print them as JSON lines",
        "  fec-bench  measure FEC encoding and decoding speed",
        "",
        SendCommand.USAGE,
        "",
        RecvCommand.USAGE,
        "",
        FecBenchCommand.USAGE);

    private Main() {
    }

    /**
     * Runs the CLI and exits with its code (0 done, 1 failure or timeout, 2 usage error).
     *
     * @param args the command line
     */
    public static void main(final String[] args) {
        final PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), false, StandardCharsets.UTF_8);
        final PrintStream err = new PrintStream(new FileOutputStream(FileDescriptor.err), true, StandardCharsets.UTF_8);
        final CompletableFuture<Integer> stop = new CompletableFuture<>();
        final Thread hook = new Thread(() -> {
            // SIGINT/SIGTERM: recv finishes (0 without --count, else 1), logs its counters, then exits.
            stop.complete(Arrays.stream(args).anyMatch(a -> a.equals("--count") || a.startsWith("--count="))
                || System.getenv("CONDCAST_COUNT") != null && !System.getenv("CONDCAST_COUNT").isEmpty() ? 1 : 0);
            try {
                Thread.sleep(2000);
            } catch (final InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        final boolean isRecv = args.length > 0 && args[0].equals("recv");
        if (isRecv) {
            Runtime.getRuntime().addShutdownHook(hook);
        }
        final int code = run(args, System.getenv(), System.in, out, err, stop);
        out.flush();
        err.flush();
        if (isRecv) {
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (final IllegalStateException e) {
                Runtime.getRuntime().halt(code); // already shutting down on a signal
            }
        }
        System.exit(code);
    }

    /**
     * Runs the CLI with the given streams and environment (for embedding and tests).
     *
     * @param args the command line
     * @param env environment variables (CONDCAST_*)
     * @param in standard input (for {@code send -})
     * @param out standard output
     * @param err standard error
     * @param stop completing it stops a running {@code recv} with that exit code (may be null)
     * @return the exit code
     */
    public static int run(final String[] args, final Map<String, String> env, final InputStream in,
                          final PrintStream out, final PrintStream err, final CompletableFuture<Integer> stop) {
        try {
            final String command = args.length > 0 ? args[0] : null;
            final String[] rest = args.length > 0 ? Arrays.copyOfRange(args, 1, args.length) : args;
            if (command == null || command.equals("help") || command.equals("--help") || command.equals("-h")) {
                out.println(USAGE);
                out.flush();
                return command == null ? 2 : 0;
            }
            switch (command) {
                case "send":
                    return SendCommand.run(rest, env, in, out);
                case "recv":
                    return RecvCommand.run(rest, env, out, err, stop);
                case "fec-bench":
                    return FecBenchCommand.run(rest, env, out);
                default:
                    throw new UsageError("unknown command " + Json.string(command));
            }
        } catch (final UsageError e) {
            err.println("condcast-java: " + e.getMessage() + "\n(see condcast-java --help)");
            err.flush();
            return 2;
        } catch (final Exception e) {
            err.println("condcast-java: " + e);
            err.flush();
            return 1;
        }
    }
}
