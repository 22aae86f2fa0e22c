package io.condcast;

import java.util.Objects;

/**
 * Options of a {@link Sender} (SPEC 7 defaults; mirrors the TypeScript {@code SenderOptions}): the
 * group, port and interface of {@link NetworkOptions}, and the sender's own. Immutable; build with
 * {@link #builder()}.
 */
public final class SenderOptions extends NetworkOptions {
    private final int ttl;
    private final int datagramSize;
    private final double rate;
    private final AuthKey key;
    private final Long senderId;
    private final long firstSequence;
    private final long heartbeatIntervalMs;
    private final String senderName;
    private final int commitCopies;
    private final long commitCopyIntervalMs;
    private final double fecParity;
    private final int fecBlockLength;
    private final int fecInterleave;

    private SenderOptions(final Builder b) {
        super(b);
        this.ttl = b.ttl;
        this.datagramSize = b.datagramSize;
        this.rate = b.rate;
        this.key = b.key;
        this.senderId = b.senderId;
        this.firstSequence = b.firstSequence;
        this.heartbeatIntervalMs = b.heartbeatIntervalMs;
        this.senderName = b.senderName;
        this.commitCopies = b.commitCopies;
        this.commitCopyIntervalMs = b.commitCopyIntervalMs;
        if (commitCopies < 1) {
            throw new IllegalArgumentException("commit copies must be at least 1, got " + commitCopies);
        }
        if (commitCopyIntervalMs < 0) {
            throw new IllegalArgumentException("commit copy interval must be >= 0 ms, got " + commitCopyIntervalMs);
        }
        this.fecParity = b.fecParity;
        final int units = FecLayout.parityUnits(fecParity); // validates p
        if (units == 0) {
            this.fecBlockLength = b.fecBlockLength == null ? 0 : b.fecBlockLength;
        } else if (b.fecBlockLength == null) {
            this.fecBlockLength = FecLayout.defaultBlockLength(units);
        } else {
            this.fecBlockLength = b.fecBlockLength;
            if (!FecLayout.validBlockLength(fecBlockLength, units)) {
                throw new IllegalArgumentException("FEC block length " + fecBlockLength + " with parity " + fecParity
                    + " is not allowed: B >= 1 and B + parity(B) <= 255 (parity(B) = "
                    + FecLayout.parityFor(Math.max(0, fecBlockLength), units) + ")");
            }
        }
        if (fecBlockLength < 0 || fecBlockLength > FecLayout.MAX_SYMBOLS_PER_BLOCK - 1) {
            throw new IllegalArgumentException("FEC block length must be in [1, 254], got " + fecBlockLength);
        }
        this.fecInterleave = b.fecInterleave;
        if (fecInterleave < 1) {
            throw new IllegalArgumentException("FEC interleave depth must be at least 1, got " + fecInterleave);
        }
        Wire.fragmentSizeFor(datagramSize, key != null); // validates the size
        validateNetwork();
        if (ttl < 0 || ttl > 255) {
            throw new IllegalArgumentException("ttl must be in [0, 255], got " + ttl);
        }
        if (!(rate >= 0) || Double.isInfinite(rate)) {
            throw new IllegalArgumentException("rate must be a number >= 0, got " + rate);
        }
        if (firstSequence < 1 || firstSequence > Wire.MAX_SEQUENCE) {
            throw new IllegalArgumentException("firstSequence must be in [1, 2^53 - 1]");
        }
        if (heartbeatIntervalMs < 0 || heartbeatIntervalMs > 0xFFFFFFFFL) {
            throw new IllegalArgumentException("heartbeat interval must be in [0, 2^32 - 1] ms");
        }
    }

    /** @return a builder with the defaults of SPEC 7 */
    public static Builder builder() {
        return new Builder();
    }

    /** @return the multicast TTL */
    public int ttl() {
        return ttl;
    }

    /** @return the largest datagram */
    public int datagramSize() {
        return datagramSize;
    }

    /** @return pacing rate, bytes per second, 0 = unpaced */
    public double rate() {
        return rate;
    }

    /** @return the signing key, or null */
    public AuthKey key() {
        return key;
    }

    /** @return the sender id, or null for a random one */
    public Long senderId() {
        return senderId;
    }

    /** @return the sequence the first object or change takes */
    public long firstSequence() {
        return firstSequence;
    }

    /** @return heartbeat interval in ms, 0 = none */
    public long heartbeatIntervalMs() {
        return heartbeatIntervalMs;
    }

    /** @return the sender name in heartbeats */
    public String senderName() {
        return senderName;
    }

    /** @return identical copies of each Commit (SPEC 4.5) */
    public int commitCopies() {
        return commitCopies;
    }

    /** @return ms between a Commit's copies (SPEC 4.5) */
    public long commitCopyIntervalMs() {
        return commitCopyIntervalMs;
    }

    /** @return the FEC parity ratio p (SPEC 10.4), 0 = no FEC */
    public double fecParity() {
        return fecParity;
    }

    /** @return B, the largest number of source fragments per FEC block (0 without FEC and no B given) */
    public int fecBlockLength() {
        return fecBlockLength;
    }

    /** @return D, the FEC interleave depth in blocks */
    public int fecInterleave() {
        return fecInterleave;
    }

    /**
     * Builder of {@link SenderOptions}: TTL, datagram size, pacing, key, heartbeats and FEC here; the group,
     * port and interface setters come from {@link NetworkOptions.Builder}.
     */
    public static final class Builder extends NetworkOptions.Builder<Builder> {
        private int ttl = Wire.DEFAULT_TTL;
        private int datagramSize = Wire.DEFAULT_DATAGRAM_SIZE;
        private double rate = Wire.DEFAULT_RATE;
        private AuthKey key;
        private Long senderId;
        private long firstSequence = 1;
        private long heartbeatIntervalMs = Wire.DEFAULT_HEARTBEAT_INTERVAL_MS;
        private int commitCopies = Wire.DEFAULT_COMMIT_COPIES;
        private long commitCopyIntervalMs = Wire.DEFAULT_COMMIT_COPY_INTERVAL_MS;
        private String senderName = "";
        private double fecParity = FecLayout.DEFAULT_PARITY;
        private Integer fecBlockLength;
        private int fecInterleave = FecLayout.DEFAULT_INTERLEAVE;

        private Builder() {
        }

        @Override
        Builder self() {
            return this;
        }

        /**
         * @param value the FEC parity ratio p, 0 to 1 (default 0.05; 0 = no FEC): m = ceil(k · P / 10000)
         *     parity fragments per block of k, P = round(p · 10000)
         * @return this
         */
        public Builder fecParity(final double value) {
            this.fecParity = value;
            return this;
        }

        /**
         * @param value B, the largest number of source fragments per block (default: the largest B with
         *     B + parity(B) &le; 255; refused when above)
         * @return this
         */
        public Builder fecBlockLength(final int value) {
            this.fecBlockLength = value;
            return this;
        }

        /**
         * @param value D, the interleave depth in blocks (default 16, &ge; 1)
         * @return this
         */
        public Builder fecInterleave(final int value) {
            this.fecInterleave = value;
            return this;
        }

        /**
         * @param value multicast TTL (default 1)
         * @return this
         */
        public Builder ttl(final int value) {
            this.ttl = value;
            return this;
        }

        /**
         * @param value largest datagram, 256 to 65507 (default 1472)
         * @return this
         */
        public Builder datagramSize(final int value) {
            this.datagramSize = value;
            return this;
        }

        /**
         * @param value pacing rate in bytes per second, 0 = unpaced (default 100 000 000)
         * @return this
         */
        public Builder rate(final double value) {
            this.rate = value;
            return this;
        }

        /**
         * @param value key to sign every datagram with, or null
         * @return this
         */
        public Builder key(final AuthKey value) {
            this.key = value;
            return this;
        }

        /**
         * @param value sender id (default random); a repository keeps it stable across restarts
         * @return this
         */
        public Builder senderId(final long value) {
            this.senderId = value;
            return this;
        }

        /**
         * @param value the sequence the next object or change takes (default 1)
         * @return this
         */
        public Builder firstSequence(final long value) {
            this.firstSequence = value;
            return this;
        }

        /**
         * @param value ms between heartbeats, 0 = none (default 1000)
         * @return this
         */
        public Builder heartbeatIntervalMs(final long value) {
            this.heartbeatIntervalMs = value;
            return this;
        }

        /**
         * @param value sender name sent in heartbeats
         * @return this
         */
        public Builder senderName(final String value) {
            this.senderName = Objects.requireNonNull(value);
            return this;
        }

        /**
         * @param value identical copies of each Commit, at least 1 (default 3, SPEC 4.5)
         * @return this
         */
        public Builder commitCopies(final int value) {
            this.commitCopies = value;
            return this;
        }

        /**
         * @param value ms between a Commit's copies (default 10, SPEC 4.5)
         * @return this
         */
        public Builder commitCopyIntervalMs(final long value) {
            this.commitCopyIntervalMs = value;
            return this;
        }

        /** @return the options */
        public SenderOptions build() {
            return new SenderOptions(this);
        }
    }
}
