// Protobuf base-128 varints, read and written in place without allocation.
// Values are JS numbers: exact up to 2^53, which bounds every length and
// sequence we accept (SPEC caps lengths at 2^31 - 1).

/** Bytes needed to encode a non-negative integer as a varint. */
export function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

/** Writes `value` (a non-negative safe integer) at `offset`; returns the offset after it. */
export function writeVarint(buf: Uint8Array, offset: number, value: number): number {
  while (value >= 0x80) {
    buf[offset++] = (value % 128) | 0x80;
    value = Math.floor(value / 128);
  }
  buf[offset++] = value;
  return offset;
}

/**
 * Reads a varint of up to 10 bytes. Returns the value (NaN when it exceeds 2^53, which the caller
 * treats as out of range) and sets cursor.pos past it, or returns -1 when the bytes end first or the
 * varint is longer than 10 bytes.
 */
export function readVarint(buf: Uint8Array, cursor: { pos: number }, end: number): number {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (cursor.pos >= end) return -1;
    const byte = buf[cursor.pos++]!;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return value > Number.MAX_SAFE_INTEGER ? Number.NaN : value;
    scale *= 128;
  }
  return -1;
}
