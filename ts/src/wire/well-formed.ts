// SPEC 5.1 row 10 at the wire level, for the bodies decoded with the generated codec (Heartbeat,
// Lifecycle, Commit, ObjectMeta): protobuf-es reads a known field whatever wire type it arrives with and
// skips groups, but the spec calls both malformed. The wire types come from the generated
// descriptors, so the .proto stays the one place that declares them.
import { ScalarType, type DescMessage } from "@bufbuild/protobuf";
import { MAX_FIELD_NUMBER, MAX_TAG_LENGTH, readVarint, skipField } from "./varint.js";

const VARINT = 0;
const FIXED64 = 1;
const LENGTH_DELIMITED = 2;
const FIXED32 = 5;

interface Expected {
  readonly wireType: number;
  readonly nested: DescMessage | undefined;
}

const cache = new WeakMap<DescMessage, Map<number, Expected>>();

function scalarWireType(scalar: ScalarType): number {
  switch (scalar) {
    case ScalarType.DOUBLE:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return FIXED64;
    case ScalarType.FLOAT:
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
      return FIXED32;
    case ScalarType.STRING:
    case ScalarType.BYTES:
      return LENGTH_DELIMITED;
    default:
      return VARINT;
  }
}

function expectedFields(schema: DescMessage): Map<number, Expected> {
  let fields = cache.get(schema);
  if (fields !== undefined) return fields;
  fields = new Map();
  for (const field of schema.fields) {
    let expected: Expected;
    if (field.fieldKind === "scalar") expected = { wireType: scalarWireType(field.scalar), nested: undefined };
    else if (field.fieldKind === "enum") expected = { wireType: VARINT, nested: undefined };
    else if (field.fieldKind === "message") expected = { wireType: LENGTH_DELIMITED, nested: field.message };
    else if (field.fieldKind === "list" && field.listKind === "message") expected = { wireType: LENGTH_DELIMITED, nested: field.message };
    // Repeated strings and bytes (Commit's ids and paths): one length-delimited value per entry.
    else if (field.fieldKind === "list" && field.listKind === "scalar" && scalarWireType(field.scalar) === LENGTH_DELIMITED) expected = { wireType: LENGTH_DELIMITED, nested: undefined };
    else throw new Error(`well-formed: field ${schema.typeName}.${field.name} has a kind the wire format does not use`);
    fields.set(field.number, expected);
  }
  cache.set(schema, fields);
  return fields;
}

/**
 * True when bytes[start, end) is a well-formed encoding of `schema`: every tag is a varint of at most 5
 * bytes with a field number in [1, 2^29 - 1] and a non-group wire type, every known field its declared wire type (nested messages
 * checked too), and every value ends inside the bytes.
 */
export function isWellFormed(bytes: Uint8Array, schema: DescMessage, start = 0, end = bytes.length): boolean {
  const fields = expectedFields(schema);
  const c = { pos: start };
  while (c.pos < end) {
    const tagStart = c.pos;
    const tag = readVarint(bytes, c, end);
    if (!(tag >= 0) || c.pos - tagStart > MAX_TAG_LENGTH) return false;
    const field = Math.floor(tag / 8);
    const wireType = tag % 8;
    if (field === 0 || field > MAX_FIELD_NUMBER) return false;
    const expected = fields.get(field);
    if (expected !== undefined && expected.wireType !== wireType) return false;
    if (expected?.nested !== undefined) {
      const length = readVarint(bytes, c, end);
      if (!(length >= 0 && length <= end - c.pos)) return false;
      if (!isWellFormed(bytes, expected.nested, c.pos, c.pos + length)) return false;
      c.pos += length;
    } else if (!skipField(bytes, c, end, wireType)) {
      return false;
    }
  }
  return true;
}
