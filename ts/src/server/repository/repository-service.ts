// The repository role: uploads stored durably, then multicast with the sender library, numbered with
// the store's persistent sequence; updates and deletions announced as lifecycle messages.
import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import type { FastifyBaseLogger } from "fastify";
import { deferred } from "../../sender/deferred.js";
import { ObjectAbandoned, Sender, type SenderOptions } from "../../sender/sender.js";
import { encodeLifecycle } from "../../wire/control.js";
import { md5Hex } from "../../wire/object.js";
import type { RepositoryOps, UploadInput } from "../context.js";
import type { RepositoryStore } from "../store/repository-store.js";
import type { PgStore } from "../store/postgres/pg-store.js";
import { LogSender } from "./log-sender.js";
import type { SyncCheckpoint } from "../store/sqlite/durable-store.js";
import type { ChangesetState, KeySnapshot } from "../keys/model.js";
import type { KeyReader } from "../keys/routes.js";
import type { RunState } from "../runs/model.js";
import { waitForKey } from "../keys/wait.js";
import { BadRequest, type ObjectRecord } from "../model.js";
import type { ServerCounters } from "../ops/metrics.js";
import type { Change, ObjectUpdate, PutResult } from "../store/storage.js";

/** How far a run's distribution got (this process; not kept across restarts). */
interface RunProgress {
  distribution: RunState["distribution"];
  sentObjects: number;
}
const MAX_TRACKED_RUNS = 1000;

/** What a mirror (sync/) may do to the store, inside RepositoryService.applyMirrored. */
export interface MirrorWrites {
  put(record: ObjectRecord, payload: Uint8Array, changeset?: string): Promise<void>;
  update(record: ObjectRecord, update: ObjectUpdate): Promise<void>;
  remove(record: ObjectRecord): Promise<void>;
  openChangeset(id: string, keytable: string): ChangesetState | Promise<ChangesetState>;
  commitChangeset(id: string, removedPaths: readonly string[], expected: readonly string[]): Promise<KeySnapshot>;
}

/** Objects accepted but not yet multicast completely, oldest first. */
interface Queued {
  readonly bytes: number;
  readonly sent: Promise<unknown>;
}

export class RepositoryService implements RepositoryOps {
  private sender: Sender | null = null;
  /** With a shared change log (several replicas): the sender that follows the log when this replica leads. */
  logSender: LogSender | null = null;
  /**
   * Uploads are acknowledged once stored; multicast follows. When more than `maxMulticastBacklog`
   * bytes wait for the sender, an upload's acknowledgement waits for the oldest to go out, so
   * uploaders slow to the rate multicast sustains instead of the queue (and latency) growing without
   * bound.
   */
  private readonly backlog: Queued[] = [];
  /** Uploads being made durable while their datagrams go out, by id (whenStored). */
  private readonly storing = new Map<string, Promise<void>>();
  private backlogBytes = 0;
  /** Mutations run one at a time, so the store's sequence and the sender's stay in step. */
  private chain: Promise<unknown> = Promise.resolve();
  private lastCreated = 0;
  /** "key" (keytable, key) after every commit: what long-polls and event streams wait for. */
  readonly keyEvents = new EventEmitter<{ key: [keytable: string, key: number] }>().setMaxListeners(0);
  private expiryTimer: NodeJS.Timeout | null = null;
  private readonly runProgress = new Map<number, RunProgress>();
  /** How long a changeset may stay open before it is aborted. */
  changesetTtlMs = 600_000;
  /** The keys as the routes read them. */
  readonly keys: KeyReader = {
    keytables: () => this.store.keytables(),
    currentKey: (keytable) => this.store.currentKey(keytable),
    snapshot: (keytable, key) => this.store.snapshot(keytable, key),
    waitForKey: (keytable, after, ms) => waitForKey(this.keyEvents, () => this.store.currentKey(keytable), keytable, after, ms),
    currentHeader: () => {
      // A replica sharing its store sees other replicas' keys arrive in its replays, not in commitNow.
      const version = this.store.keysVersion ?? 0;
      if (this.keysHeader === undefined || version !== this.keysHeaderVersion) {
        this.keysHeader = this.store.keytables().map((k) => `${k.keytable}/${k.key}`).join(", ");
        this.keysHeaderVersion = version;
      }
      return this.keysHeader;
    },
  };
  /** The keys header, recomputed after each commit (and when the store's keysVersion moves). */
  private keysHeader: string | undefined;
  private keysHeaderVersion = 0;

  constructor(
    readonly store: RepositoryStore,
    private readonly counters: ServerCounters,
    private readonly senderOptions: SenderOptions | undefined,
    private readonly log: FastifyBaseLogger,
    private readonly maxMulticastBacklog: number = 64 * 1024 * 1024,
  ) {
    store.onKeyReplayed = (keytable, key) => this.keyEvents.emit("key", keytable, key);
  }

  /** Bytes accepted and waiting to be multicast completely. */
  get multicastBacklogBytes(): number {
    return this.backlogBytes;
  }

  async start(): Promise<void> {
    this.startExpiry();
    if (this.senderOptions === undefined) return;
    if (this.store.sharedLog === true) {
      this.logSender = new LogSender(this.store as PgStore, this.senderOptions, this.log);
      this.logSender.onSent = (change) => this.runChangeSent(change);
      this.logSender.start();
      return;
    }
    this.sender = new Sender({ ...this.senderOptions, senderId: this.store.senderId, firstSequence: this.store.lastSequence + 1 });
    this.announceKeys();
    await this.sender.start();
  }

  /** Aborts changesets whose time is up, every second (also ones that expired while it was down). */
  startExpiry(): void {
    this.expiryTimer = setInterval(() => {
      for (const id of this.store.expiredChangesets(Date.now())) {
        this.abortChangeset(id, "expired").catch((error: Error) => this.log.error({ changeset: id, err: error }, "changeset expiry failed"));
      }
    }, 1000);
    this.expiryTimer.unref();
  }

  async close(): Promise<void> {
    if (this.expiryTimer !== null) clearInterval(this.expiryTimer);
    this.keyEvents.removeAllListeners();
    await this.chain.catch(() => undefined);
    await this.logSender?.close();
    await this.sender?.close();
  }

  whenStored(id: string): Promise<void> | undefined {
    return this.storing.get(id);
  }

  async upload(input: UploadInput): Promise<ObjectRecord> {
    // Outside the write chain, so that concurrent uploads overlap: the MD5, and for a fresh id the
    // payload's write where the store can do it ahead (PostgreSQL + S3). Created times and sequence
    // numbers are still given in the chain, in order.
    const id = input.id ?? randomUUID();
    const hashStarted = performance.now();
    const md5 = md5Hex(input.payload);
    const md5Ms = performance.now() - hashStarted;
    const ahead = input.id === undefined && this.store.storePayloadAhead !== undefined;
    try {
      if (ahead) await this.store.storePayloadAhead!(id, input.payload);
      return await this.uploadInChain(input, id, md5, md5Ms);
    } finally {
      if (ahead) this.store.forgetPayloadAhead?.(id);
    }
  }

  private uploadInChain(input: UploadInput, id: string, md5: string, md5Ms: number): Promise<ObjectRecord> {
    return this.serial(async () => {
      const now = Math.max(Date.now(), this.lastCreated + 1); // strictly increasing: "newest wins" stays total
      this.lastCreated = now;
      const record: ObjectRecord = {
        id,
        meta: {
          path: input.path,
          validFrom: input.validFrom,
          validUntil: input.validUntil,
          created: now,
          contentType: input.contentType,
          fileName: input.fileName,
          md5,
          metadata: input.metadata,
          ...(input.changeset === undefined ? {} : { changeset: input.changeset }),
        },
        size: input.payload.length,
        initialValidity: input.validUntil,
        lastModified: now,
        source: "upload",
      };
      return this.storeAndSend(record, input.payload, input.changeset, md5Ms);
    });
  }

  /**
   * Stores an object (staged into `changeset` when given) and multicasts it. Inside the chain. The
   * datagrams go out while the store makes the object durable; those that complete it wait for the
   * store (Sender `durable`), so no cache holds an object its repository could lose.
   */
  private async storeAndSend(record: ObjectRecord, payload: Uint8Array, changeset: string | undefined, md5Ms = 0): Promise<ObjectRecord> {
    const id = record.id;
    const m = record.meta;
    const multicast = this.sender !== null && m.metadata.forSyncReco !== "false";
    const storeStarted = performance.now();
    const durable = deferred();
    if (multicast) this.storing.set(id, durable.promise.catch(() => undefined));
    // The sequence the store gives this object: the chain runs one mutation at a time.
    const expected = this.store.lastSequence + 1;
    let stored = 0;
    // The MD5 the store keeps goes into the envelope as is: hashing the payload again cost the
    // critical path about 1.5 ms per MB (bench/README.md, "Upload to servable, step by step").
    const sent = multicast
      ? this.sender!.send({ id, payload, path: m.path, validFrom: m.validFrom, validUntil: m.validUntil, created: m.created, contentType: m.contentType, fileName: m.fileName, metadata: m.metadata, changeset, md5: m.md5, durable: durable.promise }).then(
          (done) => {
            if (done.sequence !== expected) this.log.error({ id, sent: done.sequence, stored: expected }, "multicast sequence out of step with the store");
            // Where an object's time went (bench/upload-steps.ts reads these): MD5, store (write,
            // fsync, index), from the store's start to the first datagram (the sender's queue), and
            // encoding plus paced sending (overlapping the store).
            const timings = { md5Ms: round(md5Ms), storeMs: round(stored - storeStarted), queueMs: round(Math.max(0, done.startedAt - storeStarted)), sendMs: round(performance.now() - done.startedAt) };
            this.log.info({ id, path: m.path, sequence: done.sequence, datagrams: done.datagrams, bytes: done.bytes, ...timings }, "object multicast");
          },
          (error: Error) => {
            if (error instanceof ObjectAbandoned) this.log.warn({ id, sequence: error.sequence }, "multicast abandoned: the object did not become durable");
            else this.log.error({ id, err: error }, "multicast failed");
          },
        )
      : undefined;
    let result: PutResult;
    try {
      result = changeset === undefined ? await this.store.put(record, payload) : await this.store.stage(record, payload, changeset, Date.now());
    } catch (error) {
      durable.reject(error);
      throw error;
    } finally {
      this.storing.delete(id);
    }
    if (!result.stored) {
      const refused = new BadRequest(result.reason);
      durable.reject(refused);
      throw refused;
    }
    stored = performance.now();
    durable.resolve();
    this.counters.uploads++;
    this.logSender?.poke();
    const sequence = this.store.lastSequence;
    if (sent !== undefined) await this.queueForMulticast(payload.length, sent);
    else if (this.sender !== null) {
      // Not multicast, but its sequence number must not be reused: caches see a gap and read /changes.
      this.skipSequence(sequence, record);
    }
    return record;
  }

  /**
   * sync/: applies changes mirrored from the owner of a prefix, in the mutation chain, with `checkpoint`
   * written in the same store transaction as the first change (or alone when nothing changes). Objects
   * keep the owner's ids, created times and metadata, and are multicast to this instance's caches as
   * uploads are.
   */
  applyMirrored<T>(checkpoint: SyncCheckpoint | undefined, apply: (writes: MirrorWrites) => Promise<T>): Promise<T> {
    return this.serial(async () => {
      const writes: MirrorWrites = {
        put: async (record, payload, changeset) => {
          this.lastCreated = Math.max(this.lastCreated, record.meta.created);
          await this.storeAndSend(record, payload, changeset);
        },
        update: async (record, update) => {
          const before = this.store.lastSequence;
          const updated = (await this.store.update(record.id, update, Date.now())) ?? record;
          if (this.store.lastSequence !== before) {
            this.counters.updates++;
            this.announce(this.store.lastSequence, updated, "updated");
          }
        },
        remove: async (record) => {
          if (await this.store.remove(record.id)) {
            this.counters.deletes++;
            this.announce(this.store.lastSequence, record, "deleted");
          }
        },
        openChangeset: (id, keytable) => this.store.openChangeset(id, keytable, Date.now(), 86_400_000),
        commitChangeset: async (id, removedPaths, expected) => this.commitNow(id, removedPaths, expected),
      };
      return checkpoint === undefined ? apply(writes) : this.store.mirrorCheckpoints!.withCheckpoint(checkpoint, () => apply(writes));
    });
  }

  /** Adds an object to the backlog; waits while the backlog is over its bound. */
  private async queueForMulticast(bytes: number, sent: Promise<unknown>): Promise<void> {
    const entry: Queued = { bytes, sent };
    this.backlog.push(entry);
    this.backlogBytes += bytes;
    void sent.then(() => {
      // Sends complete in order, so the finished one is the oldest.
      this.backlog.shift();
      this.backlogBytes -= entry.bytes;
    });
    while (this.backlogBytes > this.maxMulticastBacklog && this.backlog.length > 0) await this.backlog[0]!.sent;
  }

  update(record: ObjectRecord, update: ObjectUpdate): Promise<{ record: ObjectRecord; changed: boolean }> {
    return this.serial(async () => {
      const before = this.store.lastSequence;
      const updated = (await this.store.update(record.id, update, Date.now())) ?? record;
      const changed = this.store.lastSequence !== before;
      if (changed) {
        this.counters.updates++;
        this.logSender?.poke();
        this.announce(this.store.lastSequence, updated, "updated");
      }
      return { record: updated, changed };
    });
  }

  remove(record: ObjectRecord): Promise<boolean> {
    return this.serial(async () => {
      const removed = await this.store.remove(record.id);
      if (removed) {
        this.counters.deletes++;
        this.logSender?.poke();
        this.announce(this.store.lastSequence, record, "deleted");
      }
      return removed;
    });
  }

  // ---- changesets and keys (SPEC 11) ---------------------------------------------------------------

  openChangeset(keytable: string, ttlMs: number | undefined): ChangesetState | Promise<ChangesetState> {
    return this.store.openChangeset(randomUUID(), keytable, Date.now(), ttlMs ?? this.changesetTtlMs);
  }

  changeset(id: string): ChangesetState | undefined {
    return this.store.changeset(id);
  }

  /**
   * Commits: durable before it resolves; then the Commit datagram goes out after every object queued
   * before it (objects first, then the flip), and heartbeats announce the new key.
   */
  commitChangeset(id: string, removedPaths: readonly string[], expected: readonly string[] | undefined): Promise<KeySnapshot> {
    return this.serial(async () => this.commitNow(id, removedPaths, expected));
  }

  private async commitNow(id: string, removedPaths: readonly string[], expected: readonly string[] | undefined): Promise<KeySnapshot> {
    const done = await this.store.commitChangeset(id, removedPaths, expected, Date.now());
    this.logSender?.poke();
    const s = done.snapshot;
    this.keysHeader = undefined;
    this.log.info({ changeset: id, keytable: s.keytable, key: s.key, objects: done.objects.length }, "changeset committed");
    this.sendCommit(done.sequence, { keytable: s.keytable, key: s.key, parentKey: s.parentKey, changeset: id, objectCount: done.objects.length, objectIds: done.objects, removedPaths, committedAt: s.committedAt, aborted: false });
    this.keyEvents.emit("key", s.keytable, s.key);
    return s;
  }

  abortChangeset(id: string, reason: string): Promise<void> {
    return this.serial(async () => {
      const { ids, keytable, sequence } = await this.store.abortChangeset(id, reason, Date.now());
      this.logSender?.poke();
      this.log.info({ changeset: id, objects: ids.length, reason }, "changeset aborted");
      this.sendCommit(sequence, { keytable, key: 0, parentKey: 0, changeset: id, objectCount: ids.length, objectIds: ids, removedPaths: [], committedAt: Date.now(), aborted: true });
    });
  }

  private sendCommit(sequence: number, commit: Parameters<Sender["sendCommit"]>[0]): void {
    this.sender?.sendCommit(commit).then(
      (sent) => {
        if (sent !== sequence) this.log.error({ changeset: commit.changeset, sent, stored: sequence }, "commit sequence out of step with the store");
        // Heartbeats announce the key only once its Commit is out (after the objects), so a cache
        // does not fetch what multicast is still delivering.
        if (!commit.aborted) this.announceKeys();
      },
      (error: Error) => this.log.error({ changeset: commit.changeset, err: error }, "commit multicast failed"),
    );
  }

  // ---- runs ---------------------------------------------------------------------------------------

  /**
   * Starts a run: records it with the keytable's current key (durable when this resolves), then
   * multicasts every object of the key again, paced and with parity like any object, so that a cache
   * that started late or lost some holds the whole set before the first event. SPEC 11.6: the objects
   * go as a changeset of their own (`run-<run>`) and a Commit of the key from parent 0 follows, so a
   * receiver on an older key stages them and flips to the whole key at once. The distribution runs
   * in the mutation chain (its sequences are the ones the store gave it), bounded by the multicast
   * backlog like uploads; later writes wait for it to be queued.
   */
  startRun(run: number, keytable: string, declared?: (path: string) => boolean): Promise<RunState> {
    let answered!: (state: RunState) => void;
    let refused!: (error: unknown) => void;
    const answer = new Promise<RunState>((resolve, reject) => {
      answered = resolve;
      refused = reject;
    });
    void this.serial(async () => {
      let started: Awaited<ReturnType<RepositoryStore["startRun"]>>;
      try {
        started = await this.store.startRun(run, keytable, Date.now(), declared);
        this.logSender?.poke();
      } catch (error) {
        refused(error);
        return;
      }
      // With a shared log the distribution is what this replica's sender (when it leads) sent of it.
      const progress: RunProgress = { distribution: this.logSender !== null ? (started.run.objects === 0 ? "sent" : "sending") : this.sender === null ? "none" : "sending", sentObjects: 0 };
      this.runProgress.set(run, progress);
      while (this.runProgress.size > MAX_TRACKED_RUNS) this.runProgress.delete(this.runProgress.keys().next().value!);
      this.log.info({ run, keytable, key: started.run.key, only: started.run.only, objects: started.run.objects, bytes: started.run.bytes }, "run started");
      answered({ ...started.run, ...progress });
      const sender = this.sender;
      if (sender === null) return;
      const sends: Promise<unknown>[] = [];
      for (const { sequence, record } of started.resent) {
        const payload = await this.store.readPayload(record.id);
        if (payload === undefined) {
          // Deleted between the record and now: its sequence still goes out (caches see no gap).
          this.skipSequence(sequence, record);
          continue;
        }
        const m = record.meta;
        const sent = sender
          .send({ id: record.id, payload, path: m.path, validFrom: m.validFrom, validUntil: m.validUntil, created: m.created, contentType: m.contentType, fileName: m.fileName, metadata: m.metadata, changeset: started.commit.changeset })
          .then(
            (done) => {
              if (done.sequence !== sequence) this.log.error({ id: record.id, sent: done.sequence, stored: sequence }, "multicast sequence out of step with the store");
              progress.sentObjects++;
            },
            (error: Error) => this.log.error({ run, id: record.id, err: error }, "run multicast failed"),
          );
        sends.push(sent);
        await this.queueForMulticast(payload.length, sent);
      }
      const { commit } = started;
      const key = started.run.key;
      sends.push(
        sender.sendCommit({ keytable, key, parentKey: 0, changeset: commit.changeset, objectCount: commit.objects.length, objectIds: commit.objects, removedPaths: [], committedAt: started.run.startedAt, aborted: false }).then(
          (sent) => {
            if (sent !== commit.sequence) this.log.error({ run, sent, stored: commit.sequence }, "run commit sequence out of step with the store");
          },
          (error: Error) => this.log.error({ run, err: error }, "run commit multicast failed"),
        ),
      );
      void Promise.all(sends).then(() => {
        progress.distribution = "sent";
        this.log.info({ run, objects: progress.sentObjects }, "run distributed");
      });
    }).catch(refused);
    return answer;
  }

  /** With a shared log: a run's re-sent objects count, and its commit (sent last) ends the distribution. */
  private runChangeSent(change: Change): void {
    const progress = change.run === undefined ? undefined : this.runProgress.get(change.run);
    if (progress === undefined) return;
    if (change.action === "resent") progress.sentObjects++;
    else if (change.action === "committed") progress.distribution = "sent";
  }

  run(run: number): RunState | undefined {
    const record = this.store.run(run);
    return record === undefined ? undefined : { ...record, ...(this.runProgress.get(run) ?? { distribution: "unknown", sentObjects: 0 }) };
  }

  runs(limit: number): RunState[] {
    return this.store.runs(limit).map((r) => ({ ...r, ...(this.runProgress.get(r.run) ?? { distribution: "unknown", sentObjects: 0 }) }));
  }

  private announceKeys(): void {
    this.sender?.setKeys(this.store.keytables().slice(0, 32).map((k) => ({ keytable: k.keytable, key: k.key })));
  }

  changes(since: number, limit: number): { senderId: string; lastSequence: number; changes: ReturnType<RepositoryStore["changesSince"]> } {
    return { senderId: this.store.senderId, lastSequence: this.store.lastSequence, changes: this.store.changesSince(since, limit) };
  }

  private serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.chain.then(task, task);
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Sends a lifecycle message; when the full metadata does not fit one datagram it is left out (caches re-read it). */
  private announce(sequence: number, record: ObjectRecord, action: "updated" | "deleted"): void {
    const sender = this.sender;
    if (sender === null) return;
    let metadata: Record<string, string> = action === "updated" ? { ...record.meta.metadata } : {};
    const size = encodeLifecycle({ senderId: sender.senderId, sequence, objectId: record.id, action, path: record.meta.path, validUntil: record.meta.validUntil, metadata, changedAt: Date.now() }).length;
    if (size > (this.senderOptions?.datagramSize ?? 1472) - 20) metadata = { "condcast-metadata-omitted": "true" };
    sender
      .sendLifecycle({ objectId: record.id, action, path: record.meta.path, validUntil: record.meta.validUntil, metadata })
      .then(
        (sent) => {
          if (sent !== sequence) this.log.error({ id: record.id, sent, stored: sequence }, "lifecycle sequence out of step with the store");
        },
        (error: Error) => this.log.error({ id: record.id, err: error }, "lifecycle multicast failed"),
      );
  }

  private skipSequence(sequence: number, record: ObjectRecord): void {
    // Announce it as an update carrying the object's state: caches that do not hold it ignore it, and
    // the sequence stays gap-free for those that do.
    this.announce(sequence, record, "updated");
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
