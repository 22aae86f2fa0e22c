// The storage interface behind the REST API: a memory store (cache role) and a durable one (repository).
import type { ObjectMetadata } from "../../wire/object.js";
import type { ObjectQuery, ObjectRecord, PathPattern } from "../model.js";

/** A change made by PUT: a new end of validity and/or metadata (an empty value deletes the key). */
export interface ObjectUpdate {
  readonly validUntil?: number | undefined;
  readonly metadata?: Readonly<Record<string, string>> | undefined;
}

/** Outcome of put(): stored, or refused with a reason. */
export type PutResult = { readonly stored: true } | { readonly stored: false; readonly reason: string };

export interface Storage {
  /** The newest-created object matching the query (path exact), or undefined. */
  find(query: ObjectQuery): ObjectRecord | undefined;
  /** Every object at `path` (for Cache-Valid-Until). */
  atPath(path: string): ObjectRecord[];
  get(id: string): ObjectRecord | undefined;
  /** The payload; undefined when the object is unknown. */
  readPayload(id: string): Promise<Uint8Array | undefined>;
  /** The payload without waiting, for a store that holds payloads in memory (as readPayload otherwise). */
  payloadNow?(id: string): Buffer | undefined;
  /** Stores an object; when it resolves, the object is held (on disk for the durable store). */
  put(record: ObjectRecord, payload: Uint8Array): Promise<PutResult>;
  update(id: string, update: ObjectUpdate, now: number): Promise<ObjectRecord | undefined>;
  remove(id: string): Promise<boolean>;
  /** Objects whose path matches `pattern`. */
  list(pattern: PathPattern): ObjectRecord[];
  /** Every distinct path held. */
  paths(): string[];
  stats(): { objects: number; bytes: number };
  close(): Promise<void>;
}

/** Applies a PUT to metadata; returns null when nothing changes. */
export function applyUpdate(meta: ObjectMetadata, update: ObjectUpdate): ObjectMetadata | null {
  let changed = false;
  const metadata: Record<string, string> = { ...meta.metadata };
  for (const [key, value] of Object.entries(update.metadata ?? {})) {
    if (value === "") {
      if (key in metadata) {
        delete metadata[key];
        changed = true;
      }
    } else if (metadata[key] !== value) {
      metadata[key] = value;
      changed = true;
    }
  }
  let validUntil = meta.validUntil;
  if (update.validUntil !== undefined && update.validUntil !== meta.validUntil) {
    validUntil = update.validUntil;
    changed = true;
  }
  return changed ? { ...meta, validUntil, metadata } : null;
}

export type ChangeAction = "uploaded" | "updated" | "deleted" | "committed" | "resent";

/** One entry of the repository's change log (GET /changes). */
export interface Change {
  readonly sequence: number;
  readonly action: ChangeAction;
  readonly id: string;
  readonly path: string;
  readonly validFrom: number;
  readonly validUntil: number;
  readonly created: number;
  readonly size: number;
  readonly metadata: Record<string, string>;
  readonly changedAt: number;
  /** "uploaded": the changeset the object came with (SPEC 11); it is visible from that changeset's commit on. */
  readonly changeset?: string | undefined;
  /** "committed": the keytable, its new key, and the changeset's object ids (`id` is the changeset). */
  readonly keytable?: string | undefined;
  readonly key?: number | undefined;
  readonly objects?: readonly string[] | undefined;
  /** "resent": the run whose start multicast this (visible, unchanged) object again under this sequence. */
  readonly run?: number | undefined;
}

/**
 * The store has no room (a full disk or quota): what was being written was undone, nothing of it is
 * visible; a write is answered 507 with the reason and succeeds again once space is freed.
 */
export class StorageFull extends Error {}

/** `error` as a StorageFull when it says the disk is full (ENOSPC, EDQUOT, SQLITE_FULL), else itself. */
export function asStorageError(error: unknown, what: string): unknown {
  const e = error as { code?: string; errcode?: number; message?: string };
  const full = e.code === "ENOSPC" || e.code === "EDQUOT" || e.errcode === 13 || /database or disk is full/.test(e.message ?? "");
  return full ? new StorageFull(`no room to store ${what}: ${e.message ?? String(error)}`) : error;
}

/**
 * A store the repository depends on (PostgreSQL, the object store) cannot be reached: nothing was
 * changed; a write is answered 503 with the reason and succeeds again once it is back.
 */
export class StoreUnavailable extends Error {}
