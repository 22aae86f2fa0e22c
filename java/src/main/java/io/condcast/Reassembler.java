package io.condcast;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;

/**
 * Reassembly without sockets (SPEC 5.2; mirrors {@code ts/src/receiver/reassembler.ts}): fragments in,
 * complete objects out, within fixed bounds. Not thread-safe: the receiving thread owns it. Accepting a
 * fragment of a known object allocates nothing.
 */
public final class Reassembler {
    /** Largest envelope a Java array can hold. */
    static final long MAX_ARRAY_LENGTH = Integer.MAX_VALUE - 8;

    private final ReceiverCounters counters;
    private final ReceiverListener listener;
    private final long maxPartialBytes;
    private final int maxPartialObjects;
    private final long partialTimeoutMs;
    private final int completedMemory;
    private final LinkedHashMap<Key, PartialObject> partials = new LinkedHashMap<>();
    private final LinkedHashSet<Key> completed = new LinkedHashSet<>();
    private final Key probe = new Key();
    /** Decoder and argument arrays for FEC blocks, shared by every object (allocated up front). */
    private final FecWork fecWork = new FecWork();
    private long partialBytes;
    /** The partial the previous fragment went to: most fragments follow their predecessor's object. */
    private PartialObject last;
    private Key lastKey;
    /** Where complete objects of a changeset go instead of the listener; null: delivered as they complete. */
    private ChangesetStager stager;

    /**
     * A reassembler.
     *
     * @param counters where to count
     * @param listener where completed and dropped objects go
     * @param maxPartialBytes cap on the bytes held by incomplete objects
     * @param maxPartialObjects cap on the number of incomplete objects
     * @param partialTimeoutMs an incomplete object with no fragment for this long is dropped
     * @param completedMemory how many completed object ids are remembered to recognise late duplicates
     */
    public Reassembler(final ReceiverCounters counters, final ReceiverListener listener, final long maxPartialBytes,
                       final int maxPartialObjects, final long partialTimeoutMs, final int completedMemory) {
        this.counters = counters;
        this.listener = listener;
        this.maxPartialBytes = maxPartialBytes;
        this.maxPartialObjects = maxPartialObjects;
        this.partialTimeoutMs = partialTimeoutMs;
        this.completedMemory = completedMemory;
    }

    /**
     * Stages complete objects of changesets instead of delivering them (SPEC 11); the stager's bytes count
     * against this reassembler's partial-bytes cap.
     *
     * @param value the stager, or null to deliver every object as it completes
     */
    public void stager(final ChangesetStager value) {
        stager = value;
    }

    /** Reassembly key: sender id and object id. Mutable only as the lookup probe. */
    static final class Key {
        private long sender;
        private long high;
        private long low;

        Key set(final long s, final long h, final long l) {
            sender = s;
            high = h;
            low = l;
            return this;
        }

        Key copy() {
            return new Key().set(sender, high, low);
        }

        @Override
        public boolean equals(final Object o) {
            return o instanceof Key && ((Key) o).sender == sender && ((Key) o).high == high && ((Key) o).low == low;
        }

        @Override
        public int hashCode() {
            return Long.hashCode(sender * 31 + high * 17 + low);
        }
    }

    /**
     * Takes one checked fragment (a view that {@link FragmentView#parse} accepted).
     *
     * @param view the fragment
     * @param now the time, epoch ms
     * @return why it was not used, or null
     */
    public DropReason accept(final FragmentView view, final long now) {
        PartialObject partial = null;
        final long high = view.objectIdHigh();
        final long low = view.objectIdLow();
        if (last != null && lastKey.sender == view.senderId() && lastKey.high == high && lastKey.low == low) {
            partial = last;
        }
        if (partial == null) {
            probe.set(view.senderId(), high, low);
            partial = partials.get(probe);
            Key key = null;
            if (partial == null) {
                if (completed.contains(probe)) {
                    // Parity of a completed object is not needed (SPEC 5.2): its sources are all held.
                    return view.isParity() ? null : DropReason.DUPLICATE;
                }
                final long charge = PartialObject.chargeFor(view.envelopeLength(), view.fragmentSize(), view.fecScheme(),
                    view.fecBlockLength(), view.fecParityCount());
                // The charge bounds the FEC bookkeeping too: at 4 GiB or more, N · m could exceed an array.
                if (partials.size() >= maxPartialObjects || partialBytes + charge > maxPartialBytes
                    || view.envelopeLength() > MAX_ARRAY_LENGTH || charge >= 4 * MAX_ARRAY_LENGTH) {
                    return DropReason.OVER_CAPACITY;
                }
                // Staged objects share the cap (SPEC 11): the oldest staged changesets give way.
                if (stager != null && !stager.makeRoom(charge)) {
                    return DropReason.OVER_CAPACITY;
                }
                try {
                    partial = new PartialObject(view.senderId(), view.objectId(), view.sequence(),
                        (int) view.envelopeLength(), (int) view.metadataLength(), (int) view.fragmentSize(),
                        (int) view.fecScheme(), (int) view.fecBlockLength(), (int) view.fecParityCount(), fecWork, now);
                } catch (final OutOfMemoryError e) {
                    return DropReason.OVER_CAPACITY; // the heap is smaller than the configured cap
                }
                key = probe.copy();
                partials.put(key, partial);
                partialBytes += charge;
                counters.set(ReceiverCounters.PARTIAL_OBJECTS, partials.size());
                counters.set(ReceiverCounters.PARTIAL_BYTES, partialBytes);
                partial.key = key;
            } else {
                key = partial.key;
            }
            last = partial;
            lastKey = key;
        }
        if (view.envelopeLength() != partial.envelopeLength() || view.metadataLength() != partial.metadataLength()
            || view.fragmentSize() != partial.fragmentSize() || view.sequence() != partial.sequence()
            || view.fecScheme() != partial.fecScheme() || view.fecBlockLength() != partial.fecBlockLength()
            || view.fecParityCount() != partial.fecParityCount()) {
            return DropReason.INCONSISTENT;
        }
        final int recovered = partial.store(view.index(), view.buffer(), view.chunkOffset(), view.chunkLength(), now);
        if (recovered == PartialObject.DUPLICATE) {
            return DropReason.DUPLICATE;
        }
        if (recovered > 0) {
            counters.add(ReceiverCounters.BLOCKS_DECODED, 1);
            counters.add(ReceiverCounters.PARITY_USED, recovered);
            counters.add(ReceiverCounters.FRAGMENTS_RECOVERED, recovered);
        }
        if (partial.complete()) {
            finish(lastKey, partial, now);
        }
        return null;
    }

    /**
     * Drops incomplete objects that have had no fragment for the partial timeout (reason expired).
     *
     * @param now the time, epoch ms
     */
    public void expire(final long now) {
        final Iterator<PartialObject> it = partials.values().iterator();
        final List<PartialObject> expired = new ArrayList<>(0);
        while (it.hasNext()) {
            final PartialObject p = it.next();
            if (now - p.lastFragmentAt() >= partialTimeoutMs) {
                it.remove();
                partialBytes -= p.chargedBytes();
                if (last == p) {
                    last = null;
                    lastKey = null;
                }
                expired.add(p);
            }
        }
        if (!expired.isEmpty()) {
            counters.set(ReceiverCounters.PARTIAL_OBJECTS, partials.size());
            counters.set(ReceiverCounters.PARTIAL_BYTES, partialBytes);
            for (final PartialObject p : expired) {
                counters.count(DropReason.EXPIRED);
                listener.onObjectDropped(p, DropReason.EXPIRED);
            }
        }
    }

    /** @return incomplete objects, oldest first (a copy) */
    public List<PartialObject> incomplete() {
        return new ArrayList<>(partials.values());
    }

    /**
     * Takes an incomplete object out of reassembly (e.g. to repair it over HTTP); later fragments of it
     * count as duplicates.
     *
     * @param senderId the sender
     * @param objectId the object
     * @return the partial object, or null when it is not held
     */
    public PartialObject release(final long senderId, final java.util.UUID objectId) {
        final Key key = new Key().set(senderId, objectId.getMostSignificantBits(), objectId.getLeastSignificantBits());
        final PartialObject p = partials.get(key);
        if (p == null) {
            return null;
        }
        remove(key, p);
        rememberCompleted(key);
        return p;
    }

    /** @return bytes charged for incomplete objects now */
    public long partialBytes() {
        return partialBytes;
    }

    private void finish(final Key key, final PartialObject partial, final long now) {
        remove(key, partial);
        rememberCompleted(key);
        final ByteBuffer envelope = partial.envelopeBuffer();
        final ObjectMetadata meta = ObjectCodec.decodeObjectMeta(envelope, 0, partial.metadataLength());
        if (meta == null) {
            counters.count(DropReason.BAD_METADATA);
            listener.onObjectDropped(partial, DropReason.BAD_METADATA);
            return;
        }
        if (!partial.payloadMd5().equals(meta.md5())) {
            counters.count(DropReason.MD5_MISMATCH);
            listener.onObjectDropped(partial, DropReason.MD5_MISMATCH);
            return;
        }
        final ByteBuffer payload = envelope.duplicate().position(partial.metadataLength()).slice();
        final ReceivedObject object = new ReceivedObject(partial.objectId(), partial.senderId(), partial.sequence(), meta,
            payload);
        if (stager != null && meta.inChangeset()) {
            stager.stage(object, now); // its charge was released above; the stager charges its payload
            return;
        }
        counters.add(ReceiverCounters.OBJECTS_COMPLETED, 1);
        listener.onObject(object);
    }

    private void remove(final Key key, final PartialObject partial) {
        if (partials.remove(key) != null) {
            partialBytes -= partial.chargedBytes();
            counters.set(ReceiverCounters.PARTIAL_OBJECTS, partials.size());
            counters.set(ReceiverCounters.PARTIAL_BYTES, partialBytes);
        }
        if (last == partial) {
            last = null;
            lastKey = null;
        }
    }

    private void rememberCompleted(final Key key) {
        completed.add(key);
        if (completed.size() > completedMemory) {
            final Iterator<Key> it = completed.iterator();
            it.next();
            it.remove();
        }
    }
}
