// A mirror of one prefix: pulls the owner's change log (GET /changes?since=) server-side and applies
// it through the repository service, so this instance's caches get it by multicast like an upload.
// - Resumes from a checkpoint written in the same store transaction as the change it applied.
// - Every payload's MD5 is checked against the owner's before anything is stored.
// - A changeset is staged whole (this store's changeset machinery, under the owner's changeset id) and
//   committed as one key only when all of its objects under the prefix are in.
// - Validity and metadata changes and deletes are applied as they came; the first sync replays the
//   owner's whole log (back-fill).
// - An unreachable owner: the mirror keeps serving what it has and retries with doubling back-off.
import { createHash, randomUUID } from "node:crypto";
import type { FastifyBaseLogger } from "fastify";
import type { Change } from "../store/storage.js";
import type { SyncCheckpoint } from "../store/sqlite/durable-store.js";
import type { MirrorCheckpoints, RepositoryStore } from "../store/repository-store.js";
import type { MirrorWrites, RepositoryService } from "../repository/repository-service.js";
import type { KeySnapshot } from "../keys/model.js";
import type { ObjectRecord } from "../model.js";
import { underPrefix, type MirrorConfig } from "./config.js";
import { PeerError, type PeerClient } from "./peer.js";

const BATCH = 500;
/**
 * Downloads started ahead of the change being applied (changes are still applied one by one, in log
 * order, each with its checkpoint): a round trip to the owner per object, one after the other, was
 * what bounded the mirror's rate (bench/README.md, sync lag). Bounded in count and in bytes.
 */
const PREFETCH_OBJECTS = 8;
const PREFETCH_BYTES = 32 * 1024 * 1024;

type Fetched = { record: ObjectRecord; payload: Uint8Array } | "gone";
interface Prefetch {
  readonly fetched: Promise<Fetched>;
  readonly size: number;
}

export interface MirrorStatus {
  readonly prefix: string;
  readonly from: string;
  /** The owner's last change applied (or passed over: outside the prefix, run resends). */
  readonly appliedSequence: number;
  /** The owner's last sequence at the last contact. */
  readonly ownerSequence: number;
  /** Changes of the owner not yet applied (0 when caught up at the last contact). */
  readonly lagChanges: number;
  /** Age of the oldest change not yet applied, seconds (0 when caught up). */
  readonly lagSeconds: number;
  readonly ownerReachable: boolean;
  /**
   * Whether this process pulls the owner's log: false on a replica that does not lead (several replicas
   * on one PostgreSQL database: the leading one pulls, and every replica shows its checkpoint).
   */
  readonly pulling: boolean;
  readonly lastContactAt: number | null;
  readonly lastError: string | null;
  readonly applied: { readonly objects: number; readonly updates: number; readonly deletes: number; readonly changesets: number; readonly md5Mismatches: number };
}

export class MirrorError extends Error {}

export class Mirror {
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private running: Promise<void> = Promise.resolve();
  private backoffMs = 0;
  private ownerSequence = 0;
  private caughtUp = false;
  /** changedAt of the first change not yet applied at the last contact. */
  private oldestPendingAt: number | null = null;
  private lastContactAt: number | null = null;
  private lastError: string | null = null;
  private readonly applied = { objects: 0, updates: 0, deletes: 0, changesets: 0, md5Mismatches: 0 };
  /**
   * The checkpoint before the change being applied, while it is: the store shows the new checkpoint
   * as soon as the change commits (PostgreSQL: a few round trips before the apply returns), and the
   * counters move only once it has returned, so status() shows the old one until both agree.
   */
  private applyingFrom: number | null = null;
  /** Uploaded rows of changesets seen before their commit row (in the same or an earlier batch). */
  private readonly changesetRows = new Map<string, Map<string, Change>>();

  constructor(
    readonly config: MirrorConfig,
    private readonly owner: PeerClient,
    private readonly repository: RepositoryService,
    private readonly store: RepositoryStore,
    private readonly checkpoints: MirrorCheckpoints,
    private readonly pollMs: number,
    private readonly maxBackoffMs: number,
    private readonly log: FastifyBaseLogger,
    /** Whether this replica pulls now (the embedded store: always; PostgreSQL: the leading replica). */
    private readonly pulls: () => boolean = () => true,
  ) {}

  /** The checkpoint's name in the store. */
  get name(): string {
    return `${this.config.from}:${this.config.prefix}`;
  }

  start(): void {
    this.schedule(0);
  }

  async close(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    await this.running;
  }

  status(now: number): MirrorStatus {
    const sequence = this.applyingFrom ?? this.checkpoints.checkpoint(this.name).sequence;
    const lagChanges = this.caughtUp ? 0 : Math.max(0, this.ownerSequence - sequence);
    return {
      prefix: this.config.prefix,
      from: this.config.from,
      appliedSequence: sequence,
      ownerSequence: this.ownerSequence,
      lagChanges,
      lagSeconds: this.caughtUp || this.oldestPendingAt === null ? 0 : Math.max(0, (now - this.oldestPendingAt) / 1000),
      ownerReachable: this.lastError === null && this.lastContactAt !== null,
      pulling: this.pulls(),
      lastContactAt: this.lastContactAt,
      lastError: this.lastError,
      applied: { ...this.applied },
    };
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.round().then(
        (more) => {
          this.backoffMs = 0;
          this.lastError = null;
          this.schedule(more ? 0 : this.pollMs);
        },
        (error: Error) => {
          this.lastError = error.message;
          this.backoffMs = Math.min(Math.max(this.backoffMs * 2, 250), this.maxBackoffMs);
          this.log.warn({ mirror: this.name, err: error.message, retryMs: this.backoffMs }, "mirror round failed");
          this.schedule(this.backoffMs);
        },
      );
    }, ms);
    this.timer.unref();
  }

  /** One batch of the owner's log; true when there may be more at once. */
  async round(): Promise<boolean> {
    if (!this.pulls()) {
      // Another replica pulls; what it applies reaches this one's index (and checkpoint) by replay.
      this.caughtUp = false;
      this.changesetRows.clear();
      return false;
    }
    const since = this.checkpoints.checkpoint(this.name).sequence;
    const answer = await this.owner.json<{ senderId: string; lastSequence: number; through?: number; changes: Change[] }>(`/changes?since=${since}&limit=${BATCH}&prefix=${encodeURIComponent(this.config.prefix)}`);
    this.lastContactAt = Date.now();
    this.ownerSequence = answer.lastSequence;
    this.oldestPendingAt = answer.changes[0]?.changedAt ?? null;
    this.caughtUp = answer.changes.length === 0 && (answer.through ?? answer.lastSequence) >= answer.lastSequence;
    let passed: Change | undefined; // the last change passed over without a write of its own
    const prefetched = new Map<string, Prefetch>();
    let ahead = 0; // the first change not yet looked at for a download
    for (const [i, change] of answer.changes.entries()) {
      if (this.stopped) return false;
      ahead = this.prefetch(answer.changes, Math.max(ahead, i), prefetched);
      this.applyingFrom = this.checkpoints.checkpoint(this.name).sequence;
      let applied: boolean;
      try {
        applied = await this.apply(change, prefetched);
      } finally {
        this.applyingFrom = null;
      }
      passed = applied ? undefined : change;
      this.oldestPendingAt = answer.changes[i + 1]?.changedAt ?? null;
    }
    if (passed !== undefined) await this.repository.applyMirrored(this.checkpointAt(passed), async () => undefined);
    // An owner that shows this mirror only its prefix (a storage.read:<prefix> token) says how far it
    // looked (`through`): past changes of other prefixes, which would otherwise be asked for again.
    const last = answer.changes[answer.changes.length - 1];
    const through = answer.through ?? last?.sequence ?? since;
    if (through > (last?.sequence ?? since) && !this.stopped) {
      const at = this.checkpoints.checkpoint(this.name);
      await this.repository.applyMirrored({ mirror: this.name, sequence: through, changedAt: last?.changedAt ?? at.changedAt, appliedAt: Date.now() }, async () => undefined);
    }
    const more = answer.through !== undefined ? answer.through < answer.lastSequence : answer.changes.length === BATCH;
    if (!more) this.caughtUp = true;
    return more;
  }

  private checkpointAt(change: Change): SyncCheckpoint {
    return { mirror: this.name, sequence: change.sequence, changedAt: change.changedAt, appliedAt: Date.now() };
  }

  private mine(path: string): boolean {
    return underPrefix(path, this.config.prefix);
  }

  /**
   * Starts the downloads of the plain uploads under the prefix from `from` on, while fewer than
   * PREFETCH_OBJECTS (and PREFETCH_BYTES) are held; returns the first change not looked at. An entry
   * leaves the map when its change is applied.
   */
  private prefetch(changes: readonly Change[], from: number, prefetched: Map<string, Prefetch>): number {
    let bytes = 0;
    for (const f of prefetched.values()) bytes += f.size;
    let next = from;
    for (; next < changes.length && prefetched.size < PREFETCH_OBJECTS; next++) {
      const c = changes[next]!;
      if (c.action !== "uploaded" || c.changeset !== undefined || !this.mine(c.path) || this.store.get(c.id) !== undefined) continue;
      if (prefetched.size > 0 && bytes + c.size > PREFETCH_BYTES) break;
      const fetched = this.fetchObject(c.id, c);
      fetched.catch(() => undefined); // awaited (its error seen) when its change is applied, unless the round fails first
      prefetched.set(c.id, { fetched, size: c.size });
      bytes += c.size;
    }
    return next;
  }

  /** Applies one change (with its checkpoint); false when it was passed over (the checkpoint moves later). */
  private async apply(change: Change, prefetched: Map<string, Prefetch>): Promise<boolean> {
    switch (change.action) {
      case "uploaded": {
        if (!this.mine(change.path)) return false;
        if (change.changeset !== undefined) {
          // Visible in the log only once committed: kept for the commit row, which applies it.
          const rows = this.changesetRows.get(change.changeset) ?? new Map<string, Change>();
          rows.set(change.id, change);
          this.changesetRows.set(change.changeset, rows);
          return false;
        }
        if (this.store.get(change.id) !== undefined) return false;
        const fetched = await (prefetched.get(change.id)?.fetched ?? this.fetchObject(change.id, change));
        prefetched.delete(change.id);
        if (fetched === "gone") return false; // deleted at the owner since; its delete follows in the log
        await this.repository.applyMirrored(this.checkpointAt(change), (w) => w.put(fetched.record, fetched.payload));
        this.applied.objects++;
        return true;
      }
      case "updated": {
        const local = this.mine(change.path) ? this.store.get(change.id) : undefined;
        if (local === undefined) return false;
        const metadata: Record<string, string> = { ...change.metadata };
        for (const key of Object.keys(local.meta.metadata)) if (!(key in change.metadata)) metadata[key] = "";
        await this.repository.applyMirrored(this.checkpointAt(change), (w) => w.update(local, { validUntil: change.validUntil, metadata }));
        this.applied.updates++;
        return true;
      }
      case "deleted": {
        const local = this.mine(change.path) ? this.store.get(change.id) : undefined;
        if (local === undefined) return false;
        await this.repository.applyMirrored(this.checkpointAt(change), (w) => w.remove(local));
        this.applied.deletes++;
        return true;
      }
      case "committed":
        // A run start's Commit (SPEC 11.6, `run` set) re-sends a key the mirror applied already.
        return change.run === undefined ? this.applyChangeset(change) : false;
      default:
        return false; // "resent": a run start multicast objects again, nothing changed
    }
  }

  /**
   * A committed changeset: its objects under the prefix staged into a changeset of this store (the
   * owner's id, so a restart resumes the staging), then committed with the checkpoint in one
   * transaction. Nothing of it is visible here, or complete at the caches, before that commit.
   */
  private async applyChangeset(change: Change): Promise<boolean> {
    const owned = this.changesetRows.get(change.id) ?? new Map<string, Change>();
    this.changesetRows.delete(change.id);
    const keytable = change.keytable!;
    const wanted: { id: string; row: Change | undefined }[] = (change.objects ?? []).map((id) => ({ id, row: owned.get(id) }));
    const local = this.store.changeset(change.id);
    if (local?.state === "committed") return false;
    // The owner's key says where each object of the changeset lies: those outside the prefix are
    // never fetched (a changeset of another prefix costs this one request).
    const ownerKey = await this.ownerKey(keytable, change.key!);
    const pathOf = new Map((ownerKey?.entries ?? []).map((e) => [e.id, e.path]));
    // The objects, with what the log says of them; rows not seen (staged before an earlier batch and
    // committed after it) are read from the owner's object headers.
    const objects: { record: ObjectRecord; payload: Uint8Array }[] = [];
    for (const { id, row } of wanted) {
      const path = row?.path ?? pathOf.get(id);
      if (path !== undefined && !this.mine(path)) continue;
      if (this.store.stagedObject(id) !== undefined && local?.state === "open") {
        objects.push({ record: this.store.stagedObject(id)!.record, payload: new Uint8Array() });
        continue;
      }
      const fetched = await this.fetchObject(id, row);
      if (fetched === "gone" || !this.mine(fetched.record.meta.path)) continue;
      objects.push(fetched);
    }
    if (objects.length === 0) return false;
    const removedPaths = this.removedPaths(keytable, ownerKey);
    let csId = change.id;
    if (local === undefined) await this.repository.applyMirrored(undefined, async (w) => void (await w.openChangeset(csId, keytable)));
    else if (local.state !== "open") {
      // An earlier attempt here expired or was aborted: stage under a new id.
      csId = randomUUID();
      await this.repository.applyMirrored(undefined, async (w) => void (await w.openChangeset(csId, keytable)));
    }
    for (const o of objects) {
      if (this.store.stagedObject(o.record.id) !== undefined) continue;
      await this.repository.applyMirrored(undefined, (w: MirrorWrites) => w.put({ ...o.record, meta: { ...o.record.meta, changeset: csId } }, o.payload, csId));
    }
    await this.repository.applyMirrored(this.checkpointAt(change), (w) => w.commitChangeset(csId, removedPaths, objects.map((o) => o.record.id)).then(() => undefined));
    this.applied.changesets++;
    this.applied.objects += objects.length;
    return true;
  }

  /** The owner's snapshot of a key; undefined when the owner has none (404). */
  private async ownerKey(keytable: string, key: number): Promise<KeySnapshot | undefined> {
    try {
      return await this.owner.json<KeySnapshot>(`/keys/${encodeURIComponent(keytable)}/${key}`);
    } catch (error) {
      if (error instanceof PeerError && error.status === 404) return undefined;
      throw error;
    }
  }

  /** Paths the owner's key dropped that this instance's current key of the keytable holds under the prefix. */
  private removedPaths(keytable: string, owner: KeySnapshot | undefined): string[] {
    if (owner === undefined) return [];
    const kept = new Set(owner.entries.map((e) => e.path));
    const current = this.store.currentKey(keytable);
    const mine = current === 0 ? [] : (this.store.snapshot(keytable, current)?.entries ?? []);
    return mine.filter((e) => this.mine(e.path) && !kept.has(e.path)).map((e) => e.path);
  }

  /**
   * The owner's object `id`: payload checked against its MD5, metadata from the log row when there is
   * one (complete), else from the headers. "gone" when the owner no longer has it.
   */
  private async fetchObject(id: string, row: Change | undefined): Promise<Fetched> {
    const r = await this.owner.get(`/download/${id}`);
    if (r.status === 404) return "gone";
    if (r.status !== 200) throw new MirrorError(`${this.config.from} answered ${r.status} to /download/${id}`);
    const h = r.headers;
    const md5 = h["content-md5"] ?? "";
    const actual = createHash("md5").update(r.body).digest("hex");
    if (md5 !== actual) {
      this.applied.md5Mismatches++;
      throw new MirrorError(`object ${id} from ${this.config.from}: MD5 ${actual} of the payload is not the announced ${md5}; not applied`);
    }
    if (row !== undefined && row.size !== r.body.length) throw new MirrorError(`object ${id} from ${this.config.from}: ${r.body.length} bytes, the log says ${row.size}`);
    const fileName = /filename="([^"]*)"/.exec(h["content-disposition"] ?? "")?.[1];
    const latin = (text: string): string => Buffer.from(text, "latin1").toString("utf8");
    const path = row?.path ?? latin(h["condcast-path"] ?? "");
    // As uploaded: a later validity change has its own "updated" row further on in the log, applied
    // (and multicast) as a change, so that caches learn the initial validity and the new one alike.
    const validUntil = row?.validUntil ?? Number(h.initialvaliditylimit ?? h["valid-until"]);
    const record: ObjectRecord = {
      id,
      meta: {
        path,
        validFrom: row?.validFrom ?? Number(h["valid-from"]),
        validUntil,
        created: row?.created ?? Number(h.created),
        contentType: h["content-type"] ?? "application/octet-stream",
        fileName: fileName === undefined || fileName === id ? "" : latin(fileName),
        md5,
        metadata: row?.metadata ?? headerMetadata(h),
      },
      size: r.body.length,
      initialValidity: h.initialvaliditylimit === undefined ? validUntil : Number(h.initialvaliditylimit),
      lastModified: Date.parse(h["last-modified"] ?? "") || Date.now(),
      source: "upload",
    };
    if (!Number.isSafeInteger(record.meta.validFrom) || !Number.isSafeInteger(record.meta.validUntil) || !Number.isSafeInteger(record.meta.created) || record.meta.path === "") {
      throw new MirrorError(`object ${id} from ${this.config.from}: headers without a path, validity or creation time`);
    }
    return { record, payload: r.body };
  }
}

const NOT_METADATA = new Set([
  "accept-ranges", "age", "cache-control", "cache-valid-until", "condcast-changeset", "condcast-key", "condcast-keys", "condcast-path", "condcast-source", "connection",
  "content-disposition", "content-length", "content-location", "content-md5", "content-type", "created", "date", "etag", "initialvaliditylimit", "keep-alive",
  "last-modified", "location", "transfer-encoding", "valid-from", "valid-until", "vary",
]);

/** An object's metadata as its headers carry it (lower-cased names: what a header read gives). */
function headerMetadata(h: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (!NOT_METADATA.has(k)) out[k] = Buffer.from(v, "latin1").toString("utf8");
  return out;
}
