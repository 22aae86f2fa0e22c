// One object being reassembled: its envelope buffer, which fragments arrived, and a running MD5 of
// the payload's contiguous prefix (so completing a large object in order costs no extra pass).
import { createHash, type Hash } from "node:crypto";
import { fragmentCount } from "../wire/constants.js";
import { uuidToBytes } from "../wire/ids.js";

/** A half-open byte range [start, end). */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

/** Fixed cost charged per partial object on top of its buffers, so tiny bogus objects still add up. */
export const PARTIAL_OVERHEAD_BYTES = 256;

export class PartialObject {
  readonly key: string;
  readonly senderId: string;
  readonly objectId: string;
  /** The object id's 16 bytes, for comparing fragments in place. */
  readonly objectIdBytes: Uint8Array;
  readonly sequence: number;
  readonly envelopeLength: number;
  readonly metadataLength: number;
  readonly fragmentSize: number;
  readonly count: number;
  readonly envelope: Uint8Array;
  /** One byte per fragment: 1 once it arrived. */
  readonly received: Uint8Array;
  receivedCount = 0;
  readonly firstFragmentAt: number;
  lastFragmentAt: number;
  private readonly hash: Hash = createHash("md5");
  /** Fragments [0, hashedFragments) have had their payload bytes fed to `hash`. */
  private hashedFragments = 0;

  constructor(key: string, senderId: string, objectId: string, sequence: number, envelopeLength: number, metadataLength: number, fragmentSize: number, now: number) {
    this.key = key;
    this.senderId = senderId;
    this.objectId = objectId;
    this.objectIdBytes = uuidToBytes(objectId);
    this.sequence = sequence;
    this.envelopeLength = envelopeLength;
    this.metadataLength = metadataLength;
    this.fragmentSize = fragmentSize;
    this.count = fragmentCount(envelopeLength, fragmentSize);
    this.envelope = Buffer.allocUnsafe(envelopeLength);
    this.received = new Uint8Array(this.count);
    this.firstFragmentAt = now;
    this.lastFragmentAt = now;
  }

  /** Bytes charged against the receiver's partial-bytes cap. */
  get chargedBytes(): number {
    return chargeFor(this.envelopeLength, this.fragmentSize);
  }

  get complete(): boolean {
    return this.receivedCount === this.count;
  }

  /** Copies a fragment's chunk into place; false when it was already held. */
  store(index: number, chunk: Uint8Array, now: number): boolean {
    if (this.received[index] === 1) return false;
    this.envelope.set(chunk, index * this.fragmentSize);
    this.received[index] = 1;
    this.receivedCount++;
    this.lastFragmentAt = now;
    this.advanceHash();
    return true;
  }

  /**
   * Copies envelope bytes obtained elsewhere (e.g. an HTTP range) into place and marks every fragment
   * they cover entirely as received.
   */
  fillEnvelope(start: number, bytes: Uint8Array): void {
    if (start < 0 || start + bytes.length > this.envelopeLength) throw new RangeError("range outside the envelope");
    this.envelope.set(bytes, start);
    const end = start + bytes.length;
    for (let i = Math.ceil(start / this.fragmentSize); i < this.count; i++) {
      const fragmentEnd = Math.min((i + 1) * this.fragmentSize, this.envelopeLength);
      if (fragmentEnd > end) break;
      if (this.received[i] === 0) {
        this.received[i] = 1;
        this.receivedCount++;
      }
    }
    this.advanceHash();
  }

  /** The payload's MD5 (hex); only once complete. */
  payloadMd5(): string {
    if (!this.complete) throw new Error("object is incomplete");
    this.advanceHash();
    return this.hash.digest("hex");
  }

  /** Missing fragments as merged envelope byte ranges (SPEC 5.2). */
  missingEnvelopeRanges(): ByteRange[] {
    const ranges: ByteRange[] = [];
    let i = 0;
    while (i < this.count) {
      if (this.received[i] === 1) {
        i++;
        continue;
      }
      const first = i;
      while (i < this.count && this.received[i] === 0) i++;
      ranges.push({ start: first * this.fragmentSize, end: Math.min(i * this.fragmentSize, this.envelopeLength) });
    }
    return ranges;
  }

  /** Missing payload byte ranges (envelope ranges shifted by the metadata length, clipped at 0). */
  missingPayloadRanges(): ByteRange[] {
    const out: ByteRange[] = [];
    for (const r of this.missingEnvelopeRanges()) {
      const start = Math.max(r.start - this.metadataLength, 0);
      const end = r.end - this.metadataLength;
      if (end > start) out.push({ start, end });
    }
    return out;
  }

  /** True when some metadata bytes are missing (they must come from an HTTP HEAD). */
  metadataMissing(): boolean {
    const lastMetadataFragment = Math.floor((this.metadataLength - 1) / this.fragmentSize);
    for (let i = 0; i <= lastMetadataFragment; i++) if (this.received[i] === 0) return true;
    return false;
  }

  private advanceHash(): void {
    while (this.hashedFragments < this.count && this.received[this.hashedFragments] === 1) {
      const start = Math.max(this.hashedFragments * this.fragmentSize, this.metadataLength);
      const end = Math.min((this.hashedFragments + 1) * this.fragmentSize, this.envelopeLength);
      if (end > start) this.hash.update(this.envelope.subarray(start, end));
      this.hashedFragments++;
    }
  }
}

export function chargeFor(envelopeLength: number, fragmentSize: number): number {
  return envelopeLength + fragmentCount(envelopeLength, fragmentSize) + PARTIAL_OVERHEAD_BYTES;
}
