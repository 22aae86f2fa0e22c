package io.condcast;

import java.util.UUID;

/**
 * What a sender sent for one object.
 *
 * @param id the object's id
 * @param sequence its sequence number
 * @param meta its metadata (with the computed MD5)
 * @param datagrams how many datagrams
 * @param bytes how many bytes of datagrams
 */
public record SentObject(UUID id, long sequence, ObjectMetadata meta, long datagrams, long bytes) {
}
