package io.condcast;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/** Every vector of spec/vectors (through index.json), as spec/vectors/README.md says. */
class VectorsTest {
    private static final Set<String> KINDS = Set.of("object", "heartbeat", "lifecycle", "commit", "invalid", "invalid-object");

    @Test
    void indexListsEveryVectorFile() throws IOException {
        final List<String> names = TestSupport.vectorNames();
        assertTrue(names.size() >= 35, "index.json lists " + names.size() + " vectors");
        try (Stream<java.nio.file.Path> files = java.nio.file.Files.list(TestSupport.vectorsDir())) {
            final long jsonFiles = files.filter(p -> p.toString().endsWith(".json") && !p.endsWith("index.json")).count();
            assertEquals(jsonFiles, names.size(), "every <name>.json is listed in index.json");
        }
    }

    @TestFactory
    Stream<DynamicTest> vectors() throws IOException {
        final List<DynamicTest> tests = new ArrayList<>();
        for (final String name : TestSupport.vectorNames()) {
            tests.add(DynamicTest.dynamicTest(name, () -> check(TestSupport.vector(name))));
        }
        return tests.stream();
    }

    private static void check(final JsonNode v) throws IOException {
        final String kind = v.get("kind").asText();
        assertTrue(KINDS.contains(kind), "known kind " + kind);
        final List<byte[]> datagrams = TestSupport.datagrams(v);
        assertTrue(!datagrams.isEmpty());
        switch (kind) {
            case "object" -> checkObject(v, datagrams);
            case "heartbeat" -> checkHeartbeat(v, datagrams.get(0));
            case "lifecycle" -> checkLifecycle(v, datagrams.get(0));
            case "commit" -> checkCommit(v, datagrams.get(0));
            case "invalid" -> checkInvalid(v, datagrams);
            default -> checkInvalidObject(v, datagrams);
        }
    }

    private static DatagramDecoder decoder(final JsonNode v) {
        final ReceiverOptions o = TestSupport.receiverOptions(v).build();
        return new DatagramDecoder(o.keys(), o.maxEnvelopeLength());
    }

    private static void checkObject(final JsonNode v, final List<byte[]> datagrams) {
        final JsonNode o = v.get("object");
        final JsonNode fragments = v.get("fragments");
        assertEquals(fragments.size(), datagrams.size());
        // Each datagram decodes to its entry in "fragments".
        final DatagramDecoder decoder = decoder(v);
        for (int i = 0; i < datagrams.size(); i++) {
            final byte[] d = datagrams.get(i);
            assertNull(decoder.decode(ByteBuffer.allocateDirect(d.length).put(d), d.length), "datagram " + i);
            assertEquals(Wire.KIND_FRAGMENT, decoder.kind());
            final FragmentView f = decoder.fragment();
            final JsonNode want = fragments.get(i);
            assertEquals(want.get("senderId").asText(), f.senderIdHex());
            assertEquals(want.get("sequence").asLong(), f.sequence());
            assertEquals(want.get("objectId").asText(), f.objectId().toString());
            assertEquals(want.get("envelopeLength").asLong(), f.envelopeLength());
            assertEquals(want.get("metadataLength").asLong(), f.metadataLength());
            assertEquals(want.get("fragmentSize").asLong(), f.fragmentSize());
            assertEquals(want.get("index").asLong(), f.index());
            if (want.has("fecScheme")) {
                assertEquals(want.get("fecScheme").asLong(), f.fecScheme());
                assertEquals(want.get("fecBlockLength").asLong(), f.fecBlockLength());
                assertEquals(want.get("fecParityCount").asLong(), f.fecParityCount());
            }
            final byte[] chunk = new byte[f.chunkLength()];
            f.buffer().get(f.chunkOffset(), chunk);
            assertEquals(want.get("chunkHex").asText(), Ids.hex(chunk));
        }
        // In order, in reverse order, and with every datagram twice: exactly one object equal to "object".
        final List<byte[]> reversed = new ArrayList<>(datagrams);
        Collections.reverse(reversed);
        final List<byte[]> twice = new ArrayList<>();
        for (final byte[] d : datagrams) {
            twice.add(d);
            twice.add(d);
        }
        final boolean fec = v.has("fec");
        final boolean inChangeset = o.has("changeset");
        for (final List<byte[]> order : List.of(datagrams, reversed, twice)) {
            final TestSupport.Collector c = new TestSupport.Collector();
            // An object of a changeset is staged by default (below); here it is delivered as it completes.
            final Receiver r = new Receiver(TestSupport.receiverOptions(v).stageChangesets(!inChangeset).build(), c);
            for (final byte[] d : order) {
                r.handleDatagram(d, 1000);
            }
            assertEquals(1, c.objects.size(), "one object");
            assertEquals(List.of(), c.dropped);
            if (!fec) {
                assertEquals(order.size() - datagrams.size(), r.counters().drops(DropReason.DUPLICATE));
            } else if (order == twice) {
                // Each source fragment's copy is a duplicate; parity of complete blocks is discarded.
                assertEquals(v.get("fec").get("blocks").findValues("sourceCount").stream().mapToInt(JsonNode::asInt).sum(),
                    r.counters().drops(DropReason.DUPLICATE));
            } else if (order == datagrams) {
                assertEquals(0, r.counters().totalDrops(), "in send order nothing is dropped: " + r.counters());
                assertEquals(0, r.counters().blocksDecoded());
            }
            // Reversed with FEC: blocks decode from parity early, their later sources are duplicates.
            assertEquals(r.counters().drops(DropReason.DUPLICATE), r.counters().totalDrops());
            assertObjectEquals(o, c.objects.get(0));
        }
        if (fec) {
            checkFec(v, datagrams);
        }
        if (inChangeset) {
            checkStaged(v, datagrams);
        }
        // The encoder reproduces the datagrams byte for byte.
        final JsonNode s = v.get("sender");
        final AuthKey key = s.has("key") ? TestSupport.key(s.get("key")) : null;
        final ObjectMetadata meta = new ObjectMetadata(o.get("path").asText(), o.get("validFrom").asLong(),
            o.get("validUntil").asLong(), o.get("created").asLong(), o.get("contentType").asText(),
            o.get("fileName").asText(), o.get("md5").asText(), TestSupport.metadata(o.get("metadata")),
            o.has("changeset") ? o.get("changeset").asText() : "");
        final double fecParity = s.has("fecParity") ? s.get("fecParity").asDouble() : 0;
        final ObjectEncoder encoder = new ObjectEncoder(Ids.parseSenderId(o.get("senderId").asText()),
            o.get("sequence").asLong(), UUID.fromString(o.get("id").asText()), meta,
            ByteBuffer.wrap(Ids.unhex(o.get("payloadHex").asText())), s.get("datagramSize").asInt(), key, fecParity,
            s.has("fecBlockLength") ? s.get("fecBlockLength").asInt() : 0,
            s.has("fecInterleave") ? s.get("fecInterleave").asInt() : FecLayout.DEFAULT_INTERLEAVE);
        final List<byte[]> encoded = encoder.datagrams();
        assertEquals(datagrams.size(), encoded.size());
        for (int i = 0; i < encoded.size(); i++) {
            assertArrayEquals(datagrams.get(i), encoded.get(i), "datagram " + i + " byte for byte");
        }
        // The same through a direct buffer, as the sender writes them (send order, reused encoders), and
        // by index (random access, parity computed on demand).
        final ByteBuffer direct = ByteBuffer.allocateDirect(encoder.datagramSize());
        final ObjectEncoder.Cursor cursor = encoder.cursor(null);
        for (int i = 0; i < encoded.size(); i++) {
            final int length = cursor.next(direct);
            final byte[] got = new byte[length];
            direct.get(0, got);
            assertArrayEquals(datagrams.get(i), got);
        }
        assertEquals(-1, cursor.next(direct));
        for (int i = 0; i < encoded.size(); i++) {
            final int length = encoder.writeDatagram(fragments.get(i).get("index").asLong(), direct);
            final byte[] got = new byte[length];
            direct.get(0, got);
            assertArrayEquals(datagrams.get(i), got, "fragment " + fragments.get(i).get("index") + " by index");
        }
    }

    /** An object of a changeset is staged: nothing is delivered until a commit names it, then exactly it. */
    private static void checkStaged(final JsonNode v, final List<byte[]> datagrams) {
        final JsonNode o = v.get("object");
        final TestSupport.Collector c = new TestSupport.Collector();
        final Receiver r = new Receiver(TestSupport.receiverOptions(v).build(), c);
        for (final byte[] d : datagrams) {
            r.handleDatagram(d, 1000);
        }
        assertEquals(List.of(), c.objects, "staged, not delivered");
        assertEquals(1, r.counters().stagedObjects());
        assertEquals(0, r.counters().objectsCompleted());
        final UUID id = UUID.fromString(o.get("id").asText());
        final CommitInfo commit = new CommitInfo(Ids.parseSenderId(o.get("senderId").asText()),
            o.get("sequence").asLong() + 1, "online", 1, 0, o.get("changeset").asText(), 1, List.of(id), List.of(), 2000, false);
        r.handleDatagram(ControlCodec.encodeCommit(commit, 1472, null), 1001);
        assertEquals(List.of(), c.objects);
        assertEquals(1, c.changesets.size());
        assertEquals(commit, c.changesets.get(0).commit());
        assertEquals(1, c.changesets.get(0).objects().size());
        assertObjectEquals(o, c.changesets.get(0).objects().get(0));
        assertEquals(1, r.counters().objectsCompleted());
        assertEquals(0, r.counters().stagedObjects());
    }

    /** spec/vectors/README.md rule 5: every set of m fragments of a block may be lost; m + 1 sources may not. */
    private static void checkFec(final JsonNode v, final List<byte[]> datagrams) {
        final JsonNode fec = v.get("fec");
        final JsonNode fragments = v.get("fragments");
        final int m = fec.get("parityCount").asInt();
        final long t = fragments.get(0).get("envelopeLength").asLong() / fragments.get(0).get("fragmentSize").asLong()
            + (fragments.get(0).get("envelopeLength").asLong() % fragments.get(0).get("fragmentSize").asLong() == 0 ? 0 : 1);
        final FecLayout layout = new FecLayout(t, fec.get("blockLength").asInt(), m);
        assertEquals(FecLayout.SCHEME_RS8, fec.get("scheme").asInt());
        assertEquals(layout.blockCount(), fec.get("blocks").size());
        assertEquals(FecLayout.symbolSize(fragments.get(0).get("fragmentSize").asLong(),
            fragments.get(0).get("envelopeLength").asLong()), fec.get("symbolSize").asLong());
        for (int b = 0; b < layout.blockCount(); b++) {
            final JsonNode blk = fec.get("blocks").get(b);
            assertEquals(layout.blockStart(b), blk.get("first").asLong(), "block " + b);
            assertEquals(layout.blockSourceCount(b), blk.get("sourceCount").asInt(), "block " + b);
            assertEquals(layout.parityIndex(b, 0), blk.get("parityFirst").asLong(), "block " + b);
        }
        final java.util.Map<Long, Integer> position = new java.util.HashMap<>();
        for (int i = 0; i < fragments.size(); i++) {
            position.put(fragments.get(i).get("index").asLong(), i);
        }
        assertEquals(layout.totalCount(), position.size(), "every source and parity fragment once");
        for (int b = 0; b < layout.blockCount(); b++) {
            final int k = layout.blockSourceCount(b);
            final long[] symbols = new long[k + m]; // encoding symbol j of the block -> fragment index
            for (int j = 0; j < k + m; j++) {
                symbols[j] = j < k ? layout.blockStart(b) + j : layout.parityIndex(b, j - k);
            }
            assertTrue(k + m <= 8, "the vectors keep k + m <= 8");
            int sets = 0;
            for (int mask = 0; mask < 1 << (k + m); mask++) {
                if (Integer.bitCount(mask) != Math.min(m, k + m)) {
                    continue;
                }
                final Set<Integer> lost = new java.util.HashSet<>();
                int lostSources = 0;
                for (int j = 0; j < k + m; j++) {
                    if ((mask >>> j & 1) != 0) {
                        lost.add(position.get(symbols[j]));
                        lostSources += j < k ? 1 : 0;
                    }
                }
                final TestSupport.Collector c = new TestSupport.Collector();
                final Receiver r = new Receiver(TestSupport.receiverOptions(v).build(), c);
                for (int i = 0; i < datagrams.size(); i++) {
                    if (!lost.contains(i)) {
                        r.handleDatagram(datagrams.get(i), 1000);
                    }
                }
                final String what = "block " + b + ", lost symbols " + Integer.toBinaryString(mask);
                assertEquals(1, c.objects.size(), what);
                assertObjectEquals(v.get("object"), c.objects.get(0));
                assertEquals(lostSources, r.counters().parityUsed(), what);
                assertEquals(lostSources, r.counters().fragmentsRecovered(), what);
                assertEquals(lostSources > 0 ? 1 : 0, r.counters().blocksDecoded(), what);
                assertEquals(0, r.counters().totalDrops(), what);
                sets++;
            }
            assertTrue(sets >= 1);
            // m + 1 lost fragments of the block, sources first: no object; the missing ranges list just
            // the k − h = 1 source fragment that would make the block decodable (SPEC 5.2).
            final Set<Integer> lost = new java.util.HashSet<>();
            for (int j = 0; j < Math.min(m + 1, k + m); j++) {
                lost.add(position.get(symbols[j]));
            }
            final TestSupport.Collector c = new TestSupport.Collector();
            final Receiver r = new Receiver(TestSupport.receiverOptions(v).build(), c);
            for (int i = 0; i < datagrams.size(); i++) {
                if (!lost.contains(i)) {
                    r.handleDatagram(datagrams.get(i), 1000);
                }
            }
            assertTrue(c.objects.isEmpty(), "block " + b + " without m + 1 fragments");
            if (m + 1 <= k + m - 0 && r.incomplete().size() == 1) {
                final PartialObject p = r.incomplete().get(0);
                final long fs = p.fragmentSize();
                final long first = layout.blockStart(b);
                assertEquals(List.of(new ByteRange(first * fs, Math.min((first + 1) * fs, p.envelopeLength()))),
                    p.missingEnvelopeRanges(), "block " + b + ": only the first missing source is listed");
            }
        }
    }

    static void assertObjectEquals(final JsonNode o, final ReceivedObject got) {
        assertEquals(o.get("id").asText(), got.id().toString());
        assertEquals(o.get("senderId").asText(), got.senderIdHex());
        assertEquals(o.get("sequence").asLong(), got.sequence());
        final ObjectMetadata m = got.meta();
        assertEquals(o.get("path").asText(), m.path());
        assertEquals(o.get("validFrom").asLong(), m.validFrom());
        assertEquals(o.get("validUntil").asLong(), m.validUntil());
        assertEquals(o.get("created").asLong(), m.created());
        assertEquals(o.get("contentType").asText(), m.contentType());
        assertEquals(o.get("fileName").asText(), m.fileName());
        assertEquals(o.get("md5").asText(), m.md5());
        assertEquals(TestSupport.metadata(o.get("metadata")), m.metadata());
        assertEquals(TestSupport.metadataKeysInOrder(o.get("metadata")), new ArrayList<>(m.metadata().keySet()),
            "metadata in wire order");
        assertEquals(o.get("payloadHex").asText(), Ids.hex(got.payloadBytes()));
        assertEquals(o.has("changeset") ? o.get("changeset").asText() : "", m.changeset());
    }

    private static void checkHeartbeat(final JsonNode v, final byte[] d) {
        final DatagramDecoder decoder = decoder(v);
        assertNull(decoder.decode(d));
        assertEquals(Wire.KIND_HEARTBEAT, decoder.kind());
        final JsonNode h = v.get("heartbeat");
        final HeartbeatInfo want = new HeartbeatInfo(Ids.parseSenderId(h.get("senderId").asText()),
            h.get("lastSequence").asLong(), h.get("sentAt").asLong(), h.get("intervalMs").asLong(),
            h.get("senderName").asText(), keys(h.get("keys")));
        assertEquals(want, decoder.heartbeat());
        final JsonNode s = v.get("sender");
        final AuthKey key = s != null && s.has("key") ? TestSupport.key(s.get("key")) : null;
        assertArrayEquals(d, ControlCodec.encodeHeartbeat(want, key));
        final TestSupport.Collector c = new TestSupport.Collector();
        new Receiver(TestSupport.receiverOptions(v).build(), c).handleDatagram(d, 0);
        assertEquals(List.of(want), c.heartbeats);
    }

    private static List<KeyPosition> keys(final JsonNode keys) {
        final List<KeyPosition> out = new ArrayList<>();
        if (keys != null) {
            for (final JsonNode k : keys) {
                out.add(new KeyPosition(k.get("keytable").asText(), k.get("key").asLong()));
            }
        }
        return out;
    }

    private static List<String> strings(final JsonNode array) {
        final List<String> out = new ArrayList<>();
        for (final JsonNode s : array) {
            out.add(s.asText());
        }
        return out;
    }

    private static void checkCommit(final JsonNode v, final byte[] d) {
        final DatagramDecoder decoder = decoder(v);
        assertNull(decoder.decode(d));
        assertEquals(Wire.KIND_COMMIT, decoder.kind());
        final JsonNode j = v.get("commit");
        final List<UUID> ids = new ArrayList<>();
        for (final String id : strings(j.get("objectIds"))) {
            ids.add(UUID.fromString(id));
        }
        final CommitInfo want = new CommitInfo(Ids.parseSenderId(j.get("senderId").asText()), j.get("sequence").asLong(),
            j.get("keytable").asText(), j.get("key").asLong(), j.get("parentKey").asLong(), j.get("changeset").asText(),
            j.get("objectCount").asLong(), ids, strings(j.get("removedPaths")), j.get("committedAt").asLong(),
            j.get("aborted").asBoolean());
        assertEquals(want, decoder.commit());
        // The encoder, given every id of the changeset (README rule 2), reproduces the datagram.
        final JsonNode s = v.get("sender");
        final AuthKey key = s != null && s.has("key") ? TestSupport.key(s.get("key")) : null;
        List<UUID> allIds = ids;
        if (ids.isEmpty() && want.objectCount() > 0) {
            allIds = new ArrayList<>();
            for (long i = 0; i < want.objectCount(); i++) {
                allIds.add(UUID.fromString(String.format("b0000000-0000-4000-8000-%012x", i)));
            }
        }
        final CommitInfo input = new CommitInfo(want.senderId(), want.sequence(), want.keytable(), want.key(),
            want.parentKey(), want.changeset(), want.objectCount(), allIds, want.removedPaths(), want.committedAt(),
            want.aborted());
        assertArrayEquals(d, ControlCodec.encodeCommit(input, s.get("datagramSize").asInt(), key));
        final TestSupport.Collector c = new TestSupport.Collector();
        final Receiver r = new Receiver(TestSupport.receiverOptions(v).build(), c);
        r.handleDatagram(d, 0);
        assertEquals(List.of(want), c.commits);
        assertEquals(1, r.counters().commits());
        assertEquals(0, r.counters().totalDrops());
    }

    private static void checkLifecycle(final JsonNode v, final byte[] d) {
        final DatagramDecoder decoder = decoder(v);
        assertNull(decoder.decode(d));
        assertEquals(Wire.KIND_LIFECYCLE, decoder.kind());
        final JsonNode l = v.get("lifecycle");
        final LifecycleInfo want = new LifecycleInfo(Ids.parseSenderId(l.get("senderId").asText()),
            l.get("sequence").asLong(), UUID.fromString(l.get("objectId").asText()),
            LifecycleAction.valueOf(l.get("action").asText().toUpperCase(java.util.Locale.ROOT)), l.get("path").asText(),
            l.get("validUntil").asLong(), TestSupport.metadata(l.get("metadata")), l.get("changedAt").asLong());
        assertEquals(want, decoder.lifecycle());
        assertEquals(TestSupport.metadataKeysInOrder(l.get("metadata")), new ArrayList<>(decoder.lifecycle().metadata().keySet()));
        final JsonNode s = v.get("sender");
        final AuthKey key = s != null && s.has("key") ? TestSupport.key(s.get("key")) : null;
        assertArrayEquals(d, ControlCodec.encodeLifecycle(want, key));
    }

    private static void checkInvalid(final JsonNode v, final List<byte[]> datagrams) {
        final DropReason reason = DropReason.fromWireName(v.get("reason").asText());
        assertEquals(DropReason.Scope.DATAGRAM, reason.scope());
        assertEquals(1, datagrams.size());
        final byte[] d = datagrams.get(0);
        assertEquals(reason, decoder(v).decode(d), v.get("name").asText());
        final TestSupport.Collector c = new TestSupport.Collector();
        final Receiver r = new Receiver(TestSupport.receiverOptions(v).build(), c);
        r.handleDatagram(d, 0);
        assertEquals(1, r.counters().drops(reason));
        assertEquals(1, r.counters().totalDrops());
        assertTrue(c.objects.isEmpty() && c.heartbeats.isEmpty() && c.lifecycles.isEmpty()
            && c.commits.isEmpty(), "nothing delivered");
    }

    private static void checkInvalidObject(final JsonNode v, final List<byte[]> datagrams) {
        final DropReason reason = DropReason.fromWireName(v.get("reason").asText());
        assertEquals(DropReason.Scope.OBJECT, reason.scope());
        final DatagramDecoder decoder = decoder(v);
        for (final byte[] d : datagrams) {
            assertNull(decoder.decode(d), "every datagram passes SPEC 5.1");
        }
        final TestSupport.Collector c = new TestSupport.Collector();
        final Receiver r = new Receiver(TestSupport.receiverOptions(v).build(), c);
        for (final byte[] d : datagrams) {
            r.handleDatagram(d, 0);
        }
        assertEquals(0, r.counters().totalDrops(), "every datagram accepted");
        assertTrue(c.objects.isEmpty(), "no object delivered");
        assertEquals(List.of(reason), c.dropped);
        assertEquals(1, r.counters().drops(reason));
        assertNotNull(reason);
        if (c.objects.size() > 0) {
            fail();
        }
    }
}
