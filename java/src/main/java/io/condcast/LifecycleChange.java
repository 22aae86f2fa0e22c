package io.condcast;

import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.UUID;

/**
 * A deletion or update of an object sent before, as a caller gives it to {@link Sender#sendLifecycle}.
 *
 * @param objectId the object
 * @param action deleted or updated
 * @param path the object's path
 * @param validUntil for UPDATED: the new end of validity (0 otherwise)
 * @param metadata for UPDATED: the complete metadata after the change
 */
public record LifecycleChange(UUID objectId, LifecycleAction action, String path, long validUntil,
                              SortedMap<String, String> metadata) {
    /**
     * Checks nulls, copies the metadata.
     *
     * @param objectId object id
     * @param action action
     * @param path path
     * @param validUntil new end of validity
     * @param metadata metadata (copied; null for none)
     */
    public LifecycleChange {
        Objects.requireNonNull(objectId, "objectId");
        Objects.requireNonNull(action, "action");
        Objects.requireNonNull(path, "path");
        metadata = ObjectMetadata.sortedCopy(metadata);
    }

    /**
     * A change with metadata from any map.
     *
     * @param objectId object id
     * @param action action
     * @param path path
     * @param validUntil new end of validity
     * @param metadata metadata
     * @return the change
     */
    public static LifecycleChange of(final UUID objectId, final LifecycleAction action, final String path,
                                     final long validUntil, final Map<String, String> metadata) {
        return new LifecycleChange(objectId, action, path, validUntil, ObjectMetadata.sortedCopy(metadata));
    }
}
