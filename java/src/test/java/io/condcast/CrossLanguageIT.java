package io.condcast;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Cross-language interop over loopback multicast, process to process: the Java CLI (bin/condcast-java,
 * the packaged jar) and the TypeScript CLI (bin/condcast at the repository root), each sending to the
 * other, with and without HMAC keys. The receiver's JSON lines must equal the sender's, line for line,
 * and the payloads written with --out must equal the files sent. Ports 42300-42399.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class CrossLanguageIT {
    private static final String GROUP = "239.255.42.30";
    private static Path tsCli;
    private static Path javaCli;

    @BeforeAll
    static void locate() {
        tsCli = TestSupport.root().resolve("bin/condcast");
        final String launcher = System.getProperty("condcast.javaLauncher");
        javaCli = launcher != null ? Path.of(launcher) : TestSupport.root().resolve("java/bin/condcast-java");
        assertTrue(Files.isExecutable(tsCli), tsCli + " is missing: build the TypeScript CLI first (make ts)");
        assertTrue(Files.isRegularFile(TestSupport.root().resolve("ts/dist/cli/main.js")), "ts/dist is missing: run make ts");
        assertTrue(Files.isExecutable(javaCli), javaCli + " is missing");
    }

    /** A started CLI process whose output is collected. */
    static final class Cli {
        final Process process;
        final CompletableFuture<String> out;
        final StringBuffer err = new StringBuffer();
        final String name;

        Cli(final String name, final List<String> command) throws IOException {
            this.name = name;
            final ProcessBuilder pb = new ProcessBuilder(command);
            pb.environment().keySet().removeIf(k -> k.startsWith("CONDCAST_"));
            process = pb.start();
            process.getOutputStream().close();
            out = CompletableFuture.supplyAsync(() -> read(process.getInputStream()));
            final Thread t = new Thread(() -> {
                try (var r = new java.io.BufferedReader(new java.io.InputStreamReader(process.getErrorStream(), StandardCharsets.UTF_8))) {
                    String line;
                    while ((line = r.readLine()) != null) {
                        err.append(line).append('\n');
                    }
                } catch (final IOException e) {
                    err.append(e);
                }
            });
            t.setDaemon(true);
            t.start();
        }

        private static String read(final InputStream in) {
            try {
                return new String(in.readAllBytes(), StandardCharsets.UTF_8);
            } catch (final IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }

        void awaitListening() throws InterruptedException {
            final long deadline = System.currentTimeMillis() + 30_000;
            while (!err.toString().contains("\"event\":\"listening\"")) {
                if (!process.isAlive() || System.currentTimeMillis() > deadline) {
                    throw new AssertionError(name + " did not start listening: " + err);
                }
                Thread.sleep(20);
            }
        }

        List<String> finish(final int expectedCode) throws Exception {
            if (!process.waitFor(120, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new AssertionError(name + " did not finish: " + err);
            }
            final String stdout = out.get(10, TimeUnit.SECONDS);
            assertEquals(expectedCode, process.exitValue(), name + " exit code; stderr: " + err + "; stdout: " + stdout);
            return stdout.isEmpty() ? List.of() : List.of(stdout.split("\n"));
        }
    }

    private static List<Path> payloads(final Path dir, final int... sizes) throws IOException {
        final Random r = new Random(sizes.length);
        final List<Path> files = new ArrayList<>();
        for (final int size : sizes) {
            final byte[] p = new byte[size];
            r.nextBytes(p);
            final Path f = dir.resolve("payload-" + size + ".root");
            Files.write(f, p);
            files.add(f);
        }
        return files;
    }

    private static List<String> command(final Path cli, final String sub, final int port, final List<String> more) {
        final List<String> c = new ArrayList<>(List.of(cli.toString(), sub, "--group", GROUP, "--port", Integer.toString(port),
            "--interface", "127.0.0.1"));
        c.addAll(more);
        return c;
    }

    /** Sends files with one CLI to the other's recv; checks lines and payloads. */
    private static JsonNode interop(final Path senderCli, final Path receiverCli, final int port, final Path dir,
                                    final List<Path> files, final List<String> common, final List<String> sendFlags)
        throws Exception {
        final Path outDir = dir.resolve("received-" + port);
        final List<String> recvFlags = new ArrayList<>(common);
        recvFlags.addAll(List.of("--count", Integer.toString(files.size()), "--timeout", "90", "--out", outDir.toString()));
        final Cli recv = new Cli(receiverCli.getFileName() + " recv", command(receiverCli, "recv", port, recvFlags));
        recv.awaitListening();
        final List<String> flags = new ArrayList<>(common);
        flags.addAll(sendFlags);

        flags.addAll(List.of("--path", "TPC/Calib/Gain", "--valid-from", "1700000000000", "--valid-until", "1700086400000",
            "--meta", "runNumber=523897", "--meta", "Grüße=Größe ≥ 10 µm — 測定", "--meta", "ObjectType=o2::tpc::CalDet<float>",
            "--meta", "note=\"quoted\" \\ back\tslash", "--content-type", "application/x-root", "--heartbeat-interval", "200"));
        files.forEach(f -> flags.add(f.toString()));
        final Cli send = new Cli(senderCli.getFileName() + " send", command(senderCli, "send", port, flags));
        final List<String> sent = send.finish(0);
        final List<String> received = recv.finish(0);
        assertEquals(files.size(), sent.size(), "one line per object sent");
        assertEquals(sent, received, senderCli.getFileName() + " -> " + receiverCli.getFileName() + ": identical JSON lines");
        for (int i = 0; i < files.size(); i++) {
            final JsonNode o = TestSupport.JSON.readTree(received.get(i));
            final byte[] expected = Files.readAllBytes(files.get(i));
            assertEquals(expected.length, o.get("size").asInt());
            assertEquals(files.get(i).getFileName().toString(), o.get("fileName").asText());
            assertEquals(ObjectCodec.md5Hex(java.nio.ByteBuffer.wrap(expected)), o.get("md5").asText());
            assertArrayEquals(expected, Files.readAllBytes(outDir.resolve(o.get("id").asText())), "payload " + i);
            assertEquals("[\"Grüße\",\"ObjectType\",\"note\",\"runNumber\"]",
                TestSupport.JSON.writeValueAsString(iterable(o.get("metadata").fieldNames())));
        }
        final String counters = recv.err.toString().lines().filter(l -> l.contains("\"event\":\"counters\"")).findFirst()
            .orElseThrow(() -> new AssertionError("no counters line: " + recv.err));
        final JsonNode c = TestSupport.JSON.readTree(counters);
        assertEquals(files.size(), c.get("objectsCompleted").asInt(), counters);
        for (final var it = c.get("drops").fields(); it.hasNext();) {
            final var e = it.next();
            assertEquals(0, e.getValue().asInt(), "no drops: " + counters);
        }
        System.out.println(senderCli.getFileName() + " -> " + receiverCli.getFileName() + ": " + files.size()
            + " objects, lines identical; receiver " + counters);
        return c;
    }

    private static List<String> iterable(final java.util.Iterator<String> it) {
        final List<String> out = new ArrayList<>();
        it.forEachRemaining(out::add);
        return out;
    }

    @Test
    void javaSenderToTypeScriptReceiver(@TempDir final Path dir) throws Exception {
        interop(javaCli, tsCli, 42301, dir, payloads(dir, 0, 1, 1300, 1_000_000, 3_000_000), List.of(),
            List.of("--sender-id", "00000000cafe0001"));
    }

    @Test
    void typeScriptSenderToJavaReceiver(@TempDir final Path dir) throws Exception {
        interop(tsCli, javaCli, 42302, dir, payloads(dir, 0, 1, 1300, 1_000_000, 3_000_000), List.of(),
            List.of("--sender-id", "00000000cafe0002"));
    }

    @Test
    void authenticatedBothWays(@TempDir final Path dir) throws Exception {
        final Path key = dir.resolve("key.hex");
        Files.writeString(key, "000102030405060708090a0b0c0d0e0f\n101112131415161718191a1b1c1d1e1f\n");
        final List<String> auth = List.of("--key-file", key.toString(), "--key-id", "7");
        final List<Path> files = payloads(dir, 5, 200_000);
        interop(javaCli, tsCli, 42303, dir, files, auth, List.of());
        interop(tsCli, javaCli, 42304, dir, files, auth, List.of());
    }

    @Test
    void largeDatagramsBothWays(@TempDir final Path dir) throws Exception {
        final List<Path> files = payloads(dir, 20_000_000);
        // 40 MB/s: a 4 MiB socket buffer then rides out a 100 ms stall of a loaded 2-core machine.
        final List<String> big = List.of("--datagram-size", "65507", "--rate", "40000000");
        interop(javaCli, tsCli, 42305, dir, files, List.of(), big);
        interop(tsCli, javaCli, 42306, dir, files, List.of(), big);
    }

    @Test
    void fecBothWays(@TempDir final Path dir) throws Exception {
        // Default FEC runs in every case above; here non-default B, m and D, with keys, and without FEC.
        final Path key = dir.resolve("key.hex");
        Files.writeString(key, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
        final List<Path> files = payloads(dir, 0, 1300, 2_500_000);
        final List<String> fec = List.of("--fec-parity", "0.1", "--fec-block", "100", "--fec-interleave", "4");
        final List<String> auth = List.of("--key-file", key.toString(), "--key-id", "3");
        for (final JsonNode c : new JsonNode[] {
            interop(javaCli, tsCli, 42309, dir, files, auth, fec), interop(tsCli, javaCli, 42310, dir, files, auth, fec)}) {
            // 2.5 MB in 1372-byte fragments: blocks of at most 100 sources with 10 parity each.
            // 19 blocks of 96 with m = 10; recv exits at --count, so the last group's trailing parity may be missed
            assertTrue(c.get("fragments").asLong() > 1822 + 100, c.toString());
            // (A datagram the loaded kernel drops on loopback is rebuilt: fragmentsRecovered may be above 0.)
            assertEquals(c.get("fec").get("parityUsed").asLong(), c.get("fec").get("fragmentsRecovered").asLong(), c.toString());
        }
        final List<String> none = List.of("--fec-parity", "0");
        for (final JsonNode c : new JsonNode[] {
            interop(javaCli, tsCli, 42311, dir, files, List.of(), none), interop(tsCli, javaCli, 42312, dir, files, List.of(), none)}) {
            assertTrue(c.get("fragments").asLong() < 1900, "no parity without FEC: " + c);
        }
    }

    @Test
    void wrongKeyIsRejectedAcrossLanguages(@TempDir final Path dir) throws Exception {
        final Path right = dir.resolve("right.hex");
        final Path wrong = dir.resolve("wrong.hex");
        Files.writeString(right, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
        Files.writeString(wrong, "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
        final Path file = payloads(dir, 10_000).get(0);
        for (final Path[] pair : new Path[][] {{tsCli, javaCli}, {javaCli, tsCli}}) {
            final int port = pair[0] == tsCli ? 42307 : 42308;
            final Cli recv = new Cli("recv", command(pair[1], "recv", port,
                List.of("--key-file", wrong.toString(), "--key-id", "7", "--count", "1", "--timeout", "3")));
            recv.awaitListening();
            final Cli send = new Cli("send", command(pair[0], "send", port,
                List.of("--key-file", right.toString(), "--key-id", "7", "--path", "A/B", "--heartbeat-interval", "0",
                    file.toString())));
            send.finish(0);
            assertEquals(List.of(), recv.finish(1), "nothing received with the wrong key");
            final String counters = recv.err.toString().lines().filter(l -> l.contains("\"event\":\"counters\""))
                .findFirst().orElseThrow();
            final JsonNode c = TestSupport.JSON.readTree(counters);
            assertEquals(0, c.get("objectsCompleted").asInt());
            assertTrue(c.get("drops").get("bad_mac").asInt() >= 8, counters); // 10 kB in 1372-byte fragments
        }
    }
}
