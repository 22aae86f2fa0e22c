package io.condcast;

import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * A single-producer, single-consumer ring of datagrams in one direct buffer: records of
 * {@code [int length][bytes]} aligned to 8 bytes, a length of -1 marking padding before a wrap. The
 * receiver's I/O thread drains the socket into it, so a stall of the processing thread (allocating a
 * large object's envelope, a GC pause) does not overflow the socket's receive buffer. Neither side
 * allocates.
 */
final class DatagramRing {
    private static final int HEADER = 4;
    private static final int PADDING = -1;

    private final ByteBuffer ring;
    private final int capacity;
    /** Bytes ever written (producer) and ever consumed (consumer). */
    private final AtomicLong tail = new AtomicLong();
    private final AtomicLong head = new AtomicLong();
    private volatile Thread waitingConsumer;

    DatagramRing(final int capacity) {
        this.capacity = capacity & ~7;
        this.ring = ByteBuffer.allocateDirect(this.capacity);
    }

    private static int align(final int n) {
        return (n + 7) & ~7;
    }

    /**
     * Copies src[0, length) into the ring, waiting while it is full; returns false if {@code running}
     * turned false meanwhile.
     */
    boolean offer(final ByteBuffer src, final int length, final java.util.function.BooleanSupplier running) {
        final int record = align(HEADER + length);
        while (true) {
            final long t = tail.get();
            final int at = (int) (t % capacity);
            final int untilEnd = capacity - at;
            final int needed = record <= untilEnd ? record : untilEnd + record;
            if (capacity - (t - head.get()) >= needed) {
                int pos = at;
                long newTail = t;
                if (record > untilEnd) {
                    ring.putInt(pos, PADDING);
                    newTail += untilEnd;
                    pos = 0;
                }
                ring.putInt(pos, length);
                ring.put(pos + HEADER, src, 0, length);
                tail.lazySet(newTail + record);
                final Thread waiting = waitingConsumer;
                if (waiting != null) {
                    LockSupport.unpark(waiting);
                }
                return true;
            }
            if (!running.getAsBoolean()) {
                return false;
            }
            LockSupport.parkNanos(50_000);
        }
    }

    /** Copies the next datagram to dst[0, length); returns its length, or -1 when the ring is empty. */
    int poll(final ByteBuffer dst) {
        long h = head.get();
        if (h == tail.get()) {
            return -1;
        }
        int at = (int) (h % capacity);
        int length = ring.getInt(at);
        if (length == PADDING) {
            h += capacity - at;
            at = 0;
            length = ring.getInt(0);
        }
        dst.put(0, ring, at + HEADER, length);
        head.lazySet(h + align(HEADER + length));
        return length;
    }

    /** Parks the consumer until a datagram arrives or the timeout passes. */
    void awaitData(final long timeoutNanos) {
        waitingConsumer = Thread.currentThread();
        if (head.get() == tail.get()) {
            LockSupport.parkNanos(this, timeoutNanos);
        }
        waitingConsumer = null;
    }
}
