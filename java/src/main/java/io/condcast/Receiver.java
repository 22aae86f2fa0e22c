package io.condcast;

import java.io.IOException;
import java.net.NetworkInterface;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.MembershipKey;
import java.util.List;
import java.util.UUID;

/**
 * The multicast receiver (mirrors {@code ts/src/receiver/receiver.ts}): joins a group on an explicit
 * {@link NetworkInterface} (a {@link MembershipKey}), checks every datagram (SPEC 5.1), reassembles
 * objects (SPEC 5.2), stages the objects of changesets until their commit (SPEC 11, {@link ChangesetStager}),
 * tracks sequences (SPEC 5.3) and reports to a {@link ReceiverListener} on its own
 * thread. An I/O thread drains the socket into a ring of direct memory (so a stall of the processing
 * thread, e.g. while it allocates a 100 MB envelope or during a GC pause, does not overflow the socket's
 * receive buffer); the processing thread copies each datagram into one reused direct buffer and parses
 * it in place. Neither allocates per datagram.
 *
 * <pre>{@code
 * try (Receiver r = new Receiver(ReceiverOptions.builder().port(3342).build(), new ReceiverListener() {
 *         public void onObject(ReceivedObject o) { cache.put(o.meta().path(), o); }
 *     })) {
 *     ListeningInfo info = r.start();
 *     ...
 * }
 * }</pre>
 */
public final class Receiver implements AutoCloseable {
    private static final int RECEIVE_BUFFER_CAPACITY = 65536;
    private static final System.Logger LOG = System.getLogger(Receiver.class.getName());

    private final ReceiverOptions options;
    private final ReceiverListener listener;
    private final ReceiverCounters counters = new ReceiverCounters();
    private final SequenceTracker sequences = new SequenceTracker();
    /** The Commits taken recently, by sender and sequence (SPEC 5.4), oldest first. */
    private final java.util.LinkedHashSet<CommitTaken> commitsTaken = new java.util.LinkedHashSet<>();

    /** What tells a Commit's copies from other Commits (SPEC 5.4). */
    private record CommitTaken(long senderId, long sequence, String changeset, long key, long committedAt) {
    }
    private final DatagramDecoder decoder;
    private final Reassembler reassembler;
    /** Holds changesets until their commit; null when {@link ReceiverOptions#stageChangesets()} is off. */
    private final ChangesetStager stager;
    private final long expiryPeriodMs;
    /** The joined channel, its membership and the SO_RCVBUF granted; null when not started. */
    private MulticastChannels.Joined joined;
    /** {@code joined.channel()}, what the I/O thread reads from. */
    private DatagramChannel channel;
    private DatagramRing ring;
    private Thread ioThread;
    private Thread thread;
    private volatile boolean running;
    private final java.util.function.BooleanSupplier isRunning = () -> running;
    // Sequence bookkeeping runs once per object, not per datagram: the previous fragment's pair.
    private long lastSequence = -1;
    private long lastSender;

    /**
     * A receiver; {@link #start()} joins the group.
     *
     * @param options the options
     * @param listener where objects, control messages, gaps and drops go
     */
    public Receiver(final ReceiverOptions options, final ReceiverListener listener) {
        this.options = options;
        this.listener = listener;
        this.decoder = new DatagramDecoder(options.keys(), options.maxEnvelopeLength());
        this.reassembler = new Reassembler(counters, listener, options.maxPartialBytes(), options.maxPartialObjects(),
            options.partialTimeoutMs(), options.completedMemory());
        this.stager = options.stageChangesets() ? new ChangesetStager(counters, listener, options.maxPartialBytes(),
            reassembler::partialBytes, options.maxPartialObjects(), options.stageTimeoutMs(), options.completedMemory())
            : null;
        reassembler.stager(stager);
        final long shortest = options.stageChangesets()
            ? Math.min(options.partialTimeoutMs(), options.stageTimeoutMs()) : options.partialTimeoutMs();
        this.expiryPeriodMs = Math.max(10, Math.min(1000, shortest / 4));
    }

    /**
     * Binds to the group's address and port, requests the receive buffer, joins the group on the
     * configured interface and starts the receiving thread.
     *
     * @return where it listens and the receive buffer granted
     * @throws IOException when the socket cannot be opened or the group joined
     */
    public synchronized ListeningInfo start() throws IOException {
        if (channel != null) {
            throw new IllegalStateException("receiver already started");
        }
        joined = MulticastChannels.join(options, options.receiveBufferSize());
        channel = joined.channel();
        final int granted = joined.receiveBufferGranted();
        ring = new DatagramRing(options.queueBytes());
        running = true;
        thread = new Thread(this::process, "condcast-receiver-" + options.port());
        thread.setDaemon(true);
        thread.start();
        ioThread = new Thread(this::drain, "condcast-receiver-io-" + options.port());
        ioThread.setDaemon(true);
        ioThread.start();
        final ListeningInfo info = new ListeningInfo(options.group(), options.port(), options.interfaceAddress(),
            options.receiveBufferSize(), granted);
        // The CLI logs this as a JSON line; embedding services see it here (java.util.logging FINE).
        LOG.log(granted < options.receiveBufferSize() ? System.Logger.Level.DEBUG : System.Logger.Level.TRACE,
            "joined {0}:{1} on {2}; SO_RCVBUF requested {3}, granted {4} (capped by net.core.rmem_max)",
            options.group(), options.port(), options.interfaceAddress(), options.receiveBufferSize(), granted);
        return info;
    }

    /** The I/O thread: socket to ring, nothing else. */
    private void drain() {
        final ByteBuffer buf = ByteBuffer.allocateDirect(RECEIVE_BUFFER_CAPACITY);
        try {
            while (running) {
                buf.clear();
                channel.receive(buf);
                if (!ring.offer(buf, buf.position(), isRunning)) {
                    return;
                }
            }
        } catch (final ClosedChannelException e) {
            // closed by close()
        } catch (final IOException | RuntimeException e) {
            if (running) {
                listener.onError(e);
            }
        }
    }

    /** The processing thread: ring to decoder, reassembler and listener; expires partial objects. */
    private void process() {
        final ByteBuffer buf = ByteBuffer.allocateDirect(RECEIVE_BUFFER_CAPACITY);
        long nextExpiry = System.currentTimeMillis() + expiryPeriodMs;
        while (running) {
            final int length = ring.poll(buf);
            final long now = System.currentTimeMillis();
            if (length >= 0) {
                try {
                    handleDatagram(buf, length, now);
                } catch (final RuntimeException e) {
                    listener.onError(e);
                }
            } else {
                ring.awaitData(Math.max(1, nextExpiry - now) * 1_000_000L);
            }
            if (now >= nextExpiry) {
                try {
                    expire(now);
                } catch (final RuntimeException e) {
                    listener.onError(e);
                }
                nextExpiry = now + expiryPeriodMs;
            }
        }
    }

    /**
     * Processes one datagram in buf[0, length) as if it had arrived at {@code now} (also the entry point
     * for in-process tests). Call it from one thread at a time, and not while the receiver runs.
     *
     * @param buf the datagram's buffer
     * @param length its length
     * @param now the time, epoch ms
     */
    public void handleDatagram(final ByteBuffer buf, final int length, final long now) {
        counters.add(ReceiverCounters.DATAGRAMS, 1);
        counters.add(ReceiverCounters.BYTES, length);
        final DropReason rejected = decoder.decode(buf, length);
        if (rejected != null) {
            counters.count(rejected);
            return;
        }
        switch (decoder.kind()) {
            case Wire.KIND_FRAGMENT: {
                final FragmentView view = decoder.fragment();
                counters.add(ReceiverCounters.FRAGMENTS, 1);
                if (view.sequence() != lastSequence || view.senderId() != lastSender) {
                    lastSequence = view.sequence();
                    lastSender = view.senderId();
                    observeSequence(view.senderId(), view.sequence());
                }
                final DropReason reason = reassembler.accept(view, now);
                if (reason != null) {
                    counters.count(reason);
                }
                return;
            }
            case Wire.KIND_HEARTBEAT: {
                final HeartbeatInfo hb = decoder.heartbeat();
                counters.add(ReceiverCounters.HEARTBEATS, 1);
                if (hb.lastSequence() > 0) {
                    report(sequences.observeLast(hb.senderId(), hb.lastSequence()));
                }
                listener.onHeartbeat(hb);
                return;
            }
            case Wire.KIND_COMMIT: {
                final CommitInfo cm = decoder.commit();
                if (isCommitCopy(cm)) {
                    counters.add(ReceiverCounters.COMMIT_COPIES, 1); // SPEC 5.4: goes nowhere, no drop
                    return;
                }
                counters.add(ReceiverCounters.COMMITS, 1);
                observeSequence(cm.senderId(), cm.sequence());
                listener.onCommit(cm);
                if (stager != null) {
                    stager.commit(cm, now);
                }
                return;
            }
            default: {
                final LifecycleInfo lc = decoder.lifecycle();
                counters.add(ReceiverCounters.LIFECYCLES, 1);
                observeSequence(lc.senderId(), lc.sequence());
                listener.onLifecycle(lc);
            }
        }
    }

    /**
     * Processes one datagram held in an array (for tests).
     *
     * @param datagram the datagram
     * @param now the time, epoch ms
     */
    public void handleDatagram(final byte[] datagram, final long now) {
        handleDatagram(ByteBuffer.wrap(datagram), datagram.length, now);
    }

    /** Whether this Commit was taken already (a copy, SPEC 4.5); remembers it when not. */
    private boolean isCommitCopy(final CommitInfo c) {
        if (!commitsTaken.add(new CommitTaken(c.senderId(), c.sequence(), c.changeset(), c.key(), c.committedAt()))) {
            return true;
        }
        if (commitsTaken.size() > Wire.COMMIT_COPY_MEMORY) {
            final java.util.Iterator<CommitTaken> it = commitsTaken.iterator();
            it.next();
            it.remove();
        }
        return false;
    }

    private void observeSequence(final long senderId, final long sequence) {
        report(sequences.observe(senderId, sequence));
    }

    private void report(final SequenceGap gap) {
        if (gap != null) {
            listener.onGap(gap);
        }
    }

    /**
     * Drops incomplete objects that have had no fragment for the partial timeout, and staged changesets not
     * delivered within the staged timeout (the receiving thread does this on its own; for in-process use).
     *
     * @param now the time, epoch ms
     */
    public void expire(final long now) {
        reassembler.expire(now);
        if (stager != null) {
            stager.expire(now);
        }
    }

    /** @return the counters (readable from any thread) */
    public ReceiverCounters counters() {
        return counters;
    }

    /** @return the per-sender sequence tracker */
    public SequenceTracker sequences() {
        return sequences;
    }

    /**
     * Incomplete objects with their missing ranges (for repair over HTTP). Only safe when the receiver
     * is not running, or from the listener.
     *
     * @return the incomplete objects, oldest first
     */
    public List<PartialObject> incomplete() {
        return reassembler.incomplete();
    }

    /**
     * Takes an incomplete object out of reassembly so it can be completed elsewhere. Same thread rules
     * as {@link #incomplete()}.
     *
     * @param senderId the sender
     * @param objectId the object
     * @return the partial object, or null
     */
    public PartialObject release(final long senderId, final UUID objectId) {
        return reassembler.release(senderId, objectId);
    }

    /** Stops the receiving threads, leaves the group and closes the socket. */
    @Override
    public void close() throws IOException {
        final MulticastChannels.Joined socket;
        final Thread[] threads;
        synchronized (this) {
            running = false;
            socket = joined;
            threads = new Thread[] {ioThread, thread};
            joined = null;
            channel = null;
            ioThread = null;
            thread = null;
        }
        if (socket != null) {
            socket.close(); // leaves the group; closing the channel ends a blocked receive on the I/O thread
        }
        for (final Thread th : threads) {
            if (th != null) {
                java.util.concurrent.locks.LockSupport.unpark(th);
                try {
                    th.join(5000);
                } catch (final InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }
}
