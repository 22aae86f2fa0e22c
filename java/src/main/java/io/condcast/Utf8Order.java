package io.condcast;

import java.util.Comparator;

/**
 * Orders strings by their UTF-8 bytes, the order SPEC 3 puts metadata keys in on the wire. This is
 * Unicode code point order, which differs from {@link String#compareTo} (UTF-16 units) for characters
 * above U+FFFF against U+E000..U+FFFF.
 */
public final class Utf8Order {
    /** Compares strings by their UTF-8 bytes. */
    public static final Comparator<String> COMPARATOR = Utf8Order::compare;

    private Utf8Order() {
    }

    /**
     * Compares two strings by their UTF-8 bytes (code point order).
     *
     * @param a one string
     * @param b another
     * @return negative, zero or positive
     */
    public static int compare(final String a, final String b) {
        int i = 0;
        int j = 0;
        while (i < a.length() && j < b.length()) {
            final int ca = a.codePointAt(i);
            final int cb = b.codePointAt(j);
            if (ca != cb) {
                return Integer.compare(ca, cb);
            }
            i += Character.charCount(ca);
            j += Character.charCount(cb);
        }
        return Integer.compare(a.length() - i, b.length() - j);
    }
}
