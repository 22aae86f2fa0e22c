// What the repository role needs of its storage, whichever backend holds it: the embedded one
// (sqlite/durable-store.ts: SQLite + payload files) or the scale-out one (postgres/pg-store.ts:
// PostgreSQL + an S3 bucket, several replicas). Reads are synchronous (an in-memory or local index);
// writes may be asynchronous.
import type { ObjectRecord } from "../model.js";
import type { ChangesetState, KeySnapshot, KeytableSummary } from "../keys/model.js";
import type { RunRecord } from "../runs/model.js";
import type { Change, Storage } from "./storage.js";
import type { Committed, SyncCheckpoint } from "./sqlite/durable-store.js";

type MaybePromise<T> = T | Promise<T>;

/** A run started (SPEC 11.6): its record, the objects re-sent under new sequences, and the re-send's Commit. */
export interface StartedRun {
  readonly run: RunRecord;
  readonly resent: { sequence: number; record: ObjectRecord }[];
  readonly commit: { sequence: number; changeset: string; objects: string[] };
}

/**
 * sync/: a mirror's checkpoint kept atomically with what it applied. Only the embedded store has it
 * today; serve refuses a mirror on the PostgreSQL backend.
 */
export interface MirrorCheckpoints {
  checkpoint(mirror: string): SyncCheckpoint;
  withCheckpoint<T>(checkpoint: SyncCheckpoint, apply: () => Promise<T>): Promise<T>;
}

export interface RepositoryStore extends Storage {
  readonly senderId: string;
  /** The highest sequence this replica has seen committed. */
  readonly lastSequence: number;
  /**
   * True when several replicas share the change log: the multicast sender then follows the log
   * (repository/log-sender.ts) instead of sending what this process stored.
   */
  readonly sharedLog?: boolean;
  stage(record: ObjectRecord, payload: Uint8Array, changeset: string, now: number): Promise<import("./storage.js").PutResult>;
  changesSince(since: number, limit: number): Change[];
  startRun(run: number, keytable: string, now: number, declared?: (path: string) => boolean): MaybePromise<StartedRun>;
  run(run: number): RunRecord | undefined;
  runs(limit: number): RunRecord[];
  openChangeset(id: string, keytable: string, now: number, ttlMs: number): MaybePromise<ChangesetState>;
  changeset(id: string): ChangesetState | undefined;
  stagedObject(id: string): { record: ObjectRecord; changeset: string } | undefined;
  readStagedPayload(id: string): Promise<Uint8Array | undefined>;
  nextCounter(name: string): number;
  expiredChangesets(now: number): string[];
  commitChangeset(id: string, removedPaths: readonly string[], expected: readonly string[] | undefined, now: number): MaybePromise<Committed>;
  abortChangeset(id: string, reason: string, now: number): Promise<{ ids: string[]; keytable: string; sequence: number }>;
  keytables(): KeytableSummary[];
  currentKey(keytable: string): number;
  snapshot(keytable: string, key: number): KeySnapshot | undefined;
  /**
   * Moves whenever the keys held change, including by another replica's commit replayed here (the
   * cached Condcast-Key header is recomputed then); absent where only this process commits.
   */
  readonly keysVersion?: number;
  /**
   * Set by the repository on a shared backend: called when another replica's commit, replayed here,
   * moved a keytable's key (wakes this replica's key long-polls).
   */
  onKeyReplayed?: ((keytable: string, key: number) => void) | undefined;
  /** Present on a backend that can carry sync/ mirrors. */
  readonly mirrorCheckpoints?: MirrorCheckpoints;
  /**
   * Writes the payload of an object with a fresh id before the write chain (PostgreSQL + S3: the PUT,
   * so that concurrent uploads' PUTs overlap instead of queueing); its put or stage then skips it. A
   * payload whose row never commits is an orphan, removed by the store's gc. `forgetPayloadAhead` is
   * called once the upload settled, whether or not it reached the store.
   */
  storePayloadAhead?(id: string, payload: Uint8Array): Promise<void>;
  forgetPayloadAhead?(id: string): void;
}
