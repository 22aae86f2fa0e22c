package io.condcast;

/**
 * A half-open byte range [start, end).
 *
 * @param start first byte
 * @param end one past the last byte
 */
public record ByteRange(long start, long end) {
}
