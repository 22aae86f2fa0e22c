// Text forms of the wire's binary ids (SPEC 3): sender ids as 16 hex digits, object ids as UUIDs.

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SENDER_ID_PATTERN = /^[0-9a-f]{1,16}$/i;

export function isUuid(text: string): boolean {
  return UUID_PATTERN.test(text);
}

/** The 16 bytes of a UUID in its canonical text form. */
export function uuidToBytes(uuid: string): Uint8Array {
  if (!isUuid(uuid)) throw new TypeError(`not a UUID: ${JSON.stringify(uuid)}`);
  return Uint8Array.from(Buffer.from(uuid.replaceAll("-", ""), "hex"));
}

/** Canonical lowercase UUID text of 16 bytes at `offset`. */
export function bytesToUuid(bytes: Uint8Array, offset = 0): string {
  const hex = Buffer.from(bytes.buffer, bytes.byteOffset + offset, 16).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A sender id (uint64) from its text form: up to 16 hex digits. */
export function parseSenderId(text: string): bigint {
  if (!SENDER_ID_PATTERN.test(text)) throw new TypeError(`sender id must be 1 to 16 hex digits, got ${JSON.stringify(text)}`);
  return BigInt(`0x${text}`);
}

export function formatSenderId(id: bigint): string {
  return id.toString(16).padStart(16, "0");
}

/** The 8 little-endian bytes that protobuf's fixed64 puts on the wire. */
export function senderIdToLittleEndian(id: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, id, true);
  return out;
}
