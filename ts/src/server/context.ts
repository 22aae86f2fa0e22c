// What the route plugins need from the role behind them (cache or repository).
import type { FastifyRequest } from "fastify";
import type { Registry } from "prom-client";
import type { Change } from "./store/storage.js";
import type { ServerCounters } from "./ops/metrics.js";
import type { ObjectQuery, ObjectRecord } from "./model.js";
import type { ObjectUpdate, Storage } from "./store/storage.js";
import type { ChangesetState, KeySnapshot } from "./keys/model.js";
import type { KeyReader } from "./keys/routes.js";
import type { RunState } from "./runs/model.js";
import type { FarmView } from "./farm/farm-view.js";
import type { ConsumerRegistry } from "./consumers/registry.js";
import type { DeriveCoordinator } from "./derive/coordinator.js";

export type Role = "cache" | "repository";

/** An object obtained to answer a request (from storage or upstream). */
export interface HeldObject {
  readonly record: ObjectRecord;
  /** Present when it came from upstream (it may be too large to keep). */
  readonly payload?: Uint8Array | undefined;
}

export interface UploadInput {
  readonly path: string;
  readonly validFrom: number;
  readonly validUntil: number;
  readonly id?: string | undefined;
  readonly metadata: Record<string, string>;
  readonly contentType: string;
  readonly fileName: string;
  readonly payload: Uint8Array;
  /** The open changeset it goes into (Condcast-Changeset): invisible until the commit. */
  readonly changeset?: string | undefined;
}

export interface RepositoryOps {
  upload(input: UploadInput): Promise<ObjectRecord>;
  update(record: ObjectRecord, update: ObjectUpdate): Promise<{ record: ObjectRecord; changed: boolean }>;
  remove(record: ObjectRecord): Promise<boolean>;
  changes(since: number, limit: number): { senderId: string; lastSequence: number; changes: Change[] };
  openChangeset(keytable: string, ttlMs: number | undefined): ChangesetState | Promise<ChangesetState>;
  changeset(id: string): ChangesetState | undefined;
  commitChangeset(id: string, removedPaths: readonly string[], expected: readonly string[] | undefined): Promise<KeySnapshot>;
  abortChangeset(id: string, reason: string): Promise<void>;
  /** With `declared`: only the key's objects at the paths it accepts (the farm's declarations, consumers/). */
  startRun(run: number, keytable: string, declared?: (path: string) => boolean): Promise<RunState>;
  run(run: number): RunState | undefined;
  runs(limit: number): RunState[];
  /**
   * While an upload of `id` is being made durable (its datagrams already going out, SPEC 10.4): settles
   * once it is stored or refused. Undefined otherwise. A repair that asks for it meanwhile waits.
   */
  whenStored(id: string): Promise<void> | undefined;
}

export interface CacheOps {
  /** Fetches what storage lacks from upstream; "not-found" when upstream has nothing either. */
  miss(pathAndQuery: string, query: ObjectQuery, headers: Record<string, string>): Promise<HeldObject | "not-found">;
  missById(id: string): Promise<HeldObject | "not-found">;
  /** Base URL that writes are redirected to (307). */
  writeTarget(): string | undefined;
  /** What local processes declared they read (consumers/). */
  readonly consumers: ConsumerRegistry;
  /** A declaration changed: fetch what is declared and not held. */
  declarationsChanged(): void;
  /** Whether the object valid at `now` at a path is held. */
  holdsPath(path: string, now: number): boolean;
  /** Whether every object a declared pattern's last listing named is held (false before a listing). */
  holdsPattern(pattern: string, now: number): boolean;
}

/** A peer's answer, passed through (sync/ remote namespace query). */
export interface PeerAnswer {
  readonly status: number;
  readonly contentType: string;
  readonly body: Buffer;
}

/** Ownership, mirrors and peers of an instance (sync/, `serve --instance FILE`). */
export interface SyncOps {
  /** The base URL of the instance that owns `path` when that is another one (mirrored here, or a peer's), else undefined. */
  ownerOf(path: string): string | undefined;
  /** Sends a read (path and query) to the peer named `instance` with this instance's token; undefined for an unknown name. */
  askPeer(instance: string, pathAndQuery: string, headers: Record<string, string>): Promise<PeerAnswer> | undefined;
  /** What GET /instances answers. */
  view(now: number): unknown;
}

export interface ServerContext {
  readonly role: Role;
  readonly store: Storage;
  readonly counters: ServerCounters;
  readonly registry: Registry;
  /** Repository: answer object requests with 303 to /download/<uuid> instead of 200. */
  readonly redirectReads: boolean;
  readonly repository?: RepositoryOps | undefined;
  readonly cache?: CacheOps | undefined;
  /** Repository: the caches that report to it (farm/), what a farm-wide commit waits on. */
  readonly farm?: FarmView | undefined;
  /** Repository: the derivations a commit waits for (derive/). */
  readonly derive?: DeriveCoordinator | undefined;
  /** Repository started with an instance configuration (sync/): ownership, peers, mirrors. */
  readonly sync?: SyncOps | undefined;
  /** auth/: the paths a request's token may read, for answers listing many prefixes; undefined = all. */
  readFilter(request: FastifyRequest): Promise<((path: string) => boolean) | undefined>;
  /** The keys, for reads pinned to one and the header every read carries. */
  readonly keys: KeyReader;
  status(): Record<string, unknown>;
  /** What /health answers: "degraded" with the reasons while the role serves but something is wrong. */
  health(): { status: "ok" | "degraded"; reasons: string[] };
}
