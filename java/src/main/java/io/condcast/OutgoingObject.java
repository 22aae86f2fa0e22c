package io.condcast;

import java.nio.ByteBuffer;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.UUID;

/**
 * What a caller supplies for one object; the sender computes the MD5. Immutable; build with
 * {@link #builder()}.
 */
public final class OutgoingObject {
    private final ByteBuffer payload;
    private final String path;
    private final long validFrom;
    private final long validUntil;
    private final UUID id;
    private final Long created;
    private final String contentType;
    private final String fileName;
    private final SortedMap<String, String> metadata;
    private final String changeset;

    private OutgoingObject(final Builder b) {
        this.payload = Objects.requireNonNull(b.payload, "payload").asReadOnlyBuffer();
        this.path = Objects.requireNonNull(b.path, "path");
        if (b.validFrom == null || b.validUntil == null) {
            throw new IllegalArgumentException("validFrom and validUntil are required");
        }
        this.validFrom = b.validFrom;
        this.validUntil = b.validUntil;
        this.id = b.id;
        this.created = b.created;
        this.contentType = b.contentType;
        this.fileName = b.fileName;
        this.metadata = ObjectMetadata.sortedCopy(b.metadata);
        this.changeset = b.changeset;
    }

    /** @return a new builder */
    public static Builder builder() {
        return new Builder();
    }

    /** @return a read-only view of the payload */
    public ByteBuffer payload() {
        return payload.duplicate();
    }

    /** @return the CCDB path */
    public String path() {
        return path;
    }

    /** @return start of validity, epoch ms */
    public long validFrom() {
        return validFrom;
    }

    /** @return end of validity, epoch ms (exclusive) */
    public long validUntil() {
        return validUntil;
    }

    /** @return the object id, or null for a random one */
    public UUID id() {
        return id;
    }

    /** @return creation time, or null for now */
    public Long created() {
        return created;
    }

    /** @return the content type */
    public String contentType() {
        return contentType;
    }

    /** @return the file name */
    public String fileName() {
        return fileName;
    }

    /** @return free metadata, sorted */
    public SortedMap<String, String> metadata() {
        return metadata;
    }

    /** @return the changeset it belongs to (SPEC 11), empty for an object of its own */
    public String changeset() {
        return changeset;
    }

    /** Builder of {@link OutgoingObject}. */
    public static final class Builder {
        private ByteBuffer payload;
        private String path;
        private Long validFrom;
        private Long validUntil;
        private UUID id;
        private Long created;
        private String contentType = "application/octet-stream";
        private String fileName = "";
        private Map<String, String> metadata = Map.of();
        private String changeset = "";

        private Builder() {
        }

        /**
         * @param bytes the payload (not copied; must not change while sending)
         * @return this
         */
        public Builder payload(final byte[] bytes) {
            this.payload = ByteBuffer.wrap(bytes);
            return this;
        }

        /**
         * @param buffer the payload, position to limit (not copied)
         * @return this
         */
        public Builder payload(final ByteBuffer buffer) {
            this.payload = buffer.duplicate();
            return this;
        }

        /**
         * @param value CCDB path (required)
         * @return this
         */
        public Builder path(final String value) {
            this.path = value;
            return this;
        }

        /**
         * @param value start of validity, epoch ms (required)
         * @return this
         */
        public Builder validFrom(final long value) {
            this.validFrom = value;
            return this;
        }

        /**
         * @param value end of validity, epoch ms, exclusive (required)
         * @return this
         */
        public Builder validUntil(final long value) {
            this.validUntil = value;
            return this;
        }

        /**
         * @param value object id (default random)
         * @return this
         */
        public Builder id(final UUID value) {
            this.id = value;
            return this;
        }

        /**
         * @param value creation time, epoch ms (default now)
         * @return this
         */
        public Builder created(final long value) {
            this.created = value;
            return this;
        }

        /**
         * @param value MIME type (default application/octet-stream)
         * @return this
         */
        public Builder contentType(final String value) {
            this.contentType = Objects.requireNonNull(value);
            return this;
        }

        /**
         * @param value file name (default empty)
         * @return this
         */
        public Builder fileName(final String value) {
            this.fileName = Objects.requireNonNull(value);
            return this;
        }

        /**
         * @param value free metadata (copied)
         * @return this
         */
        public Builder metadata(final Map<String, String> value) {
            this.metadata = Objects.requireNonNull(value);
            return this;
        }

        /**
         * @param value the changeset it belongs to (SPEC 11: 1 to 64 bytes of {@code [A-Za-z0-9._-]}; empty,
         *     the default, for none): receivers stage it until {@link Sender#sendCommit} names the changeset
         * @return this
         */
        public Builder changeset(final String value) {
            this.changeset = Objects.requireNonNull(value);
            return this;
        }

        /** @return the object */
        public OutgoingObject build() {
            return new OutgoingObject(this);
        }
    }
}
