package io.condcast;

import java.util.List;
import java.util.Objects;
import java.util.UUID;

/**
 * The commit or abort of a changeset whose objects were sent before, as a caller gives it to
 * {@link Sender#sendCommit} (SPEC 4.5; the TypeScript {@code OutgoingCommit}): a {@link CommitInfo}
 * without the sender id and sequence, which the sender fills in.
 *
 * @param keytable the keytable, 1 to 64 bytes of {@code [A-Za-z0-9._-]}
 * @param key the keytable's new key, at least 1 (0 when aborted)
 * @param parentKey the key it was made from, below {@code key} (0 for the first key, and when aborted)
 * @param changeset the changeset's id, as its objects carry it
 * @param objectCount how many objects the changeset has
 * @param objectIds every one of their ids (any order), or empty to leave them out
 * @param removedPaths paths the new key no longer covers (any order)
 * @param committedAt epoch ms; null for now
 * @param aborted true to abort the changeset: receivers drop its staged objects
 */
public record OutgoingCommit(String keytable, long key, long parentKey, String changeset, long objectCount,
                             List<UUID> objectIds, List<String> removedPaths, Long committedAt, boolean aborted) {
    /**
     * Checks nulls and copies the lists (SPEC 4.5's rules are checked when it is sent).
     *
     * @param keytable keytable
     * @param key new key
     * @param parentKey parent key
     * @param changeset changeset id
     * @param objectCount object count
     * @param objectIds object ids (copied)
     * @param removedPaths removed paths (copied)
     * @param committedAt epoch ms, or null
     * @param aborted aborted
     */
    public OutgoingCommit {
        Objects.requireNonNull(keytable, "keytable");
        Objects.requireNonNull(changeset, "changeset");
        objectIds = objectIds == null ? List.of() : List.copyOf(objectIds);
        removedPaths = removedPaths == null ? List.of() : List.copyOf(removedPaths);
    }

    /**
     * A commit of the objects sent with {@code changeset}: they become {@code key} of {@code keytable}.
     *
     * @param keytable the keytable
     * @param key the new key (at least 1)
     * @param parentKey the key it was made from (below key)
     * @param changeset the changeset id
     * @param objectIds the ids of every object sent in it (their count is the object count)
     * @param removedPaths paths the new key no longer covers
     * @return the commit
     */
    public static OutgoingCommit of(final String keytable, final long key, final long parentKey, final String changeset,
                                    final List<UUID> objectIds, final List<String> removedPaths) {
        return new OutgoingCommit(keytable, key, parentKey, changeset, ControlCodec.sortedObjectIds(objectIds).size(),
            objectIds, removedPaths, null, false);
    }

    /**
     * The abort of a changeset: no key is made ({@code key} = {@code parent_key} = 0) and receivers drop
     * its staged objects.
     *
     * @param keytable the keytable it was meant for
     * @param changeset the changeset id
     * @param objectIds the ids of the objects sent in it
     * @return the abort
     */
    public static OutgoingCommit abort(final String keytable, final String changeset, final List<UUID> objectIds) {
        return new OutgoingCommit(keytable, 0, 0, changeset, ControlCodec.sortedObjectIds(objectIds).size(), objectIds,
            List.of(), null, true);
    }
}
