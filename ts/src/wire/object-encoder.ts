// Cuts one object into its datagrams (SPEC 2.4, 4.1). Built once per object; writeDatagram fills a
// caller's buffer, so a sender reuses a few buffers for every datagram it sends.
import { signDatagram, type AuthKey } from "./auth.js";
import { AUTH_TRAILER_LENGTH, KIND_FRAGMENT, MAX_ENVELOPE_LENGTH, fragmentCount, fragmentSizeFor } from "./constants.js";
import { writeFragmentHeader, type FragmentTemplate } from "./fragment.js";
import { parseSenderId, senderIdToLittleEndian, uuidToBytes } from "./ids.js";
import { encodeObjectMeta, type ObjectMetadata } from "./object.js";
import { writePreamble } from "./preamble.js";

export interface ObjectToEncode {
  readonly senderId: string;
  readonly sequence: number;
  readonly id: string;
  /** Metadata including the payload's MD5. */
  readonly meta: ObjectMetadata;
  readonly payload: Uint8Array;
}

export class ObjectEncoder {
  readonly datagramSize: number;
  readonly fragmentSize: number;
  readonly count: number;
  readonly envelopeLength: number;
  private readonly head: Uint8Array;
  private readonly payload: Uint8Array;
  private readonly template: FragmentTemplate;
  private readonly key: AuthKey | undefined;

  constructor(object: ObjectToEncode, datagramSize: number, key?: AuthKey) {
    if (!Number.isSafeInteger(object.sequence) || object.sequence < 1) throw new RangeError(`sequence must be >= 1, got ${object.sequence}`);
    this.head = encodeObjectMeta(object.meta);
    this.payload = object.payload;
    this.envelopeLength = this.head.length + object.payload.length;
    if (this.envelopeLength > MAX_ENVELOPE_LENGTH) {
      throw new RangeError(`object too large: envelope of ${this.envelopeLength} bytes exceeds ${MAX_ENVELOPE_LENGTH}`);
    }
    this.datagramSize = datagramSize;
    this.fragmentSize = fragmentSizeFor(datagramSize, key !== undefined);
    this.count = fragmentCount(this.envelopeLength, this.fragmentSize);
    this.key = key;
    this.template = {
      senderIdLittleEndian: senderIdToLittleEndian(parseSenderId(object.senderId)),
      sequence: object.sequence,
      objectId: uuidToBytes(object.id),
      envelopeLength: this.envelopeLength,
      metadataLength: this.head.length,
      fragmentSize: this.fragmentSize,
    };
  }

  /** Writes datagram `index` into out[offset, ...) (room for datagramSize bytes); returns its length. */
  writeDatagram(index: number, out: Uint8Array, offset = 0): number {
    const start = index * this.fragmentSize;
    const end = Math.min(start + this.fragmentSize, this.envelopeLength);
    const chunkLength = end - start;
    const datagram = offset === 0 && out.length === this.datagramSize ? out : out.subarray(offset, offset + this.datagramSize);
    let at = writePreamble(datagram, KIND_FRAGMENT, this.key !== undefined);
    at = writeFragmentHeader(datagram, at, this.template, index, chunkLength);
    at = this.copyEnvelope(start, end, datagram, at);
    if (this.key !== undefined) {
      at += AUTH_TRAILER_LENGTH;
      signDatagram(datagram, at, this.key);
    }
    return at;
  }

  /** Every datagram of the object, in send order (for tests and vectors; a sender uses writeDatagram). */
  datagrams(): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (let i = 0; i < this.count; i++) {
      const buf = new Uint8Array(this.datagramSize);
      out.push(buf.slice(0, this.writeDatagram(i, buf)));
    }
    return out;
  }

  private copyEnvelope(start: number, end: number, out: Uint8Array, at: number): number {
    const headLength = this.head.length;
    if (start < headLength) {
      const headEnd = Math.min(end, headLength);
      out.set(this.head.subarray(start, headEnd), at);
      at += headEnd - start;
      start = headEnd;
    }
    if (start < end) {
      out.set(this.payload.subarray(start - headLength, end - headLength), at);
      at += end - start;
    }
    return at;
  }
}
