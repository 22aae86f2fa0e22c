package io.condcast;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.condcast.wire.v1.Commit;
import io.condcast.wire.v1.Heartbeat;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** Commit (kind 4) and heartbeat keys beyond the vectors: SPEC 5.1 rows 10, 11, 19; encodeCommit; counters. */
class CommitTest {
    private static final UUID LOW = UUID.fromString("7fffffff-0000-4000-8000-000000000001");
    private static final UUID HIGH = UUID.fromString("80000000-0000-4000-8000-000000000001");

    private static Commit.Builder valid() {
        return Commit.newBuilder().setSenderId(1).setSequence(7).setKeytable("online").setKey(42).setParentKey(41)
            .setChangeset("cs-0001").setObjectCount(1).addObjectIds(id(LOW)).setCommittedAt(1);
    }

    private static ByteString id(final UUID id) {
        return ByteString.copyFrom(Ids.uuidToBytes(id));
    }

    private static DropReason decode(final Commit.Builder b) {
        return new DatagramDecoder().decode(ControlCodec.frameDatagram(Wire.KIND_COMMIT, b.build().toByteArray(), null));
    }

    private static DropReason decode(final Heartbeat.Builder b) {
        return new DatagramDecoder().decode(ControlCodec.frameDatagram(Wire.KIND_HEARTBEAT, b.build().toByteArray(), null));
    }

    @Test
    void validCommitsDecode() {
        assertNull(decode(valid()));
        assertNull(decode(valid().setParentKey(0).setKey(1)), "a keytable's first key");
        assertNull(decode(valid().clearObjectIds().setObjectCount(500)), "ids left out");
        assertNull(decode(valid().setKey(0).setParentKey(0).setAborted(true)), "aborted");
        assertNull(decode(valid().setKeytable("a".repeat(64)).setChangeset("A-z_0.9")));
        assertNull(decode(valid().addRemovedPaths("A/B").addRemovedPaths("a/b")));
        // Ids compare as unsigned bytes: 0x7f... before 0x80... (a signed comparison would swap them).
        assertNull(decode(valid().setObjectCount(2).addObjectIds(id(HIGH))));
    }

    @Test
    void malformedCommits() {
        assertEquals(DropReason.MALFORMED, decode(valid().setSequence(Wire.MAX_SEQUENCE + 1)));
        assertEquals(DropReason.MALFORMED, decode(valid().setSequence(-1)));
        assertEquals(DropReason.MALFORMED, decode(valid().setKey(Wire.MAX_SEQUENCE + 1)));
        assertEquals(DropReason.MALFORMED, decode(valid().setParentKey(-1)));
        // object_ids (field 8) as a varint: a wrong wire type for a repeated bytes field.
        final byte[] body = valid().build().toByteArray();
        final byte[] wrong = new byte[body.length + 2];
        System.arraycopy(body, 0, wrong, 0, body.length);
        wrong[body.length] = (byte) (8 << 3);
        wrong[body.length + 1] = 1;
        assertEquals(DropReason.MALFORMED, new DatagramDecoder().decode(ControlCodec.frameDatagram(Wire.KIND_COMMIT, wrong, null)));
    }

    @Test
    void badCommits() {
        assertEquals(DropReason.BAD_OBJECT_ID, decode(valid().setObjectCount(2).addObjectIds(ByteString.copyFrom(new byte[17]))));
        assertEquals(DropReason.BAD_COMMIT, decode(valid().setKey(0).setParentKey(0)), "key 0 not aborted");
        assertEquals(DropReason.BAD_COMMIT, decode(valid().setParentKey(43)));
        assertEquals(DropReason.BAD_COMMIT, decode(valid().setAborted(true)), "aborted with a key");
        assertEquals(DropReason.BAD_COMMIT, decode(valid().setKey(0).setParentKey(1).setAborted(true)));
        assertEquals(DropReason.BAD_COMMIT, decode(valid().setKeytable("")));
        assertEquals(DropReason.BAD_COMMIT, decode(valid().setKeytable("a".repeat(65))));
        assertEquals(DropReason.BAD_COMMIT, decode(valid().setChangeset("")));
        assertEquals(DropReason.BAD_COMMIT, decode(valid().setChangeset("cs 1")));
        assertEquals(DropReason.BAD_COMMIT, decode(valid().setChangeset("é")));
        assertEquals(DropReason.BAD_COMMIT, decode(valid().setObjectCount(2).addObjectIds(id(LOW))), "duplicate id");
        assertEquals(DropReason.BAD_COMMIT, decode(valid().setObjectCount(0)));
        assertEquals(DropReason.BAD_COMMIT, decode(valid().addRemovedPaths("b").addRemovedPaths("a")));
        assertEquals(DropReason.BAD_COMMIT, decode(valid().addRemovedPaths("a").addRemovedPaths("a")));
    }

    @Test
    void heartbeatKeys() {
        final Heartbeat.Builder hb = Heartbeat.newBuilder().setSenderId(1).setLastSequence(3);
        final List<KeyPosition> keys = new ArrayList<>();
        for (int i = 0; i < Wire.MAX_HEARTBEAT_KEYS; i++) {
            keys.add(new KeyPosition(String.format("kt%02d", i), i));
        }
        final List<KeyPosition> reversed = new ArrayList<>(keys);
        java.util.Collections.reverse(reversed);
        final HeartbeatInfo info = new HeartbeatInfo(1, 3, 0, 1000, "", reversed);
        final DatagramDecoder decoder = new DatagramDecoder();
        assertNull(decoder.decode(ControlCodec.encodeHeartbeat(info, null)));
        assertEquals(keys, decoder.heartbeat().keys(), "sorted by keytable on the wire");
        final io.condcast.wire.v1.KeyPosition.Builder k = io.condcast.wire.v1.KeyPosition.newBuilder();
        assertEquals(DropReason.MALFORMED, decode(hb.clone().addKeys(k.setKeytable("a").setKey(Wire.MAX_SEQUENCE + 1))));
        assertEquals(DropReason.BAD_COMMIT, decode(hb.clone().addKeys(k.setKeytable("a/b").setKey(1))));
        assertEquals(DropReason.BAD_COMMIT, decode(hb.clone().addKeys(k.setKeytable("a").setKey(1)).addKeys(k.setKeytable("a"))));
        final Heartbeat.Builder many = hb.clone();
        for (int i = 0; i <= Wire.MAX_HEARTBEAT_KEYS; i++) {
            many.addKeys(k.setKeytable(String.format("kt%02d", i)).setKey(i));
        }
        assertEquals(DropReason.BAD_COMMIT, decode(many));
    }

    @Test
    void encodeCommitLeavesIdsOutOnlyWhenTheyDoNotFit() {
        final List<UUID> ids = List.of(HIGH, LOW, LOW);
        final CommitInfo info = new CommitInfo(1, 7, "online", 42, 41, "cs-0001", 2, ids, List.of("b", "a"), 5, false);
        final byte[] full = ControlCodec.encodeCommit(info, 1472, null);
        final DatagramDecoder decoder = new DatagramDecoder();
        assertNull(decoder.decode(full));
        assertEquals(List.of(LOW, HIGH), decoder.commit().objectIds(), "unique, ascending bytewise");
        assertEquals(List.of("a", "b"), decoder.commit().removedPaths());
        final byte[] exact = ControlCodec.encodeCommit(info, full.length, null);
        assertArrayEquals(full, exact, "ids kept at exactly the datagram size");
        final byte[] bare = ControlCodec.encodeCommit(info, full.length - 1, null);
        assertTrue(bare.length < full.length);
        assertNull(decoder.decode(bare));
        assertEquals(List.of(), decoder.commit().objectIds());
        assertEquals(2, decoder.commit().objectCount());
        assertThrows(IllegalArgumentException.class, () -> ControlCodec.encodeCommit(info, 20, null));
    }

    @Test
    void receiverCountsCommitsAndObservesTheirSequence() {
        final TestSupport.Collector c = new TestSupport.Collector();
        final Receiver r = new Receiver(ReceiverOptions.builder().build(), c);
        final CommitInfo first = new CommitInfo(9, 1, "online", 1, 0, "cs-1", 0, List.of(), List.of(), 5, false);
        final CommitInfo third = new CommitInfo(9, 3, "online", 2, 1, "cs-2", 0, List.of(), List.of(), 6, false);
        r.handleDatagram(ControlCodec.encodeCommit(first, 1472, null), 0);
        r.handleDatagram(ControlCodec.encodeCommit(third, 1472, null), 0);
        assertEquals(List.of(first, third), c.commits);
        assertEquals(2, r.counters().commits());
        assertEquals(1, c.gaps.size());
        assertEquals(2, c.gaps.get(0).from());
        assertEquals(2, c.gaps.get(0).to());
        assertTrue(r.counters().toJson().contains("\"lifecycles\":0,\"commits\":2,\"commitCopies\":0,\"objectsCompleted\":0"));
        assertTrue(r.counters().toJson().contains("\"index_out_of_range\":0,\"bad_commit\":0,\"inconsistent\":0"));
        assertTrue(r.counters().toJson().contains("\"expired\":0,\"uncommitted\":0}"));
    }

    @Test
    void copiesOfACommitAreTakenOnceAndAreNoDrop() {
        // SPEC 4.5 / 5.4: the same datagram three times (before its objects, and after the delivery).
        final TestSupport.Collector c = new TestSupport.Collector();
        final Receiver r = new Receiver(ReceiverOptions.builder().build(), c);
        final CommitInfo commit = new CommitInfo(9, 4, "online", 2, 1, "cs-1", 0, List.of(), List.of(), 5, false);
        final byte[] datagram = ControlCodec.encodeCommit(commit, 1472, null);
        r.handleDatagram(datagram, 0);
        r.handleDatagram(datagram, 1);
        r.handleDatagram(datagram, 2);
        assertEquals(List.of(commit), c.commits);
        assertEquals(1, r.counters().commits());
        assertEquals(2, r.counters().commitCopies());
        assertEquals(0, r.counters().totalDrops());
        assertEquals(List.of(), c.ignored);
        assertTrue(r.counters().toJson().contains("\"commits\":1,\"commitCopies\":2,"));
    }

    @Test
    void changesetInObjectMetadata() {
        final ObjectMetadata meta = new ObjectMetadata("A/B", 1, 2, 0, "t", "f", "d41d8cd98f00b204e9800998ecf8427e",
            null, "cs-0001");
        final byte[] head = ObjectCodec.encodeObjectMeta(meta);
        assertEquals(meta, ObjectCodec.decodeObjectMeta(ByteBuffer.wrap(head), 0, head.length));
        final byte[] none = ObjectCodec.encodeObjectMeta(meta.withChangeset(""));
        assertEquals("", ObjectCodec.decodeObjectMeta(ByteBuffer.wrap(none), 0, none.length).changeset());
        assertTrue(none.length < head.length, "an empty changeset is not on the wire");
        assertThrows(IllegalArgumentException.class, () -> ObjectCodec.encodeObjectMeta(meta.withChangeset("a/b")));
        assertThrows(IllegalArgumentException.class, () -> ObjectCodec.encodeObjectMeta(meta.withChangeset("x".repeat(65))));
    }
}
