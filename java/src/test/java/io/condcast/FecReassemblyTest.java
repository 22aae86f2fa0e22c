package io.condcast;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** Reassembly with FEC scheme 1 (SPEC 5.2, 10.5): loss injection, counters, bounds, missing ranges. */
class FecReassemblyTest {
    static ObjectEncoder encoder(final UUID id, final byte[] payload, final int datagramSize, final double parity,
                                 final int block, final int interleave) {
        final ObjectMetadata meta = ObjectMetadata.of("TPC/Calib/Gain", 1_700_000_000_000L, 1_700_086_400_000L,
            1_700_000_000_123L, "application/octet-stream", "gain.root",
            ObjectCodec.md5Hex(ByteBuffer.wrap(payload)), Map.of("runNumber", "523897"));
        return new ObjectEncoder(42, 1, id, meta, ByteBuffer.wrap(payload), datagramSize, null, parity, block, interleave);
    }

    /** Fragment index of each datagram (send order). */
    static long[] indexes(final List<byte[]> datagrams) {
        final long[] out = new long[datagrams.size()];
        final DatagramDecoder dec = new DatagramDecoder();
        for (int i = 0; i < out.length; i++) {
            assertNull(dec.decode(datagrams.get(i)));
            out[i] = dec.fragment().index();
        }
        return out;
    }

    /**
     * The property: an object completes without repair exactly when every block lost at most m of its
     * k + m fragments; the counters say how many sources were rebuilt; an incomplete object lists k − h
     * missing sources per undecodable block.
     */
    @Test
    void randomLossIsRepairedWhileEachBlockLosesAtMostM() {
        final Random r = new Random(Long.getLong("condcast.fec.seed", 77));
        int completed = 0;
        int incomplete = 0;
        for (int round = 0; round < 60; round++) {
            final byte[] payload = ReassemblyTest.payload(1 + r.nextInt(round < 20 ? 20_000 : 400_000), round);
            final int datagramSize = 256 + r.nextInt(1300);
            final double parity = new double[] {0.05, 0.1, 0.2, 0.5, 1}[r.nextInt(5)];
            final int units = FecLayout.parityUnits(parity);
            final int block = 1 + r.nextInt(FecLayout.defaultBlockLength(units));
            final ObjectEncoder enc = encoder(UUID.randomUUID(), payload, datagramSize, parity, block, 1 + r.nextInt(20));
            final List<byte[]> ds = enc.datagrams();
            final long[] idx = indexes(ds);
            final FecLayout layout = enc.fecLayout();
            final double loss = r.nextDouble() * 0.15;
            final Map<Long, Integer> lostPerBlock = new HashMap<>();
            final Map<Long, Integer> lostSourcesPerBlock = new HashMap<>();
            final TestSupport.Collector c = new TestSupport.Collector();
            final Receiver rx = new Receiver(ReceiverOptions.builder().build(), c);
            for (int i = 0; i < ds.size(); i++) {
                final long index = idx[i];
                final boolean source = index < layout.sourceCount();
                final long b = source ? layout.blockOf(index) : (index - layout.sourceCount()) / layout.parityCount();
                if (r.nextDouble() < loss) {
                    lostPerBlock.merge(b, 1, Integer::sum);
                    if (source) {
                        lostSourcesPerBlock.merge(b, 1, Integer::sum);
                    }
                    continue;
                }
                rx.handleDatagram(ds.get(i), 0);
            }
            final boolean decodable = lostPerBlock.values().stream().allMatch(n -> n <= layout.parityCount());
            final long lostSources = lostSourcesPerBlock.values().stream().mapToInt(Integer::intValue).sum();
            if (decodable) {
                completed++;
                assertEquals(1, c.objects.size(), "round " + round);
                assertArrayEquals(payload, c.objects.get(0).payloadBytes());
                assertEquals(lostSources, rx.counters().fragmentsRecovered());
                assertEquals(lostSources, rx.counters().parityUsed());
                assertEquals(lostSourcesPerBlock.values().stream().filter(n -> n > 0).count(), rx.counters().blocksDecoded());
                assertEquals(0, rx.counters().totalDrops(), rx.counters().toJson());
                assertEquals(0, rx.counters().partialBytes());
            } else {
                incomplete++;
                assertTrue(c.objects.isEmpty(), "round " + round);
                final PartialObject p = rx.incomplete().get(0);
                // Listed: per undecodable block, k − h of its missing sources (the first ones).
                long listed = 0;
                for (final ByteRange range : p.missingEnvelopeRanges()) {
                    listed += Wire.fragmentCount(range.end() - range.start(), p.fragmentSize());
                }
                long expected = 0;
                for (final Map.Entry<Long, Integer> e : lostPerBlock.entrySet()) {
                    if (e.getValue() > layout.parityCount()) {
                        expected += e.getValue() - layout.parityCount(); // k − h = lost − m
                    }
                }
                assertEquals(expected, listed, "round " + round);
                // Filling exactly the listed ranges from the original envelope completes the object.
                final byte[] envelope = envelopeOf(enc);
                for (final ByteRange range : p.missingEnvelopeRanges()) {
                    p.fillEnvelope((int) range.start(), java.util.Arrays.copyOfRange(envelope, (int) range.start(), (int) range.end()));
                }
                assertTrue(p.complete(), "round " + round);
                assertEquals(ObjectCodec.md5Hex(ByteBuffer.wrap(payload)), p.payloadMd5());
            }
        }
        assertTrue(completed > 10 && incomplete > 5, completed + " completed, " + incomplete + " incomplete");
    }

    private static byte[] envelopeOf(final ObjectEncoder enc) {
        final byte[] envelope = new byte[(int) enc.envelopeLength()];
        final ByteBuffer buf = ByteBuffer.allocate(enc.datagramSize());
        final DatagramDecoder dec = new DatagramDecoder();
        for (long i = 0; i < enc.sourceCount(); i++) {
            final int length = enc.writeDatagram(i, buf);
            assertNull(dec.decode(buf, length));
            buf.get(dec.fragment().chunkOffset(), envelope, (int) (i * enc.fragmentSize()), dec.fragment().chunkLength());
        }
        return envelope;
    }

    @Test
    void burstsShorterThanInterleaveTimesParityAreRepaired() {
        final byte[] payload = ReassemblyTest.payload(6_000_000, 9);
        final ObjectEncoder enc = encoder(UUID.randomUUID(), payload, 1472, 0.05, 0, 16);
        final List<byte[]> ds = enc.datagrams();
        final FecLayout layout = enc.fecLayout();
        assertEquals(242, layout.blockLength());
        // 16 blocks per group, m of each: a burst of 16 · m consecutive datagrams costs each block m.
        final int burst = 16 * layout.parityCount();
        for (final int at : new int[] {0, 1000, 3000}) {
            final TestSupport.Collector c = new TestSupport.Collector();
            final Receiver rx = new Receiver(ReceiverOptions.builder().build(), c);
            for (int i = 0; i < ds.size(); i++) {
                if (i < at || i >= at + burst) {
                    rx.handleDatagram(ds.get(i), 0);
                }
            }
            assertEquals(1, c.objects.size(), "burst at " + at);
            assertArrayEquals(payload, c.objects.get(0).payloadBytes());
            assertTrue(rx.counters().blocksDecoded() >= 16);
        }
    }

    @Test
    void parityOfCompleteBlocksIsDiscardedAndHeldParityDuplicatesCount() {
        final byte[] payload = ReassemblyTest.payload(5000, 3);
        final ObjectEncoder enc = encoder(UUID.randomUUID(), payload, 300, 0.5, 4, 1);
        final List<byte[]> ds = enc.datagrams();
        final long[] idx = indexes(ds);
        final FecLayout layout = enc.fecLayout();
        final TestSupport.Collector c = new TestSupport.Collector();
        final Receiver rx = new Receiver(ReceiverOptions.builder().build(), c);
        // Block 0's parity first (held: its sources are missing), twice.
        final List<Integer> parity0 = new ArrayList<>();
        for (int i = 0; i < ds.size(); i++) {
            if (idx[i] >= layout.parityIndex(0, 0) && idx[i] < layout.parityIndex(1, 0)) {
                parity0.add(i);
            }
        }
        assertEquals(layout.parityCount(), parity0.size());
        rx.handleDatagram(ds.get(parity0.get(0)), 0);
        rx.handleDatagram(ds.get(parity0.get(0)), 0);
        assertEquals(1, rx.counters().drops(DropReason.DUPLICATE), "a held parity fragment again: duplicate");
        final PartialObject p = rx.incomplete().get(0);
        assertEquals(p.chargedBytes(), rx.counters().partialBytes());
        final long symbolBytes = FecDecoder.symbolBytes(enc.symbolSize());
        assertTrue(p.chargedBytes() >= PartialObject.chargeFor(p.envelopeLength(), p.fragmentSize())
            + layout.blockCount() * layout.parityCount() * symbolBytes, "the charge covers every parity fragment");
        // Then everything in send order: block 0 decodes early (held parity + enough sources).
        for (final byte[] d : ds) {
            rx.handleDatagram(d, 0);
        }
        assertEquals(1, c.objects.size());
        assertArrayEquals(payload, c.objects.get(0).payloadBytes());
        assertEquals(1, rx.counters().blocksDecoded());
        // Later parity of complete blocks and of the completed object: not drops; sources: duplicates.
        assertEquals(rx.counters().drops(DropReason.DUPLICATE), rx.counters().totalDrops());
        assertEquals(0, rx.counters().partialBytes());
    }

    @Test
    void fecFieldsMustAgreeWithTheFirstFragment() {
        final UUID id = UUID.randomUUID();
        final byte[] payload = ReassemblyTest.payload(3000, 4);
        final List<byte[]> a = encoder(id, payload, 300, 0.2, 5, 2).datagrams();
        final List<byte[]> otherB = encoder(id, payload, 300, 0.2, 6, 2).datagrams();
        final List<byte[]> otherM = encoder(id, payload, 300, 0.5, 5, 2).datagrams();
        final List<byte[]> none = ReassemblyTest.encode(42, 1, id, payload, 300, null);
        final TestSupport.Collector c = new TestSupport.Collector();
        final Receiver rx = new Receiver(ReceiverOptions.builder().build(), c);
        rx.handleDatagram(a.get(0), 0);
        rx.handleDatagram(otherB.get(1), 0);
        rx.handleDatagram(otherM.get(1), 0);
        rx.handleDatagram(none.get(1), 0);
        assertEquals(3, rx.counters().drops(DropReason.INCONSISTENT));
        for (final byte[] d : a) {
            rx.handleDatagram(d, 0);
        }
        assertEquals(1, c.objects.size());
    }

    @Test
    void theParityChargeCountsAgainstTheCap() {
        final byte[] payload = ReassemblyTest.payload(40_000, 5);
        final ObjectEncoder enc = encoder(UUID.randomUUID(), payload, 1472, 1, 0, 16); // m = k: the charge doubles
        final long plain = PartialObject.chargeFor(enc.envelopeLength(), enc.fragmentSize());
        final TestSupport.Collector c = new TestSupport.Collector();
        final Receiver rx = new Receiver(ReceiverOptions.builder().maxPartialBytes(plain + 1000).build(), c);
        rx.handleDatagram(enc.datagrams().get(0), 0);
        assertEquals(1, rx.counters().drops(DropReason.OVER_CAPACITY));
        assertEquals(0, rx.counters().partialBytes());
    }

    @Test
    void metadataRebuiltByParityNeedsNoHead() {
        final byte[] payload = ReassemblyTest.payload(20_000, 6);
        final ObjectEncoder enc = encoder(UUID.randomUUID(), payload, 600, 0.2, 10, 1);
        final List<byte[]> ds = enc.datagrams();
        final long[] idx = indexes(ds);
        final TestSupport.Collector c = new TestSupport.Collector();
        final Receiver rx = new Receiver(ReceiverOptions.builder().build(), c);
        // Fragment 0 (metadata) lost, and all of the last block's parity: block 0 decodes, the object
        // then waits only for its last block's sources.
        final FecLayout layout = enc.fecLayout();
        final long lastBlock = layout.blockCount() - 1;
        for (int i = 0; i < ds.size(); i++) {
            final boolean lastBlockSource = idx[i] >= layout.blockStart(lastBlock) && idx[i] < layout.sourceCount();
            if (idx[i] != 0 && !(lastBlockSource && idx[i] == layout.sourceCount() - 1)) {
                rx.handleDatagram(ds.get(i), 0);
            }
        }
        // The last block lost its last source and got its parity: decoded too. Everything arrived but 0 and T-1.
        assertEquals(1, c.objects.size());
        assertEquals(2, rx.counters().blocksDecoded());
        // Now without any parity: fragment 0 is listed missing and metadata must come over HTTP.
        final Receiver rx2 = new Receiver(ReceiverOptions.builder().build(), new TestSupport.Collector());
        for (int i = 0; i < ds.size(); i++) {
            if (idx[i] != 0 && idx[i] < layout.sourceCount()) {
                rx2.handleDatagram(ds.get(i), 0);
            }
        }
        final PartialObject p = rx2.incomplete().get(0);
        assertTrue(p.metadataMissing());
        assertEquals(List.of(new ByteRange(0, p.fragmentSize())), p.missingEnvelopeRanges());
        // With one parity fragment of block 0 held, nothing is listed and no HEAD is needed.
        for (int i = 0; i < ds.size(); i++) {
            if (idx[i] == layout.parityIndex(0, 1)) {
                rx2.handleDatagram(ds.get(i), 0);
            }
        }
        assertEquals(1, rx2.counters().blocksDecoded());
    }

    @Test
    void aSmallObjectGetsFewParityFragments() {
        // SPEC 10.4: m = parity(A_large), so 3 fragments with p = 0.05 get m = 1, not 13.
        final ObjectEncoder enc = encoder(UUID.randomUUID(), ReassemblyTest.payload(3000, 7), 1472, 0.05, 0, 16);
        assertEquals(3, enc.sourceCount());
        assertEquals(1, enc.fecLayout().parityCount());
        assertEquals(4, enc.count());
        assertEquals(List.of(0L, 1L, 2L, 3L), java.util.Arrays.stream(indexes(enc.datagrams())).boxed().toList());
    }
}
