// Rows of the tables both repository backends share (objects, runs: the same columns in SQLite and in
// PostgreSQL, store/postgres/migrations.ts), read back as records.
import type { ObjectMetadata } from "../../wire/object.js";
import type { ObjectRecord } from "../model.js";
import type { RunRecord } from "../runs/model.js";

/** A row as either database driver answers it. */
export type Row = Record<string, unknown>;

export function toRecord(row: Row): ObjectRecord {
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

export function toRun(r: Row): RunRecord {
  return { run: Number(r.run), keytable: String(r.keytable), key: Number(r.key), startedAt: Number(r.started_at), only: r.only === "declared" ? "declared" : "all", objects: Number(r.objects), bytes: Number(r.bytes) };
}
