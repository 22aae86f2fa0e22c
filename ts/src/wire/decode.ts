// One datagram in, one verdict out (SPEC 5.1): the per-datagram checks every receiver applies.
import { fromBinary } from "@bufbuild/protobuf";
import { CommitSchema, HeartbeatSchema, LifecycleAction, LifecycleSchema, type Heartbeat } from "../gen/condcast/v1/wire_pb.js";
import { checkAuth, type KeyRing } from "./auth.js";
import { KIND_COMMIT, KIND_FRAGMENT, KIND_HEARTBEAT, MAX_ENVELOPE_LENGTH, MAX_HEARTBEAT_KEYS, OBJECT_ID_LENGTH, PREAMBLE_LENGTH } from "./constants.js";
import { commitInfo, heartbeatInfo, lifecycleInfo, type CommitInfo, type HeartbeatInfo, type LifecycleInfo } from "./control.js";
import { compareUtf8, isChangesetId, isKeytableName } from "./object.js";
import { FragmentView } from "./fragment.js";
import { checkPreamble } from "./preamble.js";
import { isWellFormed } from "./well-formed.js";
import type { DatagramReason } from "./reasons.js";

export interface DecodeOptions {
  /** Keys to require and verify; none means trailers are ignored. */
  readonly keys?: KeyRing | undefined;
  /** Largest envelope accepted (at most MAX_ENVELOPE_LENGTH). */
  readonly maxEnvelopeLength?: number | undefined;
}

export type Decoded =
  | { readonly kind: "fragment"; readonly fragment: FragmentView }
  | { readonly kind: "heartbeat"; readonly heartbeat: HeartbeatInfo }
  | { readonly kind: "lifecycle"; readonly lifecycle: LifecycleInfo }
  | { readonly kind: "commit"; readonly commit: CommitInfo }
  | { readonly kind: "rejected"; readonly reason: DatagramReason };

const MAX_SAFE_SEQUENCE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * Decodes and checks one datagram. A fragment is returned as `view` (reused across calls: read it
 * before the next call); the other kinds are decoded into fresh objects.
 */
export class DatagramDecoder {
  private readonly view = new FragmentView();
  private readonly bodyEnd = { pos: 0 };
  private readonly keys: KeyRing | undefined;
  private readonly maxEnvelopeLength: number;
  private readonly fragmentResult: Decoded;

  constructor(options: DecodeOptions = {}) {
    this.keys = options.keys;
    this.maxEnvelopeLength = Math.min(options.maxEnvelopeLength ?? MAX_ENVELOPE_LENGTH, MAX_ENVELOPE_LENGTH);
    this.fragmentResult = { kind: "fragment", fragment: this.view };
  }

  decode(buf: Uint8Array, length: number = buf.length): Decoded {
    const reason = this.check(buf, length);
    if (reason !== null) return { kind: "rejected", reason };
    const kind = buf[5];
    if (kind === KIND_FRAGMENT) {
      const fragmentReason = this.view.parse(buf, PREAMBLE_LENGTH, this.bodyEnd.pos, this.maxEnvelopeLength);
      return fragmentReason === null ? this.fragmentResult : { kind: "rejected", reason: fragmentReason };
    }
    const body = buf.subarray(PREAMBLE_LENGTH, this.bodyEnd.pos);
    if (kind === KIND_COMMIT) return decodeCommitBody(body);
    return kind === KIND_HEARTBEAT ? decodeHeartbeatBody(body) : decodeLifecycleBody(body);
  }

  private check(buf: Uint8Array, length: number): DatagramReason | null {
    return checkPreamble(buf, length) ?? checkAuth(buf, length, this.keys, this.bodyEnd);
  }
}

function decodeHeartbeatBody(body: Uint8Array): Decoded {
  if (!isWellFormed(body, HeartbeatSchema)) return { kind: "rejected", reason: "malformed" };
  let message;
  try {
    message = fromBinary(HeartbeatSchema, body);
  } catch {
    return { kind: "rejected", reason: "malformed" };
  }
  if (message.lastSequence > MAX_SAFE_SEQUENCE || message.keys.some((k) => k.key > MAX_SAFE_SEQUENCE)) return { kind: "rejected", reason: "malformed" };
  if (!keysWellOrdered(message)) return { kind: "rejected", reason: "bad_commit" };
  return { kind: "heartbeat", heartbeat: heartbeatInfo(message) };
}

function keysWellOrdered(message: Heartbeat): boolean {
  if (message.keys.length > MAX_HEARTBEAT_KEYS) return false;
  for (let i = 0; i < message.keys.length; i++) {
    if (!isKeytableName(message.keys[i]!.keytable)) return false;
    if (i > 0 && compareUtf8(message.keys[i - 1]!.keytable, message.keys[i]!.keytable) >= 0) return false;
  }
  return true;
}

/** SPEC 5.1 checks 10, 11 and 19 for a Commit. */
function decodeCommitBody(body: Uint8Array): Decoded {
  if (!isWellFormed(body, CommitSchema)) return { kind: "rejected", reason: "malformed" };
  let message;
  try {
    message = fromBinary(CommitSchema, body);
  } catch {
    return { kind: "rejected", reason: "malformed" };
  }
  if (message.sequence < 1n || message.sequence > MAX_SAFE_SEQUENCE || message.key > MAX_SAFE_SEQUENCE || message.parentKey > MAX_SAFE_SEQUENCE) {
    return { kind: "rejected", reason: "malformed" };
  }
  if (message.objectIds.some((id) => id.length !== OBJECT_ID_LENGTH)) return { kind: "rejected", reason: "bad_object_id" };
  const badKeys = message.aborted ? message.key !== 0n || message.parentKey !== 0n : message.key < 1n || message.parentKey >= message.key;
  const idsOk = (message.objectIds.length === 0 || message.objectIds.length === message.objectCount) && message.objectIds.every((id, i) => i === 0 || Buffer.compare(message.objectIds[i - 1]!, id) < 0);
  const pathsOk = message.removedPaths.every((p, i) => i === 0 || compareUtf8(message.removedPaths[i - 1]!, p) < 0);
  if (badKeys || !idsOk || !pathsOk || !isKeytableName(message.keytable) || !isChangesetId(message.changeset)) return { kind: "rejected", reason: "bad_commit" };
  return { kind: "commit", commit: commitInfo(message) };
}

function decodeLifecycleBody(body: Uint8Array): Decoded {
  if (!isWellFormed(body, LifecycleSchema)) return { kind: "rejected", reason: "malformed" };
  let message;
  try {
    message = fromBinary(LifecycleSchema, body);
  } catch {
    return { kind: "rejected", reason: "malformed" };
  }
  if (message.sequence < 1n || message.sequence > MAX_SAFE_SEQUENCE) return { kind: "rejected", reason: "malformed" };
  if (message.objectId.length !== OBJECT_ID_LENGTH) return { kind: "rejected", reason: "bad_object_id" };
  if (message.action !== LifecycleAction.DELETED && message.action !== LifecycleAction.UPDATED) {
    return { kind: "rejected", reason: "malformed" };
  }
  return { kind: "lifecycle", lifecycle: lifecycleInfo(message) };
}
