// Heartbeat (kind 2) and Lifecycle (kind 3) datagrams: rare, so the generated codec encodes them.
import { create, toBinary } from "@bufbuild/protobuf";
import {
  HeartbeatSchema,
  LifecycleAction,
  LifecycleSchema,
  type Heartbeat,
  type Lifecycle,
} from "../gen/condcast/v1/wire_pb.js";
import { signDatagram, type AuthKey } from "./auth.js";
import { AUTH_TRAILER_LENGTH, KIND_HEARTBEAT, KIND_LIFECYCLE, PREAMBLE_LENGTH, type DatagramKind } from "./constants.js";
import { bytesToUuid, formatSenderId, parseSenderId, uuidToBytes } from "./ids.js";
import { sortedEntries } from "./object.js";
import { writePreamble } from "./preamble.js";

export interface HeartbeatInfo {
  readonly senderId: string;
  readonly lastSequence: number;
  readonly sentAt: number;
  readonly intervalMs: number;
  readonly senderName: string;
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
    }),
  );
  return frameDatagram(KIND_HEARTBEAT, body, key);
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
