package io.condcast.cli;

import io.condcast.CommitInfo;
import io.condcast.DropReason;
import io.condcast.Ids;
import io.condcast.ListeningInfo;
import io.condcast.PartialObject;
import io.condcast.ReceivedObject;
import io.condcast.Receiver;
import io.condcast.ReceiverListener;
import io.condcast.ReceiverOptions;
import io.condcast.SequenceGap;
import io.condcast.Wire;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/** {@code recv}: prints one JSON line per completed object; logs JSON lines on standard error. */
final class RecvCommand {
    static final Map<String, Flags.Type> FLAGS = new LinkedHashMap<>(Flags.COMMON);

    static {
        FLAGS.put("out", Flags.Type.STRING);
        FLAGS.put("count", Flags.Type.STRING);
        FLAGS.put("timeout", Flags.Type.STRING);
        FLAGS.put("stage-timeout", Flags.Type.STRING);
    }

    static final String USAGE = String.join("\n",
        "usage: condcast-java recv [options]",
        "",
        "Joins the group and prints one JSON line per completed object (stdout); logs and final counters go to",
        "standard error as JSON lines.",
        "  --out DIR        also write each payload to DIR/<id>",
        "  --count N        exit 0 after N objects (those of a changeset count when they are printed)",
        "  --timeout S      exit 1 if not done after S seconds",
        "  --stage-timeout MS  drop a changeset's staged objects (uncommitted) when it is neither committed nor",
        "                   aborted within MS (default " + Wire.DEFAULT_STAGE_TIMEOUT_MS + ")",
        "Objects of a changeset are staged: printed only once its commit and all of them are held, in id order,",
        "followed by a changeset event on standard error.",
        "  --group, --port, --interface, --ttl, --datagram-size, --rate, --key-file, --key-id: see spec/CLI.md",
        "Every flag can also come from CONDCAST_<FLAG> (e.g. CONDCAST_COUNT).");

    private RecvCommand() {
    }

    /** The result a signal handler uses: exit 0 without --count, else 1. */
    static int run(final String[] argv, final Map<String, String> env, final PrintStream out, final PrintStream err,
                   final CompletableFuture<Integer> stop) throws UsageError, IOException, InterruptedException {
        final Flags args = Flags.parse(argv, FLAGS, env);
        if (args.bool("help")) {
            out.println(USAGE);
            return 0;
        }
        final NetworkOptions net = NetworkOptions.from(args);
        final Long count = args.integer("count", null, 1, (1L << 53) - 1);
        final double timeoutSeconds = args.number("timeout", 0, 0);
        final long stageTimeout = args.integer("stage-timeout", Wire.DEFAULT_STAGE_TIMEOUT_MS, 1, Wire.MAX_SEQUENCE);
        final String outDirText = args.string("out");
        final Path outDir = outDirText != null ? Path.of(outDirText) : null;
        if (outDir != null) {
            Files.createDirectories(outDir);
        }
        final CompletableFuture<Integer> result = stop != null ? stop : new CompletableFuture<>();
        final ExecutorService writer = Executors.newSingleThreadExecutor(r -> {
            final Thread t = new Thread(r, "condcast-recv-writer");
            t.setDaemon(true);
            return t;
        });
        final AtomicLong received = new AtomicLong();
        final Object logLock = new Object();
        final ReceiverListener listener = new ReceiverListener() {
            /** Prints (and with --out writes) one object; the caller holds logLock. */
            private void print(final ReceivedObject o) {
                out.println(Json.objectLine(o.id(), o.senderId(), o.sequence(), o.meta(), o.size()));
                if (outDir != null) {
                    writer.execute(() -> {
                        try (FileChannel ch = FileChannel.open(outDir.resolve(o.id().toString()), StandardOpenOption.CREATE,
                            StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                            final java.nio.ByteBuffer payload = o.payload();
                            while (payload.hasRemaining()) {
                                ch.write(payload);
                            }
                        } catch (final IOException e) {
                            log(err, logLock, "error", "\"message\":" + Json.string("writing " + o.id() + ": " + e.getMessage()));
                        }
                    });
                }
            }

            private void counted(final int objects) {
                if (received.addAndGet(objects) >= (count == null ? Long.MAX_VALUE : count)) {
                    result.complete(0);
                }
            }

            @Override
            public void onObject(final ReceivedObject o) {
                synchronized (logLock) {
                    print(o);
                    out.flush();
                }
                counted(1);
            }

            @Override
            public void onChangeset(final CommitInfo commit, final List<ReceivedObject> objects) {
                // One unit: its object lines in id order, then the changeset event, nothing in between.
                synchronized (logLock) {
                    for (final ReceivedObject o : objects) {
                        print(o);
                    }
                    out.flush();
                    log(err, logLock, "changeset", "\"senderId\":" + Json.string(Ids.formatSenderId(commit.senderId()))
                        + ",\"keytable\":" + Json.string(commit.keytable()) + ",\"key\":" + commit.key() + ",\"parentKey\":"
                        + commit.parentKey() + ",\"changeset\":" + Json.string(commit.changeset()) + ",\"objects\":"
                        + objects.size());
                }
                counted(objects.size());
            }

            @Override
            public void onCommitIgnored(final CommitInfo commit, final long heldKey) {
                log(err, logLock, "commit_ignored", "\"senderId\":" + Json.string(Ids.formatSenderId(commit.senderId()))
                    + ",\"keytable\":" + Json.string(commit.keytable()) + ",\"key\":" + commit.key() + ",\"heldKey\":"
                    + heldKey + ",\"changeset\":" + Json.string(commit.changeset()));
            }

            @Override
            public void onStagedObjectDropped(final ReceivedObject o, final DropReason reason) {
                log(err, logLock, "object_dropped", "\"id\":" + Json.string(o.id().toString())
                    + ",\"reason\":" + Json.string(reason.wireName()));
            }

            @Override
            public void onGap(final SequenceGap gap) {
                log(err, logLock, "gap", "\"senderId\":" + Json.string(gap.senderIdHex()) + ",\"from\":" + gap.from()
                    + ",\"to\":" + gap.to());
            }

            @Override
            public void onCommit(final CommitInfo commit) {
                log(err, logLock, "commit", Json.commitFields(commit));
            }

            @Override
            public void onObjectDropped(final PartialObject partial, final DropReason reason) {
                log(err, logLock, "object_dropped", "\"id\":" + Json.string(partial.objectId().toString())
                    + ",\"reason\":" + Json.string(reason.wireName()));
            }

            @Override
            public void onError(final Throwable error) {
                log(err, logLock, "error", "\"message\":" + Json.string(String.valueOf(error.getMessage())));
                result.complete(1);
            }
        };
        final ReceiverOptions.Builder options = ReceiverOptions.builder()
            .group(net.group()).port(net.port()).interfaceAddress(net.iface())
            .keys(net.key() != null ? List.of(net.key()) : List.of()).stageTimeoutMs(stageTimeout);
        final Receiver receiver = new Receiver(options.build(), listener);
        int code;
        try {
            final ListeningInfo info = receiver.start();
            log(err, logLock, "listening", "\"group\":" + Json.string(info.group()) + ",\"port\":" + info.port()
                + ",\"interface\":" + Json.string(info.interfaceAddress()) + ",\"receiveBufferRequested\":"
                + info.receiveBufferRequested() + ",\"receiveBufferGranted\":" + info.receiveBufferGranted());
            if (timeoutSeconds > 0) {
                try {
                    code = result.get((long) Math.ceil(timeoutSeconds * 1000), TimeUnit.MILLISECONDS);
                } catch (final java.util.concurrent.TimeoutException e) {
                    log(err, logLock, "timeout", "\"seconds\":" + Json.number(timeoutSeconds) + ",\"received\":"
                        + received.get() + ",\"expected\":" + (count == null ? "null" : count.toString()));
                    code = 1;
                }
            } else {
                code = result.get();
            }
        } catch (final IOException e) {
            log(err, logLock, "error", "\"message\":" + Json.string(String.valueOf(e.getMessage())));
            code = 1;
        } catch (final java.util.concurrent.ExecutionException e) {
            code = 1;
        } finally {
            receiver.close();
        }
        writer.shutdown();
        writer.awaitTermination(1, TimeUnit.MINUTES);
        log(err, logLock, "counters", receiver.counters().toJson().substring(1, receiver.counters().toJson().length() - 1));
        return code;
    }

    static void log(final PrintStream err, final Object lock, final String event, final String fields) {
        synchronized (lock) {
            err.println("{\"event\":" + Json.string(event) + (fields.isEmpty() ? "" : "," + fields) + "}");
            err.flush();
        }
    }
}
