// Reassembly without sockets (SPEC 5.2): fragments in, complete objects out, within fixed bounds.
import { DEFAULT_MAX_PARTIAL_BYTES, DEFAULT_PARTIAL_TIMEOUT_MS, OBJECT_ID_LENGTH } from "../wire/constants.js";
import type { FragmentView } from "../wire/fragment.js";
import { bytesToUuid } from "../wire/ids.js";
import { decodeObjectMeta, type ReceivedObject } from "../wire/object.js";
import type { ObjectReason, ReassemblyReason } from "../wire/reasons.js";
import type { ReceiverCounters } from "./counters.js";
import { FecDecoder } from "../fec/block-coder.js";
import { createKernel } from "../fec/kernel.js";
import { FEC_SCHEME_NONE, FecLayout } from "../fec/layout.js";
import { PartialObject, STORE_DUPLICATE, chargeFor } from "./partial-object.js";

export interface ReassemblerOptions {
  /** Cap on the bytes held by incomplete objects (SPEC 5.2). */
  readonly maxPartialBytes?: number | undefined;
  /** Cap on the number of incomplete objects. */
  readonly maxPartialObjects?: number | undefined;
  /** An incomplete object with no fragment for this long is dropped. */
  readonly partialTimeoutMs?: number | undefined;
  /** How many completed object ids are remembered to recognise late duplicates. */
  readonly completedMemory?: number | undefined;
}

export interface ReassemblerEvents {
  onObject(object: ReceivedObject): void;
  onObjectDropped(partial: PartialObject, reason: ObjectReason): void;
  /** Frees room for `bytes` more partial bytes (by dropping staged changesets); whether they fit now. */
  makeRoom?(bytes: number): boolean;
}

/** The outcome of finishing a partial object whose every fragment is present. */
export type FinishResult = { readonly object: ReceivedObject } | { readonly reason: ObjectReason };

/** Decodes the envelope head and checks the MD5 (SPEC 5.2 "Completion"). */
export function finishObject(partial: PartialObject): FinishResult {
  const meta = decodeObjectMeta(partial.envelope.subarray(0, partial.metadataLength));
  if (meta === null) return { reason: "bad_metadata" };
  if (partial.payloadMd5() !== meta.md5) return { reason: "md5_mismatch" };
  return {
    object: {
      id: partial.objectId,
      senderId: partial.senderId,
      sequence: partial.sequence,
      meta,
      payload: partial.envelope.subarray(partial.metadataLength),
    },
  };
}

export class Reassembler {
  private readonly partials = new Map<string, PartialObject>();
  private readonly completed = new Set<string>();
  private readonly maxPartialBytes: number;
  private readonly maxPartialObjects: number;
  private readonly partialTimeoutMs: number;
  private readonly completedMemory: number;
  /** The partial the previous fragment went to: most fragments follow their predecessor's object. */
  private last: PartialObject | null = null;
  private lastSenderLow = 0;
  private lastSenderHigh = 0;
  /** Rebuilds lost fragments of FEC-coded objects; created on the first such object. */
  private fecDecoder: FecDecoder | null = null;

  constructor(
    private readonly counters: ReceiverCounters,
    private readonly events: ReassemblerEvents,
    options: ReassemblerOptions = {},
  ) {
    this.maxPartialBytes = options.maxPartialBytes ?? DEFAULT_MAX_PARTIAL_BYTES;
    this.maxPartialObjects = options.maxPartialObjects ?? 10_000;
    this.partialTimeoutMs = options.partialTimeoutMs ?? DEFAULT_PARTIAL_TIMEOUT_MS;
    this.completedMemory = options.completedMemory ?? 4096;
  }

  /** Takes one checked fragment; returns why it was not used, or null. */
  accept(view: FragmentView, now: number): ReassemblyReason | null {
    let partial = this.matchesLast(view) ? this.last : null;
    if (partial === null) {
      const key = keyOf(view);
      partial = this.partials.get(key) ?? null;
      if (partial === null) {
        // Parity of an object already complete is not needed (SPEC 5.2): no drop.
        if (this.completed.has(key)) return view.isParity ? null : "duplicate";
        const layout =
          view.fecScheme === FEC_SCHEME_NONE
            ? null
            : new FecLayout(view.sourceCount, view.envelopeLength, view.fragmentSize, view.fecBlockLength, view.fecParityCount);
        const charge = chargeFor(view.envelopeLength, view.fragmentSize, layout);
        if (this.partials.size >= this.maxPartialObjects) return "over_capacity";
        // Staged changeset objects share the cap (SPEC 11); over it the oldest staged changeset goes first.
        if (this.counters.partialBytes + this.counters.stagedBytes + charge > this.maxPartialBytes && !(this.events.makeRoom?.(charge) ?? false)) {
          return "over_capacity";
        }
        partial = new PartialObject(
          key,
          view.senderIdHex(),
          bytesToUuid(view.buf, view.objectIdOffset),
          view.sequence,
          view.envelopeLength,
          view.metadataLength,
          view.fragmentSize,
          now,
          layout === null ? null : { layout, decoder: (this.fecDecoder ??= new FecDecoder(createKernel())) },
        );
        this.partials.set(key, partial);
        this.counters.partialObjects = this.partials.size;
        this.counters.partialBytes += charge;
      }
      this.last = partial;
      this.lastSenderLow = view.senderIdLow;
      this.lastSenderHigh = view.senderIdHigh;
    }
    if (
      view.envelopeLength !== partial.envelopeLength ||
      view.metadataLength !== partial.metadataLength ||
      view.fragmentSize !== partial.fragmentSize ||
      view.sequence !== partial.sequence ||
      !sameFec(view, partial.fecLayout)
    ) {
      return "inconsistent";
    }
    const stored = partial.store(view.index, view.buf.subarray(view.chunkOffset, view.chunkOffset + view.chunkLength), now);
    if (stored === STORE_DUPLICATE) return "duplicate";
    if (stored > 0) this.countDecoded(stored);
    if (partial.complete) this.finish(partial);
    return null;
  }

  /** Counts one block rebuilt from `recovered` parity fragments (SPEC 10.5). */
  countDecoded(recovered: number): void {
    this.counters.fec.blocksDecoded++;
    this.counters.fec.parityUsed += recovered;
    this.counters.fec.fragmentsRecovered += recovered;
  }

  /** Drops incomplete objects that have had no fragment for the partial timeout. */
  expire(now: number): void {
    for (const partial of this.partials.values()) {
      if (now - partial.lastFragmentAt >= this.partialTimeoutMs) {
        this.remove(partial);
        this.counters.objectsDropped.expired++;
        this.events.onObjectDropped(partial, "expired");
      }
    }
  }

  /**
   * Marks as ended every incomplete object of `senderId` up to `sequence`: a sender finishes an object
   * before it numbers the next (SPEC 1), so a later sequence or a heartbeat's last_sequence means
   * their missing fragments are lost, not late.
   */
  senderReached(senderId: string, sequence: number, now: number): void {
    for (const partial of this.partials.values()) {
      if (partial.endedAt === null && partial.sequence <= sequence && partial.senderId === senderId) partial.markEnded(now);
    }
  }

  /** Incomplete objects, oldest first. */
  incomplete(): PartialObject[] {
    return [...this.partials.values()];
  }

  /**
   * Takes an incomplete object out of reassembly (e.g. to repair it over HTTP); later fragments of it
   * count as duplicates. Returns undefined when it is not held.
   */
  release(key: string): PartialObject | undefined {
    const partial = this.partials.get(key);
    if (partial === undefined) return undefined;
    this.remove(partial);
    this.rememberCompleted(key);
    return partial;
  }

  private finish(partial: PartialObject): void {
    this.remove(partial);
    this.rememberCompleted(partial.key);
    const result = finishObject(partial);
    if ("reason" in result) {
      this.counters.objectsDropped[result.reason]++;
      this.events.onObjectDropped(partial, result.reason);
      return;
    }
    this.counters.objectsCompleted++;
    this.events.onObject(result.object);
  }

  private remove(partial: PartialObject): void {
    if (this.partials.delete(partial.key)) {
      this.counters.partialBytes -= partial.chargedBytes;
      this.counters.partialObjects = this.partials.size;
    }
    if (this.last === partial) this.last = null;
  }

  private rememberCompleted(key: string): void {
    this.completed.add(key);
    if (this.completed.size > this.completedMemory) {
      const oldest = this.completed.values().next().value;
      if (oldest !== undefined) this.completed.delete(oldest);
    }
  }

  private matchesLast(view: FragmentView): boolean {
    const last = this.last;
    if (last === null || view.senderIdLow !== this.lastSenderLow || view.senderIdHigh !== this.lastSenderHigh) return false;
    const id = last.objectIdBytes;
    const buf = view.buf;
    const at = view.objectIdOffset;
    for (let i = 0; i < OBJECT_ID_LENGTH; i++) if (buf[at + i] !== id[i]) return false;
    return true;
  }
}

function sameFec(view: FragmentView, layout: FecLayout | null): boolean {
  if (layout === null) return view.fecScheme === FEC_SCHEME_NONE;
  return view.fecScheme !== FEC_SCHEME_NONE && view.fecBlockLength === layout.blockLength && view.fecParityCount === layout.parityCount;
}

/** Reassembly key: sender id and object id, both as hex. */
function keyOf(view: FragmentView): string {
  return view.senderIdHex() + Buffer.from(view.buf.buffer, view.buf.byteOffset + view.objectIdOffset, OBJECT_ID_LENGTH).toString("hex");
}
