package io.condcast;

import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.net.UnknownHostException;

/** Address checks shared by sender and receiver. */
final class Net {
    private Net() {
    }

    /** An IPv4 literal (no name resolution). */
    static Inet4Address ipv4(final String text, final String what) {
        if (text == null || !text.matches("^(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)(\\.(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)){3}$")) {
            throw new IllegalArgumentException(what + " must be an IPv4 address, got " + text);
        }
        try {
            return (Inet4Address) InetAddress.getByName(text);
        } catch (final UnknownHostException e) {
            throw new IllegalArgumentException(what + " must be an IPv4 address, got " + text, e);
        }
    }

    static Inet4Address multicastGroup(final String text) {
        final Inet4Address a = ipv4(text, "group");
        if (!a.isMulticastAddress()) {
            throw new IllegalArgumentException("group must be an IPv4 multicast address, got " + text);
        }
        return a;
    }

    /** The interface that has this IPv4 address. */
    static NetworkInterface interfaceFor(final Inet4Address address) throws IOException {
        final NetworkInterface nif;
        try {
            nif = NetworkInterface.getByInetAddress(address);
        } catch (final SocketException e) {
            throw new IOException("cannot look up the interface of " + address.getHostAddress(), e);
        }
        if (nif == null) {
            throw new IOException("no network interface has the address " + address.getHostAddress());
        }
        return nif;
    }
}
