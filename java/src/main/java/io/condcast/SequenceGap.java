package io.condcast;

/**
 * Sequences a sender used that this receiver never saw (SPEC 5.3): objects or changes missed entirely.
 *
 * @param senderId the sender (unsigned 64 bits)
 * @param from first missing sequence
 * @param to last missing sequence (inclusive)
 */
public record SequenceGap(long senderId, long from, long to) {
    /** @return the sender id as 16 hex digits */
    public String senderIdHex() {
        return Ids.formatSenderId(senderId);
    }
}
