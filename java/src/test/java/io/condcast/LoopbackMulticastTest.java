package io.condcast;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Real sockets, real multicast on the loopback interface (127.0.0.1, TTL 1, group 239.255.42.x, ports
 * 42100-42199): objects of 0 B, 1 B, exactly one fragment, one byte more, 1 MB, 10 MB and 100 MB.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class LoopbackMulticastTest {
    private static final String GROUP = "239.255.42.10";
    private static final int PORT = 42101;
    private static final LinkedBlockingQueue<ReceivedObject> OBJECTS = new LinkedBlockingQueue<>();
    private static final TestSupport.Collector EVENTS = new TestSupport.Collector() {
        @Override
        public void onObject(final ReceivedObject object) {
            OBJECTS.add(object);
        }
    };
    private static Receiver receiver;

    @BeforeAll
    static void start() throws Exception {
        receiver = new Receiver(ReceiverOptions.builder().group(GROUP).port(PORT).interfaceAddress("127.0.0.1").build(), EVENTS);
        final ListeningInfo info = receiver.start();
        System.out.println("loopback receiver: SO_RCVBUF requested " + info.receiveBufferRequested() + ", granted "
            + info.receiveBufferGranted());
        assertTrue(info.receiveBufferGranted() > 0);
    }

    @AfterAll
    static void stop() throws Exception {
        receiver.close();
        assertTrue(EVENTS.errors.isEmpty(), EVENTS.errors.toString());
    }

    private static SenderOptions.Builder sender() {
        return SenderOptions.builder().group(GROUP).port(PORT).interfaceAddress("127.0.0.1").ttl(1).heartbeatIntervalMs(0);
    }

    private static ReceivedObject sendAndReceive(final SenderOptions options, final byte[] payload, final long expectDatagrams)
        throws Exception {
        final UUID id = UUID.randomUUID();
        final long fragmentsBefore = receiver.counters().fragments();
        final SentObject sent;
        try (Sender s = new Sender(options)) {
            s.start();
            sent = s.send(OutgoingObject.builder().payload(payload).path("TPC/Calib/Gain").validFrom(1_700_000_000_000L)
                .validUntil(1_700_086_400_000L).id(id).fileName("gain.root").metadata(Map.of("runNumber", "523897")).build());
        }
        if (expectDatagrams > 0) {
            assertEquals(expectDatagrams, sent.datagrams());
        }
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            final ReceivedObject o = OBJECTS.poll(100, TimeUnit.MILLISECONDS);
            if (o != null && o.id().equals(id)) {
                assertEquals(sent.sequence(), o.sequence());
                assertEquals(sent.meta(), o.meta());
                assertEquals(payload.length, o.size());
                assertArrayEquals(payload, o.payloadBytes());
                // With FEC the last parity fragments may follow the object's completion.
                while (receiver.counters().fragments() - fragmentsBefore < sent.datagrams() && System.nanoTime() < deadline) {
                    Thread.sleep(5);
                }
                assertEquals(sent.datagrams(), receiver.counters().fragments() - fragmentsBefore, "every fragment once");
                return o;
            }
        }
        throw new AssertionError("object " + id + " (" + payload.length + " bytes) not received: " + receiver.counters());
    }

    private static int metadataLength() {
        return ObjectCodec.encodeObjectMeta(ObjectMetadata.of("TPC/Calib/Gain", 1_700_000_000_000L, 1_700_086_400_000L,
            1_700_000_000_123L, "application/octet-stream", "gain.root", "d41d8cd98f00b204e9800998ecf8427e",
            Map.of("runNumber", "523897"))).length;
    }

    @Test
    void emptyPayload() throws Exception {
        sendAndReceive(sender().build(), new byte[0], 2); // one source fragment and m = parity(1) = 1
        sendAndReceive(sender().fecParity(0).build(), new byte[0], 1);
    }

    @Test
    void oneByte() throws Exception {
        sendAndReceive(sender().build(), new byte[] {42}, 2);
        sendAndReceive(sender().fecParity(0).build(), new byte[] {42}, 1);
    }

    @Test
    void exactlyOneFragmentAndOneByteMore() throws Exception {
        final int size = Wire.fragmentSizeFor(Wire.DEFAULT_DATAGRAM_SIZE, false) - metadataLength();
        sendAndReceive(sender().fecParity(0).build(), ReassemblyTest.payload(size, 1), 1);
        sendAndReceive(sender().fecParity(0).build(), ReassemblyTest.payload(size + 1, 2), 2);
        sendAndReceive(sender().build(), ReassemblyTest.payload(size, 1), 1 + 1);
        sendAndReceive(sender().build(), ReassemblyTest.payload(size + 1, 2), 2 + 1); // one block of 2, m = 1
    }

    @Test
    void oneMegabyte() throws Exception {
        sendAndReceive(sender().build(), ReassemblyTest.payload(1_000_000, 3), 0);
    }

    @Test
    void tenMegabytes() throws Exception {
        sendAndReceive(sender().build(), ReassemblyTest.payload(10_000_000, 4), 0);
    }

    @Test
    void hundredMegabytesInLargeDatagrams() throws Exception {
        final long start = System.nanoTime();
        final ReceivedObject o = sendAndReceive(sender().datagramSize(Wire.MAX_DATAGRAM_SIZE).rate(150_000_000).build(),
            ReassemblyTest.payload(100_000_000, 5), 0);
        System.out.printf("100 MB over loopback multicast in %.2f s%n", (System.nanoTime() - start) / 1e9);
        assertEquals(ObjectCodec.md5Hex(ByteBuffer.wrap(ReassemblyTest.payload(100_000_000, 5))), o.meta().md5());
    }

    @Test
    void authenticatedObjectsReachOnlyReceiversWithTheKey() throws Exception {
        final AuthKey wrong = AuthKey.fromHex(7, "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
        final int port = 42102;
        final TestSupport.Collector right = new TestSupport.Collector();
        final TestSupport.Collector bad = new TestSupport.Collector();
        try (Receiver withKey = new Receiver(ReceiverOptions.builder().group(GROUP).port(port).keys(List.of(ReassemblyTest.KEY)).build(), right);
             Receiver withWrongKey = new Receiver(ReceiverOptions.builder().group(GROUP).port(port).keys(List.of(wrong)).build(), bad)) {
            withKey.start();
            withWrongKey.start();
            final byte[] p = ReassemblyTest.payload(50_000, 6);
            final SentObject sent;
            try (Sender s = new Sender(SenderOptions.builder().group(GROUP).port(port).key(ReassemblyTest.KEY)
                .heartbeatIntervalMs(0).build())) {
                s.start();
                sent = s.send(OutgoingObject.builder().payload(p).path("A/B").validFrom(0).validUntil(1).build());
            }
            final long deadline = System.currentTimeMillis() + 10_000;
            while (right.objects.isEmpty() && System.currentTimeMillis() < deadline) {
                Thread.sleep(10);
            }
            while (withWrongKey.counters().datagrams() < sent.datagrams() && System.currentTimeMillis() < deadline) {
                Thread.sleep(10);
            }
            assertEquals(1, right.objects.size());
            assertArrayEquals(p, right.objects.get(0).payloadBytes());
            assertTrue(bad.objects.isEmpty());
            assertEquals(sent.datagrams(), withWrongKey.counters().drops(DropReason.BAD_MAC));
        }
    }

    @Test
    void heartbeatsAndLifecycleAnnounceSequences() throws Exception {
        final int port = 42103;
        final TestSupport.Collector col = new TestSupport.Collector();
        try (Receiver rx = new Receiver(ReceiverOptions.builder().group(GROUP).port(port).build(), col)) {
            rx.start();
            try (Sender s = new Sender(SenderOptions.builder().group(GROUP).port(port).heartbeatIntervalMs(50)
                .senderName("https://ccdb.example/").firstSequence(10).build())) {
                s.start();
                final SentObject sent = s.send(OutgoingObject.builder().payload(new byte[10]).path("A/B").validFrom(0)
                    .validUntil(1).build());
                assertEquals(10, sent.sequence());
                assertEquals(11, s.sendLifecycle(LifecycleChange.of(sent.id(), LifecycleAction.UPDATED, "A/B", 5, Map.of("k", "v"))));
                final long deadline = System.currentTimeMillis() + 10_000;
                while (System.currentTimeMillis() < deadline
                    && (col.lifecycles.isEmpty() || col.heartbeats.stream().noneMatch(h -> h.lastSequence() == 11))) {
                    Thread.sleep(10);
                }
                final HeartbeatInfo hb = col.heartbeats.stream().filter(h -> h.lastSequence() == 11).findFirst().orElse(null);
                assertNotNull(hb, "a heartbeat announcing sequence 11: " + col.heartbeats);
                assertEquals(s.senderId(), hb.senderId());
                assertEquals(50, hb.intervalMs());
                assertEquals("https://ccdb.example/", hb.senderName());
                final LifecycleInfo lc = col.lifecycles.get(0);
                assertEquals(LifecycleAction.UPDATED, lc.action());
                assertEquals(sent.id(), lc.objectId());
                assertEquals(Map.of("k", "v"), lc.metadata());
                assertEquals(1, col.objects.size());
                assertTrue(col.gaps.isEmpty(), "no gap: " + col.gaps);
            }
        }
    }

    /**
     * FEC over real multicast with loss injected in process: a socket joined to the group takes the
     * datagrams, drops 2% of them at random (seeded) and hands the rest to a receiver's reassembly. Every
     * object completes without repair, rebuilt by parity.
     */
    @Test
    void fecRepairsInjectedLossWithoutRepair() throws Exception {
        final int port = 42104;
        final TestSupport.Collector col = new TestSupport.Collector();
        final Receiver rx = new Receiver(ReceiverOptions.builder().build(), col); // not started: fed by hand
        final java.util.Random random = new java.util.Random(Long.getLong("condcast.fec.seed", 2026));
        final java.util.concurrent.atomic.AtomicLong dropped = new java.util.concurrent.atomic.AtomicLong();
        final java.util.concurrent.atomic.AtomicBoolean running = new java.util.concurrent.atomic.AtomicBoolean(true);
        final java.net.Inet4Address group = Net.multicastGroup(GROUP);
        try (java.nio.channels.DatagramChannel ch = java.nio.channels.DatagramChannel.open(java.net.StandardProtocolFamily.INET)) {
            ch.setOption(java.net.StandardSocketOptions.SO_REUSEADDR, true);
            ch.setOption(java.net.StandardSocketOptions.SO_RCVBUF, 8 << 20);
            ch.bind(new java.net.InetSocketAddress(group, port));
            ch.join(group, Net.interfaceFor(Net.ipv4("127.0.0.1", "interface")));
            final Thread pump = new Thread(() -> {
                final ByteBuffer buf = ByteBuffer.allocateDirect(65536);
                try {
                    while (running.get()) {
                        buf.clear();
                        ch.receive(buf);
                        if (random.nextDouble() < 0.02) {
                            dropped.incrementAndGet();
                            continue;
                        }
                        rx.handleDatagram(buf, buf.position(), System.currentTimeMillis());
                    }
                } catch (final java.io.IOException e) {
                    // closed
                }
            }, "loss-injector");
            pump.setDaemon(true);
            pump.start();
            final byte[][] payloads = {ReassemblyTest.payload(3_000_000, 11), ReassemblyTest.payload(500_000, 12),
                ReassemblyTest.payload(20_000, 13)};
            try (Sender s = new Sender(sender().port(port).rate(40_000_000).build())) {
                s.start();
                for (final byte[] p : payloads) {
                    s.send(OutgoingObject.builder().payload(p).path("A/B").validFrom(0).validUntil(1).build());
                }
            }
            final long deadline = System.currentTimeMillis() + 30_000;
            while (col.objects.size() < payloads.length && System.currentTimeMillis() < deadline) {
                Thread.sleep(10);
            }
            running.set(false);
            ch.close();
            pump.join(5000);
            assertEquals(payloads.length, col.objects.size(), "all objects complete without repair: " + rx.counters()
                + ", dropped " + dropped.get());
            for (int i = 0; i < payloads.length; i++) {
                assertArrayEquals(payloads[i], col.objects.get(i).payloadBytes());
            }
            assertTrue(dropped.get() > 20, "loss was injected: " + dropped.get());
            assertTrue(rx.counters().blocksDecoded() > 0 && rx.counters().fragmentsRecovered() > 0, rx.counters().toJson());
            System.out.println("FEC over loopback with " + dropped.get() + " datagrams dropped: " + rx.counters());
        }
    }
}
