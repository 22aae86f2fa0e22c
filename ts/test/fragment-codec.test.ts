// The hand-written Fragment codec (hot path) against the generated protobuf-es codec.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { expect, test } from "vitest";
import { FragmentSchema } from "../src/gen/condcast/v1/wire_pb.js";
import { MAX_ENVELOPE_LENGTH, MAX_FRAGMENT_HEADER } from "../src/wire/constants.js";
import { FragmentView, fragmentHeaderLength, writeFragmentHeader } from "../src/wire/fragment.js";
import { readVarint, varintSize, writeVarint } from "../src/wire/varint.js";

const fields = fc.record({
  senderId: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  sequence: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
  objectId: fc.uint8Array({ minLength: 16, maxLength: 16 }),
  envelopeLength: fc.integer({ min: 1, max: MAX_ENVELOPE_LENGTH }),
  metadataLength: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  fragmentSize: fc.integer({ min: 0, max: 65507 }),
  index: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  fecScheme: fc.oneof(fc.constant(0), fc.constant(1), fc.integer({ min: 0, max: 2 ** 32 - 1 })),
  fecBlockLength: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 2 ** 32 - 1 })),
  fecParityCount: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 2 ** 32 - 1 })),
  chunk: fc.uint8Array({ minLength: 0, maxLength: 300 }),
});

function leBytes(id: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, id, true);
  return out;
}

test("writeFragmentHeader + chunk equals protobuf-es's serialization", () => {
  fc.assert(
    fc.property(fields, (f) => {
      const expected = toBinary(FragmentSchema, create(FragmentSchema, { ...f, sequence: BigInt(f.sequence), envelopeLength: BigInt(f.envelopeLength) }));
      const buf = new Uint8Array(MAX_FRAGMENT_HEADER + f.chunk.length + 16);
      const template = { senderIdLittleEndian: leBytes(f.senderId), sequence: f.sequence, objectId: f.objectId, envelopeLength: f.envelopeLength, metadataLength: f.metadataLength, fragmentSize: f.fragmentSize, fecScheme: f.fecScheme, fecBlockLength: f.fecBlockLength, fecParityCount: f.fecParityCount };
      const at = writeFragmentHeader(buf, 0, template, f.index, f.chunk.length);
      expect(at).toBe(fragmentHeaderLength(template, f.index, f.chunk.length));
      buf.set(f.chunk, at);
      expect(Buffer.from(buf.subarray(0, at + f.chunk.length)).toString("hex")).toBe(Buffer.from(expected).toString("hex"));
    }),
    { numRuns: 2000 },
  );
});

test("the header never exceeds MAX_FRAGMENT_HEADER", () => {
  // What a sender can write (SPEC 2.4): metadata_length <= envelope_length < 2^31, sequence < 2^53,
  // a parity index < 2^32, FEC fields with B + m <= 255 (one of them at most 127).
  const worst = { senderIdLittleEndian: new Uint8Array(8).fill(1), sequence: Number.MAX_SAFE_INTEGER, objectId: new Uint8Array(16), envelopeLength: MAX_ENVELOPE_LENGTH, metadataLength: MAX_ENVELOPE_LENGTH, fragmentSize: 65507, fecScheme: 1, fecBlockLength: 254, fecParityCount: 1 };
  expect(fragmentHeaderLength(worst, 2 ** 32 - 1, 65507)).toBeLessThanOrEqual(MAX_FRAGMENT_HEADER);
  expect(fragmentHeaderLength({ ...worst, fecBlockLength: 128, fecParityCount: 127 }, 2 ** 32 - 1, 65507)).toBeLessThanOrEqual(MAX_FRAGMENT_HEADER);
});

test("FragmentView reads what protobuf-es writes, including unknown fields", () => {
  fc.assert(
    fc.property(fields, fc.integer({ min: 16, max: 1000 }), fc.uint8Array({ maxLength: 20 }), (f, unknownField, unknownBytes) => {
      const message = create(FragmentSchema, { ...f, sequence: BigInt(f.sequence), envelopeLength: BigInt(f.envelopeLength) });
      // An unknown length-delimited field must be skipped (forward compatibility).
      const unknown = new Uint8Array(10 + unknownBytes.length);
      let at = writeVarint(unknown, 0, unknownField * 8 + 2);
      at = writeVarint(unknown, at, unknownBytes.length);
      unknown.set(unknownBytes, at);
      const body = Buffer.concat([toBinary(FragmentSchema, message), unknown.subarray(0, at + unknownBytes.length)]);
      const view = new FragmentView();
      view.parse(body, 0, body.length, MAX_ENVELOPE_LENGTH);
      const decoded = fromBinary(FragmentSchema, body);
      expect(view.senderIdHex()).toBe(decoded.senderId.toString(16).padStart(16, "0"));
      expect(view.sequence).toBe(Number(decoded.sequence));
      expect(Buffer.from(view.buf.subarray(view.objectIdOffset, view.objectIdOffset + view.objectIdLength)).equals(Buffer.from(decoded.objectId))).toBe(true);
      expect([view.envelopeLength, view.metadataLength, view.fragmentSize, view.index, view.fecScheme, view.fecBlockLength, view.fecParityCount]).toEqual([
        Number(decoded.envelopeLength),
        decoded.metadataLength,
        decoded.fragmentSize,
        decoded.index,
        decoded.fecScheme,
        decoded.fecBlockLength,
        decoded.fecParityCount,
      ]);
      expect(Buffer.from(view.buf.subarray(view.chunkOffset, view.chunkOffset + view.chunkLength)).equals(Buffer.from(decoded.chunk))).toBe(true);
    }),
    { numRuns: 1000 },
  );
});

test("varints round-trip and have the protobuf sizes", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (value) => {
      const buf = new Uint8Array(10);
      const end = writeVarint(buf, 0, value);
      expect(end).toBe(varintSize(value));
      const cursor = { pos: 0 };
      expect(readVarint(buf, cursor, end)).toBe(value);
      expect(cursor.pos).toBe(end);
    }),
  );
  // Too long, truncated, and beyond 2^53.
  expect(readVarint(new Uint8Array(11).fill(0x80), { pos: 0 }, 11)).toBe(-1);
  expect(readVarint(Uint8Array.of(0x80), { pos: 0 }, 1)).toBe(-1);
  expect(readVarint(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), { pos: 0 }, 10)).toBeNaN();
});
