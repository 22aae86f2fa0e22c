package io.condcast;

import java.util.concurrent.atomic.AtomicLongArray;

/**
 * What a receiver counts (SPEC 6): datagrams, bytes, drops by reason, objects by outcome; gauges of
 * incomplete objects (mirrors {@code ts/src/receiver/counters.ts}). Updated by the receiving thread,
 * readable from any thread.
 */
public final class ReceiverCounters {
    static final int DATAGRAMS = 0;
    static final int BYTES = 1;
    static final int FRAGMENTS = 2;
    static final int HEARTBEATS = 3;
    static final int LIFECYCLES = 4;
    static final int OBJECTS_COMPLETED = 5;
    static final int PARTIAL_OBJECTS = 6;
    static final int PARTIAL_BYTES = 7;
    static final int BLOCKS_DECODED = 8;
    static final int PARITY_USED = 9;
    static final int FRAGMENTS_RECOVERED = 10;
    static final int COMMITS = 11;
    static final int STAGED_OBJECTS = 12;
    static final int STAGED_BYTES = 13;
    static final int COMMIT_COPIES = 14;
    static final int RESENDS_DISCARDED = 15;
    private static final int REASONS_AT = 16;

    private final AtomicLongArray values = new AtomicLongArray(REASONS_AT + DropReason.values().length);

    void add(final int counter, final long delta) {
        values.getAndAdd(counter, delta);
    }

    void set(final int counter, final long value) {
        values.set(counter, value);
    }

    void count(final DropReason reason) {
        values.getAndIncrement(REASONS_AT + reason.ordinal());
    }

    /** @return datagrams received */
    public long datagrams() {
        return values.get(DATAGRAMS);
    }

    /** @return bytes received */
    public long bytes() {
        return values.get(BYTES);
    }

    /** @return valid fragments */
    public long fragments() {
        return values.get(FRAGMENTS);
    }

    /** @return valid heartbeats */
    public long heartbeats() {
        return values.get(HEARTBEATS);
    }

    /** @return valid lifecycle messages */
    public long lifecycles() {
        return values.get(LIFECYCLES);
    }

    /** @return valid commit messages */
    public long commits() {
        return values.get(COMMITS);
    }

    /** @return copies of Commits taken already (SPEC 5.4): ignored, not drops */
    public long commitCopies() {
        return values.get(COMMIT_COPIES);
    }

    /** @return re-sends of the key held whose staged copies were let go (SPEC 11.6; not drops, not in the JSON) */
    public long resendsDiscarded() {
        return values.get(RESENDS_DISCARDED);
    }

    /** @return objects delivered (those of a changeset when the changeset is) */
    public long objectsCompleted() {
        return values.get(OBJECTS_COMPLETED);
    }

    /** @return incomplete objects held now */
    public long partialObjects() {
        return values.get(PARTIAL_OBJECTS);
    }

    /** @return bytes charged for incomplete objects now */
    public long partialBytes() {
        return values.get(PARTIAL_BYTES);
    }

    /** @return complete objects of changesets staged now, waiting for their commit (SPEC 11; not in the JSON) */
    public long stagedObjects() {
        return values.get(STAGED_OBJECTS);
    }

    /** @return payload bytes of the staged objects now (they count against the partial-bytes cap) */
    public long stagedBytes() {
        return values.get(STAGED_BYTES);
    }

    /** @return FEC blocks completed with parity (SPEC 6, 10.5) */
    public long blocksDecoded() {
        return values.get(BLOCKS_DECODED);
    }

    /** @return parity fragments consumed by those decodes */
    public long parityUsed() {
        return values.get(PARITY_USED);
    }

    /** @return source fragments rebuilt with parity */
    public long fragmentsRecovered() {
        return values.get(FRAGMENTS_RECOVERED);
    }

    /**
     * Drops by reason: datagrams and fragments for datagram and reassembly reasons, objects for object
     * reasons.
     *
     * @param reason the reason
     * @return the count
     */
    public long drops(final DropReason reason) {
        return values.get(REASONS_AT + reason.ordinal());
    }

    /** @return datagrams and fragments dropped, all reasons but the per-object ones */
    public long totalDrops() {
        long sum = 0;
        for (final DropReason r : DropReason.values()) {
            if (r.scope() != DropReason.Scope.OBJECT) {
                sum += drops(r);
            }
        }
        return sum;
    }

    /**
     * The counters as the JSON object the CLI logs (same keys and order as the TypeScript reference):
     * datagrams, bytes, fragments, heartbeats, lifecycles, commits, commitCopies, objectsCompleted, drops, objectsDropped,
     * partialObjects, partialBytes, fec (blocksDecoded, parityUsed, fragmentsRecovered; spec/CLI.md).
     *
     * @return compact JSON
     */
    public String toJson() {
        final StringBuilder sb = new StringBuilder(512);
        sb.append("{\"datagrams\":").append(datagrams())
            .append(",\"bytes\":").append(bytes())
            .append(",\"fragments\":").append(fragments())
            .append(",\"heartbeats\":").append(heartbeats())
            .append(",\"lifecycles\":").append(lifecycles())
            .append(",\"commits\":").append(commits())
            .append(",\"commitCopies\":").append(commitCopies())
            .append(",\"objectsCompleted\":").append(objectsCompleted())
            .append(",\"drops\":{");
        boolean first = true;
        for (final DropReason r : DropReason.values()) {
            if (r.scope() == DropReason.Scope.OBJECT) {
                continue;
            }
            sb.append(first ? "" : ",").append('"').append(r.wireName()).append("\":").append(drops(r));
            first = false;
        }
        sb.append("},\"objectsDropped\":{");
        first = true;
        for (final DropReason r : DropReason.values()) {
            if (r.scope() != DropReason.Scope.OBJECT) {
                continue;
            }
            sb.append(first ? "" : ",").append('"').append(r.wireName()).append("\":").append(drops(r));
            first = false;
        }
        sb.append("},\"partialObjects\":").append(partialObjects())
            .append(",\"partialBytes\":").append(partialBytes())
            .append(",\"fec\":{\"blocksDecoded\":").append(blocksDecoded())
            .append(",\"parityUsed\":").append(parityUsed())
            .append(",\"fragmentsRecovered\":").append(fragmentsRecovered()).append("}}");
        return sb.toString();
    }

    @Override
    public String toString() {
        return toJson();
    }
}
