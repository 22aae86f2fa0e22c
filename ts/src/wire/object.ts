// The object model and its envelope head, ObjectMeta (SPEC 4.2), encoded with the generated codec:
// it is encoded once per object, never per datagram.
import { createHash } from "node:crypto";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { ObjectMetaSchema, type MetadataEntry, MetadataEntrySchema } from "../gen/condcast/v1/wire_pb.js";
import { MD5_LENGTH } from "./constants.js";
import { isWellFormed } from "./well-formed.js";

/** An object's CCDB metadata as applications see it. */
export interface ObjectMetadata {
  readonly path: string;
  /** Start of validity, epoch ms (inclusive). */
  readonly validFrom: number;
  /** End of validity, epoch ms (exclusive). */
  readonly validUntil: number;
  /** Creation time, epoch ms. */
  readonly created: number;
  readonly contentType: string;
  readonly fileName: string;
  /** MD5 of the payload, 32 lowercase hex digits (CCDB's Content-MD5). */
  readonly md5: string;
  /** Free metadata; on the wire sorted by key. */
  readonly metadata: Readonly<Record<string, string>>;
  /** The changeset the object belongs to (SPEC 11); absent for an object of its own. */
  readonly changeset?: string | undefined;
}

/** A complete object as a receiver delivers it. */
export interface ReceivedObject {
  readonly id: string;
  readonly senderId: string;
  readonly sequence: number;
  readonly meta: ObjectMetadata;
  readonly payload: Uint8Array;
}

export function md5Hex(payload: Uint8Array): string {
  return createHash("md5").update(payload).digest("hex");
}

const utf8 = new TextEncoder();

/** Compares keys by their UTF-8 bytes, the order SPEC 3 puts on the wire. */
export function compareUtf8(a: string, b: string): number {
  return Buffer.compare(utf8.encode(a), utf8.encode(b));
}

/** Metadata entries in wire order (SPEC 3). */
export function sortedEntries(metadata: Readonly<Record<string, string>>): MetadataEntry[] {
  return Object.keys(metadata)
    .sort(compareUtf8)
    .map((key) => create(MetadataEntrySchema, { key, value: metadata[key]! }));
}

/** Why metadata violates SPEC 4.2, or null. */
export function metadataProblem(meta: ObjectMetadata): string | null {
  if (meta.path.length === 0) return "path is empty";
  if (meta.path.startsWith("/") || meta.path.endsWith("/")) return "path must not start or end with '/'";
  if (meta.path.split("/").some((element) => element.length === 0 || /^\d+$/.test(element))) {
    return "path elements must be non-empty and not all digits";
  }
  for (const value of [meta.validFrom, meta.validUntil, meta.created]) {
    if (!Number.isSafeInteger(value)) return "times must be integers (epoch ms)";
  }
  if (!(meta.validFrom < meta.validUntil)) return "validFrom must be before validUntil";
  if (!/^[0-9a-f]{32}$/.test(meta.md5)) return "md5 must be 32 lowercase hex digits";
  if (Object.keys(meta.metadata).some((key) => key.length === 0)) return "metadata keys must be non-empty";
  if (meta.changeset !== undefined && !isChangesetId(meta.changeset)) return "changeset must be 1 to 64 bytes of [A-Za-z0-9._-]";
  return null;
}

const NAME = /^[A-Za-z0-9._-]{1,64}$/;

/** A changeset id or a keytable name (SPEC 4.5): 1 to 64 bytes of [A-Za-z0-9._-]. */
export function isChangesetId(text: string): boolean {
  return NAME.test(text);
}
export const isKeytableName = isChangesetId;

/** The envelope head: ObjectMeta in its deterministic encoding. */
export function encodeObjectMeta(meta: ObjectMetadata): Uint8Array {
  const problem = metadataProblem(meta);
  if (problem !== null) throw new TypeError(`invalid object metadata: ${problem}`);
  return toBinary(
    ObjectMetaSchema,
    create(ObjectMetaSchema, {
      path: meta.path,
      validFrom: BigInt(meta.validFrom),
      validUntil: BigInt(meta.validUntil),
      created: BigInt(meta.created),
      contentType: meta.contentType,
      fileName: meta.fileName,
      md5: Buffer.from(meta.md5, "hex"),
      metadata: sortedEntries(meta.metadata),
      changeset: meta.changeset ?? "",
    }),
  );
}

/** Decodes an envelope head; null when it is not valid ObjectMeta (reason bad_metadata). */
export function decodeObjectMeta(bytes: Uint8Array): ObjectMetadata | null {
  if (!isWellFormed(bytes, ObjectMetaSchema)) return null;
  let message;
  try {
    message = fromBinary(ObjectMetaSchema, bytes);
  } catch {
    return null;
  }
  if (message.md5.length !== MD5_LENGTH) return null;
  const metadata: Record<string, string> = Object.create(null) as Record<string, string>;
  let previous: string | null = null;
  for (const entry of message.metadata) {
    if (previous !== null && compareUtf8(previous, entry.key) >= 0) return null;
    metadata[entry.key] = entry.value;
    previous = entry.key;
  }
  const meta: ObjectMetadata = {
    path: message.path,
    validFrom: Number(message.validFrom),
    validUntil: Number(message.validUntil),
    created: Number(message.created),
    contentType: message.contentType,
    fileName: message.fileName,
    md5: Buffer.from(message.md5).toString("hex"),
    metadata,
    ...(message.changeset === "" ? {} : { changeset: message.changeset }),
  };
  return metadataProblem(meta) === null ? meta : null;
}
