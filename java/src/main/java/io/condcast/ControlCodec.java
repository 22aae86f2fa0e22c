package io.condcast;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.condcast.wire.v1.Heartbeat;
import io.condcast.wire.v1.Lifecycle;
import io.condcast.wire.v1.MetadataEntry;
import java.nio.ByteBuffer;
import java.util.TreeMap;

/**
 * Heartbeat (kind 2) and Lifecycle (kind 3) datagrams: rare, so the generated codec encodes and decodes
 * them (mirrors {@code ts/src/wire/control.ts}).
 */
public final class ControlCodec {
    private ControlCodec() {
    }

    /**
     * Frames an encoded body: preamble, body, and the auth trailer when a key is given.
     *
     * @param kind the datagram kind
     * @param body the encoded message
     * @param key the signing key, or null
     * @return the datagram
     */
    public static byte[] frameDatagram(final int kind, final byte[] body, final AuthKey key) {
        final int length = Wire.PREAMBLE_LENGTH + body.length + (key != null ? Wire.AUTH_TRAILER_LENGTH : 0);
        final ByteBuffer out = ByteBuffer.allocate(length);
        Preamble.write(out, kind, key != null);
        out.put(Wire.PREAMBLE_LENGTH, body);
        if (key != null) {
            new DatagramAuth(key.keyNoCopy()).sign(out, length, key.id());
        }
        return out.array();
    }

    /**
     * Encodes a heartbeat datagram.
     *
     * @param info the heartbeat
     * @param key the signing key, or null
     * @return the datagram
     */
    public static byte[] encodeHeartbeat(final HeartbeatInfo info, final AuthKey key) {
        final byte[] body = Heartbeat.newBuilder()
            .setSenderId(info.senderId())
            .setLastSequence(info.lastSequence())
            .setSentAt(info.sentAt())
            .setIntervalMs((int) info.intervalMs())
            .setSenderName(info.senderName())
            .build().toByteArray();
        return frameDatagram(Wire.KIND_HEARTBEAT, body, key);
    }

    /**
     * Encodes a lifecycle datagram.
     *
     * @param info the change
     * @param key the signing key, or null
     * @return the datagram
     */
    public static byte[] encodeLifecycle(final LifecycleInfo info, final AuthKey key) {
        final Lifecycle.Builder b = Lifecycle.newBuilder()
            .setSenderId(info.senderId())
            .setSequence(info.sequence())
            .setObjectId(ByteString.copyFrom(Ids.uuidToBytes(info.objectId())))
            .setActionValue(info.action().wireValue())
            .setPath(info.path())
            .setValidUntil(info.validUntil())
            .setChangedAt(info.changedAt());
        ObjectCodec.addEntries(info.metadata(), b::addMetadata);
        return frameDatagram(Wire.KIND_LIFECYCLE, b.build().toByteArray(), key);
    }

    /** Decodes a checked heartbeat body; returns the info or null for {@code malformed}. */
    static HeartbeatInfo decodeHeartbeat(final ByteBuffer buf, final int start, final int end) {
        if (!WireTypeCheck.HEARTBEAT.check(buf, start, end)) {
            return null;
        }
        final Heartbeat m;
        try {
            m = Heartbeat.parseFrom(buf.duplicate().limit(end).position(start));
        } catch (final InvalidProtocolBufferException e) {
            return null;
        }
        if (Long.compareUnsigned(m.getLastSequence(), Wire.MAX_SEQUENCE) > 0) {
            return null;
        }
        return new HeartbeatInfo(m.getSenderId(), m.getLastSequence(), m.getSentAt(),
            Integer.toUnsignedLong(m.getIntervalMs()), m.getSenderName());
    }

    /** Result of decoding a lifecycle body: the info, or the reason. */
    record LifecycleResult(LifecycleInfo info, DropReason reason) {
    }

    static LifecycleResult decodeLifecycle(final ByteBuffer buf, final int start, final int end) {
        if (!WireTypeCheck.LIFECYCLE.check(buf, start, end)) {
            return new LifecycleResult(null, DropReason.MALFORMED);
        }
        final Lifecycle m;
        try {
            m = Lifecycle.parseFrom(buf.duplicate().limit(end).position(start));
        } catch (final InvalidProtocolBufferException e) {
            return new LifecycleResult(null, DropReason.MALFORMED);
        }
        if (m.getSequence() < 1 || m.getSequence() > Wire.MAX_SEQUENCE) {
            return new LifecycleResult(null, DropReason.MALFORMED);
        }
        if (m.getObjectId().size() != Wire.OBJECT_ID_LENGTH) {
            return new LifecycleResult(null, DropReason.BAD_OBJECT_ID);
        }
        final LifecycleAction action;
        if (m.getActionValue() == LifecycleAction.DELETED.wireValue()) {
            action = LifecycleAction.DELETED;
        } else if (m.getActionValue() == LifecycleAction.UPDATED.wireValue()) {
            action = LifecycleAction.UPDATED;
        } else {
            return new LifecycleResult(null, DropReason.MALFORMED);
        }
        final TreeMap<String, String> metadata = new TreeMap<>(Utf8Order.COMPARATOR);
        for (final MetadataEntry e : m.getMetadataList()) {
            metadata.put(e.getKey(), e.getValue());
        }
        return new LifecycleResult(new LifecycleInfo(m.getSenderId(), m.getSequence(),
            Ids.bytesToUuid(m.getObjectId().toByteArray()), action, m.getPath(), m.getValidUntil(), metadata,
            m.getChangedAt()), null);
    }
}
