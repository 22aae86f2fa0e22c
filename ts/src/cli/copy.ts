// `condcast copy`: copies a repository from the embedded backend (SQLite + payload files) to
// PostgreSQL + S3, then verifies the copy by reading it back. What is copied is the repository's state,
// not its history: every key of every keytable (replayed in commit order as changesets under the
// source's changeset ids, so key numbers, parents, entries and commit times are the source's), then
// every other object (ids, created times, validity, metadata, MD5). The target's change log starts
// afresh: its caches start from it, as after any new repository.
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { DurableStore } from "../server/store/sqlite/durable-store.js";
import { PgStore } from "../server/store/postgres/pg-store.js";
import type { ObjectRecord } from "../server/model.js";
import type { KeySnapshot } from "../server/keys/model.js";
import { UsageError, parseFlags, requiredFlag } from "./options.js";
import { PG_STORE_FLAGS, pgStoreOptions } from "./store-options.js";

export const COPY_USAGE = `usage: condcast copy --from-data-dir DIR --pg-url URL --s3-endpoint URL --s3-bucket NAME [--pg-schema NAME] [--s3-prefix P] [--verify-only]
Copies an embedded repository (serve --data-dir DIR, not running) to PostgreSQL + S3 (serve --pg-url ...;
S3 credentials from CONDCAST_S3_ACCESS_KEY and CONDCAST_S3_SECRET_KEY), then verifies every object's
metadata and payload MD5 and every key's entries read back from the target. Prints a JSON summary;
exits 1 when the verification finds a difference. The target must be empty.
  --verify-only               compare an earlier copy with the source, copy nothing`;

const FLAGS = {
  "from-data-dir": { type: "string" },
  ...PG_STORE_FLAGS,
  "verify-only": { type: "boolean" },
  help: { type: "boolean" },
} as const;

export interface CopySummary {
  objects: number;
  bytes: number;
  keys: number;
  keytables: number;
  /** Key entries whose object was deleted since the commit: the copied key lacks them. */
  entriesWithoutObject: number;
  verified: { objects: number; keys: number; problems: string[] };
  seconds: number;
}

const md5 = (bytes: Uint8Array): string => createHash("md5").update(bytes).digest("hex");

/** Every key of every keytable, in commit order (parents before children). */
function keysInCommitOrder(source: DurableStore): KeySnapshot[] {
  const keys: KeySnapshot[] = [];
  for (const t of source.keytables()) {
    for (let k = 1; k <= t.key; k++) {
      const s = source.snapshot(t.keytable, k);
      if (s !== undefined) keys.push(s);
    }
  }
  return keys.sort((a, b) => a.committedAt - b.committedAt || (a.keytable === b.keytable ? a.key - b.key : a.keytable.localeCompare(b.keytable)));
}

function allObjects(source: DurableStore): ObjectRecord[] {
  return source.paths().flatMap((p) => source.atPath(p)).sort((a, b) => a.meta.created - b.meta.created || a.id.localeCompare(b.id));
}

async function payloadOf(source: DurableStore, id: string): Promise<Uint8Array> {
  const payload = await source.readPayload(id);
  if (payload === undefined) throw new Error(`the source lacks the payload of ${id}`);
  return payload;
}

async function copy(source: DurableStore, target: PgStore, summary: CopySummary): Promise<void> {
  if (target.stats().objects > 0 || target.keytables().length > 0) throw new UsageError(`the target already holds ${target.stats().objects} objects and ${target.keytables().length} keytables: copy only into an empty one (or --verify-only)`);
  const copied = new Set<string>();
  for (const key of keysInCommitOrder(source)) {
    const previous = key.parentKey === 0 ? undefined : source.snapshot(key.keytable, key.parentKey);
    const before = new Map((previous?.entries ?? []).map((e) => [e.path, e.id]));
    const paths = new Set(key.entries.map((e) => e.path));
    const removed = [...before.keys()].filter((p) => !paths.has(p));
    await target.openChangeset(key.changeset, key.keytable, key.committedAt, 86_400_000);
    for (const entry of key.entries) {
      if (before.get(entry.path) === entry.id) continue; // carried over from the parent key
      const record = source.get(entry.id);
      if (record === undefined) {
        summary.entriesWithoutObject++;
        continue;
      }
      const staged = await target.stage(record, await payloadOf(source, record.id), key.changeset, key.committedAt);
      if (!staged.stored) throw new Error(`staging ${record.id} into ${key.keytable}/${key.key}: ${staged.reason}`);
      copied.add(record.id);
      summary.objects++;
      summary.bytes += record.size;
    }
    await target.commitChangeset(key.changeset, removed, undefined, key.committedAt);
    summary.keys++;
  }
  for (const record of allObjects(source)) {
    if (copied.has(record.id)) continue;
    const put = await target.put(record, await payloadOf(source, record.id));
    if (!put.stored) throw new Error(`copying ${record.id}: ${put.reason}`);
    summary.objects++;
    summary.bytes += record.size;
  }
}

/** What differs between source and target: each object's metadata and payload, each key's entries. */
async function verify(source: DurableStore, target: PgStore, summary: CopySummary): Promise<void> {
  const problems = summary.verified.problems;
  const note = (p: string): void => void (problems.length < 50 && problems.push(p));
  for (const record of allObjects(source)) {
    const copy = target.get(record.id);
    if (copy === undefined) {
      note(`${record.id} (${record.meta.path}) is missing from the target`);
      continue;
    }
    const { lastModified: _a, source: _b, ...want } = record;
    const { lastModified: _c, source: _d, ...got } = copy;
    if (JSON.stringify(want) !== JSON.stringify(got)) note(`${record.id}: metadata differs: ${JSON.stringify(got)} != ${JSON.stringify(want)}`);
    const payload = await target.readPayload(record.id);
    if (payload === undefined) note(`${record.id}: the target has no payload`);
    else if (md5(payload) !== record.meta.md5) note(`${record.id}: the target's payload has MD5 ${md5(payload)}, the source's ${record.meta.md5}`);
    summary.verified.objects++;
  }
  if (target.stats().objects !== source.stats().objects) note(`the target holds ${target.stats().objects} objects, the source ${source.stats().objects}`);
  for (const key of keysInCommitOrder(source)) {
    const copy = target.snapshot(key.keytable, key.key);
    if (copy === undefined) {
      note(`key ${key.keytable}/${key.key} is missing from the target`);
      continue;
    }
    const shape = (s: KeySnapshot): string => JSON.stringify({ parentKey: s.parentKey, changeset: s.changeset, committedAt: s.committedAt, entries: s.entries.filter((e) => source.get(e.id) !== undefined).map((e) => [e.path, e.id, e.md5, e.size]) });
    if (shape(copy) !== shape(key)) note(`key ${key.keytable}/${key.key} differs: ${shape(copy)} != ${shape(key)}`);
    summary.verified.keys++;
  }
}

export async function runCopy(argv: string[], env: NodeJS.ProcessEnv, out: NodeJS.WritableStream): Promise<number> {
  const args = parseFlags(argv, FLAGS, env);
  if (args.values.help === true) {
    out.write(`${COPY_USAGE}\n`);
    return 0;
  }
  const dir = requiredFlag(args, "from-data-dir");
  if (!existsSync(join(dir, "condcast.sqlite"))) throw new UsageError(`--from-data-dir ${dir} holds no embedded repository (no condcast.sqlite)`);
  const options = pgStoreOptions(args, requiredFlag(args, "pg-url"), env);
  const started = Date.now();
  const source = new DurableStore(dir);
  const target = new PgStore({ ...options, pollMs: 1000 });
  const summary: CopySummary = { objects: 0, bytes: 0, keys: 0, keytables: source.keytables().length, entriesWithoutObject: 0, verified: { objects: 0, keys: 0, problems: [] }, seconds: 0 };
  try {
    await target.open();
    if (args.values["verify-only"] !== true) await copy(source, target, summary);
    await target.refresh();
    await verify(source, target, summary);
  } finally {
    await target.close().catch(() => undefined);
    await source.close().catch(() => undefined);
  }
  summary.seconds = (Date.now() - started) / 1000;
  out.write(`${JSON.stringify(summary)}\n`);
  return summary.verified.problems.length === 0 ? 0 : 1;
}
