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
     * Records that a fragment or lifecycle message with {@code sequence} arrived from {@code senderId}.
     *
     * @param senderId the sender
     * @param sequence the sequence seen
     * @return the gap before it, or null
     */
    public SequenceGap observe(final long senderId, final long sequence) {
        return advance(senderId, sequence, sequence - 1);
    }

    /**
     * Records a heartbeat's last_sequence: every sequence up to it has been sent, so those not seen,
     * {@code last} included, are missing (SPEC 5.3).
     *
     * @param senderId the sender
     * @param last the heartbeat's last_sequence
     * @return the gap up to and including {@code last}, or null
     */
    public SequenceGap observeLast(final long senderId, final long last) {
        return advance(senderId, last, last);
    }

    private synchronized SequenceGap advance(final long senderId, final long sequence, final long gapEnd) {
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
        return gapEnd > previous ? new SequenceGap(senderId, previous + 1, gapEnd) : null;
    }

    /** @return highest sequence seen per sender (a copy) */
    public synchronized Map<Long, Long> snapshot() {
        return Collections.unmodifiableMap(new LinkedHashMap<>(highest));
    }
}
