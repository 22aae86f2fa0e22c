// The repository's storage: metadata in SQLite (node:sqlite, WAL, synchronous=FULL), payloads as files
// written to a temporary name, fsynced, renamed and the folder fsynced, all before put() resolves.
// Every change (upload, update, deletion) takes the next number of one persistent sequence, kept in
// the `changes` table, which is also what GET /changes serves. The multicast sender id lives in the
// `state` table so it survives restarts.
import { randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, unlinkSync } from "node:fs";
import { open, readFile, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { formatSenderId } from "../../../wire/ids.js";
import type { ObjectMetadata } from "../../../wire/object.js";
import { matchesConstraints, newestFirst, type ObjectQuery, type ObjectRecord, type PathPattern } from "../../model.js";
import { applyUpdate, asStorageError, type Change, type ChangeAction, type ObjectUpdate, type PutResult, type Storage } from "../storage.js";

type Row = Record<string, string | number | null>;

export class DurableStore implements Storage {
  readonly senderId: string;
  private readonly db: DatabaseSync;
  private readonly payloadDir: string;
  private sequence: number;

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
    `);
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
    const known = this.db.prepare("SELECT 1 FROM objects WHERE id = ?");
    for (const name of readdirSync(this.payloadDir)) {
      if (name.endsWith(".tmp") || known.get(name) === undefined) unlinkSync(join(this.payloadDir, name));
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
    if (this.get(record.id) !== undefined) return { stored: false, reason: `an object with id ${record.id} exists already` };
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
        this.db
          .prepare("INSERT INTO objects VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
          .run(record.id, m.path, m.validFrom, m.validUntil, m.created, m.contentType, m.fileName, m.md5, JSON.stringify(m.metadata), record.size, record.initialValidity, record.lastModified);
        this.appendChange("uploaded", record, record.lastModified);
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

  /** Changes with sequence > since, oldest first, at most `limit`. */
  changesSince(since: number, limit: number): Change[] {
    const rows = this.db.prepare("SELECT * FROM changes WHERE sequence > ? ORDER BY sequence LIMIT ?").all(since, limit) as Row[];
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
    }));
  }

  async close(): Promise<void> {
    if (this.db.isOpen) this.db.close();
  }

  private appendChange(action: ChangeAction, record: ObjectRecord, changedAt: number): void {
    const m = record.meta;
    this.db
      .prepare("INSERT INTO changes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
      .run(this.sequence + 1, action, record.id, m.path, m.validFrom, m.validUntil, m.created, record.size, JSON.stringify(m.metadata), changedAt);
    this.sequence++;
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

function toRecord(row: Row): ObjectRecord {
  const meta: ObjectMetadata = {
    path: String(row.path),
    validFrom: Number(row.valid_from),
    validUntil: Number(row.valid_until),
    created: Number(row.created),
    contentType: String(row.content_type),
    fileName: String(row.file_name),
    md5: String(row.md5),
    metadata: JSON.parse(String(row.metadata)) as Record<string, string>,
  };
  return { id: String(row.id), meta, size: Number(row.size), initialValidity: Number(row.initial_validity), lastModified: Number(row.last_modified), source: "upload" };
}
