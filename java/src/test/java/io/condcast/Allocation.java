package io.condcast;

import java.lang.management.ManagementFactory;

/** Bytes allocated by the current thread (HotSpot's ThreadMXBean extension). */
final class Allocation {
    private static final com.sun.management.ThreadMXBean THREADS =
        (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    private Allocation() {
    }

    static long allocatedBytes() {
        return THREADS.getThreadAllocatedBytes(Thread.currentThread().getId());
    }
}
