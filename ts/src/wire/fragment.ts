// The Fragment message (kind 1) on the hot path: written and read by hand, in place, with the exact
// bytes protobuf's serializer produces (SPEC 3). Tests hold both against the generated codec.
import { FEC_MAX_BLOCK_SYMBOLS, FEC_SCHEME_NONE, FEC_SCHEME_RS8 } from "../fec/layout.js";
import { MAX_DATAGRAM_SIZE, OBJECT_ID_LENGTH, fragmentCount } from "./constants.js";
import type { DatagramReason } from "./reasons.js";
import { MAX_FIELD_NUMBER, MAX_TAG_LENGTH, readVarint, readVarint32, skipField, varintSize, writeVarint } from "./varint.js";

// Tags: (field number << 3) | wire type.
const TAG_SENDER_ID = 0x09; // 1, fixed64
const TAG_SEQUENCE = 0x10; // 2, varint
const TAG_OBJECT_ID = 0x1a; // 3, length-delimited
const TAG_ENVELOPE_LENGTH = 0x20; // 4, varint
const TAG_METADATA_LENGTH = 0x28; // 5, varint
const TAG_FRAGMENT_SIZE = 0x30; // 6, varint
const TAG_INDEX = 0x38; // 7, varint
const TAG_FEC_SCHEME = 0x40; // 8, varint
const TAG_FEC_BLOCK_LENGTH = 0x48; // 9, varint
const TAG_FEC_PARITY_COUNT = 0x50; // 10, varint
const TAG_CHUNK = 0x7a; // 15, length-delimited

/** What every fragment of one object shares; built once per object. */
export interface FragmentTemplate {
  /** sender_id as the 8 little-endian bytes of fixed64. */
  readonly senderIdLittleEndian: Uint8Array;
  readonly sequence: number;
  readonly objectId: Uint8Array;
  readonly envelopeLength: number;
  readonly metadataLength: number;
  readonly fragmentSize: number;
  /** 0, or 1 with fecBlockLength and fecParityCount (SPEC 10). */
  readonly fecScheme: number;
  readonly fecBlockLength: number;
  readonly fecParityCount: number;
}

/**
 * Writes the Fragment fields 1-10 and the chunk's tag and length at `offset` (proto3: zero values
 * omitted). Returns the offset where the chunk's bytes go.
 */
export function writeFragmentHeader(buf: Uint8Array, offset: number, t: FragmentTemplate, index: number, chunkLength: number): number {
  if (!isZero(t.senderIdLittleEndian)) {
    buf[offset++] = TAG_SENDER_ID;
    buf.set(t.senderIdLittleEndian, offset);
    offset += 8;
  }
  offset = writeVarintField(buf, offset, TAG_SEQUENCE, t.sequence);
  buf[offset++] = TAG_OBJECT_ID;
  buf[offset++] = OBJECT_ID_LENGTH;
  buf.set(t.objectId, offset);
  offset += OBJECT_ID_LENGTH;
  offset = writeVarintField(buf, offset, TAG_ENVELOPE_LENGTH, t.envelopeLength);
  offset = writeVarintField(buf, offset, TAG_METADATA_LENGTH, t.metadataLength);
  offset = writeVarintField(buf, offset, TAG_FRAGMENT_SIZE, t.fragmentSize);
  offset = writeVarintField(buf, offset, TAG_INDEX, index);
  offset = writeVarintField(buf, offset, TAG_FEC_SCHEME, t.fecScheme);
  offset = writeVarintField(buf, offset, TAG_FEC_BLOCK_LENGTH, t.fecBlockLength);
  offset = writeVarintField(buf, offset, TAG_FEC_PARITY_COUNT, t.fecParityCount);
  if (chunkLength > 0) {
    buf[offset++] = TAG_CHUNK;
    offset = writeVarint(buf, offset, chunkLength);
  }
  return offset;
}

/** Length of what writeFragmentHeader writes. */
export function fragmentHeaderLength(t: FragmentTemplate, index: number, chunkLength: number): number {
  return (
    (isZero(t.senderIdLittleEndian) ? 0 : 9) +
    varintFieldSize(t.sequence) +
    2 +
    OBJECT_ID_LENGTH +
    varintFieldSize(t.envelopeLength) +
    varintFieldSize(t.metadataLength) +
    varintFieldSize(t.fragmentSize) +
    varintFieldSize(index) +
    varintFieldSize(t.fecScheme) +
    varintFieldSize(t.fecBlockLength) +
    varintFieldSize(t.fecParityCount) +
    (chunkLength > 0 ? 1 + varintSize(chunkLength) : 0)
  );
}

function isZero(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

function writeVarintField(buf: Uint8Array, offset: number, tag: number, value: number): number {
  if (value === 0) return offset;
  buf[offset++] = tag;
  return writeVarint(buf, offset, value);
}

function varintFieldSize(value: number): number {
  return value === 0 ? 0 : 1 + varintSize(value);
}

/**
 * A flyweight over one Fragment body: `parse` reads the fields in place, the chunk stays where it is.
 * Reuse one instance for every datagram.
 */
export class FragmentView {
  buf: Uint8Array = new Uint8Array(0);
  /** sender_id as two 32-bit halves (low, high) of the fixed64. */
  senderIdLow = 0;
  senderIdHigh = 0;
  sequence = 0;
  /** Offset of the 16 object id bytes in buf; -1 when absent. */
  objectIdOffset = -1;
  objectIdLength = 0;
  envelopeLength = 0;
  metadataLength = 0;
  fragmentSize = 0;
  index = 0;
  fecScheme = 0;
  fecBlockLength = 0;
  fecParityCount = 0;
  /** T: source fragments of the object (set by a successful parse). */
  sourceCount = 0;
  chunkOffset = 0;
  chunkLength = 0;
  private readonly cursor = { pos: 0 };

  /** True for a parity fragment of a coded object (valid after a successful parse). */
  get isParity(): boolean {
    return this.index >= this.sourceCount;
  }

  /** Parses buf[start, end) and applies SPEC 5.1 rows 10-17. Returns a reason, or null when valid. */
  parse(buf: Uint8Array, start: number, end: number, maxEnvelopeLength: number): DatagramReason | null {
    const reason = this.read(buf, start, end);
    if (reason !== null) return reason;
    if (this.sequence < 1 || Number.isNaN(this.sequence)) return "malformed";
    if (this.objectIdLength !== OBJECT_ID_LENGTH) return "bad_object_id";
    if (this.fecScheme !== FEC_SCHEME_NONE && this.fecScheme !== FEC_SCHEME_RS8) return "unsupported_fec";
    if (
      this.fecScheme === FEC_SCHEME_NONE
        ? this.fecBlockLength !== 0 || this.fecParityCount !== 0
        : this.fecBlockLength < 1 || this.fecParityCount < 1 || this.fecBlockLength + this.fecParityCount > FEC_MAX_BLOCK_SYMBOLS
    ) {
      return "bad_fec";
    }
    if (!(this.envelopeLength <= maxEnvelopeLength)) return "oversize";
    if (
      this.envelopeLength < 1 ||
      this.metadataLength < 1 ||
      this.metadataLength > this.envelopeLength ||
      this.fragmentSize < 1 ||
      this.fragmentSize > MAX_DATAGRAM_SIZE
    ) {
      return "bad_length";
    }
    const count = fragmentCount(this.envelopeLength, this.fragmentSize);
    this.sourceCount = count;
    if (this.index >= count) {
      // With FEC, indexes from T on are parity fragments: T + N·m of them in all (SPEC 10.2).
      if (this.fecScheme === FEC_SCHEME_NONE || this.index >= count + Math.ceil(count / this.fecBlockLength) * this.fecParityCount) {
        return "index_out_of_range";
      }
      return this.chunkLength === Math.min(this.fragmentSize, this.envelopeLength) ? null : "bad_length";
    }
    const expected = this.index === count - 1 ? this.envelopeLength - (count - 1) * this.fragmentSize : this.fragmentSize;
    if (this.chunkLength !== expected) return "bad_length";
    return null;
  }

  private read(buf: Uint8Array, start: number, end: number): DatagramReason | null {
    this.buf = buf;
    this.senderIdLow = 0;
    this.senderIdHigh = 0;
    this.sequence = 0;
    this.objectIdOffset = -1;
    this.objectIdLength = 0;
    this.envelopeLength = 0;
    this.metadataLength = 0;
    this.fragmentSize = 0;
    this.index = 0;
    this.fecScheme = 0;
    this.fecBlockLength = 0;
    this.fecParityCount = 0;
    this.sourceCount = 0;
    this.chunkOffset = end;
    this.chunkLength = 0;
    const c = this.cursor;
    c.pos = start;
    while (c.pos < end) {
      const tagStart = c.pos;
      const tag = readVarint(buf, c, end);
      if (tag < 0 || Number.isNaN(tag) || c.pos - tagStart > MAX_TAG_LENGTH) return "malformed";
      const field = Math.floor(tag / 8);
      const wireType = tag % 8;
      if (field === 0 || field > MAX_FIELD_NUMBER) return "malformed";
      switch (field) {
        case 1:
          if (wireType !== 1 || c.pos + 8 > end) return "malformed";
          this.senderIdLow = readUint32LE(buf, c.pos);
          this.senderIdHigh = readUint32LE(buf, c.pos + 4);
          c.pos += 8;
          break;
        case 2:
          if (wireType !== 0) return "malformed";
          this.sequence = readVarint(buf, c, end);
          if (this.sequence < 0) return "malformed";
          break;
        case 3:
        case 15: {
          if (wireType !== 2) return "malformed";
          const length = readVarint(buf, c, end);
          if (length < 0 || !(length <= end - c.pos)) return "malformed";
          if (field === 3) {
            this.objectIdOffset = c.pos;
            this.objectIdLength = length;
          } else {
            this.chunkOffset = c.pos;
            this.chunkLength = length;
          }
          c.pos += length;
          break;
        }
        case 4: {
          if (wireType !== 0) return "malformed";
          // uint64: exact up to 2^53, NaN above, which fails the oversize check.
          const value = readVarint(buf, c, end);
          if (value < 0) return "malformed";
          this.envelopeLength = value;
          break;
        }
        case 5:
        case 6:
        case 7:
        case 8:
        case 9:
        case 10: {
          if (wireType !== 0) return "malformed";
          // uint32 fields keep the low 32 bits, as protobuf does.
          const value = readVarint32(buf, c, end);
          if (value < 0) return "malformed";
          if (field === 5) this.metadataLength = value;
          else if (field === 6) this.fragmentSize = value;
          else if (field === 7) this.index = value;
          else if (field === 8) this.fecScheme = value;
          else if (field === 9) this.fecBlockLength = value;
          else this.fecParityCount = value;
          break;
        }
        default:
          if (!skipField(buf, c, end, wireType)) return "malformed";
      }
    }
    return null;
  }

  /** The sender id in its text form (allocates; not for the per-datagram path). */
  senderIdHex(): string {
    return this.senderIdHigh.toString(16).padStart(8, "0") + this.senderIdLow.toString(16).padStart(8, "0");
  }
}

function readUint32LE(buf: Uint8Array, at: number): number {
  return (buf[at]! | (buf[at + 1]! << 8) | (buf[at + 2]! << 16) | (buf[at + 3]! << 24)) >>> 0;
}
