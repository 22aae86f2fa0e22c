// Cuts one object into its datagrams (SPEC 2.4, 4.1), with parity fragments when FEC is on (SPEC 10).
// Built once per object; writeDatagram fills a caller's buffer, so a sender reuses a few buffers for
// every datagram it sends.
import { FecEncoder, type SourceReader } from "../fec/block-coder.js";
import { createKernel } from "../fec/kernel.js";
import { FEC_SCHEME_NONE, FEC_SCHEME_RS8, FecLayout, type FecSettings } from "../fec/layout.js";
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

export interface EncoderOptions {
  readonly key?: AuthKey | undefined;
  /** FEC parameters; absent or null: no parity (scheme 0). */
  readonly fec?: FecSettings | null | undefined;
  /** Parity is computed here; a sender passes one it reuses for every object. */
  readonly fecEncoder?: FecEncoder | undefined;
  /**
   * Order the datagrams so that the last `heldBack` of them, without which no receiver can complete
   * the object, come last: the last block's last source and parity with FEC, the last fragment
   * without (SPEC 10.4).
   */
  readonly holdBack?: boolean | undefined;
}

export class ObjectEncoder {
  readonly datagramSize: number;
  readonly fragmentSize: number;
  /** Datagrams of the object: source fragments, then with FEC the parity fragments. */
  readonly count: number;
  /** With `holdBack`: the last this many send positions complete the object (0 without). */
  readonly heldBack: number;
  /** T: source fragments. */
  readonly sourceCount: number;
  readonly envelopeLength: number;
  /** The block layout when FEC is on. */
  readonly fecLayout: FecLayout | null;
  private readonly head: Uint8Array;
  private readonly payload: Uint8Array;
  private readonly template: FragmentTemplate;
  private readonly key: AuthKey | undefined;
  private readonly fecSettings: FecSettings | null;
  private readonly fecEncoder: FecEncoder | null;
  /** Fragment index at each send position (FEC only; without FEC position = index). */
  private readonly order: Uint32Array | null;
  private readonly readSource: SourceReader = (index, target, at) => {
    const start = index * this.fragmentSize;
    const end = Math.min(start + this.fragmentSize, this.envelopeLength);
    this.copyEnvelope(start, end, target, at);
    return end - start;
  };

  constructor(object: ObjectToEncode, datagramSize: number, options: EncoderOptions = {}) {
    const key = options.key;
    if (!Number.isSafeInteger(object.sequence) || object.sequence < 1) throw new RangeError(`sequence must be >= 1, got ${object.sequence}`);
    this.head = encodeObjectMeta(object.meta);
    this.payload = object.payload;
    this.envelopeLength = this.head.length + object.payload.length;
    if (this.envelopeLength > MAX_ENVELOPE_LENGTH) {
      throw new RangeError(`object too large: envelope of ${this.envelopeLength} bytes exceeds ${MAX_ENVELOPE_LENGTH}`);
    }
    this.datagramSize = datagramSize;
    this.fragmentSize = fragmentSizeFor(datagramSize, key !== undefined);
    this.sourceCount = fragmentCount(this.envelopeLength, this.fragmentSize);
    this.key = key;
    this.fecSettings = options.fec ?? null;
    this.fecLayout = this.fecSettings === null ? null : FecLayout.forSender(this.sourceCount, this.envelopeLength, this.fragmentSize, this.fecSettings);
    this.fecEncoder = this.fecLayout === null ? null : (options.fecEncoder ?? new FecEncoder(createKernel()));
    this.order = this.fecLayout === null || this.fecSettings === null ? null : this.fecLayout.sendOrder(this.fecSettings.interleave, options.holdBack === true);
    this.count = this.fecLayout === null ? this.sourceCount : this.fecLayout.totalCount;
    this.heldBack = options.holdBack !== true ? 0 : this.fecLayout === null ? 1 : this.fecLayout.heldBackCount;
    this.template = {
      senderIdLittleEndian: senderIdToLittleEndian(parseSenderId(object.senderId)),
      sequence: object.sequence,
      objectId: uuidToBytes(object.id),
      envelopeLength: this.envelopeLength,
      metadataLength: this.head.length,
      fragmentSize: this.fragmentSize,
      fecScheme: this.fecLayout === null ? FEC_SCHEME_NONE : FEC_SCHEME_RS8,
      fecBlockLength: this.fecLayout === null ? 0 : this.fecLayout.blockLength,
      fecParityCount: this.fecLayout === null ? 0 : this.fecLayout.parityCount,
    };
  }

  /** The fragment index sent at a send position (SPEC 10.4). */
  indexAt(position: number): number {
    return this.order === null ? position : this.order[position]!;
  }

  /**
   * Writes the datagram at send position `position` (0 <= position < count) into out[offset, ...)
   * (room for datagramSize bytes); returns its length.
   */
  writeDatagram(position: number, out: Uint8Array, offset = 0): number {
    const index = this.indexAt(position);
    const datagram = offset === 0 && out.length === this.datagramSize ? out : out.subarray(offset, offset + this.datagramSize);
    let at = writePreamble(datagram, KIND_FRAGMENT, this.key !== undefined);
    if (index < this.sourceCount) {
      const start = index * this.fragmentSize;
      const end = Math.min(start + this.fragmentSize, this.envelopeLength);
      at = writeFragmentHeader(datagram, at, this.template, index, end - start);
      at = this.copyEnvelope(start, end, datagram, at);
    } else {
      const parity = this.paritySymbol(index);
      at = writeFragmentHeader(datagram, at, this.template, index, parity.length);
      datagram.set(parity, at);
      at += parity.length;
    }
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

  /** Parity fragment `index`, computing its interleave group's parity first when needed. */
  private paritySymbol(index: number): Uint8Array {
    const layout = this.fecLayout!;
    const encoder = this.fecEncoder!;
    const interleave = this.fecSettings!.interleave;
    const parityNumber = index - this.sourceCount;
    const block = Math.floor(parityNumber / layout.parityCount);
    if (!encoder.holds(layout, block)) {
      const first = block - (block % interleave);
      encoder.encodeGroup(layout, first, Math.min(first + interleave, layout.blockCount), this.readSource);
    }
    return encoder.parity(block, parityNumber % layout.parityCount);
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
