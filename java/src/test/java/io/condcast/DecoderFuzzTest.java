package io.condcast;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * Seeded random and mutated datagrams (a property test without a framework): the decoder and receiver
 * never throw, every datagram is accounted for exactly once, the bytes held by incomplete objects never
 * exceed the cap, and no datagram makes the receiver allocate more than what it is charged.
 */
class DecoderFuzzTest {
    private static final long CAP = 256 * 1024;
    private static final long SEED = Long.getLong("condcast.fuzz.seed", 20261121L);
    private static final int ITERATIONS = Integer.getInteger("condcast.fuzz.iterations", 150_000);

    private static List<byte[]> corpus() throws IOException {
        final List<byte[]> corpus = new ArrayList<>();
        for (final String name : TestSupport.vectorNames()) {
            corpus.addAll(TestSupport.datagrams(TestSupport.vector(name)));
        }
        corpus.addAll(ReassemblyTest.encode(3, 9, UUID.randomUUID(), ReassemblyTest.payload(4000, 1), 512, ReassemblyTest.KEY));
        corpus.addAll(ReassemblyTest.encode(4, 10, UUID.randomUUID(), ReassemblyTest.payload(9000, 2), 1472, null));
        corpus.addAll(FecReassemblyTest.encoder(UUID.randomUUID(), ReassemblyTest.payload(6000, 3), 400, 0.3, 4, 2).datagrams());
        return corpus;
    }

    private static byte[] mutate(final byte[] seed, final Random r) {
        byte[] d = seed.clone();
        final int edits = 1 + r.nextInt(4);
        for (int e = 0; e < edits; e++) {
            switch (r.nextInt(8)) {
                case 0 -> { // flip a bit
                    if (d.length > 0) {
                        d[r.nextInt(d.length)] ^= (byte) (1 << r.nextInt(8));
                    }
                }
                case 1 -> { // an interesting byte value, often in the body's first bytes
                    if (d.length > 0) {
                        final int at = r.nextBoolean() ? Math.min(d.length - 1, 8 + r.nextInt(40)) : r.nextInt(d.length);
                        d[at] = (byte) new int[] {0, 0x7f, 0x80, 0xff, 0x01, 0x08, 0x0a, 0x12, 0x7a}[r.nextInt(9)];
                    }
                }
                case 2 -> d = java.util.Arrays.copyOf(d, r.nextInt(d.length + 1)); // truncate
                case 3 -> { // extend with junk
                    final byte[] tail = new byte[1 + r.nextInt(30)];
                    r.nextBytes(tail);
                    final byte[] x = java.util.Arrays.copyOf(d, d.length + tail.length);
                    System.arraycopy(tail, 0, x, d.length, tail.length);
                    d = x;
                }
                case 4 -> { // a run of 0xff: overlong varints
                    if (d.length > 9) {
                        final int at = 8 + r.nextInt(d.length - 8);
                        for (int i = at; i < Math.min(d.length, at + 1 + r.nextInt(12)); i++) {
                            d[i] = (byte) 0xff;
                        }
                    }
                }
                case 5 -> { // keep the preamble, clear the flags (strip authentication)
                    if (d.length > 7) {
                        d[6] = 0;
                    }
                }
                case 6 -> { // splice: the head of this datagram, the tail of itself shifted
                    if (d.length > 10) {
                        final int cut = 8 + r.nextInt(d.length - 8);
                        final int from = 8 + r.nextInt(d.length - 8);
                        final byte[] x = java.util.Arrays.copyOf(d, cut + (d.length - from));
                        System.arraycopy(d, from, x, cut, d.length - from);
                        d = x;
                    }
                }
                default -> { // random bytes at a random place
                    if (d.length > 0) {
                        final int at = r.nextInt(d.length);
                        final byte[] junk = new byte[Math.min(d.length - at, 1 + r.nextInt(8))];
                        r.nextBytes(junk);
                        System.arraycopy(junk, 0, d, at, junk.length);
                    }
                }
            }
        }
        return d;
    }

    private static byte[] random(final Random r) {
        final byte[] d = new byte[r.nextInt(r.nextBoolean() ? 40 : 1500)];
        r.nextBytes(d);
        if (r.nextInt(3) > 0 && d.length >= 8) { // a valid preamble more often than chance
            d[0] = (byte) 0xCC;
            d[1] = (byte) 0xDB;
            d[2] = 0x63;
            d[3] = 0x63;
            d[4] = 1;
            d[5] = (byte) (1 + r.nextInt(3));
            d[6] = (byte) r.nextInt(2);
            d[7] = 0;
        }
        return d;
    }

    @Test
    void randomAndMutatedDatagramsAreCountedAndDropped() throws IOException {
        final List<byte[]> corpus = corpus();
        final Random r = new Random(SEED);
        for (final boolean withKeys : new boolean[] {false, true}) {
            final TestSupport.Collector col = new TestSupport.Collector();
            final Receiver rx = new Receiver(ReceiverOptions.builder()
                .keys(withKeys ? List.of(ReassemblyTest.KEY) : List.of())
                .maxPartialBytes(CAP).maxPartialObjects(64).partialTimeoutMs(50).build(), col);
            final DatagramDecoder decoder = new DatagramDecoder(withKeys ? List.of(ReassemblyTest.KEY) : List.of(), Wire.MAX_ENVELOPE_LENGTH);
            final ByteBuffer direct = ByteBuffer.allocateDirect(70_000);
            for (int i = 0; i < ITERATIONS; i++) {
                final byte[] d = r.nextInt(4) == 0 ? random(r) : mutate(corpus.get(r.nextInt(corpus.size())), r);
                direct.clear();
                direct.put(0, d);
                try {
                    decoder.decode(d); // a verdict or null; any exception fails the test
                    final long before = Allocation.allocatedBytes();
                    final long charged = rx.counters().partialBytes();
                    rx.handleDatagram(direct, d.length, i / 100);
                    final long allocated = Allocation.allocatedBytes() - before;
                    final long grown = Math.max(0, rx.counters().partialBytes() - charged);
                    // What one datagram may allocate: the new object's envelope as charged, plus a little
                    // for control messages, decoded metadata and delivered objects.
                    assertTrue(allocated <= grown + 64 * 1024, "datagram " + i + " allocated " + allocated + " bytes");
                } catch (final AssertionError e) {
                    throw e;
                } catch (final Throwable t) {
                    fail("datagram " + i + " (" + Ids.hex(d) + ") threw", t);
                }
                final ReceiverCounters c = rx.counters();
                assertTrue(c.partialBytes() <= CAP, "partial bytes " + c.partialBytes() + " within the cap");
                assertTrue(c.partialObjects() <= 64);
                long held = 0;
                for (final PartialObject p : rx.incomplete()) {
                    held += p.chargedBytes();
                    assertTrue(p.envelopeLength() <= CAP);
                }
                assertEquals(c.partialBytes(), held);
                long datagramDrops = 0;
                for (final DropReason reason : DropReason.values()) {
                    if (reason.scope() == DropReason.Scope.DATAGRAM) {
                        datagramDrops += c.drops(reason);
                    }
                }
                // A Commit is taken, or ignored as a copy of one taken (SPEC 5.4).
                assertEquals(c.datagrams(), c.fragments() + c.heartbeats() + c.lifecycles() + c.commits() + c.commitCopies()
                    + datagramDrops, "every datagram is accepted or dropped once");
                if (i % 997 == 0) {
                    rx.expire(i / 100);
                }
            }
            assertTrue(col.errors.isEmpty(), col.errors.toString());
            if (withKeys) {
                assertTrue(rx.counters().drops(DropReason.BAD_MAC) > 0 && rx.counters().drops(DropReason.UNAUTHENTICATED) > 0);
            } else {
                // The corpus mutations must reach deep into the checks, or the test proves little.
                for (final DropReason reason : new DropReason[] {DropReason.TRUNCATED, DropReason.BAD_MAGIC,
                    DropReason.BAD_FLAGS, DropReason.MALFORMED, DropReason.BAD_OBJECT_ID, DropReason.BAD_LENGTH,
                    DropReason.INDEX_OUT_OF_RANGE, DropReason.DUPLICATE, DropReason.UNSUPPORTED_FEC, DropReason.BAD_FEC}) {
                    assertTrue(rx.counters().drops(reason) > 0, "exercised " + reason + ": " + rx.counters());
                }
                assertTrue(rx.counters().drops(DropReason.OVER_CAPACITY) + rx.counters().drops(DropReason.INCONSISTENT) > 0,
                    rx.counters().toJson());
                assertTrue(rx.counters().fragments() > 0 && rx.counters().heartbeats() > 0 && rx.counters().lifecycles() > 0);
            }
        }
    }
}
