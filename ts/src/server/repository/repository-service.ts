// The repository role: uploads stored durably, then multicast with the sender library, numbered with
// the store's persistent sequence; updates and deletions announced as lifecycle messages.
import { randomUUID } from "node:crypto";
import type { FastifyBaseLogger } from "fastify";
import { Sender, type SenderOptions } from "../../sender/sender.js";
import { encodeLifecycle } from "../../wire/control.js";
import { md5Hex } from "../../wire/object.js";
import type { RepositoryOps, UploadInput } from "../context.js";
import type { DurableStore } from "../store/sqlite/durable-store.js";
import { BadRequest, type ObjectRecord } from "../model.js";
import type { ServerCounters } from "../ops/metrics.js";
import type { ObjectUpdate } from "../store/storage.js";

/** Objects accepted but not yet multicast completely, oldest first. */
interface Queued {
  readonly bytes: number;
  readonly sent: Promise<unknown>;
}

export class RepositoryService implements RepositoryOps {
  private sender: Sender | null = null;
  /**
   * Uploads are acknowledged once stored; multicast follows. When more than `maxMulticastBacklog`
   * bytes wait for the sender, an upload's acknowledgement waits for the oldest to go out, so
   * uploaders slow to the rate multicast sustains instead of the queue (and latency) growing without
   * bound.
   */
  private readonly backlog: Queued[] = [];
  private backlogBytes = 0;
  /** Mutations run one at a time, so the store's sequence and the sender's stay in step. */
  private chain: Promise<unknown> = Promise.resolve();
  private lastCreated = 0;

  constructor(
    readonly store: DurableStore,
    private readonly counters: ServerCounters,
    private readonly senderOptions: SenderOptions | undefined,
    private readonly log: FastifyBaseLogger,
    private readonly maxMulticastBacklog: number = 64 * 1024 * 1024,
  ) {}

  /** Bytes accepted and waiting to be multicast completely. */
  get multicastBacklogBytes(): number {
    return this.backlogBytes;
  }

  async start(): Promise<void> {
    if (this.senderOptions === undefined) return;
    this.sender = new Sender({ ...this.senderOptions, senderId: this.store.senderId, firstSequence: this.store.lastSequence + 1 });
    await this.sender.start();
  }

  async close(): Promise<void> {
    await this.chain.catch(() => undefined);
    await this.sender?.close();
  }

  upload(input: UploadInput): Promise<ObjectRecord> {
    return this.serial(async () => {
      const id = input.id ?? randomUUID();
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
          md5: md5Hex(input.payload),
          metadata: input.metadata,
        },
        size: input.payload.length,
        initialValidity: input.validUntil,
        lastModified: now,
        source: "upload",
      };
      const result = await this.store.put(record, input.payload);
      if (!result.stored) throw new BadRequest(result.reason);
      this.counters.uploads++;
      const sequence = this.store.lastSequence;
      if (this.sender !== null && record.meta.metadata.forSyncReco !== "false") {
        const m = record.meta;
        const sent = this.sender
          .send({ id, payload: input.payload, path: m.path, validFrom: m.validFrom, validUntil: m.validUntil, created: m.created, contentType: m.contentType, fileName: m.fileName, metadata: m.metadata })
          .then(
            (done) => {
              if (done.sequence !== sequence) this.log.error({ id, sent: done.sequence, stored: sequence }, "multicast sequence out of step with the store");
              this.log.info({ id, path: m.path, sequence, datagrams: done.datagrams }, "object multicast");
            },
            (error: Error) => this.log.error({ id, err: error }, "multicast failed"),
          );
        await this.queueForMulticast(input.payload.length, sent);
      } else if (this.sender !== null) {
        // Not multicast, but its sequence number must not be reused: caches see a gap and read /changes.
        this.skipSequence(sequence, record);
      }
      return record;
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
        this.announce(this.store.lastSequence, record, "deleted");
      }
      return removed;
    });
  }

  changes(since: number, limit: number): { senderId: string; lastSequence: number; changes: ReturnType<DurableStore["changesSince"]> } {
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
