package io.condcast;

import java.util.Objects;
import java.util.SortedMap;
import java.util.UUID;

/**
 * A change to an object already distributed (kind 3, SPEC 4.4). Immutable.
 *
 * @param senderId the sender (unsigned 64 bits)
 * @param sequence taken from the sender's object sequence
 * @param objectId the object
 * @param action deleted or updated
 * @param path the object's path
 * @param validUntil for UPDATED: the new end of validity, epoch ms
 * @param metadata for UPDATED: the complete metadata after the change
 * @param changedAt when the change was made, epoch ms
 */
public record LifecycleInfo(long senderId, long sequence, UUID objectId, LifecycleAction action, String path,
                            long validUntil, SortedMap<String, String> metadata, long changedAt) {
    /**
     * Checks nulls and copies the metadata.
     *
     * @param senderId sender id
     * @param sequence sequence
     * @param objectId object id
     * @param action action
     * @param path path
     * @param validUntil new end of validity
     * @param metadata metadata (copied, sorted)
     * @param changedAt epoch ms
     */
    public LifecycleInfo {
        Objects.requireNonNull(objectId, "objectId");
        Objects.requireNonNull(action, "action");
        Objects.requireNonNull(path, "path");
        metadata = ObjectMetadata.sortedCopy(metadata);
    }
}
