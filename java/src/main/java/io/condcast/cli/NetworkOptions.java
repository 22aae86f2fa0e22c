package io.condcast.cli;

import io.condcast.AuthKey;
import io.condcast.Wire;
import java.io.IOException;
import java.nio.file.Path;

/**
 * The multicast flags common to send and recv (mirrors {@code ts/src/cli/network-options.ts}); the group,
 * port and interface go on to the library's {@link io.condcast.NetworkOptions} through the builders.
 */
record NetworkOptions(String group, int port, String iface, int ttl, int datagramSize, double rate, AuthKey key) {
    private static final String IPV4 = "^(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)(\\.(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)){3}$";

    static NetworkOptions from(final Flags args) throws UsageError {
        final String group = args.string("group") != null ? args.string("group") : Wire.DEFAULT_GROUP;
        if (!group.matches(IPV4) || Integer.parseInt(group.split("\\.")[0]) < 224 || Integer.parseInt(group.split("\\.")[0]) > 239) {
            throw new UsageError("--group must be an IPv4 multicast address, got " + group);
        }
        final String iface = args.string("interface") != null ? args.string("interface") : Wire.DEFAULT_INTERFACE;
        if (!iface.matches(IPV4)) {
            throw new UsageError("--interface must be the IPv4 address of an interface, got " + iface);
        }
        final String keyFile = args.string("key-file");
        final long keyId = args.integer("key-id", 1L, 0, 0xFFFFFFFFL);
        AuthKey key = null;
        if (keyFile != null) {
            try {
                key = AuthKey.readKeyFile(Path.of(keyFile), keyId);
            } catch (final IOException | IllegalArgumentException e) {
                throw new UsageError("--key-file " + keyFile + ": " + e.getMessage());
            }
        }
        return new NetworkOptions(group,
            args.integer("port", (long) Wire.DEFAULT_PORT, 1, 65535).intValue(),
            iface,
            args.integer("ttl", (long) Wire.DEFAULT_TTL, 0, 255).intValue(),
            args.integer("datagram-size", (long) Wire.DEFAULT_DATAGRAM_SIZE, Wire.MIN_DATAGRAM_SIZE, Wire.MAX_DATAGRAM_SIZE).intValue(),
            args.number("rate", Wire.DEFAULT_RATE, 0),
            key);
    }
}
