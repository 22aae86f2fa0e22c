package io.condcast;

import java.util.Objects;

/**
 * A keytable's current key, as a heartbeat announces it (SPEC 4.3, 11).
 *
 * @param keytable the keytable, 1 to 64 bytes of {@code [A-Za-z0-9._-]}
 * @param key its current key (at most 2^53 - 1)
 */
public record KeyPosition(String keytable, long key) {
    /**
     * Checks nulls.
     *
     * @param keytable the keytable
     * @param key the key
     */
    public KeyPosition {
        Objects.requireNonNull(keytable, "keytable");
    }
}
