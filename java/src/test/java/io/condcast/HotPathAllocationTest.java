package io.condcast;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** The per-datagram paths allocate nothing: encoding into a direct buffer, decoding and reassembling. */
class HotPathAllocationTest {
    private static final int ROUNDS = 200_000;
    /** Slack for the measurement itself; a per-datagram allocation would cost at least 16 B x ROUNDS. */
    private static final long SLACK = 64 * 1024;

    static Object sink;

    @Test
    void theInstrumentSeesAllocations() {
        final long before = Allocation.allocatedBytes();
        for (int i = 0; i < ROUNDS; i++) {
            sink = new byte[16];
        }
        assertTrue(Allocation.allocatedBytes() - before >= 16L * ROUNDS, "ThreadMXBean counts allocations");
    }

    @Test
    void encoderWritesDatagramsWithoutAllocating() {
        for (final AuthKey key : new AuthKey[] {null, ReassemblyTest.KEY}) {
            final byte[] p = ReassemblyTest.payload(200_000, 1);
            final ObjectEncoder enc = new ObjectEncoder(0x0123456789abcdefL, 1, UUID.randomUUID(),
                ObjectMetadata.of("A/B", 0, 1, 0, "t", "f", ObjectCodec.md5Hex(ByteBuffer.wrap(p)), java.util.Map.of("k", "v")),
                ByteBuffer.allocateDirect(p.length).put(p).flip(), 1472, key);
            final ByteBuffer out = ByteBuffer.allocateDirect(1472);
            long sum = 0;
            for (int i = 0; i < 20_000; i++) { // warm up
                sum += enc.writeDatagram(i % enc.count(), out);
            }
            final long before = Allocation.allocatedBytes();
            for (int i = 0; i < ROUNDS; i++) {
                sum += enc.writeDatagram(i % enc.count(), out);
            }
            final long allocated = Allocation.allocatedBytes() - before;
            assertTrue(sum > 0);
            assertTrue(allocated < SLACK, "allocated " + allocated + " bytes for " + ROUNDS + " datagrams (key " + key + ")");
        }
    }

    @Test
    void fecEncodingInSendOrderAllocatesNothingPerDatagram() {
        for (final AuthKey key : new AuthKey[] {null, ReassemblyTest.KEY}) {
            final byte[] p = ReassemblyTest.payload(8_000_000, 1);
            final ObjectEncoder enc = new ObjectEncoder(0x0123456789abcdefL, 1, UUID.randomUUID(),
                ObjectMetadata.of("A/B", 0, 1, 0, "t", "f", ObjectCodec.md5Hex(ByteBuffer.wrap(p)), java.util.Map.of("k", "v")),
                ByteBuffer.allocateDirect(p.length).put(p).flip(), 1472, key, 0.05, 0, 16);
            final ByteBuffer out = ByteBuffer.allocateDirect(1472);
            ObjectEncoder.Cursor cursor = enc.cursor(null);
            long n = 0;
            while (cursor.next(out) >= 0) { // warm up; allocates the encoders of one interleave group
                n++;
            }
            assertEquals(enc.count(), n);
            assertTrue(enc.count() > enc.sourceCount() + 12 * enc.fecLayout().blockCount() - 1);
            final FecEncoder[] pool = cursor.pool();
            final long before = Allocation.allocatedBytes();
            cursor = enc.cursor(pool);
            long sum = 0;
            for (int length = cursor.next(out); length >= 0; length = cursor.next(out)) {
                sum += length;
            }
            final long allocated = Allocation.allocatedBytes() - before;
            assertTrue(sum > p.length);
            assertTrue(allocated < SLACK, "allocated " + allocated + " bytes for " + enc.count() + " datagrams (key " + key + ")");
        }
    }

    @Test
    void reassemblingFecFragmentsAllocatesNothing() {
        final byte[] p = ReassemblyTest.payload(3_000_000, 2);
        final List<byte[]> ds = FecReassemblyTest.encoder(UUID.randomUUID(), p, 1472, 0.05, 0, 16).datagrams();
        final ByteBuffer[] direct = new ByteBuffer[ds.size()];
        for (int i = 0; i < ds.size(); i++) {
            direct[i] = ByteBuffer.allocateDirect(ds.get(i).length).put(ds.get(i));
        }
        final TestSupport.Collector c = new TestSupport.Collector();
        final Receiver rx = new Receiver(ReceiverOptions.builder().build(), c);
        for (int i = 0; i < 200; i++) {
            rx.handleDatagram(direct[i], ds.get(i).length, 0); // the first allocates the object; warm up
        }
        final long before = Allocation.allocatedBytes();
        for (int i = 200; i < ds.size() - 300; i++) { // sources and parity of complete blocks
            rx.handleDatagram(direct[i], ds.get(i).length, i);
        }
        final long allocated = Allocation.allocatedBytes() - before;
        assertTrue(allocated < SLACK, "allocated " + allocated + " bytes for " + ds.size() + " fragments");
        for (int i = ds.size() - 300; i < ds.size(); i++) {
            rx.handleDatagram(direct[i], ds.get(i).length, 0);
        }
        assertEquals(1, c.objects.size());
        assertEquals(0, rx.counters().totalDrops());
    }

    @Test
    void decodingAndReassemblingFragmentsAllocatesNothing() {
        for (final AuthKey key : new AuthKey[] {null, ReassemblyTest.KEY}) {
            final byte[] p = ReassemblyTest.payload(3_000_000, 2);
            final List<byte[]> ds = ReassemblyTest.encode(5, 1, UUID.randomUUID(), p, 1472, key);
            final ByteBuffer[] direct = new ByteBuffer[ds.size()];
            for (int i = 0; i < ds.size(); i++) {
                direct[i] = ByteBuffer.allocateDirect(ds.get(i).length).put(ds.get(i));
            }
            final TestSupport.Collector c = new TestSupport.Collector();
            final Receiver rx = new Receiver(ReceiverOptions.builder().keys(key == null ? List.of() : List.of(key)).build(), c);
            rx.handleDatagram(direct[0], ds.get(0).length, 0); // the first fragment allocates the envelope
            for (int i = 1; i < 200; i++) {
                rx.handleDatagram(direct[i], ds.get(i).length, 0); // warm up
            }
            final long before = Allocation.allocatedBytes();
            for (int i = 200; i < ds.size() - 1; i++) {
                rx.handleDatagram(direct[i], ds.get(i).length, i);
            }
            for (int i = 0; i < 1000; i++) { // duplicates of the object in progress
                rx.handleDatagram(direct[i], ds.get(i).length, 0);
            }
            final long allocated = Allocation.allocatedBytes() - before;
            assertTrue(allocated < SLACK, "allocated " + allocated + " bytes for " + ds.size() + " fragments (key " + key + ")");
            rx.handleDatagram(direct[ds.size() - 1], ds.get(ds.size() - 1).length, 0);
            assertEquals(1, c.objects.size());
            assertEquals(1000, rx.counters().drops(DropReason.DUPLICATE));
        }
    }

    @Test
    void anOversizedClaimAllocatesNothing() {
        final ByteBuffer buf = ByteBuffer.allocateDirect(2048);
        final int header = FragmentView.writeHeader(buf, 8, 1, 1, 1, 1, Wire.MAX_ENVELOPE_LENGTH, 1, 1000, 0, 1000);
        final int length = header + 1000;
        buf.put(0, new byte[] {(byte) 0xCC, (byte) 0xDB, 0x63, 0x63, 1, 1, 0, 0});
        final DatagramDecoder dec = new DatagramDecoder();
        assertNull(dec.decode(buf, length));
        final Receiver rx = new Receiver(ReceiverOptions.builder().maxPartialBytes(1 << 20).build(), new TestSupport.Collector());
        final long before = Allocation.allocatedBytes();
        for (int i = 0; i < 10_000; i++) {
            rx.handleDatagram(buf, length, 0);
        }
        final long allocated = Allocation.allocatedBytes() - before;
        assertEquals(10_000, rx.counters().drops(DropReason.OVER_CAPACITY));
        assertTrue(allocated < SLACK, "allocated " + allocated);
    }

    @Test
    void ringCarriesDatagramsAcrossWrapsWithoutAllocating() {
        final DatagramRing ring = new DatagramRing(256 * 1024);
        final java.util.Random r = new java.util.Random(3);
        final ByteBuffer in = ByteBuffer.allocateDirect(65536);
        final ByteBuffer out = ByteBuffer.allocateDirect(65536);
        final int[] lengths = new int[64];
        for (int i = 0; i < lengths.length; i++) {
            lengths[i] = r.nextInt(i % 8 == 0 ? 65536 : 2000);
        }
        final java.util.function.BooleanSupplier running = () -> true;
        long before = Allocation.allocatedBytes();
        long produced = 0;
        long consumed = 0;
        for (int round = 0; round < 40_000; round++) {
            if (round == 20_000) {
                before = Allocation.allocatedBytes(); // the first half warms up
            }
            final int length = lengths[round % lengths.length];
            in.put(0, (byte) round);
            in.put(length > 1 ? length - 1 : 0, (byte) (round * 7));
            if (ring.offer(in, length, running)) {
                produced++;
            }
            if (round % 3 != 0) { // the consumer lags, so the ring fills and wraps
                while (true) {
                    final int got = ring.poll(out);
                    if (got < 0) {
                        break;
                    }
                    final long n = consumed++;
                    assertEquals(lengths[(int) (n % lengths.length)], got);
                    if (got > 0) {
                        assertEquals((byte) n, out.get(0));
                    }
                    if (got > 1) {
                        assertEquals((byte) (n * 7), out.get(got - 1));
                    }
                }
            }
        }
        final long allocated = Allocation.allocatedBytes() - before;
        assertEquals(produced, consumed + countRemaining(ring, out));
        assertTrue(allocated < SLACK, "allocated " + allocated);
    }

    private static long countRemaining(final DatagramRing ring, final ByteBuffer out) {
        long n = 0;
        while (ring.poll(out) >= 0) {
            n++;
        }
        return n;
    }

    private int sent;

    @Test
    void senderSendsOverTheSocketWithoutAllocatingPerDatagram() throws Exception {
        // Nobody listens on this group and port: the datagrams go out on loopback and are discarded.
        final byte[] payload = ReassemblyTest.payload(20_000_000, 4);
        for (final AuthKey key : new AuthKey[] {null, ReassemblyTest.KEY, null}) {
            final double fec = key == null && sent++ == 0 ? 0 : FecLayout.DEFAULT_PARITY; // FEC off, then on (the default)
            try (Sender sender = new Sender(SenderOptions.builder().group("239.255.42.99").port(42199).rate(0)
                .heartbeatIntervalMs(0).key(key).fecParity(fec).build())) {
                sender.start();
                final OutgoingObject object = OutgoingObject.builder().payload(payload).path("A/B").validFrom(0).validUntil(1).build();
                sender.send(object); // warm up
                final long before = Allocation.allocatedBytes();
                final SentObject sent = sender.send(object);
                final long allocated = Allocation.allocatedBytes() - before;
                assertTrue(sent.datagrams() > 14_000);
                // Per object: metadata, encoder, MD5 state, ids (a few kB). A per-datagram allocation of
                // even 16 bytes would add more than 200 kB.
                assertTrue(allocated < SLACK, "allocated " + allocated + " bytes for " + sent.datagrams() + " datagrams (FEC "
                    + fec + ")");
            }
        }
    }
}
