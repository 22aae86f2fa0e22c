// The golden test vectors of spec/vectors: one table of cases, built with the reference encoder.
// `write-vectors` writes them to disk; every language's tests read the files.
import { create, toBinary } from "@bufbuild/protobuf";
import { CommitSchema, FragmentSchema, HeartbeatSchema, KeyPositionSchema, LifecycleSchema, ObjectMetaSchema, MetadataEntrySchema } from "../gen/condcast/v1/wire_pb.js";
import type { AuthKey } from "../wire/auth.js";
import { AUTH_TRAILER_LENGTH, KIND_COMMIT, KIND_FRAGMENT, KIND_HEARTBEAT, KIND_LIFECYCLE, fragmentSizeFor } from "../wire/constants.js";
import { encodeCommit, encodeHeartbeat, encodeLifecycle, frameDatagram, type CommitInfo, type HeartbeatInfo, type LifecycleInfo } from "../wire/control.js";
import { parseSenderId, uuidToBytes } from "../wire/ids.js";
import { compareUtf8, encodeObjectMeta, md5Hex, type ObjectMetadata } from "../wire/object.js";
import { ObjectEncoder } from "../wire/object-encoder.js";
import { cauchyCoefficient, gfMul } from "../fec/gf256.js";
import { FEC_SCHEME_NONE, FEC_SCHEME_RS8, fecSettings, type FecLayout } from "../fec/layout.js";
import type { DatagramReason, ObjectReason } from "../wire/reasons.js";

export interface VectorKey {
  readonly id: number;
  readonly keyHex: string;
}

export interface ReceiverConfig {
  readonly keys?: VectorKey[];
  readonly maxEnvelopeLength?: number;
}

export interface ObjectJson {
  readonly id: string;
  readonly senderId: string;
  readonly sequence: number;
  readonly path: string;
  readonly validFrom: number;
  readonly validUntil: number;
  readonly created: number;
  readonly contentType: string;
  readonly fileName: string;
  readonly md5: string;
  /** In wire order. */
  readonly metadata: [string, string][];
  readonly payloadHex: string;
}

export interface FragmentJson {
  readonly senderId: string;
  readonly sequence: number;
  readonly objectId: string;
  readonly envelopeLength: number;
  readonly metadataLength: number;
  readonly fragmentSize: number;
  readonly index: number;
  readonly fecScheme: number;
  readonly fecBlockLength: number;
  readonly fecParityCount: number;
  readonly chunkHex: string;
}

/** The block layout of an FEC vector (SPEC 10.2), so tests choose losses per block without it. */
export interface FecJson {
  readonly scheme: number;
  readonly blockLength: number;
  readonly parityCount: number;
  readonly symbolSize: number;
  readonly blocks: { readonly first: number; readonly sourceCount: number; readonly parityFirst: number }[];
}

export interface SenderJson {
  readonly datagramSize?: number;
  readonly key?: VectorKey;
  /** Parity ratio; 0 = no FEC. */
  readonly fecParity?: number;
  readonly fecBlockLength?: number;
  readonly fecInterleave?: number;
}

export interface Vector {
  readonly name: string;
  readonly description: string;
  readonly kind: "object" | "heartbeat" | "lifecycle" | "commit" | "invalid" | "invalid-object";
  /** The datagrams, in send order. */
  readonly datagrams: Uint8Array[];
  readonly receiver?: ReceiverConfig;
  /** For encoders: the sender settings that reproduce the datagrams. */
  readonly sender?: SenderJson;
  readonly object?: ObjectJson;
  readonly fragments?: FragmentJson[];
  readonly fec?: FecJson;
  readonly heartbeat?: HeartbeatInfo;
  readonly lifecycle?: LifecycleJson;
  readonly commit?: CommitInfo;
  /** For "invalid": why the (single) datagram is rejected; for "invalid-object": why the object is. */
  readonly reason?: DatagramReason | ObjectReason;
}

export type LifecycleJson = Omit<LifecycleInfo, "metadata"> & { readonly metadata: [string, string][] };

/** The varint of 2^64 - 1 (10 bytes). */
const MAX_VARINT = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];

const KEY_7: VectorKey = { id: 7, keyHex: "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f" };
const KEY_8: VectorKey = { id: 8, keyHex: "f0e1d2c3b4a5968778695a4b3c2d1e0f" };
const SENDER = "0123456789abcdef";
const ID = "3f2504e0-4f89-11d3-9a0c-0305e82c3301";

function authKey(k: VectorKey): AuthKey {
  return { id: k.id, key: Uint8Array.from(Buffer.from(k.keyHex, "hex")) };
}

/** Bytes 0, 1, 2, ... (mod 251, so runs do not align with fragment sizes). */
function pattern(length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = i % 251;
  return out;
}

interface ObjectCase {
  readonly name: string;
  readonly description: string;
  readonly payload: Uint8Array;
  readonly datagramSize: number;
  readonly key?: VectorKey;
  readonly senderId?: string;
  readonly sequence?: number;
  readonly meta?: Partial<Omit<ObjectMetadata, "md5">>;
  readonly fec?: { readonly parity: number; readonly blockLength: number; readonly interleave: number };
}

const DEFAULT_META: ObjectMetadata = {
  path: "TPC/Calib/Gain",
  validFrom: 1_700_000_000_000,
  validUntil: 1_700_086_400_000,
  created: 1_700_000_000_123,
  contentType: "application/octet-stream",
  fileName: "gain.root",
  md5: "00".repeat(16),
  metadata: { runNumber: "523897" },
};

function objectVector(c: ObjectCase): Vector {
  const meta: ObjectMetadata = { ...DEFAULT_META, ...c.meta, md5: md5Hex(c.payload) };
  const senderId = c.senderId ?? SENDER;
  const sequence = c.sequence ?? 1;
  const fec = c.fec ? fecSettings(c.fec.parity, c.fec.blockLength, c.fec.interleave) : null;
  const encoder = new ObjectEncoder({ senderId, sequence, id: ID, meta, payload: c.payload }, c.datagramSize, { key: c.key && authKey(c.key), fec });
  const envelope = Buffer.concat([Buffer.from(toBinary(ObjectMetaSchema, metaMessage(meta))), c.payload]);
  const metadataLength = envelope.length - c.payload.length;
  const layout = encoder.fecLayout;
  const fragments: FragmentJson[] = [];
  for (let position = 0; position < encoder.count; position++) {
    const index = encoder.indexAt(position);
    const start = index * encoder.fragmentSize;
    const chunk = index < encoder.sourceCount ? envelope.subarray(start, Math.min(start + encoder.fragmentSize, envelope.length)) : parityByFormula(envelope, encoder.fragmentSize, layout!, index);
    fragments.push({
      senderId,
      sequence,
      objectId: ID,
      envelopeLength: envelope.length,
      metadataLength,
      fragmentSize: encoder.fragmentSize,
      index,
      fecScheme: layout === null ? FEC_SCHEME_NONE : FEC_SCHEME_RS8,
      fecBlockLength: layout?.blockLength ?? 0,
      fecParityCount: layout?.parityCount ?? 0,
      chunkHex: Buffer.from(chunk).toString("hex"),
    });
  }
  return {
    name: c.name,
    description: c.description,
    kind: "object",
    datagrams: encoder.datagrams(),
    ...(c.key ? { receiver: { keys: [c.key] } } : {}),
    sender: {
      datagramSize: c.datagramSize,
      ...(c.key ? { key: c.key } : {}),
      fecParity: c.fec?.parity ?? 0,
      ...(c.fec ? { fecBlockLength: c.fec.blockLength, fecInterleave: c.fec.interleave } : {}),
    },
    object: {
      id: ID,
      senderId,
      sequence,
      path: meta.path,
      validFrom: meta.validFrom,
      validUntil: meta.validUntil,
      created: meta.created,
      contentType: meta.contentType,
      fileName: meta.fileName,
      md5: meta.md5,
      metadata: Object.keys(meta.metadata).sort(compareUtf8).map((k) => [k, meta.metadata[k]!]),
      payloadHex: Buffer.from(c.payload).toString("hex"),
      ...(meta.changeset === undefined ? {} : { changeset: meta.changeset }),
    },
    fragments,
    ...(layout === null ? {} : { fec: fecJson(layout) }),
  };
}

/** Parity fragment `index` straight from SPEC 10.3, byte by byte (independent of the encoder's kernel). */
function parityByFormula(envelope: Uint8Array, fragmentSize: number, layout: FecLayout, index: number): Uint8Array {
  const parityNumber = index - layout.sourceCount;
  const b = Math.floor(parityNumber / layout.parityCount);
  const i = parityNumber % layout.parityCount;
  const out = new Uint8Array(layout.symbolSize);
  for (let j = 0; j < layout.blockSourceCount(b); j++) {
    const start = (layout.blockStart(b) + j) * fragmentSize;
    const c = cauchyCoefficient(i, j);
    for (let t = 0; t < layout.symbolSize && start + t < envelope.length; t++) out[t]! ^= gfMul(c, envelope[start + t]!);
  }
  return out;
}

function fecJson(layout: FecLayout): FecJson {
  const blocks = [];
  for (let b = 0; b < layout.blockCount; b++) {
    blocks.push({ first: layout.blockStart(b), sourceCount: layout.blockSourceCount(b), parityFirst: layout.sourceCount + b * layout.parityCount });
  }
  return { scheme: FEC_SCHEME_RS8, blockLength: layout.blockLength, parityCount: layout.parityCount, symbolSize: layout.symbolSize, blocks };
}

function metaMessage(meta: ObjectMetadata, order: (a: string, b: string) => number = compareUtf8) {
  return create(ObjectMetaSchema, {
    path: meta.path,
    validFrom: BigInt(meta.validFrom),
    validUntil: BigInt(meta.validUntil),
    created: BigInt(meta.created),
    contentType: meta.contentType,
    fileName: meta.fileName,
    md5: Buffer.from(meta.md5, "hex"),
    metadata: Object.keys(meta.metadata)
      .sort(order)
      .map((key) => create(MetadataEntrySchema, { key, value: meta.metadata[key]! })),
    changeset: meta.changeset ?? "",
  });
}

/** A valid Fragment body followed by raw `extra` bytes (later fields win in protobuf), framed. */
function fragmentWithExtra(extra: number[]): Uint8Array {
  const good = fragmentDatagram({});
  return frameDatagram(KIND_FRAGMENT, Uint8Array.from([...good.subarray(8), ...extra]), undefined);
}

/** A Fragment body from explicit fields (valid or not), framed as a datagram. */
function fragmentDatagram(
  fields: Partial<{ sequence: bigint; objectId: Uint8Array; envelopeLength: bigint; metadataLength: number; fragmentSize: number; index: number; fecScheme: number; fecBlockLength: number; fecParityCount: number; chunk: Uint8Array }>,
  key?: VectorKey,
): Uint8Array {
  const body = toBinary(
    FragmentSchema,
    create(FragmentSchema, {
      senderId: parseSenderId(SENDER),
      sequence: 1n,
      objectId: uuidToBytes(ID),
      envelopeLength: 100n,
      metadataLength: 40,
      fragmentSize: 100,
      index: 0,
      chunk: pattern(100),
      ...fields,
    }),
  );
  return frameDatagram(KIND_FRAGMENT, body, key && authKey(key));
}

function invalid(name: string, description: string, reason: DatagramReason, datagram: Uint8Array, receiver?: ReceiverConfig): Vector {
  return { name, description, kind: "invalid", reason, datagrams: [datagram], ...(receiver ? { receiver } : {}) };
}

const HEARTBEAT: HeartbeatInfo = { senderId: SENDER, lastSequence: 42, sentAt: 1_700_000_000_500, intervalMs: 1000, senderName: "http://127.0.0.1:8080" };
const HEARTBEAT_KEYS: HeartbeatInfo = { ...HEARTBEAT, keys: [{ keytable: "calib", key: 3 }, { keytable: "online", key: 42 }] };
const ID2 = "3f2504e0-4f89-11d3-9a0c-0305e82c3302";
const ID3 = "a0000000-0000-4000-8000-000000000003";
const COMMIT: CommitInfo = {
  senderId: SENDER,
  sequence: 45,
  keytable: "online",
  key: 42,
  parentKey: 41,
  changeset: "cs-0001",
  objectCount: 3,
  objectIds: [ID, ID2, ID3],
  removedPaths: ["TPC/Calib/Old"],
  committedAt: 1_700_000_001_000,
  aborted: false,
};
const COMMIT_MANY: CommitInfo = {
  ...COMMIT,
  key: 43,
  parentKey: 42,
  changeset: "cs-0002",
  objectCount: 200,
  objectIds: Array.from({ length: 200 }, (_, i) => `b0000000-0000-4000-8000-${i.toString(16).padStart(12, "0")}`),
  removedPaths: [],
};
const COMMIT_ABORTED: CommitInfo = { ...COMMIT, key: 0, parentKey: 0, changeset: "cs-0003", objectCount: 1, objectIds: [ID], removedPaths: [], aborted: true };

/** A Commit body with fields overridden (for the invalid vectors), framed. */
function commitDatagram(fields: Partial<{ sequence: bigint; keytable: string; key: bigint; parentKey: bigint; objectCount: number; objectIds: Uint8Array[] }>): Uint8Array {
  const body = create(CommitSchema, { senderId: 1n, sequence: 7n, keytable: "online", key: 42n, parentKey: 41n, changeset: "cs-0001", objectCount: 1, objectIds: [uuidToBytes(ID)], committedAt: 1n, ...fields });
  return frameDatagram(KIND_COMMIT, toBinary(CommitSchema, body), undefined);
}
const LIFECYCLE_UPDATED: LifecycleInfo = {
  senderId: SENDER,
  sequence: 43,
  objectId: ID,
  action: "updated",
  path: "TPC/Calib/Gain",
  validUntil: 1_700_050_000_000,
  metadata: { runNumber: "523897", "Ünïcödé": "✓ ok" },
  changedAt: 1_700_000_001_000,
};

function lifecycleJson(info: LifecycleInfo): LifecycleJson {
  return { ...info, metadata: Object.keys(info.metadata).sort(compareUtf8).map((k) => [k, info.metadata[k]!]) };
}

/** Replaces datagram bytes at `at` (a copy). */
function patched(datagram: Uint8Array, at: number, ...bytes: number[]): Uint8Array {
  const out = Uint8Array.from(datagram);
  out.set(bytes, at);
  return out;
}

export function buildVectors(): Vector[] {
  const vectors: Vector[] = [];
  const manyMeta = {
    metadata: {
      runNumber: "523897",
      ObjectType: "o2::tpc::CalDet<float>",
      "Grüße": "Größe ≥ 10 µm — 測定",
      partName: "send",
      UploadedBy: "calibration-workflow",
      adjustableEOV: "true",
    },
  };
  vectors.push(
    objectVector({ name: "object-empty-payload", description: "0-byte payload: the envelope is only the metadata, one fragment", payload: new Uint8Array(0), datagramSize: 1472 }),
    objectVector({
      name: "object-one-byte",
      description: "1-byte payload; validFrom 0 is a proto3 default and is omitted from the metadata",
      payload: Uint8Array.of(0x2a),
      datagramSize: 1472,
      meta: { validFrom: 0, metadata: {} , contentType: "", fileName: "" },
    }),
    objectVector({
      name: "object-multi-fragment",
      description: "metadata spanning two fragments at the minimum datagram size; non-ASCII metadata sorted by UTF-8 bytes",
      payload: pattern(700),
      datagramSize: 256,
      meta: manyMeta,
    }),
    objectVector({
      name: "object-fragment-boundary",
      description: "envelope exactly 3 x fragment_size: the last fragment is full",
      // The metadata's length does not depend on the payload (the MD5 is always 16 bytes).
      payload: pattern(3 * fragmentSizeFor(256, false) - encodeObjectMeta(DEFAULT_META).length),
      datagramSize: 256,
    }),
    objectVector({
      name: "object-authenticated",
      description: "HMAC-SHA256 trailer with key id 7 on every datagram (fragment size 20 bytes smaller)",
      payload: pattern(400),
      datagramSize: 256,
      key: KEY_7,
    }),
    objectVector({
      name: "object-extreme-values",
      description: "sequence 2^53-1, sender id with the high bit set, negative validFrom (10-byte varint)",
      payload: pattern(300),
      datagramSize: 300,
      senderId: "fedcba9876543210",
      sequence: Number.MAX_SAFE_INTEGER,
      meta: { validFrom: -5, validUntil: 9_007_199_254_740_991, created: 1 },
    }),
    objectVector({
      name: "object-zero-sender",
      description: "sender id 0: a proto3 default, so field 1 is omitted from every fragment",
      payload: pattern(10),
      datagramSize: 1472,
      senderId: "0000000000000000",
    }),
    objectVector({
      name: "object-fec-blocks",
      description:
        "FEC scheme 1: 18 source fragments in blocks of 5, 5, 4, 4 (B 5), 2 parity each (p 0.4), interleave depth 2; the last fragment is short and padded with zeros for parity",
      payload: pattern(3000),
      datagramSize: 256,
      fec: { parity: 0.4, blockLength: 5, interleave: 2 },
    }),
    objectVector({
      name: "object-fec-single-fragment",
      description: "FEC scheme 1 with the default parity 0.05 and B 242: one source fragment gets m = 1 parity fragment of symbol_size = envelope_length bytes",
      payload: pattern(10),
      datagramSize: 1472,
      fec: { parity: 0.05, blockLength: 242, interleave: 16 },
    }),
    objectVector({
      name: "object-fec-authenticated",
      description: "FEC scheme 1 with an HMAC trailer: 5 source fragments in blocks of 3 and 2 (B 3), m 2 (p 0.5), no interleaving (D 1)",
      payload: pattern(650),
      datagramSize: 256,
      key: KEY_7,
      fec: { parity: 0.5, blockLength: 3, interleave: 1 },
    }),
  );

  vectors.push(
    { name: "heartbeat", description: "a heartbeat", kind: "heartbeat", datagrams: [encodeHeartbeat(HEARTBEAT)], heartbeat: HEARTBEAT },
    {
      name: "heartbeat-authenticated",
      description: "a heartbeat with an auth trailer (key id 7)",
      kind: "heartbeat",
      datagrams: [encodeHeartbeat({ ...HEARTBEAT, lastSequence: 0, senderName: "" }, authKey(KEY_7))],
      receiver: { keys: [KEY_7] },
      sender: { key: KEY_7 },
      heartbeat: { ...HEARTBEAT, lastSequence: 0, senderName: "" },
    },
    {
      name: "lifecycle-deleted",
      description: "an object was deleted",
      kind: "lifecycle",
      datagrams: [encodeLifecycle({ ...LIFECYCLE_UPDATED, action: "deleted", validUntil: 0, metadata: {} })],
      lifecycle: lifecycleJson({ ...LIFECYCLE_UPDATED, action: "deleted", validUntil: 0, metadata: {} }),
    },
    {
      name: "lifecycle-updated",
      description: "an object's end of validity and metadata changed",
      kind: "lifecycle",
      datagrams: [encodeLifecycle(LIFECYCLE_UPDATED)],
      lifecycle: lifecycleJson(LIFECYCLE_UPDATED),
    },
    {
      name: "heartbeat-keys",
      description: "a heartbeat announcing the current key of two keytables (sorted by keytable)",
      kind: "heartbeat",
      datagrams: [encodeHeartbeat(HEARTBEAT_KEYS)],
      heartbeat: HEARTBEAT_KEYS,
    },
    { name: "commit", description: "a changeset of three objects committed as key 42 of online, removing one path", kind: "commit", datagrams: [encodeCommit(COMMIT, 1472)], sender: { datagramSize: 1472, fecParity: 0 }, commit: COMMIT },
    {
      name: "commit-ids-omitted",
      description: "a commit of 200 objects at datagram size 1472: the ids do not fit and are left out (object_count says how many)",
      kind: "commit",
      datagrams: [encodeCommit(COMMIT_MANY, 1472)],
      sender: { datagramSize: 1472, fecParity: 0 },
      commit: { ...COMMIT_MANY, objectIds: [] },
    },
    {
      name: "commit-aborted",
      description: "an aborted changeset: no key, its staged objects are dropped",
      kind: "commit",
      datagrams: [encodeCommit(COMMIT_ABORTED, 1472, authKey(KEY_7))],
      receiver: { keys: [KEY_7] },
      sender: { datagramSize: 1472, key: KEY_7, fecParity: 0 },
      commit: COMMIT_ABORTED,
    },
  );
  vectors.push(
    objectVector({
      name: "object-in-changeset",
      description: "an object staged in changeset cs-0001 (ObjectMeta field 9): delivered only with its commit",
      payload: pattern(300),
      datagramSize: 1472,
      sequence: 6,
      meta: { changeset: "cs-0001" },
    }),
  );

  const good = fragmentDatagram({});
  const signed7 = fragmentDatagram({}, KEY_7);
  const signed8 = fragmentDatagram({}, KEY_8);
  const keys7: ReceiverConfig = { keys: [KEY_7] };
  vectors.push(
    invalid("invalid-truncated-preamble", "5 bytes: shorter than the preamble", "truncated", good.slice(0, 5)),
    invalid("invalid-bad-magic", "first magic byte changed", "bad_magic", patched(good, 0, 0xcd)),
    invalid("invalid-bad-version", "protocol version 2", "bad_version", patched(good, 4, 2)),
    invalid("invalid-bad-flags", "an undefined flag bit (0x02)", "bad_flags", patched(good, 6, 0x02)),
    invalid("invalid-reserved-byte", "the reserved preamble byte is not 0", "bad_flags", patched(good, 7, 1)),
    invalid("invalid-unknown-kind", "kind 9", "unknown_kind", patched(good, 5, 9)),
    invalid("invalid-truncated-trailer", "auth flag set but shorter than preamble + trailer", "truncated", patched(good.slice(0, 27), 6, 1)),
    invalid("invalid-unauthenticated", "receiver requires keys; the datagram has no trailer", "unauthenticated", good, keys7),
    invalid("invalid-unknown-key", "signed with key id 8; the receiver knows only key 7", "unknown_key", signed8, keys7),
    invalid("invalid-bad-mac", "one chunk byte changed after signing", "bad_mac", patched(signed7, signed7.length - AUTH_TRAILER_LENGTH - 1, signed7[signed7.length - AUTH_TRAILER_LENGTH - 1]! ^ 0xff), keys7),
    invalid("invalid-truncated-body", "the datagram ends inside the chunk: a length past the end", "malformed", good.slice(0, good.length - 10)),
    invalid("invalid-wrong-wire-type", "field 2 (sequence) sent as length-delimited", "malformed", frameDatagram(KIND_FRAGMENT, Uint8Array.of(0x12, 0x01, 0x00), undefined)),
    invalid("invalid-zero-sequence", "sequence 0 (omitted)", "malformed", fragmentDatagram({ sequence: 0n })),
    invalid("invalid-bad-object-id", "object id of 15 bytes", "bad_object_id", fragmentDatagram({ objectId: uuidToBytes(ID).subarray(0, 15) })),
    invalid("invalid-unsupported-fec", "fec_scheme 2: only 0 and 1 are defined", "unsupported_fec", fragmentDatagram({ fecScheme: 2, fecBlockLength: 5, fecParityCount: 2 })),
    invalid("invalid-fec-fields-without-scheme", "fec_block_length set while fec_scheme is 0", "bad_fec", fragmentDatagram({ fecBlockLength: 5 })),
    invalid("invalid-fec-zero-parity", "fec_scheme 1 without fec_parity_count", "bad_fec", fragmentDatagram({ fecScheme: 1, fecBlockLength: 5 })),
    invalid("invalid-fec-block-too-long", "fec_scheme 1 with B + m = 256 > 255", "bad_fec", fragmentDatagram({ fecScheme: 1, fecBlockLength: 250, fecParityCount: 6 })),
    invalid(
      "invalid-fec-parity-index-out-of-range",
      "one source fragment, B 1, m 2: indexes 0..2 exist (T + N·m = 3), this is 3",
      "index_out_of_range",
      fragmentDatagram({ fecScheme: 1, fecBlockLength: 1, fecParityCount: 2, index: 3 }),
    ),
    invalid(
      "invalid-fec-parity-chunk-length",
      "parity fragment 1 whose chunk is 99 bytes, not symbol_size = min(fragment_size, envelope_length) = 100",
      "bad_length",
      fragmentDatagram({ fecScheme: 1, fecBlockLength: 1, fecParityCount: 2, index: 1, chunk: pattern(99) }),
    ),
    invalid("invalid-oversize", "envelope_length 2^31: above the protocol's maximum", "oversize", fragmentDatagram({ envelopeLength: 2n ** 31n })),
    invalid("invalid-oversize-receiver-cap", "envelope_length 5000 above a receiver cap of 4096", "oversize", fragmentDatagram({ envelopeLength: 5000n }), { maxEnvelopeLength: 4096 }),
    invalid("invalid-metadata-longer-than-envelope", "metadata_length 101 > envelope_length 100", "bad_length", fragmentDatagram({ metadataLength: 101 })),
    invalid("invalid-zero-fragment-size", "fragment_size 0", "bad_length", fragmentDatagram({ fragmentSize: 0 })),
    invalid("invalid-chunk-length", "a non-last fragment whose chunk is shorter than fragment_size", "bad_length", fragmentDatagram({ envelopeLength: 300n, chunk: pattern(99) })),
    invalid("invalid-index-out-of-range", "index 3 of an object of 3 fragments (0..2)", "index_out_of_range", fragmentDatagram({ envelopeLength: 300n, index: 3 })),
    invalid(
      "invalid-lifecycle-action",
      "a lifecycle message with action UNSPECIFIED",
      "malformed",
      frameDatagram(KIND_LIFECYCLE, toBinary(LifecycleSchema, create(LifecycleSchema, { senderId: 1n, sequence: 5n, objectId: uuidToBytes(ID), path: "A/B" })), undefined),
    ),
    invalid("invalid-index-overflow", "index sent as a 10-byte varint of 2^64-1: a uint32 keeps the low 32 bits, 2^32-1", "index_out_of_range", fragmentWithExtra([0x38, ...MAX_VARINT])),
    invalid("invalid-metadata-length-overflow", "metadata_length sent as a 10-byte varint of 2^64-1: low 32 bits 2^32-1 > envelope_length", "bad_length", fragmentWithExtra([0x28, ...MAX_VARINT])),
    invalid("invalid-field-number-too-large", "a field number of 2^29, above protobuf's largest (2^29-1)", "malformed", fragmentWithExtra([0x80, 0x80, 0x80, 0x80, 0x10, 0x00])),
    invalid("invalid-padded-tag", "a fragment whose index tag (0x38) is padded to 6 bytes: tags are at most 5 bytes", "malformed", fragmentWithExtra([0xb8, 0x80, 0x80, 0x80, 0x80, 0x00, 0x00])),
    invalid("invalid-heartbeat-padded-tag", "a heartbeat whose last_sequence tag (0x10) is padded to 6 bytes", "malformed", frameDatagram(KIND_HEARTBEAT, Uint8Array.of(0x90, 0x80, 0x80, 0x80, 0x80, 0x00, 0x05), undefined)),
    invalid("invalid-heartbeat-wrong-wire-type", "a heartbeat whose sent_at (varint) arrives length-delimited", "malformed", frameDatagram(KIND_HEARTBEAT, Uint8Array.of(0x10, 0x05, 0x1a, 0x00), undefined)),
    invalid("invalid-lifecycle-group", "a lifecycle message holding a group (wire types 3 and 4 are not allowed)", "malformed", frameDatagram(KIND_LIFECYCLE, Uint8Array.of(0x10, 0x05, 0x4b, 0x4c), undefined)),
    invalid("invalid-commit-short-object-id", "a commit whose second object id has 15 bytes", "bad_object_id", commitDatagram({ objectIds: [uuidToBytes(ID), uuidToBytes(ID2).subarray(0, 15)], objectCount: 2 })),
    invalid("invalid-commit-unsorted-ids", "a commit whose object ids are not in ascending byte order", "bad_commit", commitDatagram({ objectIds: [uuidToBytes(ID2), uuidToBytes(ID)], objectCount: 2 })),
    invalid("invalid-commit-count-mismatch", "a commit listing 2 object ids but object_count 3", "bad_commit", commitDatagram({ objectIds: [uuidToBytes(ID), uuidToBytes(ID2)], objectCount: 3 })),
    invalid("invalid-commit-parent-not-below-key", "a commit whose parent_key (42) is not below its key (42)", "bad_commit", commitDatagram({ parentKey: 42n })),
    invalid("invalid-commit-keytable", "a commit whose keytable holds a '/'", "bad_commit", commitDatagram({ keytable: "on/line" })),
    invalid("invalid-commit-zero-sequence", "a commit with sequence 0 (omitted)", "malformed", commitDatagram({ sequence: 0n })),
    invalid(
      "invalid-heartbeat-unsorted-keys",
      "a heartbeat whose keys are not sorted by keytable",
      "bad_commit",
      frameDatagram(KIND_HEARTBEAT, toBinary(HeartbeatSchema, create(HeartbeatSchema, { senderId: 1n, lastSequence: 3n, keys: [create(KeyPositionSchema, { keytable: "online", key: 2n }), create(KeyPositionSchema, { keytable: "calib", key: 1n })] })), undefined),
    ),
    invalid(
      "invalid-heartbeat-sequence",
      "a heartbeat whose last_sequence is 2^53 (beyond what every language holds exactly)",
      "malformed",
      frameDatagram(KIND_HEARTBEAT, toBinary(HeartbeatSchema, create(HeartbeatSchema, { senderId: 1n, lastSequence: 2n ** 53n })), undefined),
    ),
  );

  vectors.push(invalidObject("invalid-object-md5-mismatch", "complete object whose payload does not match its md5", "md5_mismatch", (meta) => ({ ...meta, md5: "00".repeat(16) })));
  vectors.push(invalidObject("invalid-object-unsorted-metadata", "metadata keys not in ascending UTF-8 order", "bad_metadata", (meta) => meta, (a, b) => -compareUtf8(a, b)));
  vectors.push(invalidObject("invalid-object-empty-metadata-key", "a metadata entry with an empty key", "bad_metadata", (meta) => ({ ...meta, metadata: { "": "x", a: "1" } })));
  vectors.push(invalidObject("invalid-object-bad-changeset", "a changeset id holding a '/' (ObjectMeta field 9)", "bad_metadata", (meta) => ({ ...meta, changeset: "cs/1" })));
  vectors.push(invalidObject("invalid-object-time-out-of-range", "valid_until 2^53: times must be within ±(2^53 − 1)", "bad_metadata", (meta) => ({ ...meta, validUntil: 2 ** 53 })));
  return vectors;
}

/** An object whose every datagram is valid but which must be dropped on completion. */
function invalidObject(name: string, description: string, reason: ObjectReason, change: (m: ObjectMetadata) => ObjectMetadata, order?: (a: string, b: string) => number): Vector {
  const payload = pattern(200);
  const meta = change({
    path: "TPC/Calib/Gain",
    validFrom: 1,
    validUntil: 2,
    created: 3,
    contentType: "",
    fileName: "",
    md5: md5Hex(payload),
    metadata: { a: "1", b: "2" },
  });
  const head = toBinary(ObjectMetaSchema, metaMessage(meta, order));
  const envelope = Buffer.concat([head, payload]);
  const body = toBinary(
    FragmentSchema,
    create(FragmentSchema, {
      senderId: parseSenderId(SENDER),
      sequence: 9n,
      objectId: uuidToBytes(ID),
      envelopeLength: BigInt(envelope.length),
      metadataLength: head.length,
      fragmentSize: envelope.length,
      chunk: envelope,
    }),
  );
  return { name, description, kind: "invalid-object", reason, datagrams: [frameDatagram(KIND_FRAGMENT, body, undefined)] };
}

/** The JSON description of a vector (everything but the datagrams, which are named files). */
export function vectorJson(v: Vector): Record<string, unknown> {
  const { datagrams, ...rest } = v;
  return {
    ...rest,
    datagrams: datagrams.map((_, i) => (datagrams.length === 1 ? `${v.name}.bin` : `${v.name}.${i}.bin`)),
  };
}
