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

/**
 * Reads a varint into a 32-bit field the way protobuf does: up to 10 bytes, keeping the low 32 bits
 * (unsigned). Returns -1 when the bytes end first or the varint is longer than 10 bytes.
 */
export function readVarint32(buf: Uint8Array, cursor: { pos: number }, end: number): number {
  let low = 0;
  for (let i = 0; i < 10; i++) {
    if (cursor.pos >= end) return -1;
    const byte = buf[cursor.pos++]!;
    if (i < 5) low += (byte & 0x7f) * 2 ** (7 * i);
    if (byte < 0x80) return low % 2 ** 32;
  }
  return -1;
}

/** Largest protobuf field number (2^29 - 1). */
export const MAX_FIELD_NUMBER = 536_870_911;

/** A tag is a uint32 varint: at most 5 bytes (protobuf's parsers reject longer, padded tags). */
export const MAX_TAG_LENGTH = 5;

/** Skips an unknown field's value; false when it is malformed (groups are not allowed). */
export function skipField(buf: Uint8Array, c: { pos: number }, end: number, wireType: number): boolean {
  switch (wireType) {
    case 0:
      return !(readVarint(buf, c, end) < 0); // NaN (beyond 2^53) is still a well-formed varint
    case 1:
      c.pos += 8;
      return c.pos <= end;
    case 2: {
      const length = readVarint(buf, c, end);
      if (length < 0 || !(length <= end - c.pos)) return false;
      c.pos += length;
      return true;
    }
    case 5:
      c.pos += 4;
      return c.pos <= end;
    default:
      return false;
  }
}
