// The 8-byte preamble (SPEC 2.1): magic, version, kind, flags, reserved.
import { FLAG_AUTH, MAGIC, PREAMBLE_LENGTH, PROTOCOL_VERSION, type DatagramKind } from "./constants.js";
import type { DatagramReason } from "./reasons.js";

export function writePreamble(buf: Uint8Array, kind: DatagramKind, authenticated: boolean): number {
  buf.set(MAGIC, 0);
  buf[4] = PROTOCOL_VERSION;
  buf[5] = kind;
  buf[6] = authenticated ? FLAG_AUTH : 0;
  buf[7] = 0;
  return PREAMBLE_LENGTH;
}

/** Checks SPEC 5.1 rows 1-5; returns the reason of the first failure, or null. */
export function checkPreamble(buf: Uint8Array, length: number): DatagramReason | null {
  if (length < PREAMBLE_LENGTH) return "truncated";
  if (buf[0] !== MAGIC[0] || buf[1] !== MAGIC[1] || buf[2] !== MAGIC[2] || buf[3] !== MAGIC[3]) return "bad_magic";
  if (buf[4] !== PROTOCOL_VERSION) return "bad_version";
  if ((buf[6]! & ~FLAG_AUTH) !== 0 || buf[7] !== 0) return "bad_flags";
  const kind = buf[5]!;
  if (kind < 1 || kind > 4) return "unknown_kind";
  return null;
}
