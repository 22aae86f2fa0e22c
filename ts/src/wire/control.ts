// Heartbeat (kind 2), Lifecycle (kind 3) and Commit (kind 4) datagrams: rare, so the generated codec
// encodes them.
import { create, toBinary } from "@bufbuild/protobuf";
import {
  CommitSchema,
  HeartbeatSchema,
  KeyPositionSchema,
  LifecycleAction,
  LifecycleSchema,
  type Commit,
  type Heartbeat,
  type Lifecycle,
} from "../gen/condcast/v1/wire_pb.js";
import { signDatagram, type AuthKey } from "./auth.js";
import { AUTH_TRAILER_LENGTH, KIND_COMMIT, KIND_HEARTBEAT, KIND_LIFECYCLE, PREAMBLE_LENGTH, type DatagramKind } from "./constants.js";
import { bytesToUuid, formatSenderId, parseSenderId, uuidToBytes } from "./ids.js";
import { compareUtf8, sortedEntries } from "./object.js";
import { writePreamble } from "./preamble.js";

export interface HeartbeatInfo {
  readonly senderId: string;
  readonly lastSequence: number;
  readonly sentAt: number;
  readonly intervalMs: number;
  readonly senderName: string;
  /** Each keytable's current key at the sender (SPEC 11); empty when it publishes none. */
  readonly keys?: readonly KeyPosition[] | undefined;
}

/** A keytable's current key. */
export interface KeyPosition {
  readonly keytable: string;
  readonly key: number;
}

/** A changeset committed or aborted (SPEC 4.5, 11). */
export interface CommitInfo {
  readonly senderId: string;
  readonly sequence: number;
  readonly keytable: string;
  readonly key: number;
  readonly parentKey: number;
  readonly changeset: string;
  readonly objectCount: number;
  /** All objectCount ids, ascending bytewise, or empty when they did not fit the datagram. */
  readonly objectIds: readonly string[];
  readonly removedPaths: readonly string[];
  readonly committedAt: number;
  readonly aborted: boolean;
}

export type LifecycleKind = "deleted" | "updated";

export interface LifecycleInfo {
  readonly senderId: string;
  readonly sequence: number;
  readonly objectId: string;
  readonly action: LifecycleKind;
  readonly path: string;
  /** For "updated": the new end of validity (epoch ms). */
  readonly validUntil: number;
  /** For "updated": the complete metadata after the change. */
  readonly metadata: Readonly<Record<string, string>>;
  readonly changedAt: number;
}

/** Frames an encoded body: preamble, body, and the auth trailer when a key is given. */
export function frameDatagram(kind: DatagramKind, body: Uint8Array, key: AuthKey | undefined): Uint8Array {
  const length = PREAMBLE_LENGTH + body.length + (key ? AUTH_TRAILER_LENGTH : 0);
  const out = new Uint8Array(length);
  writePreamble(out, kind, key !== undefined);
  out.set(body, PREAMBLE_LENGTH);
  if (key) signDatagram(out, length, key);
  return out;
}

export function encodeHeartbeat(info: HeartbeatInfo, key?: AuthKey): Uint8Array {
  const body = toBinary(
    HeartbeatSchema,
    create(HeartbeatSchema, {
      senderId: parseSenderId(info.senderId),
      lastSequence: BigInt(info.lastSequence),
      sentAt: BigInt(info.sentAt),
      intervalMs: info.intervalMs,
      senderName: info.senderName,
      keys: [...(info.keys ?? [])].sort((a, b) => compareUtf8(a.keytable, b.keytable)).map((k) => create(KeyPositionSchema, { keytable: k.keytable, key: BigInt(k.key) })),
    }),
  );
  return frameDatagram(KIND_HEARTBEAT, body, key);
}

/** Object ids in wire order (ascending bytes: the same as their lowercase hex text). */
export function sortedObjectIds(ids: Iterable<string>): string[] {
  return [...new Set([...ids].map((id) => id.toLowerCase()))].sort((a, b) => Buffer.compare(uuidToBytes(a), uuidToBytes(b)));
}

/**
 * Encodes a Commit; the object ids are left out when the datagram would exceed `datagramSize`
 * (receivers then take the list from the repository).
 */
export function encodeCommit(info: CommitInfo, datagramSize: number, key?: AuthKey): Uint8Array {
  return encodeCommitAsSent(info, datagramSize, key).datagram;
}

/** A Commit's datagram and the Commit it carries: ids sorted and unique, or none when they did not fit. */
export interface EncodedCommit {
  readonly datagram: Uint8Array;
  readonly sent: CommitInfo;
}

/** encodeCommit, also saying what went on the wire (what `send --changeset` prints). */
export function encodeCommitAsSent(info: CommitInfo, datagramSize: number, key?: AuthKey): EncodedCommit {
  const removedPaths = [...new Set(info.removedPaths)].sort(compareUtf8);
  const objectIds = sortedObjectIds(info.objectIds);
  const encode = (withIds: boolean): Uint8Array =>
    frameDatagram(
      KIND_COMMIT,
      toBinary(
        CommitSchema,
        create(CommitSchema, {
          senderId: parseSenderId(info.senderId),
          sequence: BigInt(info.sequence),
          keytable: info.keytable,
          key: BigInt(info.key),
          parentKey: BigInt(info.parentKey),
          changeset: info.changeset,
          objectCount: info.objectCount,
          objectIds: withIds ? objectIds.map(uuidToBytes) : [],
          removedPaths,
          committedAt: BigInt(info.committedAt),
          aborted: info.aborted,
        }),
      ),
      key,
    );
  const full = encode(objectIds.length > 0);
  if (full.length <= datagramSize) return { datagram: full, sent: { ...info, objectIds, removedPaths } };
  const bare = encode(false);
  if (bare.length > datagramSize) throw new RangeError(`a commit of ${info.keytable} does not fit ${datagramSize} bytes even without its object ids`);
  return { datagram: bare, sent: { ...info, objectIds: [], removedPaths } };
}

const ACTIONS: Record<LifecycleKind, LifecycleAction> = {
  deleted: LifecycleAction.DELETED,
  updated: LifecycleAction.UPDATED,
};

export function encodeLifecycle(info: LifecycleInfo, key?: AuthKey): Uint8Array {
  const body = toBinary(
    LifecycleSchema,
    create(LifecycleSchema, {
      senderId: parseSenderId(info.senderId),
      sequence: BigInt(info.sequence),
      objectId: uuidToBytes(info.objectId),
      action: ACTIONS[info.action],
      path: info.path,
      validUntil: BigInt(info.validUntil),
      metadata: sortedEntries(info.metadata),
      changedAt: BigInt(info.changedAt),
    }),
  );
  return frameDatagram(KIND_LIFECYCLE, body, key);
}

export function heartbeatInfo(message: Heartbeat): HeartbeatInfo {
  return {
    senderId: formatSenderId(message.senderId),
    lastSequence: Number(message.lastSequence),
    sentAt: Number(message.sentAt),
    intervalMs: message.intervalMs,
    senderName: message.senderName,
    ...(message.keys.length === 0 ? {} : { keys: message.keys.map((k) => ({ keytable: k.keytable, key: Number(k.key) })) }),
  };
}

export function commitInfo(message: Commit): CommitInfo {
  return {
    senderId: formatSenderId(message.senderId),
    sequence: Number(message.sequence),
    keytable: message.keytable,
    key: Number(message.key),
    parentKey: Number(message.parentKey),
    changeset: message.changeset,
    objectCount: message.objectCount,
    objectIds: message.objectIds.map((b) => bytesToUuid(b)),
    removedPaths: [...message.removedPaths],
    committedAt: Number(message.committedAt),
    aborted: message.aborted,
  };
}

export function lifecycleInfo(message: Lifecycle): LifecycleInfo {
  const metadata: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const entry of message.metadata) metadata[entry.key] = entry.value;
  return {
    senderId: formatSenderId(message.senderId),
    sequence: Number(message.sequence),
    objectId: bytesToUuid(message.objectId),
    action: message.action === LifecycleAction.DELETED ? "deleted" : "updated",
    path: message.path,
    validUntil: Number(message.validUntil),
    metadata,
    changedAt: Number(message.changedAt),
  };
}
