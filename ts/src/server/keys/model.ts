// Keys (SPEC 11, docs/KEYS.md): a keytable's numbered, immutable snapshots of path -> object, the
// changesets that make them, and what both roles answer about them.
import { compareUtf8 } from "../../wire/object.js";

/** One path of a key: the object in use there, with what a reader checks. */
export interface KeyEntry {
  readonly path: string;
  readonly id: string;
  readonly validFrom: number;
  readonly validUntil: number;
  readonly md5: string;
  readonly size: number;
}

export interface KeySnapshot {
  readonly keytable: string;
  readonly key: number;
  readonly parentKey: number;
  readonly changeset: string;
  readonly committedAt: number;
  /** Sorted by path. */
  readonly entries: readonly KeyEntry[];
}

export interface KeytableSummary {
  readonly keytable: string;
  readonly key: number;
  readonly committedAt: number;
  readonly objects: number;
}

export type ChangesetStateName = "open" | "committed" | "aborted";

export interface ChangesetState {
  readonly id: string;
  readonly state: ChangesetStateName;
  readonly openedAt: number;
  readonly expiresAt: number;
  /** The staged objects, by upload order. */
  readonly objects: readonly { readonly id: string; readonly path: string }[];
  readonly keytable?: string | undefined;
  readonly key?: number | undefined;
  readonly closedAt?: number | undefined;
  /** Why it was aborted (a client's DELETE, expiry). */
  readonly reason?: string | undefined;
}

export interface KeyDiff {
  readonly keytable: string;
  readonly from: number;
  readonly to: number;
  readonly added: readonly KeyEntry[];
  readonly changed: readonly { readonly path: string; readonly from: KeyEntry; readonly to: KeyEntry }[];
  readonly removed: readonly KeyEntry[];
}

/** The paths added, changed (another object) and removed from `a` to `b`. */
export function diffKeys(a: KeySnapshot, b: KeySnapshot): KeyDiff {
  const before = new Map(a.entries.map((e) => [e.path, e]));
  const after = new Map(b.entries.map((e) => [e.path, e]));
  const added: KeyEntry[] = [];
  const changed: { path: string; from: KeyEntry; to: KeyEntry }[] = [];
  const removed: KeyEntry[] = [];
  for (const [path, entry] of after) {
    const old = before.get(path);
    if (old === undefined) added.push(entry);
    else if (old.id !== entry.id) changed.push({ path, from: old, to: entry });
  }
  for (const [path, entry] of before) if (!after.has(path)) removed.push(entry);
  const byPath = (x: { path: string }, y: { path: string }): number => compareUtf8(x.path, y.path);
  return { keytable: b.keytable, from: a.key, to: b.key, added: added.sort(byPath), changed: changed.sort(byPath), removed: removed.sort(byPath) };
}

/** The next key's entries: the parent's, with the changeset's paths replaced and `removed` dropped. */
export function nextEntries(parent: readonly KeyEntry[], changed: readonly KeyEntry[], removed: readonly string[]): KeyEntry[] {
  const out = new Map(parent.map((e) => [e.path, e]));
  for (const path of removed) out.delete(path);
  for (const e of changed) out.set(e.path, e);
  return [...out.values()].sort((x, y) => compareUtf8(x.path, y.path));
}

/** A read pinned to a key: `Condcast-Key: <keytable>/<key>`, or `<keytable>` for its current key. */
export interface KeyPin {
  readonly keytable: string;
  readonly key: number | undefined;
}

/** Parses a Condcast-Key request header; undefined when absent, a string (the reason) when malformed. */
export function parseKeyPin(value: string | undefined): KeyPin | string | undefined {
  if (value === undefined) return undefined;
  const m = /^([A-Za-z0-9._-]{1,64})(?:\/([1-9]\d{0,14}))?$/.exec(value);
  if (m === null) return `Condcast-Key must be <keytable> or <keytable>/<key> (a key from 1, no leading zeros), got ${JSON.stringify(value)}`;
  return { keytable: m[1]!, key: m[2] === undefined ? undefined : Number(m[2]) };
}

export const KEY_HEADER = "Condcast-Key";
export const CHANGESET_HEADER = "Condcast-Changeset";
