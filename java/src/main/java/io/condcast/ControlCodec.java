package io.condcast;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Parser;
import io.condcast.wire.v1.Commit;
import io.condcast.wire.v1.Heartbeat;
import io.condcast.wire.v1.KeyPosition;
import io.condcast.wire.v1.Lifecycle;
import io.condcast.wire.v1.MetadataEntry;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;

/**
 * Heartbeat (kind 2), Lifecycle (kind 3) and Commit (kind 4) datagrams: rare, so the generated codec
 * encodes and decodes them (mirrors {@code ts/src/wire/control.ts}).
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
            .addAllKeys(sortedKeys(info.keys()))
            .build().toByteArray();
        return frameDatagram(Wire.KIND_HEARTBEAT, body, key);
    }

    private static List<KeyPosition> sortedKeys(final List<io.condcast.KeyPosition> keys) {
        final List<io.condcast.KeyPosition> sorted = new ArrayList<>(keys);
        sorted.sort((a, b) -> Utf8Order.compare(a.keytable(), b.keytable()));
        final List<KeyPosition> out = new ArrayList<>(sorted.size());
        for (final io.condcast.KeyPosition k : sorted) {
            out.add(KeyPosition.newBuilder().setKeytable(k.keytable()).setKey(k.key()).build());
        }
        return out;
    }

    /** Compares object ids as the wire orders them: their 16 bytes, unsigned (= their lowercase hex text). */
    static int compareIds(final UUID a, final UUID b) {
        final int c = Long.compareUnsigned(a.getMostSignificantBits(), b.getMostSignificantBits());
        return c != 0 ? c : Long.compareUnsigned(a.getLeastSignificantBits(), b.getLeastSignificantBits());
    }

    /**
     * Object ids in wire order: unique, ascending bytewise.
     *
     * @param ids the ids
     * @return sorted, without duplicates
     */
    public static List<UUID> sortedObjectIds(final Collection<UUID> ids) {
        final TreeSet<UUID> set = new TreeSet<>(ControlCodec::compareIds);
        set.addAll(ids);
        return new ArrayList<>(set);
    }

    /**
     * Encodes a Commit datagram (SPEC 4.5); the object ids are left out when the datagram would exceed
     * {@code datagramSize} (receivers then take the list from the repository).
     *
     * @param info the commit (object ids in any order; removed paths in any order)
     * @param datagramSize the largest datagram
     * @param key the signing key, or null
     * @return the datagram
     * @throws IllegalArgumentException when it does not fit even without its ids
     */
    public static byte[] encodeCommit(final CommitInfo info, final int datagramSize, final AuthKey key) {
        final byte[] full = encodeCommit(info, !info.objectIds().isEmpty(), key);
        if (full.length <= datagramSize) {
            return full;
        }
        final byte[] bare = encodeCommit(info, false, key);
        if (bare.length > datagramSize) {
            throw new IllegalArgumentException("a commit of " + info.keytable() + " does not fit " + datagramSize
                + " bytes even without its object ids");
        }
        return bare;
    }

    private static byte[] encodeCommit(final CommitInfo info, final boolean withIds, final AuthKey key) {
        final Commit.Builder b = Commit.newBuilder()
            .setSenderId(info.senderId())
            .setSequence(info.sequence())
            .setKeytable(info.keytable())
            .setKey(info.key())
            .setParentKey(info.parentKey())
            .setChangeset(info.changeset())
            .setObjectCount((int) info.objectCount())
            .setCommittedAt(info.committedAt())
            .setAborted(info.aborted());
        if (withIds) {
            for (final UUID id : sortedObjectIds(info.objectIds())) {
                b.addObjectIds(ByteString.copyFrom(Ids.uuidToBytes(id)));
            }
        }
        final TreeSet<String> paths = new TreeSet<>(Utf8Order.COMPARATOR);
        paths.addAll(info.removedPaths());
        b.addAllRemovedPaths(paths);
        return frameDatagram(Wire.KIND_COMMIT, b.build().toByteArray(), key);
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

    /**
     * Result of decoding a control body: the info, or the drop reason.
     *
     * @param <T> the info's type
     * @param info the decoded message, or null
     * @param reason the drop reason, or null
     */
    record Result<T>(T info, DropReason reason) {
        static <T> Result<T> ok(final T info) {
            return new Result<>(info, null);
        }

        static <T> Result<T> drop(final DropReason reason) {
            return new Result<>(null, reason);
        }
    }

    /** The SPEC 5.1 row 10 scan, then the generated parser; null when the body is malformed. */
    static <M> M parseChecked(final WireTypeCheck check, final Parser<M> parser, final ByteBuffer buf,
                                      final int start, final int end) {
        if (!check.check(buf, start, end)) {
            return null;
        }
        try {
            return parser.parseFrom(buf.duplicate().limit(end).position(start));
        } catch (final InvalidProtocolBufferException e) {
            return null;
        }
    }

    private static boolean aboveMaxSequence(final long unsigned) {
        return Long.compareUnsigned(unsigned, Wire.MAX_SEQUENCE) > 0;
    }

    /** Decodes a heartbeat body (SPEC 5.1 rows 10 and 19). */
    static Result<HeartbeatInfo> decodeHeartbeat(final ByteBuffer buf, final int start, final int end) {
        final Heartbeat m = parseChecked(WireTypeCheck.HEARTBEAT, Heartbeat.parser(), buf, start, end);
        if (m == null || aboveMaxSequence(m.getLastSequence())) {
            return Result.drop(DropReason.MALFORMED);
        }
        for (final KeyPosition k : m.getKeysList()) {
            if (aboveMaxSequence(k.getKey())) {
                return Result.drop(DropReason.MALFORMED);
            }
        }
        if (m.getKeysCount() > Wire.MAX_HEARTBEAT_KEYS) {
            return Result.drop(DropReason.BAD_COMMIT);
        }
        final List<io.condcast.KeyPosition> keys = new ArrayList<>(m.getKeysCount());
        String previous = null;
        for (final KeyPosition k : m.getKeysList()) {
            if (!ObjectCodec.isKeytableName(k.getKeytable())
                || previous != null && Utf8Order.compare(previous, k.getKeytable()) >= 0) {
                return Result.drop(DropReason.BAD_COMMIT);
            }
            previous = k.getKeytable();
            keys.add(new io.condcast.KeyPosition(k.getKeytable(), k.getKey()));
        }
        return Result.ok(new HeartbeatInfo(m.getSenderId(), m.getLastSequence(), m.getSentAt(),
            Integer.toUnsignedLong(m.getIntervalMs()), m.getSenderName(), keys));
    }

    /** Decodes a commit body (SPEC 5.1 rows 10, 11 and 19). */
    static Result<CommitInfo> decodeCommit(final ByteBuffer buf, final int start, final int end) {
        final Commit m = parseChecked(WireTypeCheck.COMMIT, Commit.parser(), buf, start, end);
        if (m == null || m.getSequence() < 1 || m.getSequence() > Wire.MAX_SEQUENCE || aboveMaxSequence(m.getKey())
            || aboveMaxSequence(m.getParentKey())) {
            return Result.drop(DropReason.MALFORMED);
        }
        for (final ByteString id : m.getObjectIdsList()) {
            if (id.size() != Wire.OBJECT_ID_LENGTH) {
                return Result.drop(DropReason.BAD_OBJECT_ID);
            }
        }
        // key and parent_key are at most 2^53 - 1 here: signed comparisons are exact.
        final boolean keysOk = m.getAborted() ? m.getKey() == 0 && m.getParentKey() == 0
            : m.getKey() >= 1 && m.getParentKey() < m.getKey();
        final long objectCount = Integer.toUnsignedLong(m.getObjectCount());
        boolean ok = keysOk && ObjectCodec.isKeytableName(m.getKeytable()) && ObjectCodec.isChangesetId(m.getChangeset())
            && (m.getObjectIdsCount() == 0 || m.getObjectIdsCount() == objectCount);
        final List<UUID> ids = new ArrayList<>(m.getObjectIdsCount());
        byte[] previous = null;
        for (int i = 0; ok && i < m.getObjectIdsCount(); i++) {
            final byte[] id = m.getObjectIds(i).toByteArray();
            ok = previous == null || Arrays.compareUnsigned(previous, id) < 0;
            previous = id;
            ids.add(Ids.bytesToUuid(id));
        }
        for (int i = 1; ok && i < m.getRemovedPathsCount(); i++) {
            ok = Utf8Order.compare(m.getRemovedPaths(i - 1), m.getRemovedPaths(i)) < 0;
        }
        if (!ok) {
            return Result.drop(DropReason.BAD_COMMIT);
        }
        return Result.ok(new CommitInfo(m.getSenderId(), m.getSequence(), m.getKeytable(), m.getKey(),
            m.getParentKey(), m.getChangeset(), objectCount, ids, m.getRemovedPathsList(), m.getCommittedAt(),
            m.getAborted()));
    }

    /** Decodes a lifecycle body (SPEC 5.1 rows 10, 11 and 18). */
    static Result<LifecycleInfo> decodeLifecycle(final ByteBuffer buf, final int start, final int end) {
        final Lifecycle m = parseChecked(WireTypeCheck.LIFECYCLE, Lifecycle.parser(), buf, start, end);
        if (m == null || m.getSequence() < 1 || m.getSequence() > Wire.MAX_SEQUENCE) {
            return Result.drop(DropReason.MALFORMED);
        }
        if (m.getObjectId().size() != Wire.OBJECT_ID_LENGTH) {
            return Result.drop(DropReason.BAD_OBJECT_ID);
        }
        final LifecycleAction action;
        if (m.getActionValue() == LifecycleAction.DELETED.wireValue()) {
            action = LifecycleAction.DELETED;
        } else if (m.getActionValue() == LifecycleAction.UPDATED.wireValue()) {
            action = LifecycleAction.UPDATED;
        } else {
            return Result.drop(DropReason.MALFORMED);
        }
        final TreeMap<String, String> metadata = new TreeMap<>(Utf8Order.COMPARATOR);
        for (final MetadataEntry e : m.getMetadataList()) {
            metadata.put(e.getKey(), e.getValue());
        }
        return Result.ok(new LifecycleInfo(m.getSenderId(), m.getSequence(),
            Ids.bytesToUuid(m.getObjectId().toByteArray()), action, m.getPath(), m.getValidUntil(), metadata,
            m.getChangedAt()));
    }
}
