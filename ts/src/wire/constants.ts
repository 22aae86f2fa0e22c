// Protocol constants of spec/SPEC.md; the C++ and Java implementations mirror these names.

/** Magic bytes at offset 0 of every datagram (SPEC 2.1). */
export const MAGIC: Uint8Array = Uint8Array.of(0xcc, 0xdb, 0x63, 0x63);
export const PROTOCOL_VERSION = 1;
export const PREAMBLE_LENGTH = 8;

export const KIND_FRAGMENT = 1;
export const KIND_HEARTBEAT = 2;
export const KIND_LIFECYCLE = 3;
export const KIND_COMMIT = 4;
export type DatagramKind = typeof KIND_FRAGMENT | typeof KIND_HEARTBEAT | typeof KIND_LIFECYCLE | typeof KIND_COMMIT;
/** Most keytables a heartbeat announces (SPEC 4.3). */
export const MAX_HEARTBEAT_KEYS = 32;

/** Preamble flag: a 20-byte auth trailer ends the datagram. */
export const FLAG_AUTH = 0x01;
export const AUTH_KEY_ID_LENGTH = 4;
export const AUTH_MAC_LENGTH = 16;
export const AUTH_TRAILER_LENGTH = AUTH_KEY_ID_LENGTH + AUTH_MAC_LENGTH;
export const MIN_KEY_LENGTH = 16;

/** Largest encoding of every Fragment field but the chunk's bytes (SPEC 2.4). */
export const MAX_FRAGMENT_HEADER = 72;
export const MIN_DATAGRAM_SIZE = 256;
export const MAX_DATAGRAM_SIZE = 65507;
export const MAX_ENVELOPE_LENGTH = 2 ** 31 - 1;
export const OBJECT_ID_LENGTH = 16;
export const MD5_LENGTH = 16;

export const DEFAULT_GROUP = "239.255.204.219";
export const DEFAULT_PORT = 3342;
export const DEFAULT_INTERFACE = "127.0.0.1";
export const DEFAULT_TTL = 1;
export const DEFAULT_DATAGRAM_SIZE = 1472;
export const DEFAULT_RATE = 100_000_000;
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 1000;
/** SPEC 4.5: a Commit goes out this many times, identical, this many ms apart (SPEC 7). */
export const DEFAULT_COMMIT_COPIES = 3;
export const DEFAULT_COMMIT_COPY_INTERVAL_MS = 10;
/** SPEC 5.4: Commits remembered per receiver to recognise their copies. */
export const COMMIT_COPY_MEMORY = 1024;
export const DEFAULT_MAX_PARTIAL_BYTES = 1024 * 1024 * 1024 + 256 * 1024 * 1024;
export const DEFAULT_PARTIAL_TIMEOUT_MS = 10_000;

/** Envelope bytes per datagram for a datagram size (SPEC 2.4). */
export function fragmentSizeFor(datagramSize: number, authenticated: boolean): number {
  if (!Number.isInteger(datagramSize) || datagramSize < MIN_DATAGRAM_SIZE || datagramSize > MAX_DATAGRAM_SIZE) {
    throw new RangeError(`datagram size must be an integer in [${MIN_DATAGRAM_SIZE}, ${MAX_DATAGRAM_SIZE}], got ${datagramSize}`);
  }
  return datagramSize - PREAMBLE_LENGTH - MAX_FRAGMENT_HEADER - (authenticated ? AUTH_TRAILER_LENGTH : 0);
}

export function fragmentCount(envelopeLength: number, fragmentSize: number): number {
  return Math.ceil(envelopeLength / fragmentSize);
}
