package io.condcast;

import java.util.concurrent.locks.LockSupport;

/** Token-bucket pacing in bytes per second (mirrors {@code ts/src/sender/pacer.ts}). */
final class Pacer {
    private final double rate;
    private final double burstNanos;
    /** When the bytes granted so far have been spent at the configured rate (System.nanoTime). */
    private double nextFreeAt = Double.NEGATIVE_INFINITY;

    /** rate: bytes per second, 0 for unpaced; burstBytes: what may go out at once. */
    Pacer(final double rate, final long burstBytes) {
        if (!(rate >= 0) || Double.isInfinite(rate)) {
            throw new IllegalArgumentException("rate must be >= 0, got " + rate);
        }
        this.rate = rate;
        this.burstNanos = rate == 0 ? 0 : burstBytes / rate * 1e9;
    }

    /** Waits until {@code bytes} more may be sent. */
    void take(final long bytes) {
        if (rate == 0) {
            return;
        }
        final long now = System.nanoTime();
        if (nextFreeAt < now - burstNanos) {
            nextFreeAt = now - burstNanos;
        }
        nextFreeAt += bytes / rate * 1e9;
        while (true) {
            final double wait = nextFreeAt - System.nanoTime() - burstNanos;
            if (wait < 20_000) {
                return;
            }
            LockSupport.parkNanos((long) wait);
        }
    }
}
