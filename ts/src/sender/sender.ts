// The multicast sender: cuts objects into datagrams, paces them, announces itself with heartbeats.
import { randomBytes, randomUUID } from "node:crypto";
import dgram from "node:dgram";
import type { AuthKey } from "../wire/auth.js";
import {
  DEFAULT_DATAGRAM_SIZE,
  DEFAULT_GROUP,
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  DEFAULT_INTERFACE,
  DEFAULT_PORT,
  DEFAULT_RATE,
  DEFAULT_TTL,
  fragmentSizeFor,
} from "../wire/constants.js";
import { encodeHeartbeat, encodeLifecycle, type LifecycleKind } from "../wire/control.js";
import { formatSenderId, isUuid } from "../wire/ids.js";
import { md5Hex, type ObjectMetadata } from "../wire/object.js";
import { ObjectEncoder } from "../wire/object-encoder.js";
import { FecEncoder } from "../fec/block-coder.js";
import { createKernel } from "../fec/kernel.js";
import { DEFAULT_FEC_PARITY, DEFAULT_FEC_INTERLEAVE, fecSettings, type FecSettings } from "../fec/layout.js";
import { Pacer } from "./pacer.js";

export interface SenderOptions {
  readonly group?: string | undefined;
  readonly port?: number | undefined;
  /** IPv4 address of the interface to send on. */
  readonly interface?: string | undefined;
  readonly ttl?: number | undefined;
  readonly datagramSize?: number | undefined;
  /** Pacing rate in bytes per second; 0 = unpaced. */
  readonly rate?: number | undefined;
  readonly key?: AuthKey | undefined;
  /** 16 hex digits; random when absent. A repository keeps it stable across restarts. */
  readonly senderId?: string | undefined;
  /** The sequence number the next object or change takes (default 1). */
  readonly firstSequence?: number | undefined;
  /** 0 disables heartbeats. */
  readonly heartbeatIntervalMs?: number | undefined;
  readonly senderName?: string | undefined;
  /** FEC parity ratio p (SPEC 10.4), default 0.05; 0 = no parity fragments. */
  readonly fecParity?: number | undefined;
  /** B: largest number of source fragments per block; default the largest allowed for the ratio. */
  readonly fecBlockLength?: number | undefined;
  /** D: blocks interleaved in the send order, default 16. */
  readonly fecInterleave?: number | undefined;
}

/** What a caller supplies for one object; the MD5 is computed by the sender. */
export interface OutgoingObject {
  readonly payload: Uint8Array;
  readonly path: string;
  readonly validFrom: number;
  readonly validUntil: number;
  /** UUID; random when absent. */
  readonly id?: string | undefined;
  /** Epoch ms; now when absent. */
  readonly created?: number | undefined;
  readonly contentType?: string | undefined;
  readonly fileName?: string | undefined;
  readonly metadata?: Readonly<Record<string, string>> | undefined;
}

export interface SentObject {
  readonly id: string;
  readonly sequence: number;
  readonly meta: ObjectMetadata;
  readonly datagrams: number;
  readonly bytes: number;
}

export interface LifecycleChange {
  readonly objectId: string;
  readonly action: LifecycleKind;
  readonly path: string;
  readonly validUntil?: number | undefined;
  readonly metadata?: Readonly<Record<string, string>> | undefined;
}

/**
 * Datagrams are prepared and handed to the kernel in batches of at most 64 datagrams and 256 KiB, so a
 * burst stays far below a receiver's socket buffer (4 MiB here) whatever the datagram size.
 */
const MAX_BATCH_DATAGRAMS = 64;
const MAX_BATCH_BYTES = 256 * 1024;

export class Sender {
  readonly senderId: string;
  private readonly group: string;
  private readonly port: number;
  private readonly datagramSize: number;
  private readonly key: AuthKey | undefined;
  private readonly fec: FecSettings | null;
  /** Parity of every object is computed in this coder's workspace (allocated once, reused). */
  private readonly fecEncoder: FecEncoder | null;
  private readonly pacer: Pacer;
  private readonly heartbeatIntervalMs: number;
  private readonly senderName: string;
  private readonly options: SenderOptions;
  private socket: dgram.Socket | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private nextSequence: number;
  /** Highest sequence whose datagrams have all been handed to the kernel: what heartbeats announce. */
  private completedSequence: number;
  /** Objects and changes go out one at a time, in sequence order. */
  private queue: Promise<unknown> = Promise.resolve();
  /** Two batch buffers: one is filled while the other's datagrams are still with the kernel. */
  private readonly batches: Uint8Array[];
  private readonly batchDatagrams: number;
  private readonly batchSent: Promise<void>[] = [Promise.resolve(), Promise.resolve()];

  constructor(options: SenderOptions = {}) {
    this.options = options;
    this.group = options.group ?? DEFAULT_GROUP;
    this.port = options.port ?? DEFAULT_PORT;
    this.datagramSize = options.datagramSize ?? DEFAULT_DATAGRAM_SIZE;
    fragmentSizeFor(this.datagramSize, options.key !== undefined); // validates the size
    this.key = options.key;
    this.fec = fecSettings(options.fecParity ?? DEFAULT_FEC_PARITY, options.fecBlockLength, options.fecInterleave ?? DEFAULT_FEC_INTERLEAVE);
    this.fecEncoder = this.fec === null ? null : new FecEncoder(createKernel());
    this.senderId = options.senderId ?? formatSenderId(randomBytes(8).readBigUInt64BE());
    this.nextSequence = options.firstSequence ?? 1;
    this.completedSequence = this.nextSequence - 1;
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS;
    this.senderName = options.senderName ?? "";
    this.batchDatagrams = Math.max(1, Math.min(MAX_BATCH_DATAGRAMS, Math.floor(MAX_BATCH_BYTES / this.datagramSize)));
    const batchBytes = this.batchDatagrams * this.datagramSize;
    this.pacer = new Pacer(options.rate ?? DEFAULT_RATE, batchBytes);
    this.batches = [Buffer.alloc(batchBytes), Buffer.alloc(batchBytes)];
  }

  /** The highest sequence sent completely so far (0 when none). */
  get lastSequence(): number {
    return this.completedSequence;
  }

  async start(): Promise<void> {
    const socket = dgram.createSocket({ type: "udp4" });
    this.socket = socket;
    const iface = this.options.interface ?? DEFAULT_INTERFACE;
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(0, iface, () => {
        socket.off("error", reject);
        resolve();
      });
    });
    socket.setMulticastInterface(iface);
    socket.setMulticastTTL(this.options.ttl ?? DEFAULT_TTL);
    socket.setMulticastLoopback(true);
    // Connected to the group: each send then skips Node's per-call address lookup.
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.connect(this.port, this.group, () => {
        socket.off("error", reject);
        resolve();
      });
    });
    if (this.heartbeatIntervalMs > 0) {
      this.heartbeat();
      this.heartbeatTimer = setInterval(() => this.heartbeat(), this.heartbeatIntervalMs);
      this.heartbeatTimer.unref();
    }
  }

  /** Sends one object; resolves when its last datagram has been handed to the kernel. */
  send(object: OutgoingObject): Promise<SentObject> {
    return this.enqueue(() => this.sendNow(object));
  }

  /** Announces a deletion or an update of an object sent before. */
  sendLifecycle(change: LifecycleChange): Promise<number> {
    return this.enqueue(async () => {
      const sequence = this.nextSequence;
      const datagram = encodeLifecycle(
        {
          senderId: this.senderId,
          sequence,
          objectId: change.objectId,
          action: change.action,
          path: change.path,
          validUntil: change.validUntil ?? 0,
          metadata: change.metadata ?? {},
          changedAt: Date.now(),
        },
        this.key,
      );
      if (datagram.length > this.datagramSize) throw new RangeError(`lifecycle message of ${datagram.length} bytes exceeds the datagram size`);
      this.nextSequence++;
      await this.sendDatagram(datagram, 0, datagram.length);
      this.completedSequence = sequence;
      return sequence;
    });
  }

  async close(): Promise<void> {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = null;
    await this.queue.catch(() => undefined);
    const socket = this.socket;
    this.socket = null;
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }

  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async sendNow(object: OutgoingObject): Promise<SentObject> {
    if (this.socket === null) throw new Error("sender is not started");
    const id = object.id ?? randomUUID();
    if (!isUuid(id)) throw new TypeError(`object id must be a UUID, got ${JSON.stringify(id)}`);
    const meta: ObjectMetadata = {
      path: object.path,
      validFrom: object.validFrom,
      validUntil: object.validUntil,
      created: object.created ?? Date.now(),
      contentType: object.contentType ?? "application/octet-stream",
      fileName: object.fileName ?? "",
      md5: md5Hex(object.payload),
      metadata: object.metadata ?? {},
    };
    const sequence = this.nextSequence;
    const encoder = new ObjectEncoder({ senderId: this.senderId, sequence, id, meta, payload: object.payload }, this.datagramSize, {
      key: this.key,
      fec: this.fec,
      fecEncoder: this.fecEncoder ?? undefined,
    });
    this.nextSequence++;
    let bytes = 0;
    for (let first = 0, turn = 0; first < encoder.count; first += this.batchDatagrams, turn ^= 1) {
      const last = Math.min(first + this.batchDatagrams, encoder.count);
      await this.batchSent[turn]; // the buffer's previous datagrams are with the kernel
      const batch = this.batches[turn]!;
      const lengths: number[] = [];
      let batchBytes = 0;
      for (let i = first; i < last; i++) {
        const length = encoder.writeDatagram(i, batch, (i - first) * this.datagramSize);
        lengths.push(length);
        batchBytes += length;
      }
      await this.pacer.take(batchBytes);
      this.batchSent[turn] = this.sendBatch(batch, lengths);
      bytes += batchBytes;
    }
    await Promise.all(this.batchSent);
    this.completedSequence = sequence;
    return { id, sequence, meta, datagrams: encoder.count, bytes };
  }

  private sendDatagram(buf: Uint8Array, offset: number, length: number): Promise<void> {
    const socket = this.socket;
    if (socket === null) return Promise.reject(new Error("sender is closed"));
    return new Promise((resolve, reject) => {
      socket.send(buf, offset, length, (error) => (error ? reject(error) : resolve()));
    });
  }

  /** Hands a batch (datagram j at j * datagramSize) to the kernel; one promise for the whole batch. */
  private sendBatch(buf: Uint8Array, lengths: readonly number[]): Promise<void> {
    const socket = this.socket;
    if (socket === null) return Promise.reject(new Error("sender is closed"));
    return new Promise((resolve, reject) => {
      let pending = lengths.length;
      let failed = false;
      const onSent = (error: Error | null): void => {
        if (failed) return;
        if (error) {
          failed = true;
          reject(error);
        } else if (--pending === 0) resolve();
      };
      for (let j = 0; j < lengths.length; j++) socket.send(buf, j * this.datagramSize, lengths[j]!, onSent);
    });
  }

  private heartbeat(): void {
    const datagram = encodeHeartbeat(
      {
        senderId: this.senderId,
        lastSequence: this.lastSequence,
        sentAt: Date.now(),
        intervalMs: this.heartbeatIntervalMs,
        senderName: this.senderName,
      },
      this.key,
    );
    this.sendDatagram(datagram, 0, datagram.length).catch(() => undefined);
  }
}
