package io.condcast.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.condcast.ObjectMetadata;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The CLI contract (spec/CLI.md) in process: flags, environment, JSON lines, exit codes. Ports 42200-42299. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class CliTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String GROUP = "239.255.42.20";

    /** One CLI run's outcome. */
    record Run(int code, String out, String err) {
        List<String> outLines() {
            return out.isEmpty() ? List.of() : List.of(out.split("\n"));
        }
    }

    static Run run(final Map<String, String> env, final byte[] stdin, final String... args) {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        final ByteArrayOutputStream err = new ByteArrayOutputStream();
        final int code = Main.run(args, env, new ByteArrayInputStream(stdin), new PrintStream(out, true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8), null);
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    static Run run(final String... args) {
        return run(Map.of(), new byte[0], args);
    }

    @Test
    void usageErrorsExitTwo() {
        assertEquals(2, run().code());
        assertEquals(0, run("--help").code());
        assertEquals(0, run("send", "--help").code());
        assertEquals(0, run("recv", "--help").code());
        final String[][] bad = {
            {"frobnicate"},
            {"send", "--path", "A/B"},
            {"send", "f"},
            {"send", "f", "--path", "A/B", "--port", "70000"},
            {"send", "f", "--path", "A/B", "--port", "12x"},
            {"send", "f", "--path", "A/B", "--bogus", "1"},
            {"send", "f", "g", "--path", "A/B", "--id", UUID.randomUUID().toString()},
            {"send", "f", "--path", "A/B", "--id", "not-a-uuid"},
            {"send", "f", "--path", "A/B", "--meta", "=v"},
            {"send", "f", "--path", "A/B", "--sender-id", "xyz"},
            {"send", "f", "--path", "A/B", "--valid-from", "10", "--valid-until", "10"},
            {"send", "f", "--path", "A/B", "--group", "10.0.0.1"},
            {"send", "f", "--path", "A/B", "--interface", "eth0"},
            {"send", "f", "--path", "A/B", "--datagram-size", "255"},
            {"send", "f", "--path", "A/B", "--rate", "-1"},
            {"send", "f", "--path", "A/B", "--key-id", "4294967296"},
            {"send", "f", "--path", "A/B", "--key-file", "/nonexistent/key"},
            {"send", "f", "--path", "A/B", "--fec-parity", "1.5"},
            {"send", "f", "--path", "A/B", "--fec-parity", "x"},
            {"send", "f", "--path", "A/B", "--fec-block", "243"}, // 243 + parity(243) = 256 with p = 0.05
            {"send", "f", "--path", "A/B", "--fec-block", "0"},
            {"send", "f", "--path", "A/B", "--fec-parity", "1", "--fec-block", "128"},
            {"send", "f", "--path", "A/B", "--fec-interleave", "0"},
            {"fec-bench", "--block", "250", "--parity", "10"},
            {"fec-bench", "--symbol-size", "0"},
            {"fec-bench", "--seconds", "-1"},
            {"send", "f", "--path", "A/B", "--keytable", "online"},
            {"send", "f", "--path", "A/B", "--abort"},
            {"send", "f", "--path", "A/B", "--remove", "A/C"},
            {"send", "f", "--path", "A/B", "--changeset", "a/b"},
            {"send", "f", "--path", "A/B", "--changeset", "x".repeat(65)},
            {"send", "f", "--path", "A/B", "--changeset", "new", "--keytable", "on line"},
            {"send", "f", "--path", "A/B", "--changeset", "new", "--key", "0"},
            {"send", "f", "--path", "A/B", "--changeset", "new", "--key", "2", "--parent-key", "2"},
            {"send", "f", "--path", "A/B", "--changeset", "new", "--parent-key", "-1"},
            {"recv", "--stage-timeout", "0"},
            {"recv", "--count", "0"},
            {"recv", "--timeout", "soon"},
            {"recv", "--port"},
        };
        for (final String[] args : bad) {
            final Run r = run(args);
            assertEquals(2, r.code(), String.join(" ", args) + ": " + r.err());
            assertTrue(r.err().startsWith("condcast-java: "), r.err());
        }
    }

    @Test
    void fecFlagsComeFromTheEnvironmentToo() {
        assertEquals(2, run(Map.of("CONDCAST_FEC_PARITY", "2"), new byte[0], "send", "f", "--path", "A/B").code());
        assertEquals(2, run(Map.of("CONDCAST_FEC_BLOCK", "243"), new byte[0], "send", "f", "--path", "A/B").code());
        assertEquals(2, run(Map.of("CONDCAST_FEC_INTERLEAVE", "0"), new byte[0], "send", "f", "--path", "A/B").code());
        // The command line wins: B 243 is fine without parity.
        final Run r = run(Map.of("CONDCAST_FEC_BLOCK", "243"), new byte[0], "send", "/nonexistent/f", "--path", "A/B",
            "--fec-parity", "0", "--heartbeat-interval", "0", "--group", GROUP, "--port", "42205");
        assertEquals(1, r.code(), r.err()); // past the flags: the missing file fails the run
    }

    @Test
    void fecBenchPrintsOneJsonLine() throws Exception {
        final Run r = run("fec-bench", "--symbol-size", "300", "--block", "20", "--parity", "3", "--seconds", "0.2");
        assertEquals(0, r.code(), r.err());
        assertEquals(1, r.outLines().size(), r.out());
        final JsonNode o = JSON.readTree(r.outLines().get(0));
        assertEquals(List.of("impl", "symbolSize", "block", "parity", "encodeMBps", "decodeMBps"), fieldNames(o));
        assertEquals("java", o.get("impl").asText());
        assertEquals(300, o.get("symbolSize").asInt());
        assertEquals(20, o.get("block").asInt());
        assertEquals(3, o.get("parity").asInt());
        assertTrue(o.get("encodeMBps").asDouble() > 0 && o.get("decodeMBps").asDouble() > 0, r.out());
    }

    @Test
    void jsonEscapesLikeJavaScript() {
        assertEquals("\"a\\\"b\\\\c\\n\\t\\u0001\\u001f\u00e9\u6e2c\"", Json.string("a\"b\\c\n\t\u0001\u001f\u00e9\u6e2c"));
        assertEquals("\"\\ud800x\"", Json.string("\ud800x"));
        assertEquals("\"\ud83d\ude00\"", Json.string("\ud83d\ude00"));
        final String line = Json.objectLine(UUID.fromString("3f2504e0-4f89-11d3-9a0c-0305e82c3301"), 0x0123456789abcdefL, 1,
            ObjectMetadata.of("TPC/Calib/Gain", 1700000000000L, 1700086400000L, 1700000000123L, "application/octet-stream",
                "gain.root", "7496cac5ac164e11c6798f950cbaa0c5", Map.of("runNumber", "523897", "Grüße", "x", "B", "y")), 700);
        assertEquals("{\"id\":\"3f2504e0-4f89-11d3-9a0c-0305e82c3301\",\"senderId\":\"0123456789abcdef\",\"sequence\":1,"
            + "\"path\":\"TPC/Calib/Gain\",\"size\":700,\"md5\":\"7496cac5ac164e11c6798f950cbaa0c5\","
            + "\"validFrom\":1700000000000,\"validUntil\":1700086400000,\"created\":1700000000123,"
            + "\"contentType\":\"application/octet-stream\",\"fileName\":\"gain.root\","
            + "\"metadata\":{\"B\":\"y\",\"Grüße\":\"x\",\"runNumber\":\"523897\"}}", line);
    }

    /** Starts recv in a thread; returns its future outcome once it listens. */
    static CompletableFuture<Run> startRecv(final Map<String, String> env, final CompletableFuture<Integer> stop,
                                            final String... args) throws InterruptedException {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        final ByteArrayOutputStream err = new ByteArrayOutputStream();
        final CompletableFuture<Run> result = CompletableFuture.supplyAsync(() -> {
            final int code = Main.run(args, env, new ByteArrayInputStream(new byte[0]),
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8), stop);
            return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        });
        final long deadline = System.currentTimeMillis() + 10_000;
        while (!err.toString(StandardCharsets.UTF_8).contains("\"event\":\"listening\"") && !result.isDone()) {
            if (System.currentTimeMillis() > deadline) {
                throw new AssertionError("recv did not start: " + err);
            }
            Thread.sleep(10);
        }
        return result;
    }

    /** A recv run in progress: its streams as written so far, and its outcome. */
    record Running(CompletableFuture<Run> result, ByteArrayOutputStream out, ByteArrayOutputStream err) {
        String outSoFar() {
            return out.toString(StandardCharsets.UTF_8);
        }

        String errSoFar() {
            return err.toString(StandardCharsets.UTF_8);
        }

        /** Waits until standard error holds {@code n} lines containing {@code text}. */
        void awaitErr(final String text, final int n) throws InterruptedException {
            final long deadline = System.currentTimeMillis() + 20_000;
            while (errSoFar().lines().filter(l -> l.contains(text)).count() < n) {
                if (System.currentTimeMillis() > deadline || result.isDone()) {
                    throw new AssertionError("no " + n + " x " + text + " in " + errSoFar());
                }
                Thread.sleep(10);
            }
        }
    }

    static Running startRecvStreams(final CompletableFuture<Integer> stop, final String... args) throws InterruptedException {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        final ByteArrayOutputStream err = new ByteArrayOutputStream();
        final CompletableFuture<Run> result = CompletableFuture.supplyAsync(() -> {
            final int code = Main.run(args, Map.of(), new ByteArrayInputStream(new byte[0]),
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8), stop);
            return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        });
        final Running running = new Running(result, out, err);
        running.awaitErr("\"event\":\"listening\"", 1);
        return running;
    }

    private static List<Path> payloadFiles(final Path dir, final int... sizes) throws java.io.IOException {
        final Random random = new Random(sizes.length);
        final List<Path> files = new ArrayList<>();
        for (final int size : sizes) {
            final byte[] p = new byte[size];
            random.nextBytes(p);
            final Path f = dir.resolve("cs-" + files.size() + ".bin");
            Files.write(f, p);
            files.add(f);
        }
        return files;
    }

    private static List<String> errEvents(final String err, final String event) {
        return err.lines().filter(l -> l.startsWith("{\"event\":\"" + event + "\"")).toList();
    }

    @Test
    void sendChangesetToRecvPrintsItAsOneUnit(@TempDir final Path dir) throws Exception {
        final Path outDir = dir.resolve("out");
        final Running recv = startRecvStreams(null, "recv", "--group", GROUP, "--port", "42206", "--count", "3",
            "--timeout", "30", "--out", outDir.toString());
        final List<Path> files = payloadFiles(dir, 10, 3000, 100_000);
        final List<String> args = new ArrayList<>(List.of("send", "--group", GROUP, "--port", "42206", "--path", "TPC/Calib/Gain",
            "--heartbeat-interval", "0", "--changeset", "new", "--keytable", "online", "--key", "7", "--parent-key", "5",
            "--remove", "TPC/Old/B", "--remove", "TPC/Old/A", "--remove", "TPC/Old/B"));
        files.forEach(f -> args.add(f.toString()));
        final Run sent = run(Map.of(), new byte[0], args.toArray(new String[0]));
        assertEquals(0, sent.code(), sent.err());
        assertEquals(4, sent.outLines().size(), sent.out());
        final List<String> objectLines = sent.outLines().subList(0, 3);
        final JsonNode commit = JSON.readTree(sent.outLines().get(3));
        final String changeset = JSON.readTree(objectLines.get(0)).get("changeset").asText();
        assertTrue(io.condcast.Ids.isUuid(changeset), changeset);
        final List<String> ids = new ArrayList<>();
        for (final String line : objectLines) {
            final JsonNode o = JSON.readTree(line);
            assertEquals(changeset, o.get("changeset").asText());
            ids.add(o.get("id").asText());
        }
        final List<String> sortedIds = new ArrayList<>(ids);
        Collections.sort(sortedIds); // lowercase hex text sorts as the unsigned bytes do
        // The commit line: recv's commit event, objectIds as on the wire, removedPaths sorted and unique.
        assertEquals(List.of("event", "senderId", "sequence", "keytable", "key", "parentKey", "changeset", "objectCount",
            "objectIds", "removedPaths", "committedAt", "aborted"), fieldNames(commit));
        assertEquals("commit", commit.get("event").asText());
        assertEquals(4, commit.get("sequence").asInt());
        assertEquals(7, commit.get("key").asInt());
        assertEquals(5, commit.get("parentKey").asInt());
        assertEquals(changeset, commit.get("changeset").asText());
        assertEquals(3, commit.get("objectCount").asInt());
        assertEquals(JSON.valueToTree(sortedIds), commit.get("objectIds"));
        assertEquals(JSON.valueToTree(List.of("TPC/Old/A", "TPC/Old/B")), commit.get("removedPaths"));
        assertEquals(false, commit.get("aborted").asBoolean());

        final Run got = recv.result().get(30, TimeUnit.SECONDS);
        assertEquals(0, got.code(), got.err());
        // The objects in ascending id order, each line as send printed it.
        final List<String> expected = new ArrayList<>(objectLines);
        expected.sort(java.util.Comparator.comparing(l -> l.substring(7, 43)));
        assertEquals(expected, got.outLines());
        for (int i = 0; i < files.size(); i++) {
            assertArrayEquals(Files.readAllBytes(files.get(i)), Files.readAllBytes(outDir.resolve(ids.get(i))));
        }
        assertEquals(List.of(sent.outLines().get(3)), errEvents(got.err(), "commit"), "the same commit line");
        final List<String> events = errEvents(got.err(), "changeset");
        assertEquals(List.of("{\"event\":\"changeset\",\"senderId\":" + JSON.writeValueAsString(commit.get("senderId").asText())
            + ",\"keytable\":\"online\",\"key\":7,\"parentKey\":5,\"changeset\":\"" + changeset + "\",\"objects\":3}"), events);
        final List<String> errLines = got.err().lines().toList();
        assertTrue(errLines.indexOf(events.get(0)) > errLines.indexOf(sent.outLines().get(3)), "commit, then changeset");
        final JsonNode c = JSON.readTree(errEvents(got.err(), "counters").get(0));
        assertEquals(3, c.get("objectsCompleted").asInt());
        assertEquals(1, c.get("commits").asInt());
        assertEquals(0, c.get("objectsDropped").get("uncommitted").asInt());
    }

    @Test
    void commitWithoutIdsIsDeliveredByCount(@TempDir final Path dir) throws Exception {
        // 256-byte datagrams hold about ten ids: with twelve objects the Commit leaves them out.
        final Running recv = startRecvStreams(null, "recv", "--group", GROUP, "--port", "42210", "--count", "12",
            "--timeout", "30");
        final List<String> args = new ArrayList<>(List.of("send", "--group", GROUP, "--port", "42210", "--path", "A/B",
            "--heartbeat-interval", "0", "--datagram-size", "256", "--changeset", "cs-many", "--key", "3"));
        payloadFiles(dir, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12).forEach(f -> args.add(f.toString()));
        final Run sent = run(Map.of(), new byte[0], args.toArray(new String[0]));
        assertEquals(0, sent.code(), sent.err());
        final JsonNode commit = JSON.readTree(sent.outLines().get(12));
        assertEquals(12, commit.get("objectCount").asInt());
        assertEquals(0, commit.get("objectIds").size(), "left out: they do not fit 256 bytes");
        assertEquals(2, commit.get("parentKey").asInt(), "key - 1 by default");
        final Run got = recv.result().get(30, TimeUnit.SECONDS);
        assertEquals(0, got.code(), got.err());
        final List<String> expected = new ArrayList<>(sent.outLines().subList(0, 12));
        expected.sort(java.util.Comparator.comparing(l -> l.substring(7, 43)));
        assertEquals(expected, got.outLines());
        assertTrue(errEvents(got.err(), "changeset").get(0).endsWith(",\"objects\":12}"), got.err());
    }

    @Test
    void recvPrintsNothingOfAChangesetBeforeItsCommit() throws Exception {
        final Running recv = startRecvStreams(null, "recv", "--group", GROUP, "--port", "42207", "--count", "2",
            "--timeout", "30");
        try (io.condcast.Sender sender = new io.condcast.Sender(io.condcast.SenderOptions.builder().group(GROUP).port(42207)
            .heartbeatIntervalMs(0).build())) {
            sender.start();
            final List<UUID> ids = new ArrayList<>();
            for (int i = 0; i < 2; i++) {
                ids.add(sender.send(io.condcast.OutgoingObject.builder().payload(new byte[2000 * i]).path("A/B").validFrom(1)
                    .validUntil(2).changeset("cs-0001").build()).id());
            }
            Thread.sleep(500);
            assertEquals("", recv.outSoFar(), "staged objects are not printed");
            assertEquals(List.of(), errEvents(recv.errSoFar(), "changeset"));
            sender.sendCommit(io.condcast.OutgoingCommit.of("online", 1, 0, "cs-0001", ids, List.of()));
        }
        final Run got = recv.result().get(30, TimeUnit.SECONDS);
        assertEquals(0, got.code(), got.err());
        assertEquals(2, got.outLines().size());
        assertEquals(1, errEvents(got.err(), "changeset").size());
    }

    @Test
    void abortedChangesetPrintsNothingAndDropsItsObjects(@TempDir final Path dir) throws Exception {
        final CompletableFuture<Integer> stop = new CompletableFuture<>();
        final Running recv = startRecvStreams(stop, "recv", "--group", GROUP, "--port", "42208");
        final List<Path> files = payloadFiles(dir, 100, 5000);
        final Run sent = run("send", "--group", GROUP, "--port", "42208", "--path", "A/B", "--heartbeat-interval", "0",
            "--changeset", "cs-aborted", "--abort", "--key", "9", files.get(0).toString(), files.get(1).toString());
        assertEquals(0, sent.code(), sent.err());
        assertEquals(3, sent.outLines().size());
        final JsonNode commit = JSON.readTree(sent.outLines().get(2));
        assertEquals(true, commit.get("aborted").asBoolean());
        assertEquals(0, commit.get("key").asInt());
        assertEquals(0, commit.get("parentKey").asInt());
        assertEquals(2, commit.get("objectCount").asInt());
        recv.awaitErr("\"reason\":\"uncommitted\"", 2);
        stop.complete(0);
        final Run got = recv.result().get(20, TimeUnit.SECONDS);
        assertEquals(0, got.code(), got.err());
        assertEquals("", got.out(), "nothing of an aborted changeset is printed");
        final List<String> dropped = errEvents(got.err(), "object_dropped");
        assertEquals(2, dropped.size());
        final List<String> ids = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            ids.add(JSON.readTree(sent.outLines().get(i)).get("id").asText());
        }
        Collections.sort(ids); // dropped in id order, as a changeset is delivered
        for (int i = 0; i < 2; i++) {
            assertEquals("{\"event\":\"object_dropped\",\"id\":\"" + ids.get(i) + "\",\"reason\":\"uncommitted\"}", dropped.get(i));
        }
        assertEquals(List.of(), errEvents(got.err(), "changeset"));
        final JsonNode c = JSON.readTree(errEvents(got.err(), "counters").get(0));
        assertEquals(2, c.get("objectsDropped").get("uncommitted").asInt());
        assertEquals(0, c.get("objectsCompleted").asInt());
    }

    @Test
    void stageTimeoutAndStaleKeys() throws Exception {
        final CompletableFuture<Integer> stop = new CompletableFuture<>();
        final Running recv = startRecvStreams(stop, "recv", "--group", GROUP, "--port", "42209", "--stage-timeout", "300");
        try (io.condcast.Sender sender = new io.condcast.Sender(io.condcast.SenderOptions.builder().group(GROUP).port(42209)
            .heartbeatIntervalMs(0).build())) {
            sender.start();
            final UUID lost = sender.send(io.condcast.OutgoingObject.builder().payload(new byte[10]).path("A/B").validFrom(1)
                .validUntil(2).changeset("cs-never").build()).id();
            recv.awaitErr("\"reason\":\"uncommitted\"", 1);
            assertTrue(recv.errSoFar().contains("{\"event\":\"object_dropped\",\"id\":\"" + lost + "\",\"reason\":\"uncommitted\"}"));
            // Key 2 delivered, then a commit of key 2 again: ignored, its object dropped.
            for (final String cs : List.of("cs-a", "cs-b")) {
                final UUID id = sender.send(io.condcast.OutgoingObject.builder().payload(new byte[10]).path("A/B").validFrom(1)
                    .validUntil(2).changeset(cs).build()).id();
                sender.sendCommit(io.condcast.OutgoingCommit.of("online", 2, 1, cs, List.of(id), List.of()));
            }
            recv.awaitErr("\"event\":\"commit_ignored\"", 1);
            recv.awaitErr("\"reason\":\"uncommitted\"", 2);
            assertEquals(List.of("{\"event\":\"commit_ignored\",\"senderId\":\"" + sender.senderIdHex()
                + "\",\"keytable\":\"online\",\"key\":2,\"heldKey\":2,\"changeset\":\"cs-b\"}"),
                errEvents(recv.errSoFar(), "commit_ignored"));
        }
        stop.complete(0);
        final Run got = recv.result().get(20, TimeUnit.SECONDS);
        assertEquals(1, got.outLines().size(), "only cs-a's object");
        assertEquals("cs-a", JSON.readTree(got.outLines().get(0)).get("changeset").asText());
        assertEquals(1, errEvents(got.err(), "changeset").size());
    }

    @Test
    void sendAndRecvAgreeLineForLine(@TempDir final Path dir) throws Exception {
        final Path outDir = dir.resolve("out");
        final Path keyFile = dir.resolve("key");
        Files.writeString(keyFile, "00010203 04050607 08090a0b 0c0d0e0f\n10111213141516171819 1a1b1c1d1e1f\n");
        final Random random = new Random(1);
        final List<Path> files = new ArrayList<>();
        for (final int size : new int[] {0, 1, 1391, 200_000}) {
            final byte[] p = new byte[size];
            random.nextBytes(p);
            final Path f = dir.resolve("payload-" + size + ".bin");
            Files.write(f, p);
            files.add(f);
        }
        // Flags and environment mixed: the command line wins over CONDCAST_PORT.
        final Map<String, String> env = new HashMap<>();
        env.put("CONDCAST_PORT", "42299");
        env.put("CONDCAST_GROUP", GROUP);
        env.put("CONDCAST_KEY_FILE", keyFile.toString());
        env.put("CONDCAST_KEY_ID", "7");
        final CompletableFuture<Run> recv = startRecv(env, null, "recv", "--port", "42201", "--count", "5", "--timeout", "30",
            "--out", outDir.toString());
        final Map<String, String> sendEnv = new HashMap<>(env);
        sendEnv.put("CONDCAST_META", "runNumber=523897\nGrüße=Größe ≥ 10 µm\n\na=b=c");
        final List<String> args = new ArrayList<>(List.of("send", "--port", "42201", "--path", "TPC/Calib/Gain",
            "--valid-from", "1700000000000", "--sender-id", "ABCDEF", "--heartbeat-interval", "0"));
        files.forEach(f -> args.add(f.toString()));
        args.add("-");
        final byte[] stdin = "from standard input".getBytes(StandardCharsets.UTF_8);
        final Run sent = run(sendEnv, stdin, args.toArray(new String[0]));
        assertEquals(0, sent.code(), sent.err());
        final Run got = recv.get(30, TimeUnit.SECONDS);
        assertEquals(0, got.code(), got.err());
        assertEquals(5, sent.outLines().size());
        assertEquals(sent.outLines(), got.outLines(), "recv prints what send printed, in order");
        int n = 0;
        for (final String line : got.outLines()) {
            final JsonNode o = JSON.readTree(line);
            final List<String> keys = new ArrayList<>();
            o.fieldNames().forEachRemaining(keys::add);
            assertEquals(List.of("id", "senderId", "sequence", "path", "size", "md5", "validFrom", "validUntil", "created",
                "contentType", "fileName", "metadata"), keys);
            assertEquals("0000000000abcdef", o.get("senderId").asText());
            assertEquals(n + 1, o.get("sequence").asInt());
            assertEquals(1700000000000L + 86_400_000L, o.get("validUntil").asLong());
            final List<String> metaKeys = new ArrayList<>();
            final Iterator<String> it = o.get("metadata").fieldNames();
            it.forEachRemaining(metaKeys::add);
            assertEquals(List.of("Grüße", "a", "runNumber"), metaKeys);
            assertEquals("b=c", o.get("metadata").get("a").asText());
            final byte[] expected = n < files.size() ? Files.readAllBytes(files.get(n)) : stdin;
            assertEquals(n < files.size() ? files.get(n).getFileName().toString() : "stdin", o.get("fileName").asText());
            assertEquals(expected.length, o.get("size").asInt());
            assertArrayEquals(expected, Files.readAllBytes(outDir.resolve(o.get("id").asText())));
            n++;
        }
        assertTrue(got.err().contains("\"receiveBufferGranted\":"), got.err());
        final String counters = got.err().lines().filter(l -> l.startsWith("{\"event\":\"counters\"")).findFirst().orElseThrow();
        final JsonNode c = JSON.readTree(counters);
        assertEquals(5, c.get("objectsCompleted").asInt());
        assertEquals(19, c.get("drops").size());
        assertEquals(List.of("blocksDecoded", "parityUsed", "fragmentsRecovered"), fieldNames(c.get("fec")));
        assertEquals(4, c.get("objectsDropped").size());
        assertEquals(0, c.get("drops").get("bad_mac").asInt());
    }

    @Test
    void commandLineMetaReplacesTheEnvironments() throws Exception {
        final CompletableFuture<Run> recv = startRecv(Map.of(), null, "recv", "--group", GROUP, "--port", "42204", "--count",
            "1", "--timeout", "20");
        final Run sent = run(Map.of("CONDCAST_META", "x=1\ny=2"), "abc".getBytes(StandardCharsets.UTF_8), "send", "-",
            "--group", GROUP, "--port", "42204", "--path", "A/B", "--meta", "z=3", "--heartbeat-interval", "0");
        assertEquals(0, sent.code(), sent.err());
        final Run got = recv.get(20, TimeUnit.SECONDS);
        assertEquals(sent.outLines(), got.outLines());
        assertEquals("{\"z\":\"3\"}", JSON.readTree(got.outLines().get(0)).get("metadata").toString());
    }

    @Test
    void recvTimesOutWithExitOne() throws Exception {
        final Run r = startRecv(Map.of(), null, "recv", "--group", GROUP, "--port", "42202", "--count", "1", "--timeout", "0.5")
            .get(20, TimeUnit.SECONDS);
        assertEquals(1, r.code());
        assertTrue(r.err().contains("{\"event\":\"timeout\",\"seconds\":0.5,\"received\":0,\"expected\":1}"), r.err());
        assertTrue(r.err().contains("{\"event\":\"counters\",\"datagrams\":0,"), r.err());
    }

    @Test
    void recvStopsOnRequestWithoutCount() throws Exception {
        final CompletableFuture<Integer> stop = new CompletableFuture<>();
        final CompletableFuture<Run> r = startRecv(Map.of(), stop, "recv", "--group", GROUP, "--port", "42203");
        stop.complete(0);
        assertEquals(0, r.get(20, TimeUnit.SECONDS).code());
    }

    private static List<String> fieldNames(final JsonNode n) {
        final List<String> names = new ArrayList<>();
        n.fieldNames().forEachRemaining(names::add);
        return names;
    }

    /** The commit event carries the fields of the vectors' commit JSON, in that order (spec/CLI.md). */
    @Test
    void commitEventHasTheVectorsFields() throws Exception {
        final Path vectors = Path.of(System.getProperty("condcast.root", "..")).resolve("spec/vectors");
        for (final String name : List.of("commit", "commit-ids-omitted", "commit-aborted")) {
            final JsonNode v = JSON.readTree(vectors.resolve(name + ".json").toFile());
            final byte[] d = Files.readAllBytes(vectors.resolve(v.get("datagrams").get(0).asText()));
            final io.condcast.DatagramDecoder decoder = new io.condcast.DatagramDecoder();
            assertEquals(null, decoder.decode(d), name);
            assertEquals(v.get("commit"), JSON.readTree("{" + Json.commitFields(decoder.commit()) + "}"), name);
            assertEquals(fieldNames(v.get("commit")), fieldNames(JSON.readTree("{" + Json.commitFields(decoder.commit()) + "}")));
        }
    }

    @Test
    void objectLineCarriesAChangesetOnlyWhenPresent() throws Exception {
        final ObjectMetadata meta = new ObjectMetadata("A/B", 1, 2, 0, "t", "f", "d41d8cd98f00b204e9800998ecf8427e", null);
        final UUID id = UUID.randomUUID();
        assertTrue(!JSON.readTree(Json.objectLine(id, 1, 1, meta, 0)).has("changeset"));
        final JsonNode o = JSON.readTree(Json.objectLine(id, 1, 1, meta.withChangeset("cs-0001"), 0));
        assertEquals("cs-0001", o.get("changeset").asText());
        assertEquals("changeset", fieldNames(o).get(fieldNames(o).size() - 1));
    }
}
