package io.condcast;

/**
 * Why a datagram, a fragment or a whole object was dropped (SPEC 6): the same strings in every
 * implementation (mirrors {@code ts/src/wire/reasons.ts}).
 */
public enum DropReason {
    /** Datagram shorter than the preamble, or than preamble and trailer. */
    TRUNCATED("truncated", Scope.DATAGRAM),
    /** Wrong magic bytes. */
    BAD_MAGIC("bad_magic", Scope.DATAGRAM),
    /** Version other than 1. */
    BAD_VERSION("bad_version", Scope.DATAGRAM),
    /** Undefined flag bits or a non-zero reserved byte. */
    BAD_FLAGS("bad_flags", Scope.DATAGRAM),
    /** Kind other than 1, 2, 3, 4. */
    UNKNOWN_KIND("unknown_kind", Scope.DATAGRAM),
    /** The receiver has keys and the datagram has no trailer. */
    UNAUTHENTICATED("unauthenticated", Scope.DATAGRAM),
    /** The trailer names a key the receiver does not have. */
    UNKNOWN_KEY("unknown_key", Scope.DATAGRAM),
    /** The MAC does not match. */
    BAD_MAC("bad_mac", Scope.DATAGRAM),
    /** The body does not parse as the kind's message, or a sequence is out of range. */
    MALFORMED("malformed", Scope.DATAGRAM),
    /** An object id that is not 16 bytes. */
    BAD_OBJECT_ID("bad_object_id", Scope.DATAGRAM),
    /** A fragment with a forward error correction scheme other than 0 and 1. */
    UNSUPPORTED_FEC("unsupported_fec", Scope.DATAGRAM),
    /** FEC fields that do not fit the scheme (SPEC 5.1 row 13). */
    BAD_FEC("bad_fec", Scope.DATAGRAM),
    /** An envelope longer than the receiver's cap. */
    OVERSIZE("oversize", Scope.DATAGRAM),
    /** Inconsistent lengths, or a chunk of the wrong length. */
    BAD_LENGTH("bad_length", Scope.DATAGRAM),
    /** A fragment index past the fragment count (and the parity fragments, with FEC). */
    INDEX_OUT_OF_RANGE("index_out_of_range", Scope.DATAGRAM),
    /** A Commit that violates SPEC 4.5, or heartbeat keys out of order (SPEC 5.1 row 19). */
    BAD_COMMIT("bad_commit", Scope.DATAGRAM),
    /** A fragment disagreeing with the first fragment of its object. */
    INCONSISTENT("inconsistent", Scope.REASSEMBLY),
    /** A fragment already held, or of an object completed recently. */
    DUPLICATE("duplicate", Scope.REASSEMBLY),
    /** A first fragment whose object does not fit the partial-object caps. */
    OVER_CAPACITY("over_capacity", Scope.REASSEMBLY),
    /** A complete object whose metadata does not parse or violates SPEC 4.2. */
    BAD_METADATA("bad_metadata", Scope.OBJECT),
    /** A complete object whose payload does not match its MD5. */
    MD5_MISMATCH("md5_mismatch", Scope.OBJECT),
    /** An incomplete object that received no fragment for the partial timeout. */
    EXPIRED("expired", Scope.OBJECT),
    /** A staged object whose changeset was aborted or not committed in time (SPEC 11). */
    UNCOMMITTED("uncommitted", Scope.OBJECT);

    /** Where a reason applies. */
    public enum Scope {
        /** Per-datagram checks (SPEC 5.1). */
        DATAGRAM,
        /** Fragments not used during reassembly (SPEC 5.2). */
        REASSEMBLY,
        /** Whole objects dropped (SPEC 5.2). */
        OBJECT
    }

    private final String wireName;
    private final Scope scope;

    DropReason(final String wireName, final Scope scope) {
        this.wireName = wireName;
        this.scope = scope;
    }

    /**
     * The shared name of this reason, e.g. {@code "bad_magic"}.
     *
     * @return the reason's name in counters, vectors and logs
     */
    public String wireName() {
        return wireName;
    }

    /**
     * Whether this reason counts datagrams, unused fragments or objects.
     *
     * @return the reason's scope
     */
    public Scope scope() {
        return scope;
    }

    /**
     * The reason with a shared name.
     *
     * @param name e.g. {@code "md5_mismatch"}
     * @return the reason
     * @throws IllegalArgumentException for an unknown name
     */
    public static DropReason fromWireName(final String name) {
        for (final DropReason r : values()) {
            if (r.wireName.equals(name)) {
                return r;
            }
        }
        throw new IllegalArgumentException("unknown drop reason " + name);
    }

    @Override
    public String toString() {
        return wireName;
    }
}
