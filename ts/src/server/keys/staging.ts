// A cache's staged objects (SPEC 11): complete objects of changesets not yet committed, held out of
// sight until their commit, within a byte bound and a time limit.
import type { ObjectRecord } from "../model.js";

export interface StagedObject {
  readonly record: ObjectRecord;
  readonly payload: Uint8Array;
  readonly changeset: string;
  readonly stagedAt: number;
}

export class Staging {
  private readonly objects = new Map<string, StagedObject>();
  private bytes = 0;
  /** Staged objects dropped: their changeset aborted, too old, or past the byte bound. */
  dropped = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly timeoutMs: number,
  ) {}

  /** Holds an object until its commit; false when it does not fit the bound. */
  stage(record: ObjectRecord, payload: Uint8Array, changeset: string, now: number): boolean {
    if (this.objects.has(record.id)) return true;
    if (this.bytes + payload.length > this.maxBytes) {
      this.dropped++;
      return false;
    }
    this.objects.set(record.id, { record, payload, changeset, stagedAt: now });
    this.bytes += payload.length;
    return true;
  }

  has(id: string): boolean {
    return this.objects.has(id);
  }

  get(id: string): StagedObject | undefined {
    return this.objects.get(id);
  }

  /** The ids staged for a changeset. */
  idsOf(changeset: string): string[] {
    return [...this.objects.values()].filter((o) => o.changeset === changeset).map((o) => o.record.id);
  }

  /** Removes and returns the staged objects (those held) of `ids`. */
  take(ids: readonly string[]): StagedObject[] {
    const out: StagedObject[] = [];
    for (const id of ids) {
      const o = this.objects.get(id);
      if (o === undefined) continue;
      this.objects.delete(id);
      this.bytes -= o.payload.length;
      out.push(o);
    }
    return out;
  }

  /** Drops a changeset's objects (aborted); returns how many. */
  dropChangeset(changeset: string): number {
    const ids = this.idsOf(changeset);
    this.take(ids);
    this.dropped += ids.length;
    return ids.length;
  }

  /** Drops objects staged longer than the timeout. */
  expire(now: number): number {
    const old = [...this.objects.values()].filter((o) => now - o.stagedAt > this.timeoutMs).map((o) => o.record.id);
    this.take(old);
    this.dropped += old.length;
    return old.length;
  }

  /** Per changeset, the objects staged and their bytes, in the order their first object came (for readiness reports). */
  changesets(): { changeset: string; objects: number; bytes: number }[] {
    const out = new Map<string, { changeset: string; objects: number; bytes: number }>();
    for (const o of this.objects.values()) {
      let c = out.get(o.changeset);
      if (c === undefined) out.set(o.changeset, (c = { changeset: o.changeset, objects: 0, bytes: 0 }));
      c.objects++;
      c.bytes += o.payload.length;
    }
    return [...out.values()];
  }

  stats(): { objects: number; bytes: number; dropped: number } {
    return { objects: this.objects.size, bytes: this.bytes, dropped: this.dropped };
  }
}
