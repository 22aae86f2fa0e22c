package io.condcast;

/**
 * Where a receiver listens and the receive buffer it got.
 *
 * @param group the multicast group
 * @param port the UDP port
 * @param interfaceAddress the IPv4 address of the interface the group was joined on
 * @param receiveBufferRequested SO_RCVBUF requested
 * @param receiveBufferGranted SO_RCVBUF granted: Linux caps the request at net.core.rmem_max; the JDK
 *     reports the granted size itself (the kernel's getsockopt reports double that, which the TypeScript
 *     receiver prints)
 */
public record ListeningInfo(String group, int port, String interfaceAddress, int receiveBufferRequested,
                            int receiveBufferGranted) {
}
