package io.condcast;

import java.util.List;
import java.util.Objects;
import java.util.UUID;

/**
 * A changeset committed or aborted (kind 4, SPEC 4.5, 11). Immutable.
 *
 * @param senderId the sender (unsigned 64 bits)
 * @param sequence taken from the sender's object sequence
 * @param keytable the keytable, 1 to 64 bytes of {@code [A-Za-z0-9._-]}
 * @param key the keytable's new key (0 when aborted)
 * @param parentKey the key it was made from (0 for the first key, and when aborted)
 * @param changeset the changeset's id, as in its objects' metadata
 * @param objectCount how many objects the changeset has (unsigned 32 bits)
 * @param objectIds all {@code objectCount} ids, or empty when they did not fit the datagram
 * @param removedPaths paths the changeset removes from the keytable
 * @param committedAt when it was committed, epoch ms
 * @param aborted true when the changeset was aborted (or expired)
 */
public record CommitInfo(long senderId, long sequence, String keytable, long key, long parentKey, String changeset,
                         long objectCount, List<UUID> objectIds, List<String> removedPaths, long committedAt,
                         boolean aborted) {
    /**
     * Checks nulls and copies the lists.
     *
     * @param senderId sender id
     * @param sequence sequence
     * @param keytable keytable
     * @param key new key
     * @param parentKey parent key
     * @param changeset changeset id
     * @param objectCount object count
     * @param objectIds object ids (copied)
     * @param removedPaths removed paths (copied)
     * @param committedAt epoch ms
     * @param aborted aborted
     */
    public CommitInfo {
        Objects.requireNonNull(keytable, "keytable");
        Objects.requireNonNull(changeset, "changeset");
        objectIds = objectIds == null ? List.of() : List.copyOf(objectIds);
        removedPaths = removedPaths == null ? List.of() : List.copyOf(removedPaths);
    }
}
