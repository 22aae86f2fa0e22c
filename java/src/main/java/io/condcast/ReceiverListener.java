package io.condcast;

import java.util.List;

/**
 * What a {@link Receiver} reports, on its receiving thread; every method has an empty default. A
 * listener should return quickly (hand heavy work to another thread): while it runs, datagrams queue in
 * the socket's receive buffer.
 */
public interface ReceiverListener {
    /**
     * A complete, verified object.
     *
     * @param object the object; its payload buffer is not shared with the receiver afterwards
     */
    default void onObject(final ReceivedObject object) {
    }

    /**
     * A whole object was dropped: {@code bad_metadata}, {@code md5_mismatch} or {@code expired}.
     *
     * @param partial the object as held
     * @param reason the reason
     */
    default void onObjectDropped(final PartialObject partial, final DropReason reason) {
    }

    /**
     * A heartbeat.
     *
     * @param heartbeat the heartbeat
     */
    default void onHeartbeat(final HeartbeatInfo heartbeat) {
    }

    /**
     * A lifecycle change.
     *
     * @param lifecycle the change
     */
    default void onLifecycle(final LifecycleInfo lifecycle) {
    }

    /**
     * A Commit datagram arrived (SPEC 4.5, 11), whatever of its changeset is held. With staging on (the
     * default, {@link ReceiverOptions#stageChangesets()}) its objects come later, through
     * {@link #onChangeset}, once every one of them is held; with staging off they came through
     * {@link #onObject} as they completed.
     *
     * @param commit the commit
     */
    default void onCommit(final CommitInfo commit) {
    }

    /**
     * A changeset delivered as one unit (SPEC 11): its commit has arrived and every one of its
     * {@link CommitInfo#objectCount()} objects is complete. These objects never reach {@link #onObject}.
     *
     * @param commit the commit (not aborted; its key is above the key delivered before for its sender and
     *     keytable)
     * @param objects the changeset's objects in ascending id order (unsigned bytes, as on the wire)
     */
    default void onChangeset(final CommitInfo commit, final List<ReceivedObject> objects) {
    }

    /**
     * A commit delivered to no one: its key is not above {@code heldKey}, the key already delivered for its
     * sender and keytable (SPEC 11). Its staged objects are dropped ({@link #onStagedObjectDropped}).
     *
     * @param commit the commit
     * @param heldKey the key delivered before
     */
    default void onCommitIgnored(final CommitInfo commit, final long heldKey) {
    }

    /**
     * A complete object of a changeset was dropped while staged, reason {@code uncommitted}: its changeset
     * was aborted or ignored, not committed within the staged timeout, or pushed out by the cap on held
     * bytes.
     *
     * @param object the staged object
     * @param reason the reason
     */
    default void onStagedObjectDropped(final ReceivedObject object, final DropReason reason) {
    }

    /**
     * Sequences missed entirely (SPEC 5.3).
     *
     * @param gap the missing sequences
     */
    default void onGap(final SequenceGap gap) {
    }

    /**
     * An unexpected error on the receiving thread (an I/O error, or a listener that threw).
     *
     * @param error the error
     */
    default void onError(final Throwable error) {
    }
}
