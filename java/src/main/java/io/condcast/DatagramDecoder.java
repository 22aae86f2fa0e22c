package io.condcast;

import java.nio.ByteBuffer;
import java.util.Collection;
import java.util.List;

/**
 * One datagram in, one verdict out (SPEC 5.1): the per-datagram checks every receiver applies, in
 * order (mirrors {@code ts/src/wire/decode.ts}). A fragment is read in place by a reused
 * {@link FragmentView}; decoding a fragment allocates nothing. Heartbeats, lifecycle and commit messages are
 * decoded into fresh objects. Not thread-safe: one decoder per receiving thread.
 */
public final class DatagramDecoder {
    private final FragmentView view = new FragmentView();
    private final long[] keyIds;
    private final DatagramAuth[] auths;
    private final long maxEnvelopeLength;
    private int kind;
    private HeartbeatInfo heartbeat;
    private LifecycleInfo lifecycle;
    private CommitInfo commit;

    /**
     * A decoder.
     *
     * @param keys keys to require and verify; empty means trailers are ignored
     * @param maxEnvelopeLength largest envelope accepted (capped at 2^31 - 1)
     */
    public DatagramDecoder(final Collection<AuthKey> keys, final long maxEnvelopeLength) {
        final List<AuthKey> list = List.copyOf(keys);
        keyIds = new long[list.size()];
        auths = new DatagramAuth[list.size()];
        for (int i = 0; i < list.size(); i++) {
            keyIds[i] = list.get(i).id();
            auths[i] = new DatagramAuth(list.get(i).keyNoCopy());
        }
        this.maxEnvelopeLength = Math.min(maxEnvelopeLength, Wire.MAX_ENVELOPE_LENGTH);
    }

    /** A decoder without keys and with the largest envelope cap. */
    public DatagramDecoder() {
        this(List.of(), Wire.MAX_ENVELOPE_LENGTH);
    }

    /**
     * Decodes and checks the datagram in buf[0, length) (absolute positions; position and limit are
     * left as they were).
     *
     * @param buf the datagram's buffer
     * @param length the datagram's length
     * @return the drop reason, or null when the datagram is valid; then see {@link #kind()}
     */
    public DropReason decode(final ByteBuffer buf, final int length) {
        kind = 0;
        heartbeat = null;
        lifecycle = null;
        commit = null;
        DropReason reason = Preamble.check(buf, length);
        if (reason != null) {
            return reason;
        }
        final boolean authenticated = (buf.get(6) & Wire.FLAG_AUTH) != 0;
        if (authenticated && length < Wire.PREAMBLE_LENGTH + Wire.AUTH_TRAILER_LENGTH) {
            return DropReason.TRUNCATED;
        }
        final int bodyEnd = authenticated ? length - Wire.AUTH_TRAILER_LENGTH : length;
        if (auths.length > 0) {
            if (!authenticated) {
                return DropReason.UNAUTHENTICATED;
            }
            final int at = length - Wire.AUTH_TRAILER_LENGTH;
            final long keyId = ((buf.get(at) & 0xFFL) << 24) | ((buf.get(at + 1) & 0xFF) << 16)
                | ((buf.get(at + 2) & 0xFF) << 8) | (buf.get(at + 3) & 0xFF);
            DatagramAuth auth = null;
            for (int i = 0; i < keyIds.length; i++) {
                if (keyIds[i] == keyId) {
                    auth = auths[i];
                    break;
                }
            }
            if (auth == null) {
                return DropReason.UNKNOWN_KEY;
            }
            if (!auth.verify(buf, length)) {
                return DropReason.BAD_MAC;
            }
        }
        final int k = buf.get(5);
        if (k == Wire.KIND_FRAGMENT) {
            reason = view.parse(buf, Wire.PREAMBLE_LENGTH, bodyEnd, maxEnvelopeLength);
        } else if (k == Wire.KIND_HEARTBEAT) {
            final ControlCodec.Result<HeartbeatInfo> r = ControlCodec.decodeHeartbeat(buf, Wire.PREAMBLE_LENGTH, bodyEnd);
            heartbeat = r.info();
            reason = r.reason();
        } else if (k == Wire.KIND_COMMIT) {
            final ControlCodec.Result<CommitInfo> r = ControlCodec.decodeCommit(buf, Wire.PREAMBLE_LENGTH, bodyEnd);
            commit = r.info();
            reason = r.reason();
        } else {
            final ControlCodec.Result<LifecycleInfo> r = ControlCodec.decodeLifecycle(buf, Wire.PREAMBLE_LENGTH, bodyEnd);
            lifecycle = r.info();
            reason = r.reason();
        }
        if (reason == null) {
            kind = k;
        }
        return reason;
    }

    /**
     * Decodes a datagram held in an array.
     *
     * @param datagram the datagram
     * @return the drop reason, or null when valid
     */
    public DropReason decode(final byte[] datagram) {
        return decode(ByteBuffer.wrap(datagram), datagram.length);
    }

    /** @return the kind of the last valid datagram ({@link Wire#KIND_FRAGMENT}, ...), 0 after a rejection */
    public int kind() {
        return kind;
    }

    /** @return the view of the last fragment (reused; read it before the next decode) */
    public FragmentView fragment() {
        return view;
    }

    /** @return the last heartbeat decoded, or null */
    public HeartbeatInfo heartbeat() {
        return heartbeat;
    }

    /** @return the last lifecycle message decoded, or null */
    public LifecycleInfo lifecycle() {
        return lifecycle;
    }

    /** @return the last commit decoded, or null */
    public CommitInfo commit() {
        return commit;
    }
}
