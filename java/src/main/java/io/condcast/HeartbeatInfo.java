package io.condcast;

import java.util.Objects;

/**
 * A sender's heartbeat (kind 2, SPEC 4.3).
 *
 * @param senderId the sender (unsigned 64 bits)
 * @param lastSequence the highest sequence the sender has used, 0 when none
 * @param sentAt when it was sent, epoch ms
 * @param intervalMs interval to the next heartbeat (unsigned 32 bits)
 * @param senderName free-form sender name
 */
public record HeartbeatInfo(long senderId, long lastSequence, long sentAt, long intervalMs, String senderName) {
    /**
     * Checks nulls.
     *
     * @param senderId sender id
     * @param lastSequence highest sequence used
     * @param sentAt epoch ms
     * @param intervalMs interval
     * @param senderName name
     */
    public HeartbeatInfo {
        Objects.requireNonNull(senderName, "senderName");
    }
}
