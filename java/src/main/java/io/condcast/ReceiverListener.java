package io.condcast;

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
     * A changeset committed or aborted (a Commit datagram, SPEC 4.5, 11). Objects of a changeset are
     * delivered through {@link #onObject} as they complete, with {@link ObjectMetadata#changeset()} set.
     *
     * @param commit the commit
     */
    default void onCommit(final CommitInfo commit) {
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
