// One object being reassembled: its envelope buffer, which fragments arrived, and a running MD5 of
// the payload's contiguous prefix (so completing a large object in order costs no extra pass). With
// FEC it also holds the parity of blocks still short of sources and rebuilds a block as soon as k of
// its k + m fragments are in (SPEC 10.5).
import { createHash, type Hash } from "node:crypto";
import type { FecDecoder, ParitySymbol, SourceReader } from "../fec/block-coder.js";
import type { FecLayout } from "../fec/layout.js";
import { fragmentCount } from "../wire/constants.js";
import { uuidToBytes } from "../wire/ids.js";

/** A half-open byte range [start, end). */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

/** Fixed cost charged per partial object on top of its buffers, so tiny bogus objects still add up. */
export const PARTIAL_OVERHEAD_BYTES = 256;

/** What storing one fragment did. */
export const STORE_DUPLICATE = -1;

/** Per-block FEC bookkeeping of a partial object. */
class BlockState {
  /** Source fragments present per block (received or rebuilt). */
  readonly sources: Uint16Array;
  /** Parity fragments held per block (only while the block lacks sources). */
  readonly parityHeld: Uint16Array;
  /** One byte per parity fragment: 1 once it arrived. */
  readonly parityArrived: Uint8Array;
  /** A block's held parity symbols, m × symbolSize bytes, allocated on its first parity fragment. */
  readonly parity: (Uint8Array | null)[];

  constructor(readonly layout: FecLayout) {
    this.sources = new Uint16Array(layout.blockCount);
    this.parityHeld = new Uint16Array(layout.blockCount);
    this.parityArrived = new Uint8Array(layout.blockCount * layout.parityCount);
    this.parity = new Array<Uint8Array | null>(layout.blockCount).fill(null);
  }

  complete(b: number): boolean {
    return this.sources[b] === this.layout.blockSourceCount(b);
  }
}

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
  /** Source fragments (T). */
  readonly count: number;
  /** Block layout when the object is FEC-coded. */
  readonly fecLayout: FecLayout | null;
  /**
   * The index of the fragment a sender sends last (SPEC 10.4): the last source fragment without FEC,
   * else the last parity fragment of the last block (last of all when the sender held it back; else its
   * interleave group's final round holds at most D − 1 fragments of other blocks after it).
   */
  readonly finalIndex: number;
  readonly envelope: Uint8Array;
  /** One byte per fragment: 1 once it arrived. */
  readonly received: Uint8Array;
  receivedCount = 0;
  readonly firstFragmentAt: number;
  lastFragmentAt: number;
  /**
   * When the receiver learnt that the sender has sent all of this object (its last datagram in the send
   * order arrived, or a later sequence or a heartbeat's last_sequence from its sender, SPEC 8): what
   * is missing then is lost, not in flight, and repair need not wait out the quiet time. Null until then.
   */
  endedAt: number | null = null;
  private readonly hash: Hash = createHash("md5");
  /** Fragments [0, hashedFragments) have had their payload bytes fed to `hash`. */
  private hashedFragments = 0;
  private readonly blocks: BlockState | null;
  private readonly decoder: FecDecoder | null;

  constructor(
    key: string,
    senderId: string,
    objectId: string,
    sequence: number,
    envelopeLength: number,
    metadataLength: number,
    fragmentSize: number,
    now: number,
    fec: { readonly layout: FecLayout; readonly decoder: FecDecoder } | null = null,
  ) {
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
    this.fecLayout = fec?.layout ?? null;
    this.finalIndex = this.fecLayout === null ? this.count - 1 : this.count + this.fecLayout.blockCount * this.fecLayout.parityCount - 1;
    this.blocks = fec === null ? null : new BlockState(fec.layout);
    this.decoder = fec?.decoder ?? null;
  }

  /** Records that the sender has sent all of this object (see endedAt); the first time counts. */
  markEnded(now: number): void {
    if (this.endedAt === null) this.endedAt = now;
  }

  /** Bytes charged against the receiver's partial-bytes cap. */
  get chargedBytes(): number {
    return chargeFor(this.envelopeLength, this.fragmentSize, this.fecLayout);
  }

  get complete(): boolean {
    return this.receivedCount === this.count;
  }

  /**
   * Copies a fragment's chunk into place (a parity fragment into its block's parity). Returns
   * STORE_DUPLICATE when it was already held, else how many source fragments a decode it made
   * possible rebuilt (0 mostly).
   */
  store(index: number, chunk: Uint8Array, now: number): number {
    if (index === this.finalIndex) this.markEnded(now);
    if (index >= this.count) return this.storeParity(index - this.count, chunk, now);
    if (this.received[index] === 1) return STORE_DUPLICATE;
    this.envelope.set(chunk, index * this.fragmentSize);
    this.markReceived(index);
    this.lastFragmentAt = now;
    let recovered = 0;
    if (this.blocks !== null) recovered = this.decodeIfReady(this.blocks.layout.blockOfSource(index));
    this.advanceHash();
    return recovered;
  }

  private storeParity(parityNumber: number, chunk: Uint8Array, now: number): number {
    const blocks = this.blocks!;
    const layout = blocks.layout;
    const b = Math.floor(parityNumber / layout.parityCount);
    if (blocks.parityArrived[parityNumber] === 1) return STORE_DUPLICATE;
    blocks.parityArrived[parityNumber] = 1;
    this.lastFragmentAt = now;
    if (blocks.complete(b)) return 0; // every source is in: this parity is not needed
    let storage = blocks.parity[b];
    if (storage === null || storage === undefined) {
      storage = Buffer.allocUnsafe(layout.parityCount * layout.symbolSize);
      blocks.parity[b] = storage;
    }
    storage.set(chunk, (parityNumber % layout.parityCount) * layout.symbolSize);
    blocks.parityHeld[b]!++;
    const recovered = this.decodeIfReady(b);
    this.advanceHash();
    return recovered;
  }

  private markReceived(index: number): void {
    this.received[index] = 1;
    this.receivedCount++;
    if (this.blocks !== null) this.blocks.sources[this.blocks.layout.blockOfSource(index)]!++;
  }

  /** Rebuilds block b when it holds k fragments but lacks a source; returns the sources rebuilt. */
  private decodeIfReady(b: number): number {
    const blocks = this.blocks!;
    const layout = blocks.layout;
    const k = layout.blockSourceCount(b);
    const sources = blocks.sources[b]!;
    if (sources === k) {
      blocks.parity[b] = null; // complete without parity: release it
      return 0;
    }
    if (sources + blocks.parityHeld[b]! < k) return 0;
    const start = layout.blockStart(b);
    const missing: number[] = [];
    for (let j = 0; j < k; j++) if (this.received[start + j] === 0) missing.push(j);
    const storage = blocks.parity[b]!;
    const parity: ParitySymbol[] = [];
    for (let i = 0; i < layout.parityCount && parity.length < missing.length; i++) {
      if (blocks.parityArrived[b * layout.parityCount + i] === 1) {
        parity.push({ row: i, bytes: storage.subarray(i * layout.symbolSize, (i + 1) * layout.symbolSize) });
      }
    }
    const readSource: SourceReader = (j, target, at) => {
      const from = (start + j) * this.fragmentSize;
      const to = Math.min(from + this.fragmentSize, this.envelopeLength);
      target.set(this.envelope.subarray(from, to), at);
      return to - from;
    };
    this.decoder!.decodeBlock(k, layout.symbolSize, missing, parity, readSource, (j, symbol) => {
      const from = (start + j) * this.fragmentSize;
      const to = Math.min(from + this.fragmentSize, this.envelopeLength);
      this.envelope.set(symbol.subarray(0, to - from), from);
      this.markReceived(start + j);
    });
    blocks.parity[b] = null;
    blocks.parityHeld[b] = 0;
    return missing.length;
  }

  /**
   * Copies envelope bytes obtained elsewhere (e.g. an HTTP range) into place and marks every fragment
   * they cover entirely as received.
   */
  fillEnvelope(start: number, bytes: Uint8Array): number {
    if (start < 0 || start + bytes.length > this.envelopeLength) throw new RangeError("range outside the envelope");
    this.envelope.set(bytes, start);
    const end = start + bytes.length;
    for (let i = Math.ceil(start / this.fragmentSize); i < this.count; i++) {
      const fragmentEnd = Math.min((i + 1) * this.fragmentSize, this.envelopeLength);
      if (fragmentEnd > end) break;
      if (this.received[i] === 0) this.markReceived(i);
    }
    let recovered = 0;
    if (this.blocks !== null) for (let b = 0; b < this.blocks.layout.blockCount; b++) recovered += this.decodeIfReady(b);
    this.advanceHash();
    return recovered;
  }

  /** FEC blocks that still lack source fragments (0 without FEC). */
  blocksShort(): number {
    if (this.blocks === null) return 0;
    let short = 0;
    for (let b = 0; b < this.blocks.layout.blockCount; b++) if (!this.blocks.complete(b)) short++;
    return short;
  }

  /** The payload's MD5 (hex); only once complete. */
  payloadMd5(): string {
    if (!this.complete) throw new Error("object is incomplete");
    this.advanceHash();
    return this.hash.digest("hex");
  }

  /**
   * Missing fragments as merged envelope byte ranges (SPEC 5.2). With FEC only what decoding needs:
   * the first k − h missing sources of each block holding h < k fragments.
   */
  missingEnvelopeRanges(): ByteRange[] {
    const needed = this.neededFragments();
    const ranges: ByteRange[] = [];
    let i = 0;
    while (i < this.count) {
      if (needed[i] === 0) {
        i++;
        continue;
      }
      const first = i;
      while (i < this.count && needed[i] === 1) i++;
      ranges.push({ start: first * this.fragmentSize, end: Math.min(i * this.fragmentSize, this.envelopeLength) });
    }
    return ranges;
  }

  /** One byte per source fragment: 1 when repair must fetch it. */
  private neededFragments(): Uint8Array {
    const needed = new Uint8Array(this.count);
    const blocks = this.blocks;
    if (blocks === null) {
      for (let i = 0; i < this.count; i++) needed[i] = 1 - this.received[i]!;
      return needed;
    }
    const layout = blocks.layout;
    for (let b = 0; b < layout.blockCount; b++) {
      const k = layout.blockSourceCount(b);
      let short = k - blocks.sources[b]! - blocks.parityHeld[b]!;
      for (let i = layout.blockStart(b); short > 0 && i < layout.blockStart(b) + k; i++) {
        if (this.received[i] === 0) {
          needed[i] = 1;
          short--;
        }
      }
    }
    return needed;
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

  /** True when some metadata bytes are missing and repair must fetch them (from an HTTP HEAD). */
  metadataMissing(): boolean {
    const lastMetadataFragment = Math.floor((this.metadataLength - 1) / this.fragmentSize);
    const needed = this.neededFragments();
    for (let i = 0; i <= lastMetadataFragment; i++) if (needed[i] === 1) return true;
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

export function chargeFor(envelopeLength: number, fragmentSize: number, fec: FecLayout | null = null): number {
  const parity = fec === null ? 0 : fec.blockCount * fec.parityCount * (fec.symbolSize + 1);
  return envelopeLength + fragmentCount(envelopeLength, fragmentSize) + parity + PARTIAL_OVERHEAD_BYTES;
}
