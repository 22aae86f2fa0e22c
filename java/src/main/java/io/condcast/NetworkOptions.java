package io.condcast;

import java.util.Objects;

/**
 * The network options a {@link SenderOptions} and a {@link ReceiverOptions} share: the IPv4 multicast
 * group, the UDP port and the IPv4 address of the interface, with the defaults of SPEC 7 and their
 * validation. Both extend it and both builders extend its {@link Builder}, so
 * {@code SenderOptions.builder().group(g).port(p).interfaceAddress(a)} and the same on
 * {@code ReceiverOptions.builder()} set them in this one place. What only one side has stays there: the
 * TTL on the sender, SO_RCVBUF on the receiver. {@code MulticastChannels} opens the socket from them.
 */
public abstract sealed class NetworkOptions permits SenderOptions, ReceiverOptions {
    private final String group;
    private final int port;
    private final String interfaceAddress;

    NetworkOptions(final Builder<?> b) {
        this.group = b.group;
        this.port = b.port;
        this.interfaceAddress = b.interfaceAddress;
    }

    /**
     * Checks the values only this class knows (the port; the addresses are parsed when the socket is
     * set up). The subclasses call it among their own checks, so that with several bad values the same
     * one is reported first.
     *
     * @throws IllegalArgumentException when a value is out of range
     */
    final void validateNetwork() {
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("port must be in [1, 65535], got " + port);
        }
    }

    /** @return the IPv4 multicast group */
    public final String group() {
        return group;
    }

    /** @return the UDP port */
    public final int port() {
        return port;
    }

    /** @return the IPv4 address of the interface to send on (sender) or to join the group on (receiver) */
    public final String interfaceAddress() {
        return interfaceAddress;
    }

    /**
     * The setters of the network options, shared by {@link SenderOptions.Builder} and
     * {@link ReceiverOptions.Builder}; each returns the concrete builder.
     *
     * @param <B> the concrete builder
     */
    public abstract static sealed class Builder<B extends Builder<B>>
        permits SenderOptions.Builder, ReceiverOptions.Builder {
        private String group = Wire.DEFAULT_GROUP;
        private int port = Wire.DEFAULT_PORT;
        private String interfaceAddress = Wire.DEFAULT_INTERFACE;

        Builder() {
        }

        /** @return this builder as its concrete type */
        abstract B self();

        /**
         * @param value IPv4 multicast group (default 239.255.204.219)
         * @return this
         */
        public final B group(final String value) {
            this.group = Objects.requireNonNull(value);
            return self();
        }

        /**
         * @param value UDP port, 1 to 65535 (default 3342)
         * @return this
         */
        public final B port(final int value) {
            this.port = value;
            return self();
        }

        /**
         * @param value IPv4 address of the interface to send on or to join the group on (default 127.0.0.1)
         * @return this
         */
        public final B interfaceAddress(final String value) {
            this.interfaceAddress = Objects.requireNonNull(value);
            return self();
        }
    }
}
