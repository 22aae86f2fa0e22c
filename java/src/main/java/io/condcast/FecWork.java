package io.condcast;

/**
 * What a receiver needs to decode FEC blocks (SPEC 10.5), allocated once per reassembler: the decoder's
 * scratch for the largest symbol and the per-block argument arrays. Owned by the receiving thread.
 */
final class FecWork {
    final FecDecoder decoder = new FecDecoder();
    final byte[][] data = new byte[FecLayout.MAX_SYMBOLS_PER_BLOCK][];
    final int[] offsets = new int[FecLayout.MAX_SYMBOLS_PER_BLOCK];
    final int[] lengths = new int[FecLayout.MAX_SYMBOLS_PER_BLOCK];
    final boolean[] present = new boolean[FecLayout.MAX_SYMBOLS_PER_BLOCK];
    final int[] rows = new int[FecLayout.MAX_SYMBOLS_PER_BLOCK];
    final long[][][] parity = new long[FecLayout.MAX_SYMBOLS_PER_BLOCK][][];
}
