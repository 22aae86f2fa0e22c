package io.condcast;

/**
 * Protocol constants of spec/SPEC.md (mirrors {@code ts/src/wire/constants.ts}).
 */
public final class Wire {
    private Wire() {
    }

    /** Magic bytes at offset 0 of every datagram (SPEC 2.1): 0xCC 0xDB 0x63 0x63. */
    public static final int MAGIC = 0xCCDB6363;
    /** Protocol version in the preamble. */
    public static final int PROTOCOL_VERSION = 1;
    /** Length of the preamble. */
    public static final int PREAMBLE_LENGTH = 8;

    /** Kind of a Fragment datagram. */
    public static final int KIND_FRAGMENT = 1;
    /** Kind of a Heartbeat datagram. */
    public static final int KIND_HEARTBEAT = 2;
    /** Kind of a Lifecycle datagram. */
    public static final int KIND_LIFECYCLE = 3;
    /** Kind of a Commit datagram (SPEC 4.5). */
    public static final int KIND_COMMIT = 4;

    /** Preamble flag: a 20-byte auth trailer ends the datagram. */
    public static final int FLAG_AUTH = 0x01;
    /** Length of the key id in the auth trailer. */
    public static final int AUTH_KEY_ID_LENGTH = 4;
    /** Length of the truncated HMAC-SHA256 in the auth trailer. */
    public static final int AUTH_MAC_LENGTH = 16;
    /** Length of the auth trailer. */
    public static final int AUTH_TRAILER_LENGTH = AUTH_KEY_ID_LENGTH + AUTH_MAC_LENGTH;
    /** Shortest HMAC key accepted. */
    public static final int MIN_KEY_LENGTH = 16;

    /** Largest encoding of every Fragment field but the chunk's bytes (SPEC 2.4). */
    public static final int MAX_FRAGMENT_HEADER = 72;
    /** Smallest datagram size a sender may use. */
    public static final int MIN_DATAGRAM_SIZE = 256;
    /** Largest datagram size (largest IPv4 UDP payload). */
    public static final int MAX_DATAGRAM_SIZE = 65507;
    /** Largest envelope (SPEC 2.4): 2^31 - 1. */
    public static final long MAX_ENVELOPE_LENGTH = (1L << 31) - 1;
    /** Largest sequence number: 2^53 - 1, exact in every language. */
    public static final long MAX_SEQUENCE = (1L << 53) - 1;
    /** Length of an object id (a UUID). */
    public static final int OBJECT_ID_LENGTH = 16;
    /** Most keytables a heartbeat announces (SPEC 4.3). */
    public static final int MAX_HEARTBEAT_KEYS = 32;
    /** Longest changeset id or keytable name, in bytes (SPEC 4.5). */
    public static final int MAX_NAME_LENGTH = 64;
    /** Length of an MD5 digest. */
    public static final int MD5_LENGTH = 16;

    /** Default multicast group (SPEC 7). */
    public static final String DEFAULT_GROUP = "239.255.204.219";
    /** Default UDP port. */
    public static final int DEFAULT_PORT = 3342;
    /** Default interface: loopback; production interfaces are configured explicitly. */
    public static final String DEFAULT_INTERFACE = "127.0.0.1";
    /** Default multicast TTL. */
    public static final int DEFAULT_TTL = 1;
    /** Default datagram size (1500-byte MTU less IPv4 and UDP headers). */
    public static final int DEFAULT_DATAGRAM_SIZE = 1472;
    /** Default pacing rate in bytes per second. */
    public static final long DEFAULT_RATE = 100_000_000L;
    /** Default heartbeat interval. */
    public static final int DEFAULT_HEARTBEAT_INTERVAL_MS = 1000;
    /** SPEC 4.5 / 7: every Commit goes out this many times, identical. */
    public static final int DEFAULT_COMMIT_COPIES = 3;
    /** SPEC 4.5 / 7: ms between a Commit's copies. */
    public static final int DEFAULT_COMMIT_COPY_INTERVAL_MS = 10;
    /** SPEC 5.4: Commits a receiver remembers to recognise their copies. */
    public static final int COMMIT_COPY_MEMORY = 1024;
    /** Default cap on the bytes held by incomplete objects: 1 GiB + 256 MiB. */
    public static final long DEFAULT_MAX_PARTIAL_BYTES = 1024L * 1024 * 1024 + 256L * 1024 * 1024;
    /** Default timeout of an incomplete object after its last fragment. */
    public static final long DEFAULT_PARTIAL_TIMEOUT_MS = 10_000;
    /** Default staged timeout (SPEC 11): a staged changeset neither committed nor aborted within it is dropped. */
    public static final long DEFAULT_STAGE_TIMEOUT_MS = 15 * 60 * 1000L;

    /**
     * Envelope bytes per datagram for a datagram size (SPEC 2.4).
     *
     * @param datagramSize the sender's largest UDP payload, 256 to 65507
     * @param authenticated whether datagrams carry the auth trailer
     * @return the fragment size
     * @throws IllegalArgumentException when the datagram size is out of range
     */
    public static int fragmentSizeFor(final int datagramSize, final boolean authenticated) {
        if (datagramSize < MIN_DATAGRAM_SIZE || datagramSize > MAX_DATAGRAM_SIZE) {
            throw new IllegalArgumentException("datagram size must be an integer in [" + MIN_DATAGRAM_SIZE + ", "
                + MAX_DATAGRAM_SIZE + "], got " + datagramSize);
        }
        return datagramSize - PREAMBLE_LENGTH - MAX_FRAGMENT_HEADER - (authenticated ? AUTH_TRAILER_LENGTH : 0);
    }

    /**
     * Number of fragments of an envelope: ceil(envelopeLength / fragmentSize).
     *
     * @param envelopeLength envelope length in bytes (at least 1)
     * @param fragmentSize fragment size (at least 1)
     * @return the fragment count
     */
    public static long fragmentCount(final long envelopeLength, final long fragmentSize) {
        return (envelopeLength + fragmentSize - 1) / fragmentSize;
    }
}
