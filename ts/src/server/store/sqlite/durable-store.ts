// The repository's storage: metadata in SQLite (node:sqlite, WAL, synchronous=FULL), payloads as files
// written to a temporary name, fsynced, renamed and the folder fsynced, all before put() resolves.
// Every change (upload, update, deletion) takes the next number of one persistent sequence, kept in
// the `changes` table, which is also what GET /changes serves. The multicast sender id lives in the
// `state` table so it survives restarts. Changesets (SPEC 11): their objects wait in `staged`, their
// change-log rows hidden, until one transaction moves them into `objects`, shows the rows and writes
// the keytable's next key (`keys`, and the full snapshot in `key_entries`).
import { randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, unlinkSync } from "node:fs";
import { open, readFile, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { formatSenderId } from "../../../wire/ids.js";
import { matchesConstraints, newestFirst, type ObjectQuery, type ObjectRecord, type PathPattern } from "../../model.js";
import { applyUpdate, asStorageError, type Change, type ChangeAction, type ObjectUpdate, type PutResult } from "../storage.js";
import { nextEntries, type ChangesetState, type KeyEntry, type KeySnapshot, type KeytableSummary } from "../../keys/model.js";
import { RunRefused, type RunRecord } from "../../runs/model.js";
import { toRecord, toRun } from "../rows.js";
import type { MirrorCheckpoints, RepositoryStore, StartedRun } from "../repository-store.js";


/** A changeset request that cannot be served as asked: answered with its status and the reason. */
export class ChangesetError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** What a commit made. */
export interface Committed {
  readonly snapshot: KeySnapshot;
  readonly objects: readonly string[];
  /** The change-log sequence of the commit (the Commit datagram's). */
  readonly sequence: number;
}

type Row = Record<string, string | number | null>;

/** sync/: a mirror's position in its owner's change log, kept in the same transaction as what it applied. */
export interface SyncCheckpoint {
  readonly mirror: string;
  /** The owner's last change applied (or passed over). */
  readonly sequence: number;
  /** That change's time at the owner (for the lag in seconds). */
  readonly changedAt: number;
  readonly appliedAt: number;
  /** A mirrored changeset opened and being staged (resumed after a restart). */
  readonly openChangeset?: string | undefined;
}

export class DurableStore implements RepositoryStore {
  readonly senderId: string;
  private readonly db: DatabaseSync;
  private readonly payloadDir: string;
  private sequence: number;
  /** sync/: the mirror checkpoint the next transaction writes with what it changes (then cleared). */
  private pendingCheckpoint: SyncCheckpoint | undefined;

  constructor(readonly dataDir: string) {
    mkdirSync(dataDir, { recursive: true });
    this.payloadDir = join(dataDir, "payloads");
    mkdirSync(this.payloadDir, { recursive: true });
    this.db = new DatabaseSync(join(dataDir, "condcast.sqlite"));
    this.db.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = FULL;
      CREATE TABLE IF NOT EXISTS objects (
        id TEXT PRIMARY KEY, path TEXT NOT NULL, valid_from INTEGER NOT NULL, valid_until INTEGER NOT NULL,
        created INTEGER NOT NULL, content_type TEXT NOT NULL, file_name TEXT NOT NULL, md5 TEXT NOT NULL,
        metadata TEXT NOT NULL, size INTEGER NOT NULL, initial_validity INTEGER NOT NULL, last_modified INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS objects_path ON objects (path, created);
      CREATE TABLE IF NOT EXISTS changes (
        sequence INTEGER PRIMARY KEY, action TEXT NOT NULL, id TEXT NOT NULL, path TEXT NOT NULL,
        valid_from INTEGER NOT NULL, valid_until INTEGER NOT NULL, created INTEGER NOT NULL, size INTEGER NOT NULL,
        metadata TEXT NOT NULL, changed_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS staged (
        id TEXT PRIMARY KEY, changeset TEXT NOT NULL, path TEXT NOT NULL, valid_from INTEGER NOT NULL, valid_until INTEGER NOT NULL,
        created INTEGER NOT NULL, content_type TEXT NOT NULL, file_name TEXT NOT NULL, md5 TEXT NOT NULL,
        metadata TEXT NOT NULL, size INTEGER NOT NULL, initial_validity INTEGER NOT NULL, last_modified INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS staged_changeset ON staged (changeset);
      CREATE TABLE IF NOT EXISTS changesets (
        id TEXT PRIMARY KEY, state TEXT NOT NULL, opened_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
        closed_at INTEGER, keytable TEXT, key INTEGER, reason TEXT);
      CREATE TABLE IF NOT EXISTS keys (
        keytable TEXT NOT NULL, key INTEGER NOT NULL, parent_key INTEGER NOT NULL, changeset TEXT NOT NULL,
        committed_at INTEGER NOT NULL, PRIMARY KEY (keytable, key));
      CREATE TABLE IF NOT EXISTS key_entries (
        keytable TEXT NOT NULL, key INTEGER NOT NULL, path TEXT NOT NULL, id TEXT NOT NULL, valid_from INTEGER NOT NULL,
        valid_until INTEGER NOT NULL, md5 TEXT NOT NULL, size INTEGER NOT NULL, PRIMARY KEY (keytable, key, path));
      CREATE TABLE IF NOT EXISTS sync_checkpoints (
        mirror TEXT PRIMARY KEY, sequence INTEGER NOT NULL, changed_at INTEGER NOT NULL, applied_at INTEGER NOT NULL, open_changeset TEXT);
      CREATE TABLE IF NOT EXISTS runs (
        run INTEGER PRIMARY KEY, keytable TEXT NOT NULL, key INTEGER NOT NULL, started_at INTEGER NOT NULL,
        objects INTEGER NOT NULL, bytes INTEGER NOT NULL);
    `);
    // Schema version 2: change-log rows of changesets (hidden until the commit, then the commit itself).
    const columns = new Set((this.db.prepare("PRAGMA table_info(changes)").all() as Row[]).map((r) => String(r.name)));
    for (const [name, type] of [["hidden", "INTEGER NOT NULL DEFAULT 0"], ["changeset", "TEXT"], ["keytable", "TEXT"], ["key", "INTEGER"], ["objects", "TEXT"], ["run", "INTEGER"]] as const) {
      if (!columns.has(name)) this.db.exec(`ALTER TABLE changes ADD COLUMN ${name} ${type}`);
    }
    // Runs started with only the declared objects (consumers/) say so.
    if (!(this.db.prepare("PRAGMA table_info(runs)").all() as Row[]).some((r) => r.name === "only")) this.db.exec("ALTER TABLE runs ADD COLUMN only TEXT NOT NULL DEFAULT 'all'");
    const stored = this.db.prepare("SELECT value FROM state WHERE key = 'sender_id'").get() as Row | undefined;
    if (stored !== undefined) this.senderId = String(stored.value);
    else {
      this.senderId = formatSenderId(randomBytes(8).readBigUInt64BE());
      this.db.prepare("INSERT INTO state (key, value) VALUES ('sender_id', ?)").run(this.senderId);
    }
    const last = this.db.prepare("SELECT MAX(sequence) AS s FROM changes").get() as Row | undefined;
    this.sequence = Number(last?.s ?? 0);
    this.removeOrphans();
  }

  /**
   * Payload files that no committed row names — a write cut short by a crash or a full disk — are
   * never visible; they are removed at start so that they do not hold the space.
   */
  private removeOrphans(): void {
    const known = this.db.prepare("SELECT 1 FROM objects WHERE id = ? UNION ALL SELECT 1 FROM staged WHERE id = ?");
    for (const name of readdirSync(this.payloadDir)) {
      if (name.endsWith(".tmp") || known.get(name, name) === undefined) unlinkSync(join(this.payloadDir, name));
    }
  }

  /** The highest sequence used (0 when none). */
  get lastSequence(): number {
    return this.sequence;
  }

  find(query: ObjectQuery): ObjectRecord | undefined {
    let sql = "SELECT * FROM objects WHERE path = ?";
    const args: (string | number)[] = [query.path];
    if (query.timestamp !== undefined) (sql += " AND valid_from <= ? AND valid_until > ?"), args.push(query.timestamp, query.timestamp);
    if (query.id !== undefined) (sql += " AND id = ?"), args.push(query.id);
    if (query.notAfter !== undefined) (sql += " AND created <= ?"), args.push(query.notAfter);
    if (query.notBefore !== undefined) (sql += " AND created >= ?"), args.push(query.notBefore);
    sql += " ORDER BY created DESC, id ASC";
    for (const row of this.db.prepare(sql).iterate(...args) as Iterable<Row>) {
      const record = toRecord(row);
      if (matchesConstraints(record, query)) return record;
    }
    return undefined;
  }

  atPath(path: string): ObjectRecord[] {
    return (this.db.prepare("SELECT * FROM objects WHERE path = ?").all(path) as Row[]).map(toRecord);
  }

  get(id: string): ObjectRecord | undefined {
    const row = this.db.prepare("SELECT * FROM objects WHERE id = ?").get(id) as Row | undefined;
    return row === undefined ? undefined : toRecord(row);
  }

  async readPayload(id: string): Promise<Uint8Array | undefined> {
    if (this.get(id) === undefined) return undefined;
    return readFile(this.payloadFile(id));
  }

  async put(record: ObjectRecord, payload: Uint8Array): Promise<PutResult> {
    return this.write(record, payload, undefined);
  }

  /**
   * Stores an object of an open changeset: durable, but invisible (not found, listed, downloadable or
   * in /changes) until the changeset is committed. A path staged by another open changeset, or twice in
   * this one, is refused (409).
   */
  async stage(record: ObjectRecord, payload: Uint8Array, changeset: string, now: number): Promise<PutResult> {
    const cs = this.openChangesetRow(changeset, now);
    const other = this.db.prepare("SELECT changeset FROM staged WHERE path = ?").get(record.meta.path) as Row | undefined;
    if (other !== undefined) {
      throw new ChangesetError(409, other.changeset === cs.id ? `changeset ${cs.id} already holds an object at ${record.meta.path}` : `${record.meta.path} is staged by the open changeset ${String(other.changeset)}`);
    }
    return this.write(record, payload, cs.id);
  }

  private async write(record: ObjectRecord, payload: Uint8Array, changeset: string | undefined): Promise<PutResult> {
    if (this.get(record.id) !== undefined || this.db.prepare("SELECT 1 FROM staged WHERE id = ?").get(record.id) !== undefined) {
      return { stored: false, reason: `an object with id ${record.id} exists already` };
    }
    const file = this.payloadFile(record.id);
    const temp = `${file}.tmp`;
    // The payload is durable under its final name before the row that makes it visible is committed;
    // whatever fails on the way (a full disk above all) removes what was written.
    try {
      const handle = await open(temp, "w");
      try {
        await handle.writeFile(payload);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, file);
      await syncDir(this.payloadDir);
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      await unlink(file).catch(() => undefined);
      throw asStorageError(error, `the payload of ${record.id}`);
    }
    const m = record.meta;
    try {
      this.transaction(() => {
        if (changeset === undefined) {
          this.db
            .prepare("INSERT INTO objects VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
            .run(record.id, m.path, m.validFrom, m.validUntil, m.created, m.contentType, m.fileName, m.md5, JSON.stringify(m.metadata), record.size, record.initialValidity, record.lastModified);
        } else {
          this.db
            .prepare("INSERT INTO staged VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
            .run(record.id, changeset, m.path, m.validFrom, m.validUntil, m.created, m.contentType, m.fileName, m.md5, JSON.stringify(m.metadata), record.size, record.initialValidity, record.lastModified);
        }
        this.appendChange("uploaded", record, record.lastModified, changeset);
      });
    } catch (error) {
      await unlink(file).catch(() => undefined);
      throw error;
    }
    return { stored: true };
  }

  async update(id: string, update: ObjectUpdate, now: number): Promise<ObjectRecord | undefined> {
    const record = this.get(id);
    if (record === undefined) return undefined;
    const meta = applyUpdate(record.meta, update);
    if (meta === null) return record;
    const updated: ObjectRecord = { ...record, meta, lastModified: now };
    this.transaction(() => {
      this.db.prepare("UPDATE objects SET valid_until = ?, metadata = ?, last_modified = ? WHERE id = ?").run(meta.validUntil, JSON.stringify(meta.metadata), now, id);
      this.appendChange("updated", updated, now);
    });
    return updated;
  }

  async remove(id: string): Promise<boolean> {
    const record = this.get(id);
    if (record === undefined) return false;
    this.transaction(() => {
      this.db.prepare("DELETE FROM objects WHERE id = ?").run(id);
      this.appendChange("deleted", record, Date.now());
    });
    await unlink(this.payloadFile(id)).catch(() => undefined);
    return true;
  }

  list(pattern: PathPattern): ObjectRecord[] {
    const rows = (pattern.kind === "exact" ? this.db.prepare("SELECT * FROM objects WHERE path = ?").all(pattern.text) : this.db.prepare("SELECT * FROM objects").all()) as Row[];
    return rows.map(toRecord).filter((r) => pattern.matches(r.meta.path)).sort(newestFirst);
  }

  paths(): string[] {
    return (this.db.prepare("SELECT DISTINCT path FROM objects").all() as Row[]).map((r) => String(r.path));
  }

  stats(): { objects: number; bytes: number } {
    const row = this.db.prepare("SELECT COUNT(*) AS n, COALESCE(SUM(size), 0) AS b FROM objects").get() as Row;
    return { objects: Number(row.n), bytes: Number(row.b) };
  }

  /** Changes with sequence > since, oldest first, at most `limit` (those of open or aborted changesets hidden). */
  changesSince(since: number, limit: number): Change[] {
    const rows = this.db.prepare("SELECT * FROM changes WHERE sequence > ? AND hidden = 0 ORDER BY sequence LIMIT ?").all(since, limit) as Row[];
    return rows.map((r) => ({
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
      ...(r.changeset === null ? {} : { changeset: String(r.changeset) }),
      ...(r.keytable === null || r.action === "resent" ? {} : { keytable: String(r.keytable), key: Number(r.key), objects: JSON.parse(String(r.objects)) as string[] }),
      ...(r.run === null ? {} : { run: Number(r.run) }),
    }));
  }

  // ---- runs -----------------------------------------------------------------------------------------

  /**
   * Records a run with the keytable's current key, and one "resent" change per object of the key
   * (the sequence numbers its objects are multicast again under), then one "committed" change of the
   * key under the run's changeset id (`run-<run>`, SPEC 11.6: the re-send's Commit takes its sequence
   * from it; `objects` every object of the key), in one transaction. With `declared`, only the key's
   * objects at the paths it accepts are re-sent.
   */
  startRun(run: number, keytable: string, now: number, declared?: (path: string) => boolean): StartedRun {
    const existing = this.run(run);
    if (existing !== undefined) throw new RunRefused(409, `run ${run} was started at ${existing.startedAt} with ${existing.keytable}/${existing.key}`);
    const key = this.currentKey(keytable);
    if (key === 0) throw new RunRefused(404, `keytable ${keytable} has no key`);
    const resent: { sequence: number; record: ObjectRecord }[] = [];
    // An entry whose object was deleted since the commit is not sent (nothing to send).
    // Every object of the key that still exists: what the re-send's Commit names (a receiver flips only
    // holding all of them); those at declared paths, or all, are re-sent.
    const held = this.entries(keytable, key)
      .map((e) => ({ path: e.path, record: this.get(e.id) }))
      .filter((e): e is { path: string; record: ObjectRecord } => e.record !== undefined);
    const records = held.filter((e) => declared === undefined || declared(e.path)).map((e) => e.record);
    const changeset = `run-${run}`;
    const objects = held.map((e) => e.record.id);
    let commitSequence = 0;
    const only = declared === undefined ? "all" : "declared";
    const bytes = records.reduce((sum, r) => sum + r.size, 0);
    this.transaction(() => {
      this.db.prepare("INSERT INTO runs (run, keytable, key, started_at, objects, bytes, only) VALUES (?, ?, ?, ?, ?, ?, ?)").run(run, keytable, key, now, records.length, bytes, only);
      for (const record of records) {
        const m = record.meta;
        this.db
          .prepare("INSERT INTO changes (sequence, action, id, path, valid_from, valid_until, created, size, metadata, changed_at, hidden, keytable, key, run) VALUES (?, 'resent', ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)")
          .run(this.sequence + 1, record.id, m.path, m.validFrom, m.validUntil, m.created, record.size, JSON.stringify(m.metadata), now, keytable, key, run);
        this.sequence++;
        resent.push({ sequence: this.sequence, record });
      }
      commitSequence = this.sequence + 1;
      this.db
        .prepare("INSERT INTO changes (sequence, action, id, path, valid_from, valid_until, created, size, metadata, changed_at, hidden, keytable, key, objects, run) VALUES (?, 'committed', ?, '', 0, 0, ?, 0, '{}', ?, 0, ?, ?, ?, ?)")
        .run(commitSequence, changeset, now, now, keytable, key, JSON.stringify(objects), run);
      this.sequence++;
    });
    return { run: { run, keytable, key, startedAt: now, only, objects: records.length, bytes }, resent, commit: { sequence: commitSequence, changeset, objects } };
  }

  run(run: number): RunRecord | undefined {
    const r = this.db.prepare("SELECT * FROM runs WHERE run = ?").get(run) as Row | undefined;
    return r === undefined ? undefined : toRun(r);
  }

  /** The most recent runs, newest first. */
  runs(limit: number): RunRecord[] {
    return (this.db.prepare("SELECT * FROM runs ORDER BY started_at DESC, run DESC LIMIT ?").all(limit) as Row[]).map(toRun);
  }

  // ---- changesets and keys (SPEC 11) ----------------------------------------------------------------

  openChangeset(id: string, keytable: string, now: number, ttlMs: number): ChangesetState {
    if (this.db.prepare("SELECT 1 FROM changesets WHERE id = ?").get(id) !== undefined) throw new ChangesetError(409, `changeset ${id} exists already`);
    this.transaction(() => {
      this.db.prepare("INSERT INTO changesets (id, state, opened_at, expires_at, keytable) VALUES (?, 'open', ?, ?, ?)").run(id, now, now + ttlMs, keytable);
    });
    return this.changeset(id)!;
  }

  changeset(id: string): ChangesetState | undefined {
    const row = this.db.prepare("SELECT * FROM changesets WHERE id = ?").get(id) as Row | undefined;
    if (row === undefined) return undefined;
    const objects =
      row.state === "committed"
        ? (this.db.prepare("SELECT id, path FROM changes WHERE changeset = ? AND action = 'uploaded' ORDER BY sequence").all(id) as Row[])
        : (this.db.prepare("SELECT s.id, s.path FROM staged s JOIN changes c ON c.id = s.id AND c.action = 'uploaded' WHERE s.changeset = ? ORDER BY c.sequence").all(id) as Row[]);
    return {
      id,
      state: String(row.state) as ChangesetState["state"],
      openedAt: Number(row.opened_at),
      expiresAt: Number(row.expires_at),
      objects: objects.map((o) => ({ id: String(o.id), path: String(o.path) })),
      ...(row.keytable === null ? {} : { keytable: String(row.keytable), key: Number(row.key) }),
      ...(row.closed_at === null ? {} : { closedAt: Number(row.closed_at) }),
      ...(row.reason === null ? {} : { reason: String(row.reason) }),
    };
  }

  /** A staged object and its changeset (derive/: a formatter reads the inputs of its changeset). */
  stagedObject(id: string): { record: ObjectRecord; changeset: string } | undefined {
    const row = this.db.prepare("SELECT * FROM staged WHERE id = ?").get(id) as Row | undefined;
    return row === undefined ? undefined : { record: toRecord(row), changeset: String(row.changeset) };
  }

  /** The payload of a staged object (payload files are named by id, staged or not). */
  async readStagedPayload(id: string): Promise<Uint8Array | undefined> {
    if (this.db.prepare("SELECT 1 FROM staged WHERE id = ?").get(id) === undefined) return undefined;
    return readFile(this.payloadFile(id));
  }

  /** A counter kept in `state` that only moves forward across restarts; returns its next value. */
  nextCounter(name: string): number {
    const key = `counter:${name}`;
    const row = this.db.prepare("SELECT value FROM state WHERE key = ?").get(key) as Row | undefined;
    const next = (row === undefined ? 0 : Number(row.value)) + 1;
    this.db.prepare("INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").run(key, String(next));
    return next;
  }

  /** Open changesets whose time is up. */
  expiredChangesets(now: number): string[] {
    return (this.db.prepare("SELECT id FROM changesets WHERE state = 'open' AND expires_at <= ?").all(now) as Row[]).map((r) => String(r.id));
  }

  /**
   * Makes every staged object of the changeset visible and writes the keytable's next key, in one
   * transaction (durable when it returns). `expected`, when given, must be exactly the staged ids.
   */
  commitChangeset(id: string, removedPaths: readonly string[], expected: readonly string[] | undefined, now: number): Committed {
    const cs = this.openChangesetRow(id, now);
    const keytable = cs.keytable;
    const staged = (this.db.prepare("SELECT * FROM staged WHERE changeset = ?").all(cs.id) as Row[]).map(toRecord);
    if (expected !== undefined) {
      const have = new Set(staged.map((r) => r.id));
      const unknown = expected.filter((x) => !have.has(x.toLowerCase()));
      if (unknown.length > 0) throw new ChangesetError(409, `changeset ${id} holds no object ${unknown.slice(0, 5).join(", ")} (never uploaded into it)`);
      const want = new Set(expected.map((x) => x.toLowerCase()));
      const extra = staged.filter((r) => !want.has(r.id));
      if (extra.length > 0) throw new ChangesetError(409, `changeset ${id} also holds ${extra.slice(0, 5).map((r) => r.id).join(", ")}, which the commit does not name`);
    }
    const parent = this.currentKey(keytable);
    const key = parent + 1;
    const entries = nextEntries(
      parent === 0 ? [] : this.entries(keytable, parent),
      staged.map((r) => ({ path: r.meta.path, id: r.id, validFrom: r.meta.validFrom, validUntil: r.meta.validUntil, md5: r.meta.md5, size: r.size })),
      removedPaths,
    );
    let sequence = 0;
    this.transaction(() => {
      this.db.prepare("INSERT INTO objects SELECT id, path, valid_from, valid_until, created, content_type, file_name, md5, metadata, size, initial_validity, last_modified FROM staged WHERE changeset = ?").run(cs.id);
      this.db.prepare("DELETE FROM staged WHERE changeset = ?").run(cs.id);
      this.db.prepare("UPDATE changes SET hidden = 0 WHERE changeset = ? AND action = 'uploaded'").run(cs.id);
      this.db.prepare("INSERT INTO keys VALUES (?, ?, ?, ?, ?)").run(keytable, key, parent, cs.id, now);
      const insert = this.db.prepare("INSERT INTO key_entries VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
      for (const e of entries) insert.run(keytable, key, e.path, e.id, e.validFrom, e.validUntil, e.md5, e.size);
      this.db.prepare("UPDATE changesets SET state = 'committed', closed_at = ?, keytable = ?, key = ? WHERE id = ?").run(now, keytable, key, cs.id);
      sequence = this.sequence + 1;
      this.db
        .prepare("INSERT INTO changes (sequence, action, id, path, valid_from, valid_until, created, size, metadata, changed_at, hidden, keytable, key, objects) VALUES (?, 'committed', ?, '', 0, 0, ?, 0, '{}', ?, 0, ?, ?, ?)")
        .run(sequence, cs.id, now, now, keytable, key, JSON.stringify(staged.map((r) => r.id)));
      this.sequence++;
    });
    return { snapshot: { keytable, key, parentKey: parent, changeset: cs.id, committedAt: now, entries }, objects: staged.map((r) => r.id), sequence };
  }

  /**
   * Drops an open changeset and its staged objects; returns their ids, its keytable and the sequence of
   * the abort (a hidden change-log row: the abort's Commit datagram takes a sequence number too).
   */
  async abortChangeset(id: string, reason: string, now: number): Promise<{ ids: string[]; keytable: string; sequence: number }> {
    const cs = this.openChangesetRow(id, Number.NEGATIVE_INFINITY);
    const ids = (this.db.prepare("SELECT id FROM staged WHERE changeset = ?").all(cs.id) as Row[]).map((r) => String(r.id));
    let sequence = 0;
    this.transaction(() => {
      this.db.prepare("DELETE FROM staged WHERE changeset = ?").run(cs.id);
      this.db.prepare("UPDATE changesets SET state = 'aborted', closed_at = ?, reason = ? WHERE id = ?").run(now, reason, cs.id);
      sequence = this.sequence + 1;
      this.db
        .prepare("INSERT INTO changes (sequence, action, id, path, valid_from, valid_until, created, size, metadata, changed_at, hidden, keytable) VALUES (?, 'aborted', ?, '', 0, 0, ?, 0, '{}', ?, 1, ?)")
        .run(sequence, cs.id, now, now, cs.keytable);
      this.sequence++;
    });
    for (const x of ids) await unlink(this.payloadFile(x)).catch(() => undefined);
    return { ids, keytable: cs.keytable, sequence };
  }

  /** The keytables with their current keys. */
  keytables(): KeytableSummary[] {
    const rows = this.db
      .prepare("SELECT k.keytable, k.key, k.committed_at, (SELECT COUNT(*) FROM key_entries e WHERE e.keytable = k.keytable AND e.key = k.key) AS n FROM keys k WHERE k.key = (SELECT MAX(key) FROM keys WHERE keytable = k.keytable) ORDER BY k.keytable")
      .all() as Row[];
    return rows.map((r) => ({ keytable: String(r.keytable), key: Number(r.key), committedAt: Number(r.committed_at), objects: Number(r.n) }));
  }

  /** The keytable's current key, 0 when it has none. */
  currentKey(keytable: string): number {
    const row = this.db.prepare("SELECT MAX(key) AS k FROM keys WHERE keytable = ?").get(keytable) as Row | undefined;
    return Number(row?.k ?? 0);
  }

  snapshot(keytable: string, key: number): KeySnapshot | undefined {
    const row = this.db.prepare("SELECT * FROM keys WHERE keytable = ? AND key = ?").get(keytable, key) as Row | undefined;
    if (row === undefined) return undefined;
    return { keytable, key, parentKey: Number(row.parent_key), changeset: String(row.changeset), committedAt: Number(row.committed_at), entries: this.entries(keytable, key) };
  }

  private entries(keytable: string, key: number): KeyEntry[] {
    return (this.db.prepare("SELECT * FROM key_entries WHERE keytable = ? AND key = ? ORDER BY path").all(keytable, key) as Row[]).map((r) => ({
      path: String(r.path),
      id: String(r.id),
      validFrom: Number(r.valid_from),
      validUntil: Number(r.valid_until),
      md5: String(r.md5),
      size: Number(r.size),
    }));
  }

  private openChangesetRow(id: string, now: number): { id: string; keytable: string } {
    const row = this.db.prepare("SELECT state, expires_at, keytable FROM changesets WHERE id = ?").get(id) as Row | undefined;
    if (row === undefined) throw new ChangesetError(404, `no changeset ${id}`);
    if (row.state !== "open") throw new ChangesetError(409, `changeset ${id} is ${String(row.state)}`);
    if (Number(row.expires_at) <= now) throw new ChangesetError(409, `changeset ${id} expired`);
    return { id, keytable: String(row.keytable) };
  }

  async close(): Promise<void> {
    if (this.db.isOpen) this.db.close();
  }

  private appendChange(action: ChangeAction, record: ObjectRecord, changedAt: number, changeset?: string): void {
    const m = record.meta;
    this.db
      .prepare("INSERT INTO changes (sequence, action, id, path, valid_from, valid_until, created, size, metadata, changed_at, hidden, changeset) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
      .run(this.sequence + 1, action, record.id, m.path, m.validFrom, m.validUntil, m.created, record.size, JSON.stringify(m.metadata), changedAt, changeset === undefined ? 0 : 1, changeset ?? null);
    this.sequence++;
  }

  // ---- mirror checkpoints (sync/) ------------------------------------------------------------------

  /** How far a mirror applied its owner's change log (sequence 0 when it never did). */
  /** sync/ mirrors keep their checkpoints here (in the same transaction as what they applied). */
  get mirrorCheckpoints(): MirrorCheckpoints {
    return this;
  }

  checkpoint(mirror: string): SyncCheckpoint {
    const r = this.db.prepare("SELECT * FROM sync_checkpoints WHERE mirror = ?").get(mirror) as Row | undefined;
    if (r === undefined) return { mirror, sequence: 0, changedAt: 0, appliedAt: 0 };
    return { mirror, sequence: Number(r.sequence), changedAt: Number(r.changed_at), appliedAt: Number(r.applied_at), ...(r.open_changeset === null ? {} : { openChangeset: String(r.open_changeset) }) };
  }

  /**
   * Runs `apply` so that its first store transaction also writes `checkpoint` (atomic: after a crash
   * the change and the checkpoint are both there or both not); when `apply` changed nothing, the
   * checkpoint is written alone. The caller serialises writes (RepositoryService's chain).
   */
  async withCheckpoint<T>(checkpoint: SyncCheckpoint, apply: () => Promise<T>): Promise<T> {
    this.pendingCheckpoint = checkpoint;
    try {
      const result = await apply();
      if (this.pendingCheckpoint !== undefined) this.transaction(() => undefined);
      return result;
    } finally {
      this.pendingCheckpoint = undefined;
    }
  }

  private writeCheckpoint(c: SyncCheckpoint): void {
    this.db
      .prepare("INSERT INTO sync_checkpoints (mirror, sequence, changed_at, applied_at, open_changeset) VALUES (?, ?, ?, ?, ?) ON CONFLICT (mirror) DO UPDATE SET sequence = excluded.sequence, changed_at = excluded.changed_at, applied_at = excluded.applied_at, open_changeset = excluded.open_changeset")
      .run(c.mirror, c.sequence, c.changedAt, c.appliedAt, c.openChangeset ?? null);
  }

  private transaction(body: () => void): void {
    const before = this.sequence;
    try {
      this.db.exec("BEGIN IMMEDIATE");
    } catch (error) {
      throw asStorageError(error, "the change");
    }
    try {
      body();
      if (this.pendingCheckpoint !== undefined) {
        this.writeCheckpoint(this.pendingCheckpoint);
        this.pendingCheckpoint = undefined;
      }
      this.db.exec("COMMIT");
    } catch (error) {
      // SQLite may have rolled back already (SQLITE_FULL does); the original error is what counts.
      try {
        this.db.exec("ROLLBACK");
      } catch {
        // no transaction active
      }
      this.sequence = before;
      throw asStorageError(error, "the change");
    }
  }

  private payloadFile(id: string): string {
    return join(this.payloadDir, id);
  }
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

