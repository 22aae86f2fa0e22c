package io.condcast.cli;

import io.condcast.CommitInfo;
import io.condcast.FecLayout;
import io.condcast.Ids;
import io.condcast.ObjectCodec;
import io.condcast.OutgoingCommit;
import io.condcast.OutgoingObject;
import io.condcast.SentObject;
import io.condcast.Sender;
import io.condcast.SenderOptions;
import io.condcast.Wire;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;

/** {@code send <file|-> [<file>...]}: sends each file as one object, prints one JSON line per object. */
final class SendCommand {
    static final Map<String, Flags.Type> FLAGS = new LinkedHashMap<>(Flags.COMMON);

    static {
        for (final String name : new String[] {"path", "valid-from", "valid-until", "id", "content-type", "filename",
            "sender-id", "heartbeat-interval", "interval", "fec-parity", "fec-block", "fec-interleave", "changeset",
            "keytable", "key", "parent-key"}) {
            FLAGS.put(name, Flags.Type.STRING);
        }
        FLAGS.put("meta", Flags.Type.MULTIPLE);
        FLAGS.put("remove", Flags.Type.MULTIPLE);
        FLAGS.put("abort", Flags.Type.BOOLEAN);
    }

    static final String USAGE = String.join("\n",
        "usage: condcast-java send <file|-> [<file>...] --path <ccdb/path> [options]",
        "",
        "Sends each file as one object over multicast; prints one JSON line per object sent (and, with",
        "--changeset, one commit line).",
        "  --path P              CCDB path of the object(s) (required)",
        "  --valid-from MS       start of validity, epoch ms (default: now)",
        "  --valid-until MS      end of validity, epoch ms, exclusive (default: valid-from + 1 day)",
        "  --meta K=V            metadata entry (repeatable)",
        "  --id UUID             object id (only with one file; default: random)",
        "  --content-type T      (default application/octet-stream)",
        "  --filename NAME       (default: the file's base name)",
        "  --sender-id HEX       16 hex digits (default: random)",
        "  --heartbeat-interval MS  (default " + Wire.DEFAULT_HEARTBEAT_INTERVAL_MS + "; 0 = none)",
        "  --interval MS         pause between objects (default 0)",
        "  --fec-parity P        FEC parity ratio, 0-1 (default 0.05; 0 = no FEC)",
        "  --fec-block B         largest source fragments per FEC block (default: the largest with B + parity(B) <= 255)",
        "  --fec-interleave D    FEC interleave depth in blocks (default 16)",
        "  --changeset ID|new    send the files as one changeset (SPEC 11), then one Commit; new = a random UUID",
        "  --keytable NAME       the Commit's keytable (default online)",
        "  --key N               the Commit's key, >= 1 (default 1)",
        "  --parent-key N        the Commit's parent key, < key (default key - 1)",
        "  --remove PATH         a path the new key no longer covers (repeatable)",
        "  --abort               send an aborted Commit instead: receivers drop the staged objects",
        "  --group, --port, --interface, --ttl, --datagram-size, --rate, --key-file, --key-id: see spec/CLI.md",
        "Every flag can also come from CONDCAST_<FLAG> (e.g. CONDCAST_DATAGRAM_SIZE).");

    private static final long DAY_MS = 86_400_000L;
    private static final long MAX_SAFE = (1L << 53) - 1;

    private SendCommand() {
    }

    static int run(final String[] argv, final Map<String, String> env, final InputStream stdin, final PrintStream out)
        throws UsageError, IOException, InterruptedException {
        final Flags args = Flags.parse(argv, FLAGS, env);
        if (args.bool("help")) {
            out.println(USAGE);
            return 0;
        }
        if (args.positionals().isEmpty()) {
            throw new UsageError("send needs at least one file (or - for standard input)");
        }
        final String path = args.string("path");
        if (path == null) {
            throw new UsageError("--path is required");
        }
        final String idText = args.string("id");
        if (idText != null && (!Ids.isUuid(idText) || args.positionals().size() > 1)) {
            throw new UsageError("--id takes a UUID and goes with exactly one file");
        }
        final UUID id = idText != null ? Ids.parseUuid(idText) : null;
        final long validFrom = args.integer("valid-from", System.currentTimeMillis(), -MAX_SAFE, MAX_SAFE);
        final long validUntil = args.integer("valid-until", validFrom + DAY_MS, -MAX_SAFE, MAX_SAFE);
        if (validUntil <= validFrom) {
            throw new UsageError("--valid-until must be after --valid-from");
        }
        final Map<String, String> metadata = new LinkedHashMap<>();
        for (final String entry : args.list("meta")) {
            final int eq = entry.indexOf('=');
            if (eq <= 0) {
                throw new UsageError("--meta takes key=value, got " + Json.string(entry));
            }
            metadata.put(entry.substring(0, eq), entry.substring(eq + 1));
        }
        final String senderIdText = args.string("sender-id");
        Long senderId = null;
        if (senderIdText != null) {
            try {
                senderId = Ids.parseSenderId(senderIdText.toLowerCase(Locale.ROOT));
            } catch (final IllegalArgumentException e) {
                throw new UsageError("--sender-id: " + e.getMessage());
            }
        }
        final NetworkOptions net = NetworkOptions.from(args);
        final long interval = args.integer("interval", 0L, 0, 3_600_000);
        final long heartbeatInterval = args.integer("heartbeat-interval", (long) Wire.DEFAULT_HEARTBEAT_INTERVAL_MS, 0, 3_600_000);
        final double fecParity = args.number("fec-parity", FecLayout.DEFAULT_PARITY, 0);
        if (fecParity > 1) {
            throw new UsageError("--fec-parity must be in [0, 1], got " + args.string("fec-parity"));
        }
        final Long fecBlock = args.integer("fec-block", null, 1, FecLayout.MAX_SYMBOLS_PER_BLOCK - 1);
        final long fecInterleave = args.integer("fec-interleave", (long) FecLayout.DEFAULT_INTERLEAVE, 1, Integer.MAX_VALUE);
        final int units = FecLayout.parityUnits(fecParity);
        if (fecBlock != null && units > 0 && !FecLayout.validBlockLength(fecBlock.intValue(), units)) {
            throw new UsageError("--fec-block " + fecBlock + " with --fec-parity " + args.string("fec-parity")
                + ": B + parity(B) = " + (fecBlock + FecLayout.parityFor(fecBlock, units)) + " exceeds 255");
        }
        final SenderOptions.Builder options = SenderOptions.builder()
            .group(net.group()).port(net.port()).interfaceAddress(net.iface()).ttl(net.ttl())
            .datagramSize(net.datagramSize()).rate(net.rate()).key(net.key()).heartbeatIntervalMs(heartbeatInterval)
            .fecParity(fecParity).fecInterleave((int) fecInterleave);
        if (fecBlock != null) {
            options.fecBlockLength(fecBlock.intValue());
        }
        if (senderId != null) {
            options.senderId(senderId);
        }
        final ChangesetFlags changeset = ChangesetFlags.from(args);
        final String contentType = args.string("content-type");
        final String fileNameFlag = args.string("filename");
        final List<UUID> sentIds = new ArrayList<>();
        try (Sender sender = new Sender(options.build())) {
            sender.start();
            int n = 0;
            for (final String file : args.positionals()) {
                if (n++ > 0 && interval > 0) {
                    Thread.sleep(interval);
                }
                final byte[] payload = file.equals("-") ? stdin.readAllBytes() : Files.readAllBytes(Path.of(file));
                final OutgoingObject.Builder object = OutgoingObject.builder()
                    .payload(payload).path(path).validFrom(validFrom).validUntil(validUntil).metadata(metadata)
                    .fileName(fileNameFlag != null ? fileNameFlag : file.equals("-") ? "stdin" : baseName(file));
                if (id != null) {
                    object.id(id);
                }
                if (contentType != null) {
                    object.contentType(contentType);
                }
                if (changeset != null) {
                    object.changeset(changeset.id());
                }
                final SentObject sent = sender.send(object.build());
                sentIds.add(sent.id());
                out.println(Json.objectLine(sent.id(), sender.senderId(), sent.sequence(), sent.meta(), payload.length));
                out.flush();
            }
            if (changeset != null) {
                final CommitInfo commit = sender.sendCommit(changeset.commit(sentIds));
                out.println("{\"event\":\"commit\"," + Json.commitFields(commit) + "}");
                out.flush();
            }
        }
        return 0;
    }

    /** The changeset flags (spec/CLI.md): --changeset, --keytable, --key, --parent-key, --remove, --abort. */
    private record ChangesetFlags(String id, String keytable, long key, long parentKey, List<String> removedPaths,
                                  boolean abort) {
        /** The flags, or null without --changeset (then the others are usage errors). */
        static ChangesetFlags from(final Flags args) throws UsageError {
            final String idText = args.string("changeset");
            if (idText == null) {
                for (final String flag : List.of("keytable", "key", "parent-key", "remove", "abort")) {
                    if (args.bool(flag)) {
                        throw new UsageError("--" + flag + " goes with --changeset");
                    }
                }
                return null;
            }
            final String id = idText.equals("new") ? UUID.randomUUID().toString() : idText;
            if (!ObjectCodec.isChangesetId(id)) {
                throw new UsageError("--changeset takes an id (1 to 64 of [A-Za-z0-9._-], e.g. a UUID) or new, got "
                    + Json.string(idText));
            }
            final String keytable = args.string("keytable") != null ? args.string("keytable") : "online";
            if (!ObjectCodec.isKeytableName(keytable)) {
                throw new UsageError("--keytable takes 1 to 64 of [A-Za-z0-9._-], got " + Json.string(keytable));
            }
            final long key = args.integer("key", 1L, 1, Wire.MAX_SEQUENCE);
            final long parentKey = args.integer("parent-key", key - 1, 0, key - 1);
            return new ChangesetFlags(id, keytable, key, parentKey, args.list("remove"), args.bool("abort"));
        }

        /** The Commit of the objects sent (an abort with --abort: no key is made). */
        OutgoingCommit commit(final List<UUID> objectIds) {
            return abort ? OutgoingCommit.abort(keytable, id, objectIds)
                : OutgoingCommit.of(keytable, key, parentKey, id, objectIds, removedPaths);
        }
    }

    private static String baseName(final String file) {
        final Path name = Path.of(file).getFileName();
        return name == null ? file : name.toString();
    }
}
