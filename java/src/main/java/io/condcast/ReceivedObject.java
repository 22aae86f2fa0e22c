package io.condcast;

import java.nio.ByteBuffer;
import java.util.Objects;
import java.util.UUID;

/**
 * A complete object as a receiver delivers it. The payload is the reassembly buffer after the
 * metadata (not copied), read-only.
 *
 * @param id the object's UUID
 * @param senderId the sender (unsigned 64 bits; see {@link #senderIdHex()})
 * @param sequence the object's sequence number at its sender
 * @param meta the object's metadata
 * @param payload the payload, read-only; {@link #payload()} returns a fresh view each call
 */
public record ReceivedObject(UUID id, long senderId, long sequence, ObjectMetadata meta, ByteBuffer payload) {

    /**
     * Checks nulls; keeps a read-only view of the payload.
     *
     * @param id object id
     * @param senderId sender id
     * @param sequence sequence
     * @param meta metadata
     * @param payload payload bytes (position to limit)
     */
    public ReceivedObject {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(meta, "meta");
        payload = payload.asReadOnlyBuffer();
    }

    /**
     * A read-only view of the payload, from position 0 to its length.
     *
     * @return a new view each call (the bytes are shared)
     */
    @Override
    public ByteBuffer payload() {
        return payload.duplicate();
    }

    /**
     * The payload's length in bytes.
     *
     * @return the size
     */
    public int size() {
        return payload.remaining();
    }

    /**
     * A copy of the payload.
     *
     * @return the payload bytes
     */
    public byte[] payloadBytes() {
        final byte[] out = new byte[payload.remaining()];
        payload.duplicate().get(out);
        return out;
    }

    /**
     * The sender id as 16 lowercase hex digits.
     *
     * @return the sender id's text form
     */
    public String senderIdHex() {
        return Ids.formatSenderId(senderId);
    }
}
