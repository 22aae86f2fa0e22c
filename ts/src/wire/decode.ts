// One datagram in, one verdict out (SPEC 5.1): the per-datagram checks every receiver applies.
import { fromBinary } from "@bufbuild/protobuf";
import { HeartbeatSchema, LifecycleAction, LifecycleSchema } from "../gen/condcast/v1/wire_pb.js";
import { checkAuth, type KeyRing } from "./auth.js";
import { KIND_FRAGMENT, KIND_HEARTBEAT, MAX_ENVELOPE_LENGTH, OBJECT_ID_LENGTH, PREAMBLE_LENGTH } from "./constants.js";
import { heartbeatInfo, lifecycleInfo, type HeartbeatInfo, type LifecycleInfo } from "./control.js";
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
  if (message.lastSequence > MAX_SAFE_SEQUENCE) return { kind: "rejected", reason: "malformed" };
  return { kind: "heartbeat", heartbeat: heartbeatInfo(message) };
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
