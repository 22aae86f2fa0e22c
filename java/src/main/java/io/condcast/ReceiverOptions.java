package io.condcast;

import java.util.List;
import java.util.Objects;

/**
 * Options of a {@link Receiver} (SPEC 7 defaults; mirrors the TypeScript {@code ReceiverOptions}): the
 * group, port and interface of {@link NetworkOptions}, and the receiver's own. Immutable; build with
 * {@link #builder()}.
 */
public final class ReceiverOptions extends NetworkOptions {
    /** Default SO_RCVBUF request: 32 MiB (the kernel caps it at net.core.rmem_max). */
    public static final int DEFAULT_RECEIVE_BUFFER = 32 * 1024 * 1024;
    /** Default queue between the socket and the processing thread: 64 MiB of direct memory. */
    public static final int DEFAULT_QUEUE_BYTES = 64 * 1024 * 1024;

    private final List<AuthKey> keys;
    private final long maxEnvelopeLength;
    private final int receiveBufferSize;
    private final long maxPartialBytes;
    private final int maxPartialObjects;
    private final long partialTimeoutMs;
    private final int completedMemory;
    private final int queueBytes;
    private final boolean stageChangesets;
    private final long stageTimeoutMs;

    private ReceiverOptions(final Builder b) {
        super(b);
        keys = List.copyOf(b.keys);
        maxEnvelopeLength = b.maxEnvelopeLength;
        receiveBufferSize = b.receiveBufferSize;
        maxPartialBytes = b.maxPartialBytes;
        maxPartialObjects = b.maxPartialObjects;
        partialTimeoutMs = b.partialTimeoutMs;
        completedMemory = b.completedMemory;
        queueBytes = b.queueBytes;
        stageChangesets = b.stageChangesets;
        stageTimeoutMs = b.stageTimeoutMs;
        if (queueBytes < 2 * 65536) {
            throw new IllegalArgumentException("queueBytes must be at least 128 KiB");
        }
        validateNetwork();
        if (maxEnvelopeLength < 1 || maxEnvelopeLength > Wire.MAX_ENVELOPE_LENGTH) {
            throw new IllegalArgumentException("maxEnvelopeLength must be in [1, 2^31 - 1]");
        }
        if (maxPartialBytes < 0 || maxPartialObjects < 0 || partialTimeoutMs < 1 || completedMemory < 0
            || receiveBufferSize < 1 || stageTimeoutMs < 1) {
            throw new IllegalArgumentException("receiver bounds must be positive");
        }
    }

    /** @return a builder with the defaults of SPEC 7 */
    public static Builder builder() {
        return new Builder();
    }

    /** @return keys to require and verify; empty = trailers ignored */
    public List<AuthKey> keys() {
        return keys;
    }

    /** @return the largest envelope accepted */
    public long maxEnvelopeLength() {
        return maxEnvelopeLength;
    }

    /** @return SO_RCVBUF to request */
    public int receiveBufferSize() {
        return receiveBufferSize;
    }

    /** @return cap on the bytes held by incomplete objects */
    public long maxPartialBytes() {
        return maxPartialBytes;
    }

    /** @return cap on the number of incomplete objects */
    public int maxPartialObjects() {
        return maxPartialObjects;
    }

    /** @return timeout of an incomplete object after its last fragment */
    public long partialTimeoutMs() {
        return partialTimeoutMs;
    }

    /** @return how many completed object ids are remembered */
    public int completedMemory() {
        return completedMemory;
    }

    /** @return bytes of direct memory between the socket and the processing thread */
    public int queueBytes() {
        return queueBytes;
    }

    /**
     * Whether complete objects of a changeset are staged until their commit and then delivered together
     * through {@link ReceiverListener#onChangeset} (SPEC 11, the default), or delivered through
     * {@link ReceiverListener#onObject} as they complete.
     *
     * @return true when changesets are staged
     */
    public boolean stageChangesets() {
        return stageChangesets;
    }

    /** @return the staged timeout (SPEC 11): a changeset not delivered this long after it began is dropped */
    public long stageTimeoutMs() {
        return stageTimeoutMs;
    }

    /**
     * Builder of {@link ReceiverOptions}: keys, receive buffer, bounds and queue here; the group, port and
     * interface setters come from {@link NetworkOptions.Builder}.
     */
    public static final class Builder extends NetworkOptions.Builder<Builder> {
        private List<AuthKey> keys = List.of();
        private long maxEnvelopeLength = Wire.MAX_ENVELOPE_LENGTH;
        private int receiveBufferSize = DEFAULT_RECEIVE_BUFFER;
        private long maxPartialBytes = Wire.DEFAULT_MAX_PARTIAL_BYTES;
        private int maxPartialObjects = 10_000;
        private long partialTimeoutMs = Wire.DEFAULT_PARTIAL_TIMEOUT_MS;
        private int completedMemory = 4096;
        private int queueBytes = DEFAULT_QUEUE_BYTES;
        private boolean stageChangesets = true;
        private long stageTimeoutMs = Wire.DEFAULT_STAGE_TIMEOUT_MS;

        private Builder() {
        }

        @Override
        Builder self() {
            return this;
        }

        /**
         * @param value keys to require and verify (empty: none)
         * @return this
         */
        public Builder keys(final List<AuthKey> value) {
            keys = Objects.requireNonNull(value);
            return this;
        }

        /**
         * @param value largest envelope accepted, at most 2^31 - 1
         * @return this
         */
        public Builder maxEnvelopeLength(final long value) {
            maxEnvelopeLength = value;
            return this;
        }

        /**
         * @param value SO_RCVBUF to request (default 32 MiB)
         * @return this
         */
        public Builder receiveBufferSize(final int value) {
            receiveBufferSize = value;
            return this;
        }

        /**
         * @param value cap on the bytes held by incomplete objects (default 1 GiB + 256 MiB)
         * @return this
         */
        public Builder maxPartialBytes(final long value) {
            maxPartialBytes = value;
            return this;
        }

        /**
         * @param value cap on the number of incomplete objects (default 10000)
         * @return this
         */
        public Builder maxPartialObjects(final int value) {
            maxPartialObjects = value;
            return this;
        }

        /**
         * @param value ms after its last fragment an incomplete object expires (default 10000)
         * @return this
         */
        public Builder partialTimeoutMs(final long value) {
            partialTimeoutMs = value;
            return this;
        }

        /**
         * @param value completed object ids remembered (default 4096)
         * @return this
         */
        public Builder completedMemory(final int value) {
            completedMemory = value;
            return this;
        }

        /**
         * @param value bytes of direct memory queueing datagrams between the socket and the processing
         *     thread (default 64 MiB): how long a processing stall the receiver absorbs without loss
         * @return this
         */
        public Builder queueBytes(final int value) {
            queueBytes = value;
            return this;
        }

        /**
         * @param value true (default): stage the objects of a changeset and deliver them with its commit;
         *     false: deliver every object as it completes
         * @return this
         */
        public Builder stageChangesets(final boolean value) {
            stageChangesets = value;
            return this;
        }

        /**
         * @param value ms a changeset may stay staged, from its first object or commit, before its objects
         *     are dropped as uncommitted (default 15 min)
         * @return this
         */
        public Builder stageTimeoutMs(final long value) {
            stageTimeoutMs = value;
            return this;
        }

        /** @return the options */
        public ReceiverOptions build() {
            return new ReceiverOptions(this);
        }
    }
}
