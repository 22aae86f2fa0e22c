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
    private static final Set<String> KINDS = Set.of("object", "heartbeat", "lifecycle", "invalid", "invalid-object");

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
        for (final List<byte[]> order : List.of(datagrams, reversed, twice)) {
            final TestSupport.Collector c = new TestSupport.Collector();
            final Receiver r = new Receiver(TestSupport.receiverOptions(v).build(), c);
            for (final byte[] d : order) {
                r.handleDatagram(d, 1000);
            }
            assertEquals(1, c.objects.size(), "one object");
            assertEquals(List.of(), c.dropped);
            assertEquals(order.size() - datagrams.size(), r.counters().drops(DropReason.DUPLICATE));
            assertEquals(order.size() - datagrams.size(), r.counters().totalDrops());
            assertObjectEquals(o, c.objects.get(0));
        }
        // The encoder reproduces the datagrams byte for byte.
        final JsonNode s = v.get("sender");
        final AuthKey key = s.has("key") ? TestSupport.key(s.get("key")) : null;
        final ObjectMetadata meta = new ObjectMetadata(o.get("path").asText(), o.get("validFrom").asLong(),
            o.get("validUntil").asLong(), o.get("created").asLong(), o.get("contentType").asText(),
            o.get("fileName").asText(), o.get("md5").asText(), TestSupport.metadata(o.get("metadata")));
        final ObjectEncoder encoder = new ObjectEncoder(Ids.parseSenderId(o.get("senderId").asText()),
            o.get("sequence").asLong(), UUID.fromString(o.get("id").asText()), meta,
            ByteBuffer.wrap(Ids.unhex(o.get("payloadHex").asText())), s.get("datagramSize").asInt(), key);
        final List<byte[]> encoded = encoder.datagrams();
        assertEquals(datagrams.size(), encoded.size());
        for (int i = 0; i < encoded.size(); i++) {
            assertArrayEquals(datagrams.get(i), encoded.get(i), "datagram " + i + " byte for byte");
        }
        // The same through a direct buffer, as the sender writes them.
        final ByteBuffer direct = ByteBuffer.allocateDirect(encoder.datagramSize());
        for (int i = 0; i < encoded.size(); i++) {
            final int length = encoder.writeDatagram(i, direct);
            final byte[] got = new byte[length];
            direct.get(0, got);
            assertArrayEquals(datagrams.get(i), got);
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
    }

    private static void checkHeartbeat(final JsonNode v, final byte[] d) {
        final DatagramDecoder decoder = decoder(v);
        assertNull(decoder.decode(d));
        assertEquals(Wire.KIND_HEARTBEAT, decoder.kind());
        final JsonNode h = v.get("heartbeat");
        final HeartbeatInfo want = new HeartbeatInfo(Ids.parseSenderId(h.get("senderId").asText()),
            h.get("lastSequence").asLong(), h.get("sentAt").asLong(), h.get("intervalMs").asLong(),
            h.get("senderName").asText());
        assertEquals(want, decoder.heartbeat());
        final JsonNode s = v.get("sender");
        final AuthKey key = s != null && s.has("key") ? TestSupport.key(s.get("key")) : null;
        assertArrayEquals(d, ControlCodec.encodeHeartbeat(want, key));
        final TestSupport.Collector c = new TestSupport.Collector();
        new Receiver(TestSupport.receiverOptions(v).build(), c).handleDatagram(d, 0);
        assertEquals(List.of(want), c.heartbeats);
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
        assertTrue(c.objects.isEmpty() && c.heartbeats.isEmpty() && c.lifecycles.isEmpty(), "nothing delivered");
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
