package io.condcast;

import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.nio.channels.DatagramChannel;
import java.nio.channels.MembershipKey;

/**
 * The socket setup of {@link Sender} and {@link Receiver}: an IPv4 {@link DatagramChannel} on the
 * {@link NetworkInterface} that has the configured interface address, closed again when a step of its
 * setup fails. Runs once per start, never per datagram.
 */
final class MulticastChannels {
    private MulticastChannels() {
    }

    /**
     * A receiver's channel while it is joined.
     *
     * @param channel the channel, bound to the group's address and port
     * @param membership the group membership on the interface
     * @param receiveBufferGranted SO_RCVBUF as the JDK reports it after the request
     */
    record Joined(DatagramChannel channel, MembershipKey membership, int receiveBufferGranted) {
        /**
         * Leaves the group, then closes the channel.
         *
         * @throws IOException when closing fails
         */
        void close() throws IOException {
            membership.drop();
            channel.close();
        }
    }

    /** One setup step on a freshly opened channel. */
    @FunctionalInterface
    private interface Setup<T> {
        T apply(DatagramChannel channel, Inet4Address iface, NetworkInterface nif) throws IOException;
    }

    /**
     * A channel to send to the group from: bound to the interface's address (any port), multicast
     * out of that interface with the given TTL, looped back to local receivers.
     *
     * @param network the group, port and interface
     * @param ttl the multicast TTL
     * @return the channel
     * @throws IOException when the socket cannot be opened or no interface has the address
     */
    static DatagramChannel openForSending(final NetworkOptions network, final int ttl) throws IOException {
        return open(network, (ch, iface, nif) -> {
            ch.bind(new InetSocketAddress(iface, 0));
            ch.setOption(StandardSocketOptions.IP_MULTICAST_IF, nif);
            ch.setOption(StandardSocketOptions.IP_MULTICAST_TTL, ttl);
            ch.setOption(StandardSocketOptions.IP_MULTICAST_LOOP, true);
            return ch;
        });
    }

    /**
     * A channel that receives the group's datagrams: SO_REUSEADDR, the receive buffer requested, bound to
     * the group's address and port (which keeps other traffic to the port out), joined on the interface.
     *
     * @param network the group, port and interface
     * @param receiveBufferSize SO_RCVBUF to request
     * @return the channel, its membership and the receive buffer granted
     * @throws IOException when the socket cannot be opened, no interface has the address or the join fails
     */
    static Joined join(final NetworkOptions network, final int receiveBufferSize) throws IOException {
        final Inet4Address group = Net.multicastGroup(network.group());
        return open(network, (ch, iface, nif) -> {
            ch.setOption(StandardSocketOptions.SO_REUSEADDR, true);
            ch.setOption(StandardSocketOptions.SO_RCVBUF, receiveBufferSize);
            final int granted = ch.getOption(StandardSocketOptions.SO_RCVBUF);
            ch.bind(new InetSocketAddress(group, network.port()));
            return new Joined(ch, ch.join(group, nif), granted);
        });
    }

    private static <T> T open(final NetworkOptions network, final Setup<T> setup) throws IOException {
        final Inet4Address iface = Net.ipv4(network.interfaceAddress(), "interface");
        final NetworkInterface nif = Net.interfaceFor(iface);
        final DatagramChannel ch = DatagramChannel.open(StandardProtocolFamily.INET);
        try {
            return setup.apply(ch, iface, nif);
        } catch (final IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }
}
