// The cache's storage: objects in memory within a byte budget. Least recently used objects go first
// when the budget is exceeded; objects whose validity ended, and objects superseded by a newer object
// covering the same validity, go after a grace period (sweep()).
import { preparedHeaders } from "../http/headers.js";
import { matchesConstraints, newestFirst, type ObjectQuery, type ObjectRecord, type PathPattern } from "../model.js";
import { applyUpdate, type ObjectUpdate, type PutResult, type Storage } from "./storage.js";

export interface MemoryStoreOptions {
  /** Byte budget for payloads. */
  readonly budgetBytes: number;
  /** How long an expired or superseded object is kept. */
  readonly graceMs: number;
  /** Objects kept whatever their age or use: those of the keys a cache retains (SPEC 11). */
  readonly pinned?: ((id: string) => boolean) | undefined;
  /**
   * Objects evicted for the budget only once no other object is left to evict: those at paths a local
   * consumer declared (consumers/registry.ts). Expiry and supersession still drop them after the grace.
   */
  readonly declared?: ((path: string) => boolean) | undefined;
}

export interface MemoryStoreCounters {
  tooLarge: number;
  evictedLru: number;
  /** Of evictedLru: declared objects, evicted because undeclared ones did not free enough. */
  evictedLruDeclared: number;
  evictedExpired: number;
  evictedSuperseded: number;
}

interface Entry {
  record: ObjectRecord;
  /** A Buffer view of the stored bytes (no copy), as an answer sends it. */
  payload: Buffer;
  /** When a newer object covering this one's validity was first seen. */
  supersededAt?: number;
}

export class MemoryStore implements Storage {
  readonly counters: MemoryStoreCounters = { tooLarge: 0, evictedLru: 0, evictedLruDeclared: 0, evictedExpired: 0, evictedSuperseded: 0 };
  /** Insertion order = recency order: a hit moves the entry to the end. */
  private readonly entries = new Map<string, Entry>();
  private readonly byPath = new Map<string, Set<string>>();
  private bytes = 0;

  constructor(private readonly options: MemoryStoreOptions) {}

  find(query: ObjectQuery): ObjectRecord | undefined {
    let best: ObjectRecord | undefined;
    for (const id of this.byPath.get(query.path) ?? []) {
      const record = this.entries.get(id)?.record;
      if (record !== undefined && matchesConstraints(record, query) && (best === undefined || newestFirst(record, best) < 0)) best = record;
    }
    return best;
  }

  atPath(path: string): ObjectRecord[] {
    return [...(this.byPath.get(path) ?? [])].map((id) => this.entries.get(id)!.record);
  }

  get(id: string): ObjectRecord | undefined {
    return this.entries.get(id)?.record;
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  async readPayload(id: string): Promise<Uint8Array | undefined> {
    return this.payloadNow(id);
  }

  payloadNow(id: string): Buffer | undefined {
    const entry = this.entries.get(id);
    if (entry === undefined) return undefined;
    this.entries.delete(id); // most recently used
    this.entries.set(id, entry);
    return entry.payload;
  }

  async put(record: ObjectRecord, payload: Uint8Array): Promise<PutResult> {
    if (payload.length > this.options.budgetBytes) {
      this.counters.tooLarge++;
      return { stored: false, reason: `object of ${payload.length} bytes exceeds the cache budget of ${this.options.budgetBytes} bytes` };
    }
    if (this.entries.has(record.id)) this.drop(record.id);
    const pinned = this.options.pinned;
    if (this.bytes + payload.length > this.options.budgetBytes) {
      // Least recently used first, past the pinned ones (which may then exceed the budget); declared
      // objects only once every undeclared one is gone.
      const declared = this.options.declared;
      const spared: string[] = [];
      for (const [id, entry] of [...this.entries]) {
        if (this.bytes + payload.length <= this.options.budgetBytes) break;
        if (pinned?.(id) === true) continue;
        if (declared?.(entry.record.meta.path) === true) {
          spared.push(id);
          continue;
        }
        this.drop(id);
        this.counters.evictedLru++;
      }
      for (const id of spared) {
        if (this.bytes + payload.length <= this.options.budgetBytes) break;
        this.drop(id);
        this.counters.evictedLru++;
        this.counters.evictedLruDeclared++;
      }
    }
    preparedHeaders(record).whole(undefined); // built once here, not per request
    const bytes = Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.length);
    this.entries.set(record.id, { record, payload: bytes });
    let ids = this.byPath.get(record.meta.path);
    if (ids === undefined) this.byPath.set(record.meta.path, (ids = new Set()));
    ids.add(record.id);
    this.bytes += payload.length;
    return { stored: true };
  }

  async update(id: string, update: ObjectUpdate, now: number): Promise<ObjectRecord | undefined> {
    const entry = this.entries.get(id);
    if (entry === undefined) return undefined;
    const meta = applyUpdate(entry.record.meta, update);
    if (meta !== null) {
      entry.record = { ...entry.record, meta, lastModified: now };
      preparedHeaders(entry.record).whole(undefined);
    }
    return entry.record;
  }

  async remove(id: string): Promise<boolean> {
    return this.drop(id);
  }

  list(pattern: PathPattern): ObjectRecord[] {
    const out: ObjectRecord[] = [];
    for (const [path, ids] of this.byPath) {
      if (!pattern.matches(path)) continue;
      for (const id of ids) out.push(this.entries.get(id)!.record);
    }
    return out;
  }

  paths(): string[] {
    return [...this.byPath.keys()];
  }

  stats(): { objects: number; bytes: number } {
    return { objects: this.entries.size, bytes: this.bytes };
  }

  /** Drops expired objects and superseded ones once the grace period has passed; returns the ids dropped. */
  sweep(now: number): string[] {
    const dropped: string[] = [];
    const grace = this.options.graceMs;
    const pinned = this.options.pinned ?? ((): boolean => false);
    for (const [id, entry] of [...this.entries]) {
      if (entry.record.meta.validUntil + grace <= now && !pinned(id)) {
        this.drop(id);
        this.counters.evictedExpired++;
        dropped.push(id);
      }
    }
    for (const ids of [...this.byPath.values()]) {
      const records = [...ids].map((id) => this.entries.get(id)!);
      for (const entry of records) {
        const m = entry.record.meta;
        const superseded = records.some(
          (other) => other !== entry && other.record.meta.created > m.created && other.record.meta.validFrom <= m.validFrom && other.record.meta.validUntil >= m.validUntil,
        );
        if (!superseded) {
          delete entry.supersededAt;
          continue;
        }
        entry.supersededAt ??= now;
        if (now - entry.supersededAt >= grace && !pinned(entry.record.id)) {
          this.drop(entry.record.id);
          this.counters.evictedSuperseded++;
          dropped.push(entry.record.id);
        }
      }
    }
    return dropped;
  }

  async close(): Promise<void> {
    this.entries.clear();
    this.byPath.clear();
    this.bytes = 0;
  }

  private drop(id: string): boolean {
    const entry = this.entries.get(id);
    if (entry === undefined) return false;
    this.entries.delete(id);
    this.bytes -= entry.payload.length;
    const ids = this.byPath.get(entry.record.meta.path);
    ids?.delete(id);
    if (ids?.size === 0) this.byPath.delete(entry.record.meta.path);
    return true;
  }
}
