// The multicast sender of a repository whose replicas share one change log (store/postgres/): the
// replica holding PostgreSQL's sender lock follows the log from the last sequence multicast and sends
// each change under its own sequence number; the others wait for the lock. When the leader dies its
// connection drops and with it the lock, and the next replica to try (every heartbeat interval) takes
// over from what the log says was sent last. A change sent but not yet recorded goes out again under
// the same number (caches drop duplicates); no change takes two numbers.
import type { FastifyBaseLogger } from "fastify";
import type pg from "pg";
import { Sender, type SenderOptions } from "../../sender/sender.js";
import { encodeLifecycle } from "../../wire/control.js";
import type { PgStore } from "../store/postgres/pg-store.js";
import type { Change } from "../store/storage.js";

export class LogSender {
  private leader: pg.Client | null = null;
  private sender: Sender | null = null;
  private sent = 0;
  private timer: NodeJS.Timeout | null = null;
  /** The leader's sweep of payloads no row names (uploads cut short by a crash), every gcIntervalMs. */
  private gcTimer: NodeJS.Timeout | null = null;
  private gcRunning = false;
  /** Orphan payloads removed by this replica's sweeps (GET /status: orphanPayloadsRemoved). */
  orphansRemoved = 0;
  /** Replay events dropped by the same sweep (PgStore.pruneEvents). */
  eventsPruned = 0;

  /** Whole reloads of this replica's index after it fell behind the events kept. */
  get storeReloads(): number {
    return this.store.reloads;
  }
  gcIntervalMs = 10 * 60_000;
  private running: Promise<void> | null = null;
  private closed = false;
  /** When this replica became the sender, for the takeover time (status, benchmarks). */
  ledSince: number | null = null;
  /** Called after each change multicast. */
  onSent: ((change: Change) => void) | undefined;

  constructor(
    private readonly store: PgStore,
    private readonly options: SenderOptions,
    private readonly log: FastifyBaseLogger,
  ) {}

  get isLeader(): boolean {
    return this.leader !== null;
  }

  start(): void {
    const interval = Math.max(20, Math.min(this.options.heartbeatIntervalMs ?? 1000, 1000));
    const tick = (): void => {
      if (this.running !== null || this.closed) return;
      this.running = this.step()
        .catch((error: Error) => {
          this.log.warn({ err: error }, "multicast sender: lost the lead");
          void this.resign();
        })
        .finally(() => (this.running = null));
    };
    this.timer = setInterval(tick, interval);
    this.timer.unref();
    tick();
  }

  /** Wakes the sender now (after a write on this replica). */
  poke(): void {
    if (this.running === null && !this.closed && this.leader !== null) {
      this.running = this.step()
        .catch((error: Error) => {
          this.log.warn({ err: error }, "multicast sender: lost the lead");
          void this.resign();
        })
        .finally(() => (this.running = null));
    }
  }

  private async step(): Promise<void> {
    if (this.leader === null) {
      const leader = await this.store.tryLead();
      if (leader === null) return;
      leader.on("error", () => void this.resign());
      this.leader = leader;
      this.sent = await this.store.sentThrough();
      this.sender = new Sender({ ...this.options, senderId: this.store.senderId, firstSequence: this.sent + 1 });
      await this.sender.start();
      this.ledSince = Date.now();
      this.log.info({ from: this.sent + 1 }, "multicast sender: this replica leads");
      this.announceKeys();
      this.startGc();
    }
    await this.leader.query("SELECT 1"); // still holding the lock (it goes with the connection)
    for (;;) {
      const batch = await this.store.changeFeed(this.sent, 200);
      if (batch.length === 0) return;
      await this.store.refresh(); // the records the batch names
      for (const change of batch) {
        if (this.closed || this.leader === null) return;
        if (change.sequence !== this.sent + 1) throw new Error(`change log gap: ${this.sent + 1} expected, ${change.sequence} read`);
        await this.send(change);
        this.sent = change.sequence;
        this.onSent?.(change);
      }
      await this.store.recordSent(this.leader, this.sent);
    }
  }

  private async send(change: Change & { hidden: boolean }): Promise<void> {
    const sender = this.sender!;
    let sequence: number;
    switch (change.action) {
      case "uploaded":
      case "resent": {
        const record = this.store.get(change.id) ?? this.store.stagedObject(change.id)?.record;
        const payload = record === undefined || record.meta.metadata.forSyncReco === "false" ? undefined : change.changeset !== undefined && this.store.stagedObject(change.id) !== undefined ? await this.store.readStagedPayload(change.id) : await this.store.readPayload(change.id);
        if (record === undefined || payload === undefined) {
          sequence = await this.lifecycle(change, "updated"); // gone since, or not for multicast: the number still goes out
          break;
        }
        const m = record.meta;
        // Validity and metadata as the log row has them, not the record's current ones: an object
        // changed before its upload went out reaches the caches with its initial validity, then the
        // change (a cache takes the first validUntil it hears of for InitialValidityLimit).
        sequence = (await sender.send({ id: record.id, payload, path: change.path, validFrom: change.validFrom, validUntil: change.validUntil, created: change.created, contentType: m.contentType, fileName: m.fileName, metadata: change.metadata, changeset: change.action === "uploaded" ? change.changeset : change.run !== undefined ? `run-${change.run}` : undefined })).sequence;
        break;
      }
      case "updated":
      case "deleted":
        sequence = await this.lifecycle(change, change.action);
        break;
      case "committed": {
        const keytable = change.keytable!;
        if (change.run !== undefined) {
          // A run start's re-send (SPEC 11.6): parent 0, naming every object of the key.
          const objectIds = change.objects ?? [];
          sequence = await sender.sendCommit({ keytable, key: change.key!, parentKey: 0, changeset: change.id, objectCount: objectIds.length, objectIds, removedPaths: [], committedAt: change.changedAt, aborted: false });
          break;
        }
        const now = this.store.snapshot(keytable, change.key!);
        const parent = now === undefined || now.parentKey === 0 ? undefined : this.store.snapshot(keytable, now.parentKey);
        const kept = new Set(now?.entries.map((e) => e.path) ?? []);
        const removedPaths = (parent?.entries ?? []).map((e) => e.path).filter((p) => !kept.has(p));
        const objectIds = change.objects ?? [];
        sequence = await sender.sendCommit({ keytable, key: change.key!, parentKey: now?.parentKey ?? change.key! - 1, changeset: change.id, objectCount: objectIds.length, objectIds, removedPaths, committedAt: change.changedAt, aborted: false });
        this.announceKeys();
        break;
      }
      default: {
        // "aborted": the changeset's staged objects are dropped by the caches
        const objectIds = this.store.changesetUploads(change.id);
        sequence = await sender.sendCommit({ keytable: change.keytable ?? "", key: 0, parentKey: 0, changeset: change.id, objectCount: objectIds.length, objectIds, removedPaths: [], committedAt: change.changedAt, aborted: true });
      }
    }
    if (sequence !== change.sequence) throw new Error(`multicast sequence ${sequence} out of step with the log's ${change.sequence}`);
  }

  private lifecycle(change: Change, action: "updated" | "deleted"): Promise<number> {
    const sender = this.sender!;
    let metadata: Record<string, string> = action === "updated" ? { ...change.metadata } : {};
    const size = encodeLifecycle({ senderId: sender.senderId, sequence: change.sequence, objectId: change.id, action, path: change.path, validUntil: change.validUntil, metadata, changedAt: change.changedAt }).length;
    if (size > (this.options.datagramSize ?? 1472) - 20) metadata = { "condcast-metadata-omitted": "true" };
    return sender.sendLifecycle({ objectId: change.id, action, path: change.path, validUntil: change.validUntil, metadata });
  }

  private announceKeys(): void {
    this.sender?.setKeys(this.store.keytables().slice(0, 32).map((k) => ({ keytable: k.keytable, key: k.key })));
  }

  /** One replica sweeps at a time: the leader, whose lock says so. */
  private startGc(): void {
    if (this.gcTimer !== null) return;
    this.gcTimer = setInterval(() => void this.sweep(), this.gcIntervalMs);
    this.gcTimer.unref();
  }

  /** Runs one sweep now (the timer's, or a test's); the number of payloads removed. */
  async sweep(): Promise<number> {
    if (this.gcRunning || this.leader === null || this.closed) return 0;
    this.gcRunning = true;
    try {
      const removed = await this.store.gc();
      this.orphansRemoved += removed;
      if (removed > 0) this.log.info({ removed }, "object store: orphan payloads removed");
      const pruned = await this.store.pruneEvents();
      this.eventsPruned += pruned;
      if (pruned > 0) this.log.info({ pruned }, "replay events pruned");
      return removed;
    } catch (error) {
      this.log.warn({ err: error as Error }, "object store: orphan sweep failed (tried again next interval)");
      return 0;
    } finally {
      this.gcRunning = false;
    }
  }

  private async resign(): Promise<void> {
    if (this.gcTimer !== null) clearInterval(this.gcTimer);
    this.gcTimer = null;
    const leader = this.leader;
    const sender = this.sender;
    this.leader = null;
    this.sender = null;
    this.ledSince = null;
    await sender?.close().catch(() => undefined);
    await leader?.end().catch(() => undefined);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== null) clearInterval(this.timer);
    await this.running?.catch(() => undefined);
    await this.resign();
  }
}
