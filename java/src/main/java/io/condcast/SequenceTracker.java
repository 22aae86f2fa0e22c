package io.condcast;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Per-sender sequence numbers (SPEC 5.3): reports gaps, i.e. objects or changes missed entirely
 * (mirrors {@code ts/src/receiver/sequence-tracker.ts}). Remembers at most {@code maxSenders} senders.
 */
public final class SequenceTracker {
    private final int maxSenders;
    private final LinkedHashMap<Long, Long> highest = new LinkedHashMap<>();

    /** A tracker of up to 1024 senders. */
    public SequenceTracker() {
        this(1024);
    }

    /**
     * A tracker.
     *
     * @param maxSenders how many senders to remember (the oldest is forgotten first)
     */
    public SequenceTracker(final int maxSenders) {
        this.maxSenders = maxSenders;
    }

    /**
     * Records that {@code sequence} is in use at {@code senderId}.
     *
     * @param senderId the sender
     * @param sequence the sequence seen
     * @return the gap it reveals, or null
     */
    public synchronized SequenceGap observe(final long senderId, final long sequence) {
        final Long previous = highest.get(senderId);
        if (previous == null) {
            if (highest.size() >= maxSenders) {
                final Long oldest = highest.keySet().iterator().next();
                highest.remove(oldest);
            }
            highest.put(senderId, sequence);
            return null;
        }
        if (sequence <= previous) {
            return null;
        }
        highest.put(senderId, sequence);
        return sequence > previous + 1 ? new SequenceGap(senderId, previous + 1, sequence - 1) : null;
    }

    /** @return highest sequence seen per sender (a copy) */
    public synchronized Map<Long, Long> snapshot() {
        return Collections.unmodifiableMap(new LinkedHashMap<>(highest));
    }
}
