package io.condcast;

import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * An object's CCDB metadata as applications see it (SPEC 4.2; the envelope head ObjectMeta).
 * Immutable; {@code metadata} iterates in wire order (ascending UTF-8 bytes of the keys).
 *
 * @param path CCDB path, e.g. {@code TPC/Calib/Gain}
 * @param validFrom start of validity, epoch ms (inclusive)
 * @param validUntil end of validity, epoch ms (exclusive)
 * @param created creation time, epoch ms
 * @param contentType MIME type of the payload
 * @param fileName original file name of the payload
 * @param md5 MD5 of the payload, 32 lowercase hex digits
 * @param metadata free metadata, sorted by UTF-8 bytes of the keys
 * @param changeset the changeset the object belongs to (SPEC 11), or empty for an object of its own
 */
public record ObjectMetadata(String path, long validFrom, long validUntil, long created, String contentType,
                             String fileName, String md5, SortedMap<String, String> metadata, String changeset) {

    /**
     * Copies and checks nothing but nulls; see {@link ObjectCodec#metadataProblem}.
     *
     * @param path CCDB path
     * @param validFrom start of validity
     * @param validUntil end of validity
     * @param created creation time
     * @param contentType MIME type
     * @param fileName file name
     * @param md5 32 hex digits
     * @param metadata free metadata (copied)
     * @param changeset changeset id, empty (or null) for none
     */
    public ObjectMetadata {
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(contentType, "contentType");
        Objects.requireNonNull(fileName, "fileName");
        Objects.requireNonNull(md5, "md5");
        metadata = sortedCopy(metadata);
        changeset = changeset == null ? "" : changeset;
    }

    /**
     * Metadata of an object of its own (no changeset).
     *
     * @param path CCDB path
     * @param validFrom start of validity
     * @param validUntil end of validity
     * @param created creation time
     * @param contentType MIME type
     * @param fileName file name
     * @param md5 32 hex digits
     * @param metadata free metadata (copied)
     */
    public ObjectMetadata(final String path, final long validFrom, final long validUntil, final long created,
                          final String contentType, final String fileName, final String md5,
                          final SortedMap<String, String> metadata) {
        this(path, validFrom, validUntil, created, contentType, fileName, md5, metadata, "");
    }

    /**
     * This metadata in a changeset.
     *
     * @param id the changeset id (empty for none)
     * @return a copy with {@code changeset} set
     */
    public ObjectMetadata withChangeset(final String id) {
        return new ObjectMetadata(path, validFrom, validUntil, created, contentType, fileName, md5, metadata, id);
    }

    /** @return whether the object belongs to a changeset */
    public boolean inChangeset() {
        return !changeset.isEmpty();
    }

    /**
     * Metadata with free metadata from any map (copied and sorted by UTF-8 bytes of the keys).
     *
     * @param path CCDB path
     * @param validFrom start of validity, epoch ms
     * @param validUntil end of validity, epoch ms (exclusive)
     * @param created creation time, epoch ms
     * @param contentType MIME type
     * @param fileName file name
     * @param md5 32 lowercase hex digits
     * @param metadata free metadata
     * @return the metadata
     */
    public static ObjectMetadata of(final String path, final long validFrom, final long validUntil, final long created,
                                    final String contentType, final String fileName, final String md5,
                                    final Map<String, String> metadata) {
        return new ObjectMetadata(path, validFrom, validUntil, created, contentType, fileName, md5, sortedCopy(metadata));
    }

    /**
     * An unmodifiable copy of a map, sorted by the UTF-8 bytes of its keys.
     *
     * @param map the entries (may be null for none)
     * @return the sorted copy
     */
    public static SortedMap<String, String> sortedCopy(final Map<String, String> map) {
        final TreeMap<String, String> sorted = new TreeMap<>(Utf8Order.COMPARATOR);
        if (map != null) {
            for (final Map.Entry<String, String> e : map.entrySet()) {
                sorted.put(Objects.requireNonNull(e.getKey(), "metadata key"), Objects.requireNonNull(e.getValue(), "metadata value"));
            }
        }
        return Collections.unmodifiableSortedMap(sorted);
    }
}
