// The repository's scale-out storage: metadata, change log, changesets, keys and runs in PostgreSQL,
// payloads in an S3 bucket (s3-payloads.ts). Several replicas share one database and one bucket.
//
// Reads are synchronous, as the REST layer wants: each replica keeps the committed metadata in memory
// and replays the `events` table (what each write touched) into it — after its own writes before they
// resolve, on NOTIFY from the others, and by polling as a fallback.
// Every write is one transaction holding one advisory lock, so change-log sequences and event ids are
// gap-free and in commit order. An upload writes the payload first (MD5 verified by the object store)
// and commits the row after: a payload without a row is never visible and is removed by gc().
// sync/ mirrors keep their checkpoints here too, written in the transaction of what they applied; only
// the replica that leads pulls (sync/service.ts), and a checkpoint that another replica moved past what
// a transaction applies rolls that transaction back (CheckpointMoved), so no change is applied twice.
import pg from "pg";
import { randomBytes } from "node:crypto";
import { formatSenderId } from "../../../wire/ids.js";
import { matchesConstraints, newestFirst, type ObjectQuery, type ObjectRecord, type PathPattern } from "../../model.js";
import { applyUpdate, StoreUnavailable, type Change, type ChangeAction, type ObjectUpdate, type PutResult } from "../storage.js";
import { nextEntries, type ChangesetState, type KeyEntry, type KeySnapshot, type KeytableSummary } from "../../keys/model.js";
import { RunRefused, type RunRecord } from "../../runs/model.js";
import { ChangesetError, type Committed, type SyncCheckpoint } from "../sqlite/durable-store.js";
import type { MirrorCheckpoints, StartedRun, RepositoryStore } from "../repository-store.js";
import { migrate } from "./migrations.js";
import { toRecord, toRun } from "../rows.js";
import { S3Payloads, type S3Options } from "./s3-payloads.js";

export interface PgStoreOptions {
  /** postgres:// URL. */
  readonly url: string;
  /** Schema holding this repository's tables (created when missing). */
  readonly schema?: string | undefined;
  readonly s3: S3Options;
  /** How often the index is refreshed without a NOTIFY. */
  readonly pollMs?: number | undefined;
  /** A payload with no row is removed by gc() once this old (an upload in flight has none yet). */
  readonly orphanGraceMs?: number | undefined;
  /** Replay events kept by pruneEvents() (default 1 000 000, hours of uploads at 50 Hz). */
  readonly eventsKept?: number | undefined;
  /** Bytes of payloads kept in memory (recently written or read): served while the object store is away. */
  readonly payloadCacheBytes?: number | undefined;
}

type Row = Record<string, unknown>;
type Query = (sql: string, args?: unknown[]) => Promise<Row[]>;
const WRITE_LOCK = 7312;
const SENDER_LOCK = 7313;

/** One write: its queries, and what it touched (replayed by every replica). */
interface Tx {
  q: Query;
  touch(kind: "object" | "change" | "changeset" | "keytable" | "run" | "counter" | "checkpoint", ref: string | number): void;
  /** Appends a change-log row; returns its sequence. */
  change(row: Omit<Change, "sequence"> & { hidden: boolean }): Promise<number>;
}

/** A mirror's change was applied by another replica first (its checkpoint is past it): nothing was written. */
export class CheckpointMoved extends Error {}

export class PgStore implements RepositoryStore, MirrorCheckpoints {
  readonly sharedLog = true;
  senderId = "";
  private readonly pool: pg.Pool;
  readonly payloads: S3Payloads;
  private readonly objects = new Map<string, ObjectRecord>();
  private readonly byPath = new Map<string, Set<string>>();
  private readonly staged = new Map<string, { record: ObjectRecord; changeset: string }>();
  private readonly changes = new Map<number, Change & { hidden: boolean }>();
  private readonly changesetRows = new Map<string, Row>();
  private readonly keyRows = new Map<string, Map<number, KeySnapshot>>();
  /** Moves with every change of keyRows (RepositoryStore.keysVersion). */
  keysVersion = 0;
  private readonly runRows = new Map<number, RunRecord>();
  private readonly counters = new Map<string, number>();
  private readonly checkpointRows = new Map<string, SyncCheckpoint>();
  /** Ids whose payload storePayloadAhead() put in the bucket already. */
  private readonly payloadsAhead = new Set<string>();
  /** sync/: the mirror checkpoint the next transaction writes with what it changes (then cleared). */
  private pendingCheckpoint: SyncCheckpoint | undefined;
  private bytes = 0;
  /** Recently used payloads, least recent first. */
  private readonly payloadCache = new Map<string, Buffer>();
  private payloadCacheUsed = 0;
  private maxSequence = 0;
  private lastEvent = 0;
  private listening = false;
  /** Whole reloads after falling behind the events kept (pruneEvents). */
  reloads = 0;
  /** Called for each keytable whose key moved by another replica's commit replayed here (RepositoryStore). */
  onKeyReplayed?: (keytable: string, key: number) => void;
  private refreshing: Promise<void> | null = null;
  private refreshAgain = false;
  private listener: pg.Client | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private closed = false;

  /** Locks are per schema: several repositories may share one database. */
  private readonly schema: string;

  constructor(private readonly options: PgStoreOptions) {
    const schema = (this.schema = options.schema ?? "public");
    if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`schema name ${schema} is not a plain lower-case identifier`);
    this.pool = new pg.Pool({ connectionString: options.url, options: `-c search_path=${schema}`, max: 8, connectionTimeoutMillis: 3000, query_timeout: 15_000 });
    this.pool.on("error", () => undefined); // an idle client lost: the next query reconnects
    this.payloads = new S3Payloads(options.s3);
  }

  /** Migrates, loads the index and starts following other replicas' writes. */
  async open(): Promise<void> {
    const schema = this.options.schema ?? "public";
    const setup = new pg.Client({ connectionString: this.options.url });
    await setup.connect();
    try {
      await setup.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`).catch(() => undefined); // racing replicas: one wins
    } finally {
      await setup.end();
    }
    const client = await this.pool.connect();
    try {
      await migrate(client);
      await client.query("INSERT INTO state (key, value) VALUES ('sender_id', $1) ON CONFLICT (key) DO NOTHING", [formatSenderId(randomBytes(8).readBigUInt64BE())]);
      this.senderId = String((await client.query("SELECT value FROM state WHERE key = 'sender_id'")).rows[0].value);
    } finally {
      client.release();
    }
    await this.payloads.ensureBucket();
    await this.loadAll();
    await this.listen();
    this.pollTimer = setInterval(() => {
      if (this.listener === null && !this.listening) void this.listen(); // its session was lost: LISTEN again
      void this.refresh().catch(() => undefined);
    }, this.options.pollMs ?? 250);
    this.pollTimer.unref();
  }

  private async listen(): Promise<void> {
    if (this.closed) return;
    this.listening = true;
    const client = new pg.Client({ connectionString: this.options.url });
    client.on("error", () => {
      // Polling carries on meanwhile; the next poll LISTENs again on a new session.
      if (this.listener === client) this.listener = null;
      void client.end().catch(() => undefined);
    });
    client.on("notification", () => void this.refresh().catch(() => undefined));
    try {
      await client.connect();
      await client.query(`LISTEN condcast_${this.options.schema ?? "public"}`);
      if (this.closed) await client.end().catch(() => undefined);
      else this.listener = client;
    } catch {
      // PostgreSQL down at this moment: polling keeps the index current once it is back
      await client.end().catch(() => undefined);
    } finally {
      this.listening = false;
    }
  }

  // ---- reads (from the index) ---------------------------------------------------------------------

  get lastSequence(): number {
    return this.maxSequence;
  }

  find(query: ObjectQuery): ObjectRecord | undefined {
    let best: ObjectRecord | undefined;
    for (const id of this.byPath.get(query.path) ?? []) {
      const r = this.objects.get(id)!;
      if (matchesConstraints(r, query) && (best === undefined || newestFirst(r, best) < 0)) best = r;
    }
    return best;
  }

  atPath(path: string): ObjectRecord[] {
    return [...(this.byPath.get(path) ?? [])].map((id) => this.objects.get(id)!);
  }

  get(id: string): ObjectRecord | undefined {
    return this.objects.get(id);
  }

  async readPayload(id: string): Promise<Uint8Array | undefined> {
    if (!this.objects.has(id)) return undefined;
    return this.cachedPayload(id);
  }

  private async cachedPayload(id: string): Promise<Buffer | undefined> {
    const held = this.payloadCache.get(id);
    if (held !== undefined) {
      this.payloadCache.delete(id);
      this.payloadCache.set(id, held);
      return held;
    }
    const payload = await this.payloads.get(id);
    if (payload !== undefined) this.keepPayload(id, payload);
    return payload;
  }

  private keepPayload(id: string, payload: Uint8Array): void {
    const budget = this.options.payloadCacheBytes ?? 64 * 1024 * 1024;
    if (payload.length > budget / 4 || this.payloadCache.has(id)) return;
    this.payloadCache.set(id, Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.length));
    this.payloadCacheUsed += payload.length;
    for (const [old, bytes] of this.payloadCache) {
      if (this.payloadCacheUsed <= budget) break;
      this.payloadCache.delete(old);
      this.payloadCacheUsed -= bytes.length;
    }
  }

  private forgetPayload(id: string): void {
    const held = this.payloadCache.get(id);
    if (held === undefined) return;
    this.payloadCache.delete(id);
    this.payloadCacheUsed -= held.length;
  }

  list(pattern: PathPattern): ObjectRecord[] {
    const out: ObjectRecord[] = [];
    for (const [path, ids] of this.byPath) if (pattern.matches(path)) for (const id of ids) out.push(this.objects.get(id)!);
    return out.sort(newestFirst);
  }

  paths(): string[] {
    return [...this.byPath.keys()];
  }

  stats(): { objects: number; bytes: number } {
    return { objects: this.objects.size, bytes: this.bytes };
  }

  changesSince(since: number, limit: number): Change[] {
    const out: Change[] = [];
    for (let s = since + 1; s <= this.maxSequence && out.length < limit; s++) {
      const c = this.changes.get(s);
      if (c !== undefined && !c.hidden) {
        const { hidden: _hidden, ...change } = c;
        out.push(change);
      }
    }
    return out;
  }

  /** Every change after `since`, hidden ones too, read from the database (the multicast sender's feed). */
  async changeFeed(since: number, limit: number): Promise<(Change & { hidden: boolean })[]> {
    return (await this.query("SELECT * FROM changes WHERE sequence > $1 ORDER BY sequence LIMIT $2", [since, limit])).map(toChange);
  }

  /** The ids uploaded into a changeset (the abort's Commit datagram names them). */
  changesetUploads(changeset: string): string[] {
    const out: { id: string; sequence: number }[] = [];
    for (const c of this.changes.values()) if (c.action === "uploaded" && c.changeset === changeset) out.push(c);
    return out.sort((a, b) => a.sequence - b.sequence).map((c) => c.id);
  }

  run(run: number): RunRecord | undefined {
    return this.runRows.get(run);
  }

  runs(limit: number): RunRecord[] {
    return [...this.runRows.values()].sort((a, b) => b.startedAt - a.startedAt || b.run - a.run).slice(0, limit);
  }

  changeset(id: string): ChangesetState | undefined {
    const row = this.changesetRows.get(id);
    if (row === undefined) return undefined;
    const objects: { id: string; path: string; sequence: number }[] = [];
    for (const c of this.changes.values()) if (c.action === "uploaded" && c.changeset === id) objects.push({ id: c.id, path: c.path, sequence: c.sequence });
    const listed = row.state === "committed" ? objects : objects.filter((o) => this.staged.has(o.id));
    listed.sort((a, b) => a.sequence - b.sequence);
    return {
      id,
      state: String(row.state) as ChangesetState["state"],
      openedAt: Number(row.opened_at),
      expiresAt: Number(row.expires_at),
      objects: listed.map((o) => ({ id: o.id, path: o.path })),
      ...(row.keytable === null ? {} : { keytable: String(row.keytable), key: Number(row.key) }),
      ...(row.closed_at === null ? {} : { closedAt: Number(row.closed_at) }),
      ...(row.reason === null ? {} : { reason: String(row.reason) }),
    };
  }

  stagedObject(id: string): { record: ObjectRecord; changeset: string } | undefined {
    return this.staged.get(id);
  }

  async readStagedPayload(id: string): Promise<Uint8Array | undefined> {
    if (!this.staged.has(id)) return undefined;
    return this.cachedPayload(id);
  }

  expiredChangesets(now: number): string[] {
    return [...this.changesetRows.values()].filter((r) => r.state === "open" && Number(r.expires_at) <= now).map((r) => String(r.id));
  }

  keytables(): KeytableSummary[] {
    return [...this.keyRows.entries()]
      .filter(([, keys]) => keys.size > 0)
      .map(([keytable, keys]) => {
        const s = keys.get(Math.max(...keys.keys()))!;
        return { keytable, key: s.key, committedAt: s.committedAt, objects: s.entries.length };
      })
      .sort((a, b) => (a.keytable < b.keytable ? -1 : a.keytable > b.keytable ? 1 : 0));
  }

  currentKey(keytable: string): number {
    const keys = this.keyRows.get(keytable);
    return keys === undefined || keys.size === 0 ? 0 : Math.max(...keys.keys());
  }

  snapshot(keytable: string, key: number): KeySnapshot | undefined {
    return this.keyRows.get(keytable)?.get(key);
  }

  /**
   * A counter that only moves forward: the next value from this replica's view, persisted without
   * waiting (GREATEST, so a late write never moves it back). Unique per replica, not across replicas.
   */
  nextCounter(name: string): number {
    const next = (this.counters.get(name) ?? 0) + 1;
    this.counters.set(name, next);
    void this.query("INSERT INTO state (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = GREATEST(state.value::bigint, excluded.value::bigint)::text", [`counter:${name}`, String(next)]).catch(() => undefined);
    return next;
  }

  // ---- writes -------------------------------------------------------------------------------------

  async put(record: ObjectRecord, payload: Uint8Array): Promise<PutResult> {
    return this.write(record, payload, undefined);
  }

  async stage(record: ObjectRecord, payload: Uint8Array, changeset: string, now: number): Promise<PutResult> {
    await this.refresh(); // a changeset opened on another replica a moment ago
    this.openChangesetRow(changeset, now);
    const other = [...this.staged.values()].find((s) => s.record.meta.path === record.meta.path);
    if (other !== undefined) {
      throw new ChangesetError(409, other.changeset === changeset ? `changeset ${changeset} already holds an object at ${record.meta.path}` : `${record.meta.path} is staged by the open changeset ${other.changeset}`);
    }
    return this.write(record, payload, changeset);
  }

  async storePayloadAhead(id: string, payload: Uint8Array): Promise<void> {
    await this.payloads.put(id, payload);
    this.payloadsAhead.add(id);
  }

  forgetPayloadAhead(id: string): void {
    this.payloadsAhead.delete(id);
  }

  private async write(record: ObjectRecord, payload: Uint8Array, changeset: string | undefined): Promise<PutResult> {
    if (this.objects.has(record.id) || this.staged.has(record.id)) return { stored: false, reason: `an object with id ${record.id} exists already` };
    if (!this.payloadsAhead.delete(record.id)) await this.payloads.put(record.id, payload);
    const m = record.meta;
    const result = await this.transaction(async (tx) => {
      const clash = await tx.q("SELECT 1 FROM objects WHERE id = $1 UNION ALL SELECT 1 FROM staged WHERE id = $1", [record.id]);
      if (clash.length > 0) return { stored: false as const, reason: `an object with id ${record.id} exists already` };
      if (changeset !== undefined) {
        const cs = await tx.q("SELECT state, expires_at FROM changesets WHERE id = $1", [changeset]);
        if (cs[0]?.state !== "open") throw new ChangesetError(409, `changeset ${changeset} is ${String(cs[0]?.state ?? "unknown")}`);
        const taken = await tx.q("SELECT changeset FROM staged WHERE path = $1", [m.path]);
        if (taken.length > 0) throw new ChangesetError(409, `${m.path} is staged by the open changeset ${String(taken[0]!.changeset)}`);
      }
      const values = [record.id, m.path, m.validFrom, m.validUntil, m.created, m.contentType, m.fileName, m.md5, JSON.stringify(m.metadata), record.size, record.initialValidity, record.lastModified];
      if (changeset === undefined) await tx.q("INSERT INTO objects VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)", values);
      else await tx.q("INSERT INTO staged (id, path, valid_from, valid_until, created, content_type, file_name, md5, metadata, size, initial_validity, last_modified, changeset) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)", [...values, changeset]);
      tx.touch("object", record.id);
      await tx.change({ ...changeFields("uploaded", record, record.lastModified), changeset, hidden: changeset !== undefined });
      return { stored: true as const };
    }).catch(async (error: unknown) => {
      // Not committed (or not known to be: then gc() keeps it as long as a row names it).
      await this.payloads.remove(record.id).catch(() => undefined);
      throw error;
    });
    if (!result.stored) await this.payloads.remove(record.id).catch(() => undefined);
    else this.keepPayload(record.id, payload);
    return result;
  }

  async update(id: string, update: ObjectUpdate, now: number): Promise<ObjectRecord | undefined> {
    const record = this.objects.get(id);
    if (record === undefined) return undefined;
    const meta = applyUpdate(record.meta, update);
    if (meta === null) return record;
    const updated: ObjectRecord = { ...record, meta, lastModified: now };
    await this.transaction(async (tx) => {
      const n = await tx.q("UPDATE objects SET valid_until = $1, metadata = $2, last_modified = $3 WHERE id = $4 RETURNING id", [meta.validUntil, JSON.stringify(meta.metadata), now, id]);
      if (n.length === 0) return;
      tx.touch("object", id);
      await tx.change({ ...changeFields("updated", updated, now), hidden: false });
    });
    return this.objects.get(id) ?? updated;
  }

  async remove(id: string): Promise<boolean> {
    const record = this.objects.get(id);
    if (record === undefined) return false;
    const removed = await this.transaction(async (tx) => {
      const n = await tx.q("DELETE FROM objects WHERE id = $1 RETURNING id", [id]);
      if (n.length === 0) return false;
      tx.touch("object", id);
      await tx.change({ ...changeFields("deleted", record, Date.now()), hidden: false });
      return true;
    });
    if (removed) await this.payloads.remove(id).catch(() => undefined); // else gc() does it
    return removed;
  }

  async openChangeset(id: string, keytable: string, now: number, ttlMs: number): Promise<ChangesetState> {
    await this.transaction(async (tx) => {
      const n = await tx.q("INSERT INTO changesets (id, state, opened_at, expires_at, keytable) VALUES ($1, 'open', $2, $3, $4) ON CONFLICT (id) DO NOTHING RETURNING id", [id, now, now + ttlMs, keytable]);
      if (n.length === 0) throw new ChangesetError(409, `changeset ${id} exists already`);
      tx.touch("changeset", id);
    });
    return this.changeset(id)!;
  }

  async commitChangeset(id: string, removedPaths: readonly string[], expected: readonly string[] | undefined, now: number): Promise<Committed> {
    return this.transaction(async (tx) => {
      const cs = await this.lockedOpenChangeset(tx, id, now);
      const staged = (await tx.q("SELECT * FROM staged WHERE changeset = $1", [id])).map(toRecord);
      if (expected !== undefined) {
        const have = new Set(staged.map((r) => r.id));
        const unknown = expected.filter((x) => !have.has(x.toLowerCase()));
        if (unknown.length > 0) throw new ChangesetError(409, `changeset ${id} holds no object ${unknown.slice(0, 5).join(", ")} (never uploaded into it)`);
        const want = new Set(expected.map((x) => x.toLowerCase()));
        const extra = staged.filter((r) => !want.has(r.id));
        if (extra.length > 0) throw new ChangesetError(409, `changeset ${id} also holds ${extra.slice(0, 5).map((r) => r.id).join(", ")}, which the commit does not name`);
      }
      const keytable = cs.keytable;
      const parentRow = await tx.q("SELECT COALESCE(MAX(key), 0) AS k FROM keys WHERE keytable = $1", [keytable]);
      const parent = Number(parentRow[0]!.k);
      const key = parent + 1;
      const before = parent === 0 ? [] : (await tx.q("SELECT * FROM key_entries WHERE keytable = $1 AND key = $2 ORDER BY path", [keytable, parent])).map(toEntry);
      const entries = nextEntries(before, staged.map((r) => ({ path: r.meta.path, id: r.id, validFrom: r.meta.validFrom, validUntil: r.meta.validUntil, md5: r.meta.md5, size: r.size })), removedPaths);
      await tx.q("INSERT INTO objects SELECT id, path, valid_from, valid_until, created, content_type, file_name, md5, metadata, size, initial_validity, last_modified FROM staged WHERE changeset = $1", [id]);
      await tx.q("DELETE FROM staged WHERE changeset = $1", [id]);
      await tx.q("UPDATE changes SET hidden = false WHERE changeset = $1 AND action = 'uploaded'", [id]);
      const shown = await tx.q("SELECT sequence FROM changes WHERE changeset = $1 AND action = 'uploaded'", [id]);
      for (const s of shown) tx.touch("change", Number(s.sequence));
      await tx.q("INSERT INTO keys VALUES ($1, $2, $3, $4, $5)", [keytable, key, parent, id, now]);
      if (entries.length > 0) {
        // One round trip for the key's entries (a key of thousands of paths is one statement).
        await tx.q("INSERT INTO key_entries SELECT $1, $2, * FROM unnest($3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::text[], $8::bigint[])", [
          keytable, key, entries.map((e) => e.path), entries.map((e) => e.id), entries.map((e) => e.validFrom), entries.map((e) => e.validUntil), entries.map((e) => e.md5), entries.map((e) => e.size),
        ]);
      }
      await tx.q("UPDATE changesets SET state = 'committed', closed_at = $1, keytable = $2, key = $3 WHERE id = $4", [now, keytable, key, id]);
      for (const r of staged) tx.touch("object", r.id);
      tx.touch("changeset", id);
      tx.touch("keytable", keytable);
      const objects = staged.map((r) => r.id);
      const sequence = await tx.change({ action: "committed", id, path: "", validFrom: 0, validUntil: 0, created: now, size: 0, metadata: {}, changedAt: now, hidden: false, keytable, key, objects });
      return { snapshot: { keytable, key, parentKey: parent, changeset: id, committedAt: now, entries }, objects, sequence };
    });
  }

  async abortChangeset(id: string, reason: string, now: number): Promise<{ ids: string[]; keytable: string; sequence: number }> {
    const done = await this.transaction(async (tx) => {
      const cs = await this.lockedOpenChangeset(tx, id, Number.NEGATIVE_INFINITY);
      const ids = (await tx.q("DELETE FROM staged WHERE changeset = $1 RETURNING id", [id])).map((r) => String(r.id));
      await tx.q("UPDATE changesets SET state = 'aborted', closed_at = $1, reason = $2 WHERE id = $3", [now, reason, id]);
      for (const x of ids) tx.touch("object", x);
      tx.touch("changeset", id);
      const sequence = await tx.change({ action: "aborted" as ChangeAction, id, path: "", validFrom: 0, validUntil: 0, created: now, size: 0, metadata: {}, changedAt: now, hidden: true, keytable: cs.keytable });
      return { ids, keytable: cs.keytable, sequence };
    });
    for (const x of done.ids) await this.payloads.remove(x).catch(() => undefined);
    return done;
  }

  async startRun(run: number, keytable: string, now: number, declared?: (path: string) => boolean): Promise<StartedRun> {
    return this.transaction(async (tx) => {
      const existing = await tx.q("SELECT * FROM runs WHERE run = $1", [run]);
      if (existing.length > 0) {
        const e = toRun(existing[0]!);
        throw new RunRefused(409, `run ${run} was started at ${e.startedAt} with ${e.keytable}/${e.key}`);
      }
      const key = Number((await tx.q("SELECT COALESCE(MAX(key), 0) AS k FROM keys WHERE keytable = $1", [keytable]))[0]!.k);
      if (key === 0) throw new RunRefused(404, `keytable ${keytable} has no key`);
      const entries = (await tx.q("SELECT * FROM key_entries WHERE keytable = $1 AND key = $2 ORDER BY path", [keytable, key])).map(toEntry);
      // Every object of the key that still exists is named by the re-send's Commit (SPEC 11.6: a
      // receiver flips only holding all of them); those at declared paths, or all, are re-sent.
      const allIds = entries.map((e) => e.id);
      const held = allIds.length === 0 ? [] : (await tx.q("SELECT * FROM objects WHERE id = ANY($1)", [allIds])).map(toRecord);
      const order = new Map(allIds.map((x, i) => [x, i]));
      held.sort((a, b) => order.get(a.id)! - order.get(b.id)!);
      const records = held.filter((r) => declared === undefined || declared(r.meta.path));
      const only = declared === undefined ? "all" : "declared";
      const bytes = records.reduce((sum, r) => sum + r.size, 0);
      await tx.q("INSERT INTO runs (run, keytable, key, started_at, objects, bytes, \"only\") VALUES ($1, $2, $3, $4, $5, $6, $7)", [run, keytable, key, now, records.length, bytes, only]);
      tx.touch("run", run);
      const resent: { sequence: number; record: ObjectRecord }[] = [];
      for (const record of records) {
        const sequence = await tx.change({ ...changeFields("resent", record, now), hidden: false, keytable, key, run });
        resent.push({ sequence, record });
      }
      const changeset = `run-${run}`;
      const objects = held.map((r) => r.id);
      const commitSequence = await tx.change({ action: "committed", id: changeset, path: "", validFrom: 0, validUntil: 0, created: now, size: 0, metadata: {}, changedAt: now, hidden: false, keytable, key, objects, run });
      return { run: { run, keytable, key, startedAt: now, only, objects: records.length, bytes } as RunRecord, resent, commit: { sequence: commitSequence, changeset, objects } };
    });
  }

  private async lockedOpenChangeset(tx: Tx, id: string, now: number): Promise<{ keytable: string }> {
    const row = (await tx.q("SELECT state, expires_at, keytable FROM changesets WHERE id = $1", [id]))[0];
    if (row === undefined) throw new ChangesetError(404, `no changeset ${id}`);
    if (row.state !== "open") throw new ChangesetError(409, `changeset ${id} is ${String(row.state)}`);
    if (Number(row.expires_at) <= now) throw new ChangesetError(409, `changeset ${id} expired`);
    return { keytable: String(row.keytable) };
  }

  private openChangesetRow(id: string, now: number): void {
    const row = this.changesetRows.get(id);
    if (row === undefined) throw new ChangesetError(404, `no changeset ${id}`);
    if (row.state !== "open") throw new ChangesetError(409, `changeset ${id} is ${String(row.state)}`);
    if (Number(row.expires_at) <= now) throw new ChangesetError(409, `changeset ${id} expired`);
  }

  // ---- multicast sender election ------------------------------------------------------------------

  /**
   * A connection holding the sender lock, or null when another replica holds it. PostgreSQL drops the
   * lock with the connection: a replica that dies (or loses the database) lets another take over.
   */
  async tryLead(): Promise<pg.Client | null> {
    const client = new pg.Client({ connectionString: this.options.url, options: `-c search_path=${this.options.schema ?? "public"}`, keepAlive: true });
    client.on("error", () => undefined);
    try {
      await client.connect();
      const got = await client.query("SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok", [SENDER_LOCK, this.schema]);
      if (got.rows[0].ok === true) return client;
    } catch {
      // database unreachable: not the leader
    }
    await client.end().catch(() => undefined);
    return null;
  }

  /** The last sequence multicast (by whichever replica led). */
  async sentThrough(): Promise<number> {
    const row = (await this.query("SELECT value FROM state WHERE key = 'sent_through'"))[0];
    return row === undefined ? 0 : Number(row.value);
  }

  /** Records progress on the leader's own connection, so a replica that lost the lock cannot write it. */
  async recordSent(leader: pg.Client, sequence: number): Promise<void> {
    await leader.query("INSERT INTO state (key, value) VALUES ('sent_through', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value", [String(sequence)]);
  }

  /** Removes payloads no row names that are older than the grace (uploads cut short); returns how many. */
  async gc(now = Date.now()): Promise<number> {
    const grace = this.options.orphanGraceMs ?? 10 * 60_000;
    let removed = 0;
    for await (const p of this.payloads.list()) {
      if (now - p.modified < grace) continue;
      const named = await this.query("SELECT 1 FROM objects WHERE id = $1 UNION ALL SELECT 1 FROM staged WHERE id = $1", [p.id]);
      if (named.length === 0) {
        await this.payloads.remove(p.id);
        removed++;
      }
    }
    return removed;
  }

  /**
   * Drops all but the newest `keep` events (the replay log; the change log stays whole). Ids stay
   * contiguous from MAX(id), so a replica further behind than `keep` sees a gap and reloads.
   */
  async pruneEvents(keep = this.options.eventsKept ?? 1_000_000): Promise<number> {
    const rows = await this.query("WITH gone AS (DELETE FROM events WHERE id <= (SELECT MAX(id) FROM events) - $1 RETURNING 1) SELECT count(*) AS n FROM gone", [keep]);
    return Number(rows[0]!.n);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.pollTimer !== null) clearInterval(this.pollTimer);
    await this.refreshing?.catch(() => undefined);
    await this.listener?.end().catch(() => undefined);
    await this.pool.end().catch(() => undefined);
    this.payloads.close();
  }

  // ---- mirror checkpoints (sync/) ------------------------------------------------------------------

  get mirrorCheckpoints(): MirrorCheckpoints {
    return this;
  }

  /** How far a mirror applied its owner's change log, as every replica replayed it (sequence 0 when never). */
  checkpoint(mirror: string): SyncCheckpoint {
    return this.checkpointRows.get(mirror) ?? { mirror, sequence: 0, changedAt: 0, appliedAt: 0 };
  }

  /**
   * Runs `apply` so that its first transaction also writes `checkpoint` (both committed or neither);
   * when `apply` wrote nothing, the checkpoint is written alone. The caller serialises writes
   * (RepositoryService's chain), as with the embedded store.
   */
  async withCheckpoint<T>(checkpoint: SyncCheckpoint, apply: () => Promise<T>): Promise<T> {
    this.pendingCheckpoint = checkpoint;
    try {
      const result = await apply();
      if (this.pendingCheckpoint !== undefined) await this.transaction(async () => undefined);
      return result;
    } finally {
      this.pendingCheckpoint = undefined;
    }
  }

  /** In a write's transaction, under the write lock: the pending checkpoint, unless another replica is past it. */
  private async writeCheckpoint(tx: Tx, c: SyncCheckpoint, wroteSomething: boolean): Promise<void> {
    const held = Number((await tx.q("SELECT sequence FROM sync_checkpoints WHERE mirror = $1", [c.mirror]))[0]?.sequence ?? 0);
    if (held >= c.sequence) {
      if (wroteSomething) throw new CheckpointMoved(`mirror ${c.mirror}: change ${c.sequence} was applied already (the checkpoint is at ${held}); nothing written`);
      if (held > c.sequence) return; // a checkpoint alone never moves back
    }
    await tx.q(
      "INSERT INTO sync_checkpoints (mirror, sequence, changed_at, applied_at, open_changeset) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (mirror) DO UPDATE SET sequence = excluded.sequence, changed_at = excluded.changed_at, applied_at = excluded.applied_at, open_changeset = excluded.open_changeset",
      [c.mirror, c.sequence, c.changedAt, c.appliedAt, c.openChangeset ?? null],
    );
    tx.touch("checkpoint", c.mirror);
  }

  private setCheckpoint(r: Row): void {
    const mirror = String(r.mirror);
    this.checkpointRows.set(mirror, { mirror, sequence: Number(r.sequence), changedAt: Number(r.changed_at), appliedAt: Number(r.applied_at), ...(r.open_changeset === null ? {} : { openChangeset: String(r.open_changeset) }) });
  }

  // ---- plumbing -----------------------------------------------------------------------------------

  private async query(sql: string, args: unknown[] = []): Promise<Row[]> {
    try {
      return (await this.pool.query(sql, args)).rows as Row[];
    } catch (error) {
      throw asUnavailable(error);
    }
  }

  private async transaction<T>(body: (tx: Tx) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw asUnavailable(error);
    }
    const touched: { kind: string; ref: string }[] = [];
    let broken = false;
    const q: Query = async (sql, args = []) => (await client.query(sql, args)).rows as Row[];
    let nextSequence = 0;
    const tx: Tx = {
      q,
      touch: (kind, ref) => touched.push({ kind, ref: String(ref) }),
      change: async (c) => {
        if (nextSequence === 0) nextSequence = Number((await q("SELECT COALESCE(MAX(sequence), 0) AS s FROM changes"))[0]!.s) + 1;
        const sequence = nextSequence++;
        await q("INSERT INTO changes (sequence, action, id, path, valid_from, valid_until, created, size, metadata, changed_at, hidden, changeset, keytable, key, objects, run) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)", [
          sequence, c.action, c.id, c.path, c.validFrom, c.validUntil, c.created, c.size, JSON.stringify(c.metadata), c.changedAt, c.hidden, c.changeset ?? null, c.keytable ?? null, c.key ?? null, c.objects === undefined ? null : JSON.stringify(c.objects), c.run ?? null,
        ]);
        touched.push({ kind: "change", ref: String(sequence) });
        return sequence;
      },
    };
    try {
      await q("BEGIN");
      await q("SELECT pg_advisory_xact_lock($1, hashtext($2))", [WRITE_LOCK, this.schema]);
      const result = await body(tx);
      const checkpoint = this.pendingCheckpoint;
      if (checkpoint !== undefined) {
        this.pendingCheckpoint = undefined;
        await this.writeCheckpoint(tx, checkpoint, touched.length > 0);
      }
      if (touched.length > 0) {
        const first = Number((await q("SELECT COALESCE(MAX(id), 0) AS e FROM events"))[0]!.e) + 1;
        await q("INSERT INTO events (id, kind, ref) SELECT $1 + ord - 1, kind, ref FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS t(kind, ref, ord)", [first, touched.map((t) => t.kind), touched.map((t) => t.ref)]);
        await q(`SELECT pg_notify('condcast_${this.options.schema ?? "public"}', '')`);
      }
      await q("COMMIT");
      client.release();
      await this.refresh().catch(() => undefined); // read-your-writes on this replica
      return result;
    } catch (error) {
      try {
        await q("ROLLBACK");
      } catch {
        broken = true;
      }
      client.release(broken);
      if (error instanceof ChangesetError || error instanceof RunRefused || error instanceof StoreUnavailable || error instanceof CheckpointMoved) throw error;
      throw asUnavailable(error);
    }
  }

  /** Replays committed events into the index (single-flight: a call during a replay waits for the next one). */
  refresh(): Promise<void> {
    if (this.refreshing !== null) {
      this.refreshAgain = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      try {
        do {
          this.refreshAgain = false;
          await this.replay();
        } while (this.refreshAgain && !this.closed);
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  private async replay(): Promise<void> {
    for (;;) {
      const more = await this.replayBatch();
      if (more === "behind") {
        this.reloads++;
        await this.loadAll();
        return;
      }
      if (!more) return;
    }
  }

  /**
   * One batch of events and the rows they name, read in one snapshot (REPEATABLE READ): the index
   * moves from one committed state to a later one, never to a mix (a key without its objects).
   * Returns whether there was anything to replay.
   */
  private async replayBatch(): Promise<boolean | "behind"> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw asUnavailable(error);
    }
    let ok = false;
    try {
      await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      const q = async (sql: string, args: unknown[] = []): Promise<Row[]> => (await client.query(sql, args)).rows as Row[];
      const more = await this.applyBatch(q);
      await client.query("COMMIT");
      ok = true;
      return more;
    } catch (error) {
      throw asUnavailable(error);
    } finally {
      client.release(!ok);
    }
  }

  private async applyBatch(q: Query): Promise<boolean | "behind"> {
    {
      // Whole transactions only: a batch ends at a transaction's last event.
      const events = await q("SELECT id, kind, ref FROM events WHERE id > $1 ORDER BY id", [this.lastEvent]);
      if (events.length === 0) return false;
      // The leader prunes old events (pruneEvents): one that fell behind the kept window reloads.
      if (Number(events[0]!.id) !== this.lastEvent + 1) return "behind";
      // Each kind's distinct refs, grouped once for the batch.
      const refs = new Map<string, Set<string>>();
      for (const e of events) {
        const kind = String(e.kind);
        let set = refs.get(kind);
        if (set === undefined) refs.set(kind, (set = new Set()));
        set.add(String(e.ref));
      }
      const by = (kind: string): string[] => [...(refs.get(kind) ?? [])];
      // A round trip only for the kinds the batch touched (an upload touches objects and changes).
      const rows = async (kind: string, sql: string): Promise<Row[]> => (refs.has(kind) ? q(sql, [by(kind)]) : []);
      const objects = await rows("object", "SELECT * FROM objects WHERE id = ANY($1)");
      const staged = await rows("object", "SELECT * FROM staged WHERE id = ANY($1)");
      const changes = await rows("change", "SELECT * FROM changes WHERE sequence = ANY($1::bigint[])");
      const changesets = await rows("changeset", "SELECT * FROM changesets WHERE id = ANY($1)");
      const keytables = await this.loadKeys(by("keytable"), q, (table) => this.currentKey(table));
      const runs = await rows("run", "SELECT * FROM runs WHERE run = ANY($1::int[])");
      const checkpoints = await rows("checkpoint", "SELECT * FROM sync_checkpoints WHERE mirror = ANY($1)");
      const present = new Set(objects.map((r) => String(r.id)));
      const stagedNow = new Set(staged.map((r) => String(r.id)));
      for (const id of by("object")) {
        if (!present.has(id)) this.dropObject(id);
        if (!stagedNow.has(id)) this.staged.delete(id);
        if (!present.has(id) && !stagedNow.has(id)) this.forgetPayload(id);
      }
      for (const r of objects) this.setObject(toRecord(r));
      for (const r of staged) this.staged.set(String(r.id), { record: toRecord(r), changeset: String(r.changeset) });
      for (const r of changes) this.setChange(toChange(r));
      for (const r of changesets) this.changesetRows.set(String(r.id), r);
      for (const [k, v] of keytables) {
        const held = this.keyRows.get(k) ?? new Map<number, KeySnapshot>();
        for (const [key, snapshot] of v) held.set(key, snapshot);
        this.keyRows.set(k, held);
      }
      if (keytables.size > 0) this.keysVersion++;
      for (const r of runs) this.runRows.set(Number(r.run), toRun(r));
      for (const r of checkpoints) this.setCheckpoint(r);
      this.lastEvent = Number(events[events.length - 1]!.id);
      for (const [keytable] of keytables) this.onKeyReplayed?.(keytable, this.currentKey(keytable));
      return true;
    }
  }

  /**
   * The keys of `keytables` newer than `after(table)` (all by default), with their entries. Keys are
   * never changed once committed, so a replay loads only the new ones (not every key again per commit).
   */
  private async loadKeys(keytables: string[], q: Query = (sql, args) => this.query(sql, args), after: (keytable: string) => number = () => 0): Promise<Map<string, Map<number, KeySnapshot>>> {
    const out = new Map<string, Map<number, KeySnapshot>>();
    if (keytables.length === 0) return out;
    const args = [keytables, keytables.map(after)];
    const keys = await q("SELECT k.* FROM keys k JOIN unnest($1::text[], $2::bigint[]) AS t(keytable, after) ON k.keytable = t.keytable AND k.key > t.after", args);
    const entries = await q("SELECT e.* FROM key_entries e JOIN unnest($1::text[], $2::bigint[]) AS t(keytable, after) ON e.keytable = t.keytable AND e.key > t.after ORDER BY e.path", args);
    for (const k of keys) {
      const table = String(k.keytable);
      let m = out.get(table);
      if (m === undefined) out.set(table, (m = new Map()));
      m.set(Number(k.key), { keytable: table, key: Number(k.key), parentKey: Number(k.parent_key), changeset: String(k.changeset), committedAt: Number(k.committed_at), entries: [] });
    }
    for (const e of entries) (out.get(String(e.keytable))!.get(Number(e.key))!.entries as KeyEntry[]).push(toEntry(e));
    return out;
  }

  /**
   * The whole index, read in one snapshot and swapped in at once (no await between clearing and
   * filling): at open, and again when this replica fell behind the events the leader keeps.
   */
  private async loadAll(): Promise<void> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw asUnavailable(error);
    }
    let ok = false;
    let rows: { lastEvent: number; objects: Row[]; staged: Row[]; changes: Row[]; changesets: Row[]; keys: Map<string, Map<number, KeySnapshot>>; runs: Row[]; counters: Row[]; checkpoints: Row[] };
    try {
      await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      const q = async (sql: string, args: unknown[] = []): Promise<Row[]> => (await client.query(sql, args)).rows as Row[];
      const lastEvent = Number((await q("SELECT COALESCE(MAX(id), 0) AS e FROM events"))[0]!.e);
      const tables = (await q("SELECT DISTINCT keytable FROM keys")).map((r) => String(r.keytable));
      rows = {
        lastEvent,
        objects: await q("SELECT * FROM objects"),
        staged: await q("SELECT * FROM staged"),
        changes: await q("SELECT * FROM changes"),
        changesets: await q("SELECT * FROM changesets"),
        keys: await this.loadKeys(tables, q),
        runs: await q("SELECT * FROM runs"),
        counters: await q("SELECT key, value FROM state WHERE key LIKE 'counter:%'"),
        checkpoints: await q("SELECT * FROM sync_checkpoints"),
      };
      await client.query("COMMIT");
      ok = true;
    } catch (error) {
      throw asUnavailable(error);
    } finally {
      client.release(!ok);
    }
    for (const m of [this.objects, this.byPath, this.staged, this.changes, this.changesetRows, this.keyRows, this.runRows, this.counters, this.checkpointRows]) m.clear();
    this.bytes = 0;
    this.maxSequence = 0;
    for (const r of rows.objects) this.setObject(toRecord(r));
    for (const r of rows.staged) this.staged.set(String(r.id), { record: toRecord(r), changeset: String(r.changeset) });
    for (const r of rows.changes) this.setChange(toChange(r));
    for (const r of rows.changesets) this.changesetRows.set(String(r.id), r);
    for (const [k, v] of rows.keys) this.keyRows.set(k, v);
    this.keysVersion++;
    for (const r of rows.runs) this.runRows.set(Number(r.run), toRun(r));
    for (const r of rows.counters) this.counters.set(String(r.key).slice("counter:".length), Number(r.value));
    for (const r of rows.checkpoints) this.setCheckpoint(r);
    this.lastEvent = rows.lastEvent;
    for (const [keytable] of rows.keys) this.onKeyReplayed?.(keytable, this.currentKey(keytable));
  }

  private setObject(record: ObjectRecord): void {
    this.dropObject(record.id);
    this.objects.set(record.id, record);
    let ids = this.byPath.get(record.meta.path);
    if (ids === undefined) this.byPath.set(record.meta.path, (ids = new Set()));
    ids.add(record.id);
    this.bytes += record.size;
  }

  private dropObject(id: string): void {
    const r = this.objects.get(id);
    if (r === undefined) return;
    this.objects.delete(id);
    this.bytes -= r.size;
    const ids = this.byPath.get(r.meta.path);
    ids?.delete(id);
    if (ids?.size === 0) this.byPath.delete(r.meta.path);
  }

  private setChange(c: Change & { hidden: boolean }): void {
    this.changes.set(c.sequence, c);
    if (c.sequence > this.maxSequence) this.maxSequence = c.sequence;
  }
}

/** PostgreSQL unreachable, restarting or refusing connections: a 503 with the reason. */
function asUnavailable(error: unknown): unknown {
  if (error instanceof StoreUnavailable) return error;
  const e = error as { code?: string; message?: string };
  const code = e.code ?? "";
  const transient = /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|57P0[1-3]|08\d\d\d|53300)$/.test(code) || /Connection terminated|timeout|not queryable|ended/i.test(e.message ?? "");
  return transient ? new StoreUnavailable(`the metadata database is unavailable: ${e.message ?? code}`) : error;
}

function changeFields(action: ChangeAction, record: ObjectRecord, changedAt: number): Omit<Change, "sequence"> {
  const m = record.meta;
  return { action, id: record.id, path: m.path, validFrom: m.validFrom, validUntil: m.validUntil, created: m.created, size: record.size, metadata: m.metadata, changedAt };
}

function toChange(r: Row): Change & { hidden: boolean } {
  return {
    sequence: Number(r.sequence),
    action: String(r.action) as ChangeAction,
    id: String(r.id),
    path: String(r.path),
    validFrom: Number(r.valid_from),
    validUntil: Number(r.valid_until),
    created: Number(r.created),
    size: Number(r.size),
    metadata: JSON.parse(String(r.metadata)) as Record<string, string>,
    changedAt: Number(r.changed_at),
    hidden: r.hidden === true,
    ...(r.changeset === null ? {} : { changeset: String(r.changeset) }),
    ...(r.keytable === null || r.action === "resent" || r.action === "aborted" ? {} : { keytable: String(r.keytable), key: Number(r.key), objects: JSON.parse(String(r.objects)) as string[] }),
    ...(r.action === "aborted" ? { keytable: String(r.keytable) } : {}),
    ...(r.run === null ? {} : { run: Number(r.run) }),
  };
}

function toEntry(r: Row): KeyEntry {
  return { path: String(r.path), id: String(r.id), validFrom: Number(r.valid_from), validUntil: Number(r.valid_until), md5: String(r.md5), size: Number(r.size) };
}


