// The PostgreSQL schema, as numbered migrations applied in order at start (each in its own
// transaction, recorded in schema_migrations); several replicas starting at once take turns on an
// advisory lock, so each migration runs once.
import type { PoolClient } from "pg";

export const MIGRATIONS: readonly { version: number; sql: string }[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE objects (
        id TEXT PRIMARY KEY, path TEXT NOT NULL, valid_from BIGINT NOT NULL, valid_until BIGINT NOT NULL,
        created BIGINT NOT NULL, content_type TEXT NOT NULL, file_name TEXT NOT NULL, md5 TEXT NOT NULL,
        metadata TEXT NOT NULL, size BIGINT NOT NULL, initial_validity BIGINT NOT NULL, last_modified BIGINT NOT NULL);
      CREATE INDEX objects_path ON objects (path, created);
      CREATE TABLE staged (
        id TEXT PRIMARY KEY, changeset TEXT NOT NULL, path TEXT NOT NULL, valid_from BIGINT NOT NULL, valid_until BIGINT NOT NULL,
        created BIGINT NOT NULL, content_type TEXT NOT NULL, file_name TEXT NOT NULL, md5 TEXT NOT NULL,
        metadata TEXT NOT NULL, size BIGINT NOT NULL, initial_validity BIGINT NOT NULL, last_modified BIGINT NOT NULL);
      CREATE INDEX staged_changeset ON staged (changeset);
      CREATE TABLE changes (
        sequence BIGINT PRIMARY KEY, action TEXT NOT NULL, id TEXT NOT NULL, path TEXT NOT NULL,
        valid_from BIGINT NOT NULL, valid_until BIGINT NOT NULL, created BIGINT NOT NULL, size BIGINT NOT NULL,
        metadata TEXT NOT NULL, changed_at BIGINT NOT NULL, hidden BOOLEAN NOT NULL, changeset TEXT, keytable TEXT,
        key INTEGER, objects TEXT, run INTEGER);
      CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE changesets (
        id TEXT PRIMARY KEY, state TEXT NOT NULL, opened_at BIGINT NOT NULL, expires_at BIGINT NOT NULL,
        closed_at BIGINT, keytable TEXT, key INTEGER, reason TEXT);
      CREATE TABLE keys (
        keytable TEXT NOT NULL, key INTEGER NOT NULL, parent_key INTEGER NOT NULL, changeset TEXT NOT NULL,
        committed_at BIGINT NOT NULL, PRIMARY KEY (keytable, key));
      CREATE TABLE key_entries (
        keytable TEXT NOT NULL, key INTEGER NOT NULL, path TEXT NOT NULL, id TEXT NOT NULL, valid_from BIGINT NOT NULL,
        valid_until BIGINT NOT NULL, md5 TEXT NOT NULL, size BIGINT NOT NULL, PRIMARY KEY (keytable, key, path));
      CREATE TABLE runs (
        run INTEGER PRIMARY KEY, keytable TEXT NOT NULL, key INTEGER NOT NULL, started_at BIGINT NOT NULL,
        objects INTEGER NOT NULL, bytes BIGINT NOT NULL, "only" TEXT NOT NULL);
      -- What each committed write touched, numbered in commit order (writes hold one advisory lock):
      -- every replica replays it into its in-memory index.
      CREATE TABLE events (id BIGINT PRIMARY KEY, kind TEXT NOT NULL, ref TEXT NOT NULL);`,
  },
  {
    version: 2,
    sql: `
      -- sync/: how far each mirror of this instance applied its owner's change log (written in the
      -- transaction of what it applied).
      CREATE TABLE sync_checkpoints (
        mirror TEXT PRIMARY KEY, sequence BIGINT NOT NULL, changed_at BIGINT NOT NULL, applied_at BIGINT NOT NULL,
        open_changeset TEXT);`,
  },
];

/** Applies the migrations not applied yet; returns the schema version. */
export async function migrate(client: PoolClient): Promise<number> {
  await client.query("SELECT pg_advisory_lock(7311)");
  try {
    await client.query("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)");
    const done = new Set((await client.query<{ version: number }>("SELECT version FROM schema_migrations")).rows.map((r) => Number(r.version)));
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue;
      await client.query("BEGIN");
      try {
        await client.query(m.sql);
        await client.query("INSERT INTO schema_migrations VALUES ($1, $2)", [m.version, Date.now()]);
        await client.query("COMMIT");
      } catch (error) {
        await client.query("ROLLBACK");
        throw error;
      }
    }
    return Math.max(0, ...MIGRATIONS.map((m) => m.version));
  } finally {
    await client.query("SELECT pg_advisory_unlock(7311)");
  }
}
