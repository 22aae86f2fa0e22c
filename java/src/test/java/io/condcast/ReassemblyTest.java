package io.condcast;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** In-process reassembly (SPEC 5.2, 5.3): shuffled, duplicated, dropped fragments; bounds; keys; gaps. */
class ReassemblyTest {
    static final AuthKey KEY = AuthKey.fromHex(7, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");

    static byte[] payload(final int size, final long seed) {
        final byte[] p = new byte[size];
        new Random(seed).nextBytes(p);
        return p;
    }

    static List<byte[]> encode(final long sender, final long sequence, final UUID id, final byte[] payload,
                               final int datagramSize, final AuthKey key) {
        final ObjectMetadata meta = ObjectMetadata.of("TPC/Calib/Gain", 1_700_000_000_000L, 1_700_086_400_000L,
            1_700_000_000_123L, "application/octet-stream", "gain.root",
            ObjectCodec.md5Hex(ByteBuffer.wrap(payload)), Map.of("runNumber", "523897"));
        return new ObjectEncoder(sender, sequence, id, meta, ByteBuffer.wrap(payload), datagramSize, key).datagrams();
    }

    @Test
    void shuffledAndDuplicatedFragmentsYieldTheObjectOnce() {
        final Random r = new Random(1);
        for (int round = 0; round < 30; round++) {
            final byte[] p = payload(r.nextInt(20_000), round);
            final List<byte[]> ds = encode(42, 1 + round, UUID.randomUUID(), p, 256 + r.nextInt(2000), null);
            final List<byte[]> order = new ArrayList<>(ds);
            for (int i = 0; i < ds.size() / 3; i++) {
                order.add(ds.get(r.nextInt(ds.size())));
            }
            Collections.shuffle(order, r);
            final TestSupport.Collector c = new TestSupport.Collector();
            final Receiver rx = new Receiver(ReceiverOptions.builder().build(), c);
            for (final byte[] d : order) {
                rx.handleDatagram(d, 0);
            }
            assertEquals(1, c.objects.size());
            assertArrayEquals(p, c.objects.get(0).payloadBytes());
            assertEquals(order.size() - ds.size(), rx.counters().drops(DropReason.DUPLICATE));
            assertEquals(0, rx.counters().partialObjects());
            assertEquals(0, rx.counters().partialBytes());
        }
    }

    @Test
    void droppedFragmentsLeaveMissingRangesThenExpire() {
        final byte[] p = payload(5000, 2);
        final List<byte[]> ds = encode(42, 1, UUID.randomUUID(), p, 300, null);
        final TestSupport.Collector c = new TestSupport.Collector();
        final Receiver rx = new Receiver(ReceiverOptions.builder().partialTimeoutMs(1000).build(), c);
        for (int i = 0; i < ds.size(); i++) {
            if (i != 0 && i != 5 && i != 6) {
                rx.handleDatagram(ds.get(i), 100);
            }
        }
        assertTrue(c.objects.isEmpty());
        final PartialObject partial = rx.incomplete().get(0);
        final int fs = partial.fragmentSize();
        assertEquals(List.of(new ByteRange(0, fs), new ByteRange(5L * fs, 7L * fs)), partial.missingEnvelopeRanges());
        assertTrue(partial.metadataMissing());
        final int meta = partial.metadataLength();
        assertTrue(meta < fs, "the metadata fits the first fragment here");
        assertEquals(List.of(new ByteRange(0, fs - meta), new ByteRange(5L * fs - meta, 7L * fs - meta)),
            partial.missingPayloadRanges());
        assertEquals(partial.chargedBytes(), rx.counters().partialBytes());
        rx.expire(1099);
        assertEquals(1, rx.counters().partialObjects(), "not yet expired");
        rx.expire(1100);
        assertEquals(List.of(DropReason.EXPIRED), c.dropped);
        assertEquals(1, rx.counters().drops(DropReason.EXPIRED));
        assertEquals(0, rx.counters().partialObjects());
        assertEquals(0, rx.counters().partialBytes());
    }

    @Test
    void releasedObjectCanBeRepairedFromRanges() {
        final byte[] p = payload(3000, 3);
        final UUID id = UUID.randomUUID();
        final List<byte[]> ds = encode(9, 1, id, p, 400, null);
        final Receiver rx = new Receiver(ReceiverOptions.builder().build(), new TestSupport.Collector());
        for (int i = 1; i < ds.size(); i++) {
            rx.handleDatagram(ds.get(i), 0);
        }
        final PartialObject partial = rx.release(9, id);
        assertEquals(0, rx.counters().partialObjects());
        rx.handleDatagram(ds.get(0), 0);
        assertEquals(1, rx.counters().drops(DropReason.DUPLICATE), "a released object's fragments are duplicates");
        // Fill the missing envelope bytes from the original envelope (as an HTTP repair would).
        final DatagramDecoder dec = new DatagramDecoder();
        assertNull(dec.decode(ds.get(0)));
        final byte[] chunk = new byte[dec.fragment().chunkLength()];
        dec.fragment().buffer().get(dec.fragment().chunkOffset(), chunk);
        partial.fillEnvelope(0, chunk);
        assertTrue(partial.complete());
        assertEquals(ObjectCodec.md5Hex(ByteBuffer.wrap(p)), partial.payloadMd5());
    }

    @Test
    void inconsistentFragmentsAreDropped() {
        final UUID id = UUID.randomUUID();
        final List<byte[]> a = encode(1, 1, id, payload(2000, 4), 300, null);
        final List<byte[]> b = encode(1, 2, id, payload(2000, 4), 300, null); // same id, other sequence
        final List<byte[]> c = encode(1, 1, id, payload(2000, 4), 400, null); // other fragment size
        final TestSupport.Collector col = new TestSupport.Collector();
        final Receiver rx = new Receiver(ReceiverOptions.builder().build(), col);
        rx.handleDatagram(a.get(0), 0);
        rx.handleDatagram(b.get(1), 0);
        rx.handleDatagram(c.get(1), 0);
        assertEquals(2, rx.counters().drops(DropReason.INCONSISTENT));
        for (final byte[] d : a) {
            rx.handleDatagram(d, 0);
        }
        assertEquals(1, col.objects.size());
        rx.handleDatagram(a.get(2), 0);
        assertEquals(2, rx.counters().drops(DropReason.DUPLICATE), "one held, one of a completed object");
    }

    @Test
    void partialBytesAndObjectCapsHold() {
        final long cap = 50_000;
        final TestSupport.Collector col = new TestSupport.Collector();
        final Receiver rx = new Receiver(ReceiverOptions.builder().maxPartialBytes(cap).maxPartialObjects(3).build(), col);
        // A first fragment of an object larger than the cap: over_capacity, nothing held.
        rx.handleDatagram(encode(1, 1, UUID.randomUUID(), payload(60_000, 5), 1472, null).get(1), 0);
        assertEquals(1, rx.counters().drops(DropReason.OVER_CAPACITY));
        assertEquals(0, rx.counters().partialBytes());
        // Incomplete objects up to the caps.
        for (int i = 0; i < 10; i++) {
            rx.handleDatagram(encode(1, 2 + i, UUID.randomUUID(), payload(12_000, 6), 1472, null).get(0), 0);
            assertTrue(rx.counters().partialBytes() <= cap);
            assertTrue(rx.counters().partialObjects() <= 3);
        }
        assertEquals(3, rx.counters().partialObjects());
        assertEquals(1 + 7, rx.counters().drops(DropReason.OVER_CAPACITY));
        // Completing objects frees room.
        rx.expire(Long.MAX_VALUE / 2);
        assertEquals(0, rx.counters().partialBytes());
        final byte[] p = payload(12_000, 7);
        for (final byte[] d : encode(1, 20, UUID.randomUUID(), p, 1472, null)) {
            rx.handleDatagram(d, 0);
        }
        assertEquals(1, col.objects.size());
    }

    @Test
    void receiverEnvelopeCapRejectsOversize() {
        final Receiver rx = new Receiver(ReceiverOptions.builder().maxEnvelopeLength(1000).build(), new TestSupport.Collector());
        rx.handleDatagram(encode(1, 1, UUID.randomUUID(), payload(2000, 8), 1472, null).get(0), 0);
        assertEquals(1, rx.counters().drops(DropReason.OVERSIZE));
    }

    @Test
    void wrongKeysAreRejected() {
        final AuthKey other = AuthKey.fromHex(7, "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
        final AuthKey otherId = AuthKey.fromHex(8, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
        final byte[] p = payload(3000, 9);
        final List<byte[]> signed = encode(1, 1, UUID.randomUUID(), p, 512, KEY);
        final List<byte[]> plain = encode(1, 2, UUID.randomUUID(), p, 512, null);
        final Object[][] cases = {
            {List.of(KEY), signed, null},
            {List.of(other), signed, DropReason.BAD_MAC},
            {List.of(otherId), signed, DropReason.UNKNOWN_KEY},
            {List.of(KEY), plain, DropReason.UNAUTHENTICATED},
            {List.of(), signed, null}, // no keys: the trailer is stripped, not verified
            {List.of(other, KEY), signed, DropReason.BAD_MAC}, // id 7 names the first key with id 7
        };
        for (final Object[] c : cases) {
            @SuppressWarnings("unchecked") final List<AuthKey> keys = (List<AuthKey>) c[0];
            @SuppressWarnings("unchecked") final List<byte[]> ds = (List<byte[]>) c[1];
            final TestSupport.Collector col = new TestSupport.Collector();
            final Receiver rx = new Receiver(ReceiverOptions.builder().keys(keys).build(), col);
            for (final byte[] d : ds) {
                rx.handleDatagram(d, 0);
            }
            if (c[2] == null) {
                assertEquals(1, col.objects.size());
                assertArrayEquals(p, col.objects.get(0).payloadBytes());
            } else {
                assertTrue(col.objects.isEmpty());
                assertEquals(ds.size(), rx.counters().drops((DropReason) c[2]));
            }
        }
        // One flipped bit anywhere in a signed datagram: bad_mac (or an earlier preamble check).
        final DatagramDecoder dec = new DatagramDecoder(List.of(KEY), Wire.MAX_ENVELOPE_LENGTH);
        final byte[] d = signed.get(1);
        for (int i = 0; i < d.length; i++) {
            final byte[] m = d.clone();
            m[i] ^= 0x10;
            final DropReason reason = dec.decode(m);
            assertTrue(reason != null, "flip at " + i);
            if (i >= 8 && i < d.length - 20) {
                assertEquals(DropReason.BAD_MAC, reason, "flip at " + i);
            }
        }
    }

    @Test
    void sequenceGapsPerSender() {
        final TestSupport.Collector col = new TestSupport.Collector();
        final Receiver rx = new Receiver(ReceiverOptions.builder().build(), col);
        final byte[] p = payload(10, 1);
        for (final long seq : new long[] {5, 6, 9, 7}) {
            for (final byte[] d : encode(1, seq, UUID.randomUUID(), p, 1472, null)) {
                rx.handleDatagram(d, 0);
            }
        }
        for (final byte[] d : encode(2, 100, UUID.randomUUID(), p, 1472, null)) {
            rx.handleDatagram(d, 0);
        }
        assertEquals(List.of(new SequenceGap(1, 7, 8)), col.gaps);
        // A heartbeat announcing last_sequence L > highest reports [highest + 1, L].
        rx.handleDatagram(ControlCodec.encodeHeartbeat(new HeartbeatInfo(2, 103, 0, 1000, ""), null), 0);
        assertEquals(new SequenceGap(2, 101, 103), col.gaps.get(1));
        rx.handleDatagram(ControlCodec.encodeHeartbeat(new HeartbeatInfo(2, 103, 0, 1000, ""), null), 0);
        rx.handleDatagram(ControlCodec.encodeLifecycle(new LifecycleInfo(2, 105, UUID.randomUUID(),
            LifecycleAction.DELETED, "A/B", 0, null, 0), null), 0);
        assertEquals(List.of(new SequenceGap(1, 7, 8), new SequenceGap(2, 101, 103), new SequenceGap(2, 104, 104)), col.gaps);
        assertEquals(1, col.lifecycles.size());
        assertEquals(2, col.heartbeats.size());
        assertFalse(col.objects.isEmpty());
    }
}
