package io.condcast;

import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.security.SecureRandom;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The multicast sender (mirrors {@code ts/src/sender/sender.ts}): cuts objects into datagrams, paces
 * them, announces itself with heartbeats. Sends on a {@link DatagramChannel} bound to the configured
 * interface, from one reused direct buffer: the hot path allocates nothing per datagram. Objects and
 * lifecycle changes go out one at a time, in sequence order ({@link #send} is synchronized). A changeset
 * (SPEC 11) is its objects, each sent with {@link OutgoingObject.Builder#changeset}, then one
 * {@link #sendCommit}.
 */
public final class Sender implements AutoCloseable {
    private static final int BURST_DATAGRAMS = 64;
    private static final long MAX_BURST_BYTES = 256 * 1024;

    private final SenderOptions options;
    private final long senderId;
    private final Inet4Address group;
    private final InetSocketAddress target;
    private final Pacer pacer;
    private final ByteBuffer datagram;
    /** FEC encoders reused from object to object (one per block of an interleave group). */
    private FecEncoder[] fecPool;
    private volatile long nextSequence;
    /** Highest sequence whose datagrams have all been handed to the kernel: what heartbeats announce. */
    private volatile long completedSequence;
    private volatile DatagramChannel channel;
    private ScheduledExecutorService heartbeats;
    /** The keytables' keys heartbeats announce. */
    private volatile List<KeyPosition> keys = List.of();

    /**
     * A sender; {@link #start()} opens its socket.
     *
     * @param options the options
     */
    public Sender(final SenderOptions options) {
        this.options = options;
        this.group = Net.multicastGroup(options.group());
        Net.ipv4(options.interfaceAddress(), "interface");
        this.target = new InetSocketAddress(group, options.port());
        this.senderId = options.senderId() != null ? options.senderId() : new SecureRandom().nextLong();
        this.nextSequence = options.firstSequence();
        this.completedSequence = nextSequence - 1;
        final long burst = Math.max(options.datagramSize(),
            Math.min((long) BURST_DATAGRAMS * options.datagramSize(), MAX_BURST_BYTES));
        this.pacer = new Pacer(options.rate(), burst);
        this.datagram = ByteBuffer.allocateDirect(options.datagramSize());
    }

    /** @return the sender id (unsigned 64 bits) */
    public long senderId() {
        return senderId;
    }

    /** @return the sender id as 16 hex digits */
    public String senderIdHex() {
        return Ids.formatSenderId(senderId);
    }

    /** @return the highest sequence sent completely so far (0 when none): what heartbeats announce */
    public long lastSequence() {
        return completedSequence;
    }

    /**
     * Opens the socket on the configured interface (multicast TTL and loopback set) and starts
     * heartbeats: one now, then one every interval.
     *
     * @throws IOException when the socket cannot be opened or the interface does not exist
     */
    public synchronized void start() throws IOException {
        if (channel != null) {
            throw new IllegalStateException("sender already started");
        }
        channel = MulticastChannels.openForSending(options, options.ttl());
        if (options.heartbeatIntervalMs() > 0) {
            heartbeats = Executors.newSingleThreadScheduledExecutor(r -> {
                final Thread t = new Thread(r, "condcast-heartbeat");
                t.setDaemon(true);
                return t;
            });
            heartbeats.scheduleAtFixedRate(this::heartbeat, 0, options.heartbeatIntervalMs(), TimeUnit.MILLISECONDS);
        }
    }

    /**
     * Sends one object; returns when its last datagram has been handed to the kernel.
     *
     * @param object the object
     * @return what was sent
     * @throws IOException when a send fails
     * @throws IllegalArgumentException when the object's metadata is invalid or it is too large
     */
    public synchronized SentObject send(final OutgoingObject object) throws IOException {
        if (channel == null) {
            throw new IllegalStateException("sender is not started");
        }
        final UUID id = object.id() != null ? object.id() : UUID.randomUUID();
        final ByteBuffer payload = object.payload();
        final ObjectMetadata meta = new ObjectMetadata(object.path(), object.validFrom(), object.validUntil(),
            object.created() != null ? object.created() : System.currentTimeMillis(), object.contentType(),
            object.fileName(), ObjectCodec.md5Hex(payload), object.metadata(), object.changeset());
        final long sequence = nextSequence;
        final ObjectEncoder encoder = new ObjectEncoder(senderId, sequence, id, meta, payload,
            options.datagramSize(), options.key(), options.fecParity(), options.fecBlockLength(), options.fecInterleave());
        nextSequence = sequence + 1;
        long bytes = 0;
        final long count = encoder.count();
        final ObjectEncoder.Cursor cursor = encoder.cursor(fecPool);
        fecPool = cursor.pool();
        for (int length = cursor.next(datagram); length >= 0; length = cursor.next(datagram)) {
            pacer.take(length);
            datagram.limit(length).position(0);
            channel.send(datagram, target);
            datagram.clear();
            bytes += length;
        }
        completedSequence = sequence;
        return new SentObject(id, sequence, meta, count, bytes);
    }

    /**
     * Announces a deletion or an update of an object sent before.
     *
     * @param change the change
     * @return the sequence it took
     * @throws IOException when the send fails
     * @throws IllegalArgumentException when its encoding does not fit the datagram size
     */
    public synchronized long sendLifecycle(final LifecycleChange change) throws IOException {
        if (channel == null) {
            throw new IllegalStateException("sender is not started");
        }
        final long sequence = nextSequence;
        final byte[] bytes = ControlCodec.encodeLifecycle(new LifecycleInfo(senderId, sequence, change.objectId(),
            change.action(), change.path(), change.validUntil(), change.metadata(), System.currentTimeMillis()),
            options.key());
        if (bytes.length > options.datagramSize()) {
            throw new IllegalArgumentException("lifecycle message of " + bytes.length + " bytes exceeds the datagram size");
        }
        nextSequence = sequence + 1;
        channel.send(ByteBuffer.wrap(bytes), target);
        completedSequence = sequence;
        return sequence;
    }

    /**
     * Sends the Commit (or abort) of a changeset whose objects were sent before it (SPEC 4.5, 11): after
     * every object sent before, in sequence order, in {@link SenderOptions#commitCopies()} identical copies;
     * returns after the last. The object ids are left out when they do not fit one
     * datagram (receivers then count the objects carrying the changeset id).
     *
     * @param commit the commit
     * @return the commit as sent: this sender's id, the sequence it took, the ids sorted as on the wire
     *     (empty when left out), the removed paths sorted
     * @throws IOException when the send fails
     * @throws IllegalArgumentException when the commit violates SPEC 4.5 or does not fit the datagram size
     */
    public synchronized CommitInfo sendCommit(final OutgoingCommit commit) throws IOException {
        if (channel == null) {
            throw new IllegalStateException("sender is not started");
        }
        final long sequence = nextSequence;
        final byte[] bytes = ControlCodec.encodeCommit(new CommitInfo(senderId, sequence, commit.keytable(), commit.key(),
            commit.parentKey(), commit.changeset(), commit.objectCount(), commit.objectIds(), commit.removedPaths(),
            commit.committedAt() != null ? commit.committedAt() : System.currentTimeMillis(), commit.aborted()),
            options.datagramSize(), options.key());
        // What a receiver makes of it: refuses what it would drop (SPEC 5.1 row 19) and yields the commit as sent.
        final DatagramDecoder check = new DatagramDecoder();
        final DropReason rejected = check.decode(bytes);
        if (rejected != null) {
            throw new IllegalArgumentException("commit of changeset " + commit.changeset() + " is invalid: " + rejected);
        }
        nextSequence = sequence + 1;
        // SPEC 4.5: the same datagram again (same sequence, no gap), nothing else of the sequence between;
        // heartbeats announce it once the last copy is out.
        for (int copy = 0; copy < options.commitCopies(); copy++) {
            if (copy > 0) {
                try {
                    Thread.sleep(options.commitCopyIntervalMs());
                } catch (final InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new java.io.InterruptedIOException("interrupted between the copies of a commit");
                }
            }
            channel.send(ByteBuffer.wrap(bytes), target);
        }
        completedSequence = sequence;
        return check.commit();
    }

    /**
     * Sets the keytables' current keys that heartbeats announce from now on (SPEC 4.3, 11; at most 32 are
     * sent, in keytable order).
     *
     * @param value the keys
     */
    public void setKeys(final List<KeyPosition> value) {
        final List<KeyPosition> copy = List.copyOf(value);
        final java.util.Set<String> seen = new java.util.HashSet<>();
        for (final KeyPosition k : copy) {
            if (!ObjectCodec.isKeytableName(k.keytable()) || !seen.add(k.keytable()) || k.key() < 0 || k.key() > Wire.MAX_SEQUENCE) {
                throw new IllegalArgumentException("heartbeat keys need unique keytable names and keys in [0, 2^53 - 1]");
            }
        }
        keys = copy.size() > Wire.MAX_HEARTBEAT_KEYS ? copy.subList(0, Wire.MAX_HEARTBEAT_KEYS) : copy;
    }

    private void heartbeat() {
        final DatagramChannel ch = channel;
        if (ch == null) {
            return;
        }
        final byte[] bytes = ControlCodec.encodeHeartbeat(new HeartbeatInfo(senderId, lastSequence(),
            System.currentTimeMillis(), options.heartbeatIntervalMs(), options.senderName(), keys), options.key());
        try {
            ch.send(ByteBuffer.wrap(bytes), target);
        } catch (final IOException | RuntimeException e) {
            // A lost heartbeat is harmless; the next one follows.
        }
    }

    /** Stops heartbeats and closes the socket. */
    @Override
    public void close() throws IOException {
        final ScheduledExecutorService hb;
        final DatagramChannel ch;
        synchronized (this) {
            hb = heartbeats;
            ch = channel;
            heartbeats = null;
            channel = null;
        }
        if (hb != null) {
            hb.shutdownNow();
            try {
                hb.awaitTermination(1, TimeUnit.SECONDS);
            } catch (final InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (ch != null) {
            ch.close();
        }
    }
}
