package io.condcast;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * SPEC 11's staging: the stager alone (commit before and after its objects, ids left out, aborts, the
 * staged timeout, keys that do not move forward, the shared byte cap, duplicates), through a Receiver fed
 * real datagrams, and once over real loopback multicast (group 239.255.42.40, port 42401).
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ChangesetStagerTest {
    private static final long SENDER = 0x0123456789abcdefL;
    private static final String MD5_EMPTY = "d41d8cd98f00b204e9800998ecf8427e";

    private final ReceiverCounters counters = new ReceiverCounters();
    private final TestSupport.Collector events = new TestSupport.Collector();
    private final AtomicLong incomplete = new AtomicLong();

    private ChangesetStager stager(final long cap, final int maxStaged, final long timeoutMs) {
        return new ChangesetStager(counters, events, cap, incomplete::get, maxStaged, timeoutMs, 64);
    }

    private ChangesetStager stager() {
        return stager(1 << 20, 100, 1000);
    }

    private static ReceivedObject object(final long sender, final UUID id, final String changeset, final int size) {
        return new ReceivedObject(id, sender, 1, new ObjectMetadata("A/B", 1, 2, 0, "t", "f", MD5_EMPTY, null, changeset),
            ByteBuffer.wrap(new byte[size]));
    }

    private static ReceivedObject object(final UUID id, final String changeset) {
        return object(SENDER, id, changeset, 10);
    }

    private static CommitInfo commit(final long sender, final String keytable, final long key, final String changeset,
                                     final long count, final List<UUID> ids) {
        return new CommitInfo(sender, 100 + key, keytable, key, key - 1, changeset, count,
            ControlCodec.sortedObjectIds(ids), List.of(), 5, false);
    }

    private static CommitInfo commit(final long key, final String changeset, final List<UUID> ids) {
        return commit(SENDER, "online", key, changeset, ids.size(), ids);
    }

    private static CommitInfo abort(final String changeset, final List<UUID> ids) {
        return new CommitInfo(SENDER, 9, "online", 0, 0, changeset, ids.size(), ControlCodec.sortedObjectIds(ids),
            List.of(), 5, true);
    }

    /** Three ids whose signed and unsigned orders differ, so ascending means unsigned bytes. */
    private static List<UUID> ids() {
        return List.of(UUID.fromString("80000000-0000-4000-8000-000000000001"),
            UUID.fromString("10000000-0000-4000-8000-000000000002"),
            UUID.fromString("7fffffff-0000-4000-8000-000000000003"));
    }

    private static List<UUID> ascending() {
        return List.of(ids().get(1), ids().get(2), ids().get(0));
    }

    private static List<UUID> idsOf(final List<ReceivedObject> objects) {
        final List<UUID> out = new ArrayList<>();
        objects.forEach(o -> out.add(o.id()));
        return out;
    }

    private void assertNothingDelivered() {
        assertEquals(List.of(), events.changesets);
        assertEquals(0, counters.objectsCompleted());
    }

    private void assertDeliveredOnce(final CommitInfo commit, final List<UUID> ids) {
        assertEquals(1, events.changesets.size());
        assertEquals(commit, events.changesets.get(0).commit());
        assertEquals(ids, idsOf(events.changesets.get(0).objects()), "objects in ascending id order");
        assertEquals(ids.size(), counters.objectsCompleted());
    }

    @Test
    void commitAfterItsObjects() {
        final ChangesetStager s = stager();
        for (final UUID id : ids()) {
            s.stage(object(id, "cs-1"), 0);
        }
        assertNothingDelivered();
        assertEquals(3, s.stagedObjects());
        assertEquals(30, s.stagedBytes());
        assertEquals(30, counters.stagedBytes());
        final CommitInfo c = commit(1, "cs-1", ids());
        s.commit(c, 1);
        assertDeliveredOnce(c, ascending());
        assertEquals(0, s.stagedObjects());
        assertEquals(0, s.stagedBytes());
        assertEquals(0, counters.stagedObjects());
        assertEquals(0, s.changesets());
        assertEquals(List.of(), events.dropped);
    }

    @Test
    void commitBeforeItsObjects() {
        final ChangesetStager s = stager();
        final CommitInfo c = commit(1, "cs-1", ids());
        s.commit(c, 0);
        assertEquals(1, s.changesets(), "the commit waits");
        s.stage(object(ids().get(2), "cs-1"), 1);
        s.stage(object(ids().get(0), "cs-1"), 1);
        assertNothingDelivered();
        s.stage(object(ids().get(1), "cs-1"), 2);
        assertDeliveredOnce(c, ascending());
        assertEquals(0, s.changesets());
        // A late copy of one of them (the reassembler forgot it) is dropped: the changeset is closed.
        s.stage(object(ids().get(1), "cs-1"), 3);
        assertEquals(1, counters.drops(DropReason.UNCOMMITTED));
        assertEquals(1, events.changesets.size());
    }

    @Test
    void commitWaitsForEveryObjectItNames() {
        final ChangesetStager s = stager();
        final CommitInfo c = commit(1, "cs-1", ids());
        s.stage(object(ids().get(0), "cs-1"), 0);
        final UUID stranger = UUID.fromString("00000000-0000-4000-8000-0000000000ff");
        s.stage(object(stranger, "cs-1"), 0); // carries the id, not named by the commit
        s.commit(c, 1);
        assertEquals(List.of(stranger), idsOf(events.stagedDropped), "an object the commit does not name is dropped");
        s.stage(object(ids().get(1), "cs-1"), 2);
        s.stage(object(UUID.randomUUID(), "cs-1"), 2); // arrives after the commit, not named either
        assertEquals(2, counters.drops(DropReason.UNCOMMITTED));
        assertNothingDelivered();
        s.stage(object(ids().get(1), "cs-other"), 2); // same id, other changeset: not this one's
        assertNothingDelivered();
        s.stage(object(ids().get(2), "cs-1"), 3);
        assertDeliveredOnce(c, ascending());
    }

    @Test
    void idsLeftOutCountObjectsCarryingTheChangeset() {
        final ChangesetStager s = stager();
        final CommitInfo c = commit(SENDER, "online", 1, "cs-1", 3, List.of());
        s.stage(object(ids().get(0), "cs-1"), 0);
        s.stage(object(ids().get(1), "cs-2"), 0);
        s.stage(object(SENDER + 1, ids().get(1), "cs-1", 10), 0); // another sender's cs-1
        s.commit(c, 1);
        s.stage(object(ids().get(1), "cs-1"), 1);
        assertNothingDelivered();
        s.stage(object(ids().get(2), "cs-1"), 2);
        assertDeliveredOnce(c, ascending());
        assertEquals(2, s.changesets(), "cs-2 and the other sender's cs-1 stay staged");
    }

    @Test
    void idsLeftOutWithMoreObjectsThanCounted() {
        final ChangesetStager s = stager();
        for (final UUID id : ids()) {
            s.stage(object(id, "cs-1"), 0);
        }
        final CommitInfo c = commit(SENDER, "online", 1, "cs-1", 2, List.of());
        s.commit(c, 1);
        assertDeliveredOnce(c, ascending().subList(0, 2));
        assertEquals(List.of(ascending().get(2)), idsOf(events.stagedDropped));
    }

    @Test
    void abortedCommitDropsTheStagedObjects() {
        final ChangesetStager s = stager();
        s.stage(object(ids().get(0), "cs-1"), 0);
        s.stage(object(ids().get(1), "cs-1"), 0);
        s.stage(object(ids().get(2), "cs-2"), 0);
        s.commit(abort("cs-1", ids().subList(0, 2)), 1);
        assertEquals(2, counters.drops(DropReason.UNCOMMITTED));
        assertEquals(List.of(DropReason.UNCOMMITTED, DropReason.UNCOMMITTED), events.dropped);
        assertEquals(1, s.stagedObjects());
        assertEquals(10, s.stagedBytes());
        // A late object of the aborted changeset is dropped at once; a commit of it delivers nothing.
        s.stage(object(UUID.randomUUID(), "cs-1"), 2);
        assertEquals(3, counters.drops(DropReason.UNCOMMITTED));
        s.commit(commit(1, "cs-1", ids().subList(0, 2)), 3);
        assertNothingDelivered();
        assertEquals(1, s.changesets());
    }

    @Test
    void stagedTimeoutDropsChangesetsNeitherCommittedNorAborted() {
        final ChangesetStager s = stager(1 << 20, 100, 1000);
        s.stage(object(ids().get(0), "cs-1"), 0);
        s.commit(commit(1, "cs-2", ids().subList(1, 3)), 500); // waits for objects that never come
        s.stage(object(ids().get(1), "cs-2"), 600);
        s.expire(999);
        assertEquals(0, counters.drops(DropReason.UNCOMMITTED));
        s.expire(1000);
        assertEquals(List.of(ids().get(0)), idsOf(events.stagedDropped));
        assertEquals(1, s.changesets());
        // cs-2's clock runs from its most recent object (600), not from its commit (500): SPEC 11.4.
        s.expire(1599);
        assertEquals(1, s.changesets());
        s.expire(1600);
        assertEquals(List.of(ids().get(0), ids().get(1)), idsOf(events.stagedDropped));
        assertEquals(0, s.changesets());
        assertEquals(0, s.stagedBytes());
        s.stage(object(ids().get(2), "cs-2"), 1700); // too late: the changeset is gone
        assertEquals(3, counters.drops(DropReason.UNCOMMITTED));
        assertNothingDelivered();
    }

    @Test
    void stagedTimeoutRunsFromTheMostRecentlyStagedObjectOfTheChangeset() {
        // SPEC 11.4: per changeset (not per object), from its latest object (not its first); a repeat of an
        // object staged already does not restart the clock.
        final ChangesetStager s = stager(1 << 20, 100, 1000);
        s.stage(object(ids().get(0), "cs-1"), 0);
        s.stage(object(ids().get(1), "cs-1"), 500);
        s.stage(object(ids().get(0), "cs-1"), 900);
        s.expire(1000);
        s.expire(1499);
        assertEquals(List.of(), events.stagedDropped);
        assertEquals(2, s.stagedObjects());
        s.expire(1500);
        assertEquals(List.of(ids().get(1), ids().get(0)), idsOf(events.stagedDropped), "both at once, in id order");
        assertEquals(0, s.changesets());
    }

    @Test
    void resendOfTheKeyHeldLetsItsCopiesGoQuietly() {
        // SPEC 11.6: a run's re-send (a changeset of its own, a commit of the key from parent 0).
        final ChangesetStager s = stager();
        final UUID a = UUID.randomUUID();
        s.stage(object(a, "cs-5"), 0);
        s.commit(commit(5, "cs-5", List.of(a)), 0);
        final CommitInfo resend = new CommitInfo(SENDER, 200, "online", 5, 0, "run-9", 1, List.of(a), List.of(), 5, false);
        s.stage(object(a, "run-9"), 1);
        s.commit(resend, 2);
        assertEquals(1, events.changesets.size());
        assertEquals(List.of(), events.ignored);
        assertEquals(List.of(), events.stagedDropped);
        assertEquals(0, counters.totalDrops());
        assertEquals(1, counters.resendsDiscarded());
        assertEquals(0, s.stagedObjects());
        assertEquals(0, s.changesets());
        // A receiver behind the key flips with the re-send.
        final TestSupport.Collector behindEvents = new TestSupport.Collector();
        final ChangesetStager behind = new ChangesetStager(new ReceiverCounters(), behindEvents, 1 << 20, () -> 0, 100, 1000, 64);
        behind.stage(object(a, "run-9"), 1);
        behind.commit(resend, 2);
        assertEquals(1, behindEvents.changesets.size());
        assertEquals(resend, behindEvents.changesets.get(0).commit());
    }

    @Test
    void keysOnlyMoveForwardPerSenderAndKeytable() {
        final ChangesetStager s = stager();
        final UUID a = UUID.randomUUID();
        s.stage(object(a, "cs-5"), 0);
        s.commit(commit(5, "cs-5", List.of(a)), 0);
        assertEquals(1, events.changesets.size());
        // Key 5 again and key 4: delivered to no one, their staged objects dropped.
        for (final long key : new long[] {5, 4}) {
            final UUID b = UUID.randomUUID();
            s.stage(object(b, "cs-k" + key), 1);
            final CommitInfo stale = commit(key, "cs-k" + key, List.of(b));
            s.commit(stale, 1);
            assertEquals(stale, events.ignored.get(events.ignored.size() - 1));
            assertEquals(5L, events.ignoredHeldKeys.get(events.ignoredHeldKeys.size() - 1));
            assertEquals(b, events.stagedDropped.get(events.stagedDropped.size() - 1).id());
        }
        assertEquals(2, counters.drops(DropReason.UNCOMMITTED));
        assertEquals(1, events.changesets.size());
        // Another keytable and another sender have keys of their own.
        final UUID c = UUID.randomUUID();
        s.stage(object(c, "cs-x"), 2);
        s.commit(commit(SENDER, "offline", 1, "cs-x", 1, List.of(c)), 2);
        final UUID d = UUID.randomUUID();
        s.stage(object(SENDER + 1, d, "cs-y", 1), 2);
        s.commit(commit(SENDER + 1, "online", 2, "cs-y", 1, List.of(d)), 2);
        assertEquals(3, events.changesets.size());
        // A commit waiting for its objects is overtaken by a later key: when complete, it is ignored.
        final UUID e = UUID.randomUUID();
        final UUID f = UUID.randomUUID();
        s.commit(commit(7, "cs-7", List.of(e)), 3);
        s.stage(object(f, "cs-8"), 3);
        s.commit(commit(8, "cs-8", List.of(f)), 3);
        assertEquals(4, events.changesets.size());
        assertEquals(8, events.changesets.get(3).commit().key());
        s.stage(object(e, "cs-7"), 4);
        assertEquals(4, events.changesets.size());
        assertEquals("cs-7", events.ignored.get(events.ignored.size() - 1).changeset());
        assertEquals(8L, events.ignoredHeldKeys.get(events.ignoredHeldKeys.size() - 1));
        assertEquals(e, events.stagedDropped.get(events.stagedDropped.size() - 1).id());
        assertEquals(0, s.stagedObjects());
    }

    @Test
    void overTheCapTheOldestChangesetIsDropped() {
        final ChangesetStager s = stager(1000, 100, 60_000);
        s.stage(object(SENDER, ids().get(0), "cs-old", 400), 0);
        s.stage(object(SENDER, ids().get(1), "cs-old", 200), 1);
        s.stage(object(SENDER, ids().get(2), "cs-new", 300), 2);
        assertEquals(900, s.stagedBytes());
        assertEquals(0, counters.drops(DropReason.UNCOMMITTED));
        incomplete.set(200); // incomplete objects share the cap: 1100 held
        s.stage(object(SENDER, UUID.randomUUID(), "cs-new", 0), 3);
        assertEquals(2, counters.drops(DropReason.UNCOMMITTED), "cs-old, the oldest, with both its objects");
        assertEquals(List.of(ids().get(1), ids().get(0)), idsOf(events.stagedDropped), "in id order");
        assertEquals(300, s.stagedBytes());
        // Room for a new incomplete object: the oldest staged changesets give way, if that is enough.
        assertTrue(s.makeRoom(500));
        assertEquals(300, s.stagedBytes());
        assertTrue(s.makeRoom(800));
        assertEquals(0, s.stagedBytes());
        assertEquals(4, counters.drops(DropReason.UNCOMMITTED));
        assertTrue(!s.makeRoom(801));
    }

    @Test
    void countCapDropsTheOldest() {
        final ChangesetStager s = stager(1 << 20, 2, 60_000);
        s.stage(object(ids().get(0), "cs-1"), 0);
        s.stage(object(ids().get(1), "cs-2"), 1);
        s.stage(object(ids().get(2), "cs-2"), 2);
        assertEquals(List.of(ids().get(0)), idsOf(events.stagedDropped));
        s.commit(commit(1, "cs-3", ids()), 3); // a changeset of only a commit counts too
        assertEquals(1, events.stagedDropped.size());
        s.commit(commit(2, "cs-4", ids()), 4); // a third changeset: cs-2, the oldest, goes
        assertEquals(3, events.stagedDropped.size());
        assertEquals(2, s.changesets());
    }

    @Test
    void duplicateObjectIsHeldOnce() {
        final ChangesetStager s = stager();
        s.stage(object(ids().get(0), "cs-1"), 0);
        s.stage(object(ids().get(0), "cs-1"), 1);
        assertEquals(1, s.stagedObjects());
        assertEquals(10, s.stagedBytes());
        assertEquals(1, counters.drops(DropReason.DUPLICATE));
        final CommitInfo c = commit(SENDER, "online", 1, "cs-1", 2, List.of());
        s.commit(c, 2);
        assertNothingDelivered(); // a duplicate is not a second object
        s.stage(object(ids().get(1), "cs-1"), 3);
        assertDeliveredOnce(c, List.of(ids().get(1), ids().get(0)));
    }

    @Test
    void boundsAreChecked() {
        assertThrows(IllegalArgumentException.class, () -> stager(1, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> ReceiverOptions.builder().stageTimeoutMs(0).build());
    }

    // --- Through a Receiver: real datagrams, the reassembler's cap ---------------------------------------

    private static List<byte[]> datagrams(final UUID id, final long sequence, final String changeset, final byte[] payload) {
        final ObjectMetadata meta = new ObjectMetadata("TPC/Calib/Gain", 1, 2, 3, "application/octet-stream", "f",
            ObjectCodec.md5Hex(ByteBuffer.wrap(payload)), null, changeset);
        return new ObjectEncoder(SENDER, sequence, id, meta, ByteBuffer.wrap(payload), 1472, null, 0.05, 0, 16).datagrams();
    }

    @Test
    void receiverStagesObjectsAndDeliversTheChangeset() {
        final Receiver r = new Receiver(ReceiverOptions.builder().build(), events);
        final Random random = new Random(7);
        final List<UUID> ids = ids();
        final List<byte[]> payloads = new ArrayList<>();
        final List<byte[]> all = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            final byte[] p = new byte[1000 + 3000 * i];
            random.nextBytes(p);
            payloads.add(p);
            all.addAll(datagrams(ids.get(i), i + 1, "cs-1", p));
        }
        all.addAll(datagrams(UUID.randomUUID(), 4, "", new byte[5])); // an object of its own
        Collections.shuffle(all, random);
        for (final byte[] d : all) {
            r.handleDatagram(d, 10);
        }
        assertEquals(1, events.objects.size(), "only the object of its own is delivered");
        assertEquals(3, r.counters().stagedObjects());
        assertEquals(1000 + 4000 + 7000, r.counters().stagedBytes());
        final CommitInfo c = commit(SENDER, "online", 1, "cs-1", 3, ids);
        r.handleDatagram(ControlCodec.encodeCommit(c, 1472, null), 11);
        assertEquals(List.of(c), events.commits);
        assertEquals(1, events.changesets.size());
        assertEquals(c, events.changesets.get(0).commit());
        final List<ReceivedObject> got = events.changesets.get(0).objects();
        assertEquals(ascending(), idsOf(got));
        for (final ReceivedObject o : got) {
            assertArrayEquals(payloads.get(ids.indexOf(o.id())), o.payloadBytes());
            assertEquals("cs-1", o.meta().changeset());
        }
        assertEquals(4, r.counters().objectsCompleted());
        assertEquals(0, r.counters().stagedBytes());
        assertEquals(1, events.objects.size());
    }

    @Test
    void receiverWithoutStagingDeliversObjectsAsTheyComplete() {
        final Receiver r = new Receiver(ReceiverOptions.builder().stageChangesets(false).build(), events);
        for (final byte[] d : datagrams(ids().get(0), 1, "cs-1", new byte[100])) {
            r.handleDatagram(d, 10);
        }
        assertEquals(1, events.objects.size());
        assertEquals("cs-1", events.objects.get(0).meta().changeset());
        r.handleDatagram(ControlCodec.encodeCommit(commit(1, "cs-1", ids().subList(0, 1)), 1472, null), 11);
        assertEquals(1, events.commits.size());
        assertEquals(List.of(), events.changesets);
    }

    @Test
    void receiverTimesStagedObjectsOutAndGivesTheirRoomToNewObjects() {
        // An object of 20 000 bytes is charged about 22 000 while incomplete (envelope, fragments, parity room).
        final byte[] big = new byte[20_000];
        final Receiver r = new Receiver(ReceiverOptions.builder().maxPartialBytes(30_000).stageTimeoutMs(1000).build(), events);
        for (final byte[] d : datagrams(ids().get(0), 1, "cs-1", big)) {
            r.handleDatagram(d, 0);
        }
        assertEquals(20_000, r.counters().stagedBytes());
        // A second object of 20 000 bytes needs its charge; with cs-1 staged that is over the cap: cs-1 gives way.
        final List<byte[]> second = datagrams(ids().get(1), 2, "cs-2", big);
        r.handleDatagram(second.get(0), 1);
        assertEquals(List.of(ids().get(0)), idsOf(events.stagedDropped), "dropped when the new object's charge came");
        assertTrue(r.counters().partialBytes() > 20_000 && r.counters().stagedBytes() == 0, r.counters().toJson());
        for (final byte[] d : second.subList(1, second.size())) {
            r.handleDatagram(d, 1);
            assertTrue(r.counters().partialBytes() + r.counters().stagedBytes() <= 30_000, "held bytes stay under the cap");
        }
        assertEquals(List.of(ids().get(0)), idsOf(events.stagedDropped));
        assertEquals(0, r.counters().drops(DropReason.OVER_CAPACITY));
        assertEquals(20_000, r.counters().stagedBytes(), "cs-2 staged");
        r.expire(1000);
        assertEquals(1, events.stagedDropped.size());
        r.expire(1001);
        assertEquals(List.of(ids().get(0), ids().get(1)), idsOf(events.stagedDropped));
        assertEquals(2, r.counters().drops(DropReason.UNCOMMITTED));
        assertTrue(r.counters().toJson().contains("\"expired\":0,\"uncommitted\":2}"), r.counters().toJson());
        assertEquals(0, r.counters().objectsCompleted());
    }

    // --- Real loopback multicast ---------------------------------------------------------------------------

    @Test
    void changesetOverLoopbackMulticastArrivesAsOneUnit() throws Exception {
        final String group = "239.255.42.40";
        final int port = 42401;
        final java.util.concurrent.CountDownLatch delivered = new java.util.concurrent.CountDownLatch(1);
        final TestSupport.Collector rx = new TestSupport.Collector() {
            @Override
            public void onChangeset(final CommitInfo commit, final List<ReceivedObject> objects) {
                super.onChangeset(commit, objects);
                delivered.countDown();
            }
        };
        final Random random = new Random(11);
        final List<byte[]> payloads = new ArrayList<>();
        final List<SentObject> sent = new ArrayList<>();
        final CommitInfo committed;
        try (Receiver receiver = new Receiver(ReceiverOptions.builder().group(group).port(port)
            .interfaceAddress("127.0.0.1").build(), rx)) {
            receiver.start();
            try (Sender sender = new Sender(SenderOptions.builder().group(group).port(port).interfaceAddress("127.0.0.1")
                .ttl(1).heartbeatIntervalMs(50).build())) {
                sender.start();
                final String changeset = UUID.randomUUID().toString();
                for (final int size : new int[] {0, 5000, 300_000}) {
                    final byte[] p = new byte[size];
                    random.nextBytes(p);
                    payloads.add(p);
                    sent.add(sender.send(OutgoingObject.builder().payload(p).path("TPC/Calib/Gain" + size).validFrom(1)
                        .validUntil(2).metadata(Map.of("runNumber", "1")).changeset(changeset).build()));
                }
                final List<UUID> ids = new ArrayList<>();
                sent.forEach(o -> ids.add(o.id()));
                Thread.sleep(200); // every object is complete and staged before its commit
                assertEquals(List.of(), rx.objects, "staged objects are not delivered");
                assertEquals(List.of(), rx.changesets);
                assertEquals(3, receiver.counters().stagedObjects());
                committed = sender.sendCommit(OutgoingCommit.of("online", 3, 2, changeset, ids, List.of("TPC/Old")));
                assertEquals(ControlCodec.sortedObjectIds(ids), committed.objectIds());
                assertEquals(4, committed.sequence());
                assertEquals(sender.senderId(), committed.senderId());
                // Heartbeats announce the keytable's key from now on (SPEC 4.3, 11).
                assertThrows(IllegalArgumentException.class, () -> sender.setKeys(List.of(new KeyPosition("a/b", 1))));
                assertThrows(IllegalArgumentException.class,
                    () -> sender.setKeys(List.of(new KeyPosition("online", 1), new KeyPosition("online", 2))));
                sender.setKeys(List.of(new KeyPosition("online", 3)));
                final long deadline = System.currentTimeMillis() + 10_000;
                while (rx.heartbeats.stream().noneMatch(h -> h.keys().equals(List.of(new KeyPosition("online", 3))))) {
                    assertTrue(System.currentTimeMillis() < deadline, "a heartbeat with the key");
                    Thread.sleep(10);
                }
            }
            assertTrue(delivered.await(20, TimeUnit.SECONDS), "the changeset was delivered");
        }
        assertEquals(List.of(committed), rx.commits);
        assertEquals(1, rx.changesets.size());
        assertEquals(committed, rx.changesets.get(0).commit());
        final List<ReceivedObject> objects = rx.changesets.get(0).objects();
        assertEquals(committed.objectIds(), idsOf(objects), "ascending id order");
        final List<UUID> sentIds = sent.stream().map(SentObject::id).toList();
        for (final ReceivedObject o : objects) {
            final int i = sentIds.indexOf(o.id());
            assertEquals(sent.get(i).meta(), o.meta());
            assertArrayEquals(payloads.get(i), o.payloadBytes());
        }
        assertEquals(List.of(), rx.objects);
        assertEquals(List.of(), rx.errors);
    }
}
