package io.condcast;

import java.util.List;
import java.util.Objects;

/**
 * A sender's heartbeat (kind 2, SPEC 4.3).
 *
 * @param senderId the sender (unsigned 64 bits)
 * @param lastSequence the highest sequence the sender has used, 0 when none
 * @param sentAt when it was sent, epoch ms
 * @param intervalMs interval to the next heartbeat (unsigned 32 bits)
 * @param senderName free-form sender name
 * @param keys each keytable's current key at the sender (SPEC 11), in wire order; empty when none
 */
public record HeartbeatInfo(long senderId, long lastSequence, long sentAt, long intervalMs, String senderName,
                            List<KeyPosition> keys) {
    /**
     * Checks nulls and copies the keys.
     *
     * @param senderId sender id
     * @param lastSequence highest sequence used
     * @param sentAt epoch ms
     * @param intervalMs interval
     * @param senderName name
     * @param keys keytables' current keys (null for none)
     */
    public HeartbeatInfo {
        Objects.requireNonNull(senderName, "senderName");
        keys = keys == null ? List.of() : List.copyOf(keys);
    }

    /**
     * A heartbeat without keys.
     *
     * @param senderId sender id
     * @param lastSequence highest sequence used
     * @param sentAt epoch ms
     * @param intervalMs interval
     * @param senderName name
     */
    public HeartbeatInfo(final long senderId, final long lastSequence, final long sentAt, final long intervalMs,
                         final String senderName) {
        this(senderId, lastSequence, sentAt, intervalMs, senderName, List.of());
    }
}
