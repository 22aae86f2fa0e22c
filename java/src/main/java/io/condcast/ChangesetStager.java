package io.condcast;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.TreeMap;
import java.util.UUID;
import java.util.function.LongSupplier;

/**
 * Holds the complete objects of changesets until their commit (SPEC 11; mirrors
 * {@code ts/src/receiver/changeset-stager.ts}). An object whose head names a changeset is staged, not
 * delivered; once the changeset's Commit has arrived and every one of its {@code object_count} objects is
 * held (the ids of {@code object_ids}, or, when the Commit left them out, that many objects carrying the
 * changeset id), the changeset goes to {@link ReceiverListener#onChangeset} as one unit, objects in
 * ascending id order. Commit and objects may come in either order.
 *
 * <p>Dropped as {@code uncommitted} (one {@link ReceiverListener#onStagedObjectDropped} each): the objects
 * of an aborted changeset; of one neither delivered nor aborted within the staged timeout of its most
 * recently staged object, or of its commit when that came later (SPEC 11.4); of one whose commit's key is not above the key delivered before for the same sender
 * and keytable ({@link ReceiverListener#onCommitIgnored}: keys only move forward); of the oldest staged
 * changesets when staged payload bytes plus the bytes of incomplete objects exceed the receiver's
 * partial-bytes cap, or staged objects or changesets exceed their count cap. The re-send of the key held
 * (SPEC 11.6: a commit of that key from parent 0) lets its staged copies go quietly, without a drop. A changeset once delivered or
 * dropped is remembered (a bounded set), so a late object of it is dropped at once.
 *
 * <p>Not thread-safe: the receiving thread owns it, as it owns the {@link Reassembler}.
 */
public final class ChangesetStager {
    /** How many (sender, keytable) pairs keep their delivered key; beyond, the least recently moved goes. */
    static final int MAX_KEYTABLES = 4096;

    private final ReceiverCounters counters;
    private final ReceiverListener listener;
    private final long maxHeldBytes;
    private final LongSupplier incompleteBytes;
    private final int maxStaged;
    private final long stageTimeoutMs;
    private final int closedMemory;
    /** Changesets staged or waiting for objects, oldest first. */
    private final LinkedHashMap<StageKey, Staged> staged = new LinkedHashMap<>();
    /** Changesets delivered or dropped recently: later objects of them are dropped, later commits ignored. */
    private final LinkedHashSet<StageKey> closed = new LinkedHashSet<>();
    /** The key delivered last per sender and keytable, least recently moved first. */
    private final LinkedHashMap<KeytableKey, Long> deliveredKeys = new LinkedHashMap<>();
    private long stagedBytes;
    private int stagedObjects;

    /** A changeset is named per sender: two senders may use one id. */
    private record StageKey(long senderId, String changeset) {
    }

    /** Keys move forward per sender and keytable. */
    private record KeytableKey(long senderId, String keytable) {
    }

    /** One changeset being staged: its objects so far (in wire id order) and its commit once it came. */
    private static final class Staged {
        final StageKey key;
        /** Its most recently staged object or its commit: the staged timeout runs from it (SPEC 11.4). */
        long lastActivity;
        final TreeMap<UUID, ReceivedObject> objects = new TreeMap<>(ControlCodec::compareIds);
        long bytes;
        CommitInfo commit;

        Staged(final StageKey key, final long since) {
            this.key = key;
            this.lastActivity = since;
        }
    }

    /**
     * A stager.
     *
     * @param counters where drops ({@code uncommitted}, {@code duplicate}) and delivered objects are counted
     * @param listener where changesets, ignored commits and dropped staged objects go
     * @param maxHeldBytes the receiver's partial-bytes cap, shared with incomplete objects
     * @param incompleteBytes the bytes incomplete objects hold now (the reassembler's charge)
     * @param maxStaged cap on staged objects, and on changesets staged or waiting
     * @param stageTimeoutMs a changeset not delivered this long after its most recently staged object (or its
     *     commit, when that came later) is dropped
     * @param closedMemory how many delivered or dropped changesets are remembered
     */
    public ChangesetStager(final ReceiverCounters counters, final ReceiverListener listener, final long maxHeldBytes,
                           final LongSupplier incompleteBytes, final int maxStaged, final long stageTimeoutMs,
                           final int closedMemory) {
        if (maxHeldBytes < 0 || maxStaged < 0 || stageTimeoutMs < 1 || closedMemory < 0) {
            throw new IllegalArgumentException("stager bounds must be positive");
        }
        this.counters = counters;
        this.listener = listener;
        this.maxHeldBytes = maxHeldBytes;
        this.incompleteBytes = incompleteBytes;
        this.maxStaged = maxStaged;
        this.stageTimeoutMs = stageTimeoutMs;
        this.closedMemory = closedMemory;
    }

    /**
     * Takes a complete, verified object whose head names a changeset.
     *
     * @param object the object ({@link ObjectMetadata#inChangeset()} is true)
     * @param now the time, epoch ms
     */
    public void stage(final ReceivedObject object, final long now) {
        final StageKey key = new StageKey(object.senderId(), object.meta().changeset());
        if (closed.contains(key)) {
            dropped(object);
            return;
        }
        Staged s = staged.get(key);
        if (s != null && s.objects.containsKey(object.id())) {
            counters.count(DropReason.DUPLICATE); // held already (the reassembler's memory had forgotten it)
            return;
        }
        if (s != null && s.commit != null && !s.commit.objectIds().isEmpty() && !names(s.commit, object.id())) {
            dropped(object); // carries the changeset's id, but its commit does not list it
            return;
        }
        if (s == null) {
            s = new Staged(key, now);
            staged.put(key, s);
        }
        s.objects.put(object.id(), object);
        s.lastActivity = now;
        s.bytes += object.size();
        stagedBytes += object.size();
        stagedObjects++;
        updateGauges();
        if (!deliverIfComplete(s)) {
            enforceBounds();
        }
    }

    /**
     * Takes a Commit datagram (after {@link ReceiverListener#onCommit} has seen it).
     *
     * @param commit the commit
     * @param now the time, epoch ms
     */
    public void commit(final CommitInfo commit, final long now) {
        final StageKey key = new StageKey(commit.senderId(), commit.changeset());
        if (commit.aborted()) {
            close(key);
            dropAll(remove(staged.get(key)));
            return;
        }
        final Long held = deliveredKeys.get(new KeytableKey(commit.senderId(), commit.keytable()));
        if (isResendOfHeld(commit, held)) {
            close(key);
            remove(staged.get(key));
            counters.add(ReceiverCounters.RESENDS_DISCARDED, 1);
            return;
        }
        if (held != null && commit.key() <= held) {
            close(key);
            final List<ReceivedObject> objects = remove(staged.get(key));
            listener.onCommitIgnored(commit, held);
            dropAll(objects);
            return;
        }
        if (closed.contains(key)) {
            return; // delivered, aborted or dropped before: nothing is held for it
        }
        Staged s = staged.get(key);
        if (s != null && s.commit != null) {
            return; // a repeated commit: the first one counts
        }
        if (s == null) {
            s = new Staged(key, now);
            staged.put(key, s);
        }
        s.commit = commit;
        s.lastActivity = now;
        if (!commit.objectIds().isEmpty()) {
            // Objects staged under the changeset's id that the commit does not name are not part of it.
            final Iterator<ReceivedObject> it = s.objects.values().iterator();
            while (it.hasNext()) {
                final ReceivedObject o = it.next();
                if (!names(commit, o.id())) {
                    it.remove();
                    forget(s, o);
                    dropped(o);
                }
            }
        }
        if (!deliverIfComplete(s)) {
            enforceBounds();
        }
    }

    /**
     * Drops changesets not delivered within the staged timeout.
     *
     * @param now the time, epoch ms
     */
    public void expire(final long now) {
        List<Staged> late = null;
        for (final Staged s : staged.values()) {
            if (now - s.lastActivity < stageTimeoutMs) {
                continue; // in creation order, not activity order: every one is checked
            }
            if (late == null) {
                late = new ArrayList<>();
            }
            late.add(s);
        }
        if (late != null) {
            for (final Staged s : late) {
                close(s.key);
                dropAll(remove(s));
            }
        }
    }

    /**
     * Drops the oldest staged changesets until {@code bytes} more fit under the cap with what is held.
     *
     * @param bytes the bytes about to be held (a new incomplete object's charge)
     * @return whether they fit now
     */
    public boolean makeRoom(final long bytes) {
        while (incompleteBytes.getAsLong() + stagedBytes + bytes > maxHeldBytes && !staged.isEmpty()) {
            dropOldest();
        }
        return incompleteBytes.getAsLong() + stagedBytes + bytes <= maxHeldBytes;
    }

    /** @return payload bytes of the staged objects */
    public long stagedBytes() {
        return stagedBytes;
    }

    /** @return staged objects held */
    public int stagedObjects() {
        return stagedObjects;
    }

    /** @return changesets staged or waiting for objects */
    public int changesets() {
        return staged.size();
    }

    private boolean deliverIfComplete(final Staged s) {
        final CommitInfo c = s.commit;
        if (c == null) {
            return false;
        }
        // With ids every held object is named (others were dropped), so holding as many means holding all.
        final long needed = c.objectIds().isEmpty() ? c.objectCount() : c.objectIds().size();
        if (s.objects.size() < needed) {
            return false;
        }
        close(s.key);
        final List<ReceivedObject> all = remove(s);
        final KeytableKey keytable = new KeytableKey(c.senderId(), c.keytable());
        final Long held = deliveredKeys.get(keytable);
        if (isResendOfHeld(c, held)) {
            counters.add(ReceiverCounters.RESENDS_DISCARDED, 1); // copies of objects held: no drop
            return true;
        }
        if (held != null && c.key() <= held) {
            // A later key of the keytable was delivered while this one waited for its objects.
            listener.onCommitIgnored(c, held);
            dropAll(all);
            return true;
        }
        deliveredKeys.remove(keytable);
        deliveredKeys.put(keytable, c.key());
        if (deliveredKeys.size() > MAX_KEYTABLES) {
            final Iterator<KeytableKey> it = deliveredKeys.keySet().iterator();
            it.next();
            it.remove();
        }
        // Ids left out and more objects carry the id than the commit counts: the lowest ids make the unit.
        final List<ReceivedObject> unit = Collections.unmodifiableList(new ArrayList<>(all.subList(0, (int) needed)));
        dropAll(all.subList((int) needed, all.size()));
        counters.add(ReceiverCounters.OBJECTS_COMPLETED, unit.size());
        listener.onChangeset(c, unit);
        return true;
    }

    private void enforceBounds() {
        while (!staged.isEmpty() && (incompleteBytes.getAsLong() + stagedBytes > maxHeldBytes
            || stagedObjects > maxStaged || staged.size() > maxStaged)) {
            dropOldest();
        }
    }

    private void dropOldest() {
        final Staged oldest = staged.values().iterator().next();
        close(oldest.key);
        dropAll(remove(oldest));
    }

    /** SPEC 11.6: a commit naming its whole key (parent 0) that is the key held is a re-send of it. */
    private static boolean isResendOfHeld(final CommitInfo commit, final Long held) {
        return held != null && commit.parentKey() == 0 && commit.key() == held;
    }

    private static boolean names(final CommitInfo commit, final UUID id) {
        return Collections.binarySearch(commit.objectIds(), id, ControlCodec::compareIds) >= 0;
    }

    /** Takes a changeset out of staging; returns its objects in id order (none for null). */
    private List<ReceivedObject> remove(final Staged s) {
        if (s == null || staged.remove(s.key) == null) {
            return List.of();
        }
        stagedBytes -= s.bytes;
        stagedObjects -= s.objects.size();
        updateGauges();
        return new ArrayList<>(s.objects.values());
    }

    private void forget(final Staged s, final ReceivedObject o) {
        s.bytes -= o.size();
        stagedBytes -= o.size();
        stagedObjects--;
        updateGauges();
    }

    private void close(final StageKey key) {
        if (closedMemory == 0) {
            return;
        }
        closed.remove(key);
        closed.add(key);
        if (closed.size() > closedMemory) {
            final Iterator<StageKey> it = closed.iterator();
            it.next();
            it.remove();
        }
    }

    private void dropAll(final List<ReceivedObject> objects) {
        for (final ReceivedObject o : objects) {
            dropped(o);
        }
    }

    private void dropped(final ReceivedObject o) {
        counters.count(DropReason.UNCOMMITTED);
        listener.onStagedObjectDropped(o, DropReason.UNCOMMITTED);
    }

    private void updateGauges() {
        counters.set(ReceiverCounters.STAGED_OBJECTS, stagedObjects);
        counters.set(ReceiverCounters.STAGED_BYTES, stagedBytes);
    }
}
