// The multicast sender: cuts objects into datagrams, paces them, announces itself with heartbeats.
import { randomBytes, randomUUID } from "node:crypto";
import dgram from "node:dgram";
import type { AuthKey } from "../wire/auth.js";
import {
  DEFAULT_COMMIT_COPIES,
  DEFAULT_COMMIT_COPY_INTERVAL_MS,
  DEFAULT_DATAGRAM_SIZE,
  DEFAULT_GROUP,
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  DEFAULT_INTERFACE,
  DEFAULT_PORT,
  DEFAULT_RATE,
  DEFAULT_TTL,
  MAX_HEARTBEAT_KEYS,
  fragmentSizeFor,
} from "../wire/constants.js";
import { encodeCommitAsSent, encodeHeartbeat, encodeLifecycle, type CommitInfo, type KeyPosition, type LifecycleKind } from "../wire/control.js";
import { formatSenderId, isUuid } from "../wire/ids.js";
import { md5Hex, type ObjectMetadata } from "../wire/object.js";
import { ObjectEncoder } from "../wire/object-encoder.js";
import { FecEncoder } from "../fec/block-coder.js";
import { createKernel } from "../fec/kernel.js";
import { DEFAULT_FEC_PARITY, DEFAULT_FEC_INTERLEAVE, fecSettings, type FecSettings } from "../fec/layout.js";
import { nativeGsoWanted, nativeSendWanted, nativeUdp, type NativeHandle, type NativeStats, type NativeUdp } from "./native.js";
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
  /** SPEC 4.5: identical copies of each Commit (default 3; at least 1). */
  readonly commitCopies?: number | undefined;
  /** SPEC 4.5: ms between a Commit's copies (default 10). */
  readonly commitCopyIntervalMs?: number | undefined;
  readonly senderName?: string | undefined;
  /** FEC parity ratio p (SPEC 10.4), default 0.05; 0 = no parity fragments. */
  readonly fecParity?: number | undefined;
  /** B: largest number of source fragments per block; default the largest allowed for the ratio. */
  readonly fecBlockLength?: number | undefined;
  /** D: blocks interleaved in the send order, default 16. */
  readonly fecInterleave?: number | undefined;
  /**
   * Send through the native addon (one sendmmsg per batch, UDP GSO where available) when it is built.
   * Default: yes unless CONDCAST_NATIVE_SEND=0; false always uses node:dgram.
   */
  readonly nativeSend?: boolean | undefined;
  /** UDP GSO on the native path; default: yes unless CONDCAST_NATIVE_GSO=0. */
  readonly nativeGso?: boolean | undefined;
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
  /** The changeset it belongs to (SPEC 11): receivers stage it until sendCommit names it. */
  readonly changeset?: string | undefined;
  /** The payload's MD5 (hex) when the caller has it already; computed when absent. */
  readonly md5?: string | undefined;
  /**
   * Resolves once the object is durable where receivers repair from. The datagrams go out meanwhile,
   * but those that complete the object (SPEC 10.4) wait for it, so no receiver can serve the object
   * before its repository can; when it rejects they are never sent, the object is abandoned and its
   * sequence goes to the next (SPEC 1).
   */
  readonly durable?: Promise<unknown> | undefined;
}

/** A send whose `durable` rejected: the object's last datagrams were not sent, its sequence not used. */
export class ObjectAbandoned extends Error {
  constructor(readonly id: string, readonly sequence: number, readonly reason: unknown) {
    super(`object ${id} abandoned before its last datagrams: ${(reason as Error)?.message ?? String(reason)}`);
    this.name = "ObjectAbandoned";
  }
}

/** A commit (or abort) of a changeset whose objects were sent before it (SPEC 4.5). */
export type OutgoingCommit = Omit<CommitInfo, "senderId" | "sequence">;

export interface SentObject {
  readonly id: string;
  readonly sequence: number;
  readonly meta: ObjectMetadata;
  readonly datagrams: number;
  readonly bytes: number;
  /** performance.now() when its first datagram was being encoded (after the queue ahead of it). */
  readonly startedAt: number;
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
  private readonly commitCopies: number;
  private readonly commitCopyIntervalMs: number;
  private readonly senderName: string;
  private readonly options: SenderOptions;
  private socket: dgram.Socket | null = null;
  /** The native path: the addon and its socket (every datagram of the sender goes through it). */
  private native: { readonly addon: NativeUdp; readonly handle: NativeHandle } | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private keys: readonly KeyPosition[] = [];
  private nextSequence: number;
  /** Highest sequence whose datagrams have all been handed to the kernel: what heartbeats announce. */
  private completedSequence: number;
  /** Objects and changes go out one at a time, in sequence order. */
  private queue: Promise<unknown> = Promise.resolve();
  /** Two batch buffers: one is filled while the other's datagrams are still with the kernel. */
  private readonly batches: Uint8Array[];
  private readonly batchLengths: Uint32Array[];
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
    this.commitCopies = options.commitCopies ?? DEFAULT_COMMIT_COPIES;
    this.commitCopyIntervalMs = options.commitCopyIntervalMs ?? DEFAULT_COMMIT_COPY_INTERVAL_MS;
    if (!Number.isInteger(this.commitCopies) || this.commitCopies < 1) throw new RangeError(`commit copies must be an integer >= 1, got ${this.commitCopies}`);
    if (!(this.commitCopyIntervalMs >= 0)) throw new RangeError(`commit copy interval must be >= 0 ms, got ${this.commitCopyIntervalMs}`);
    this.senderName = options.senderName ?? "";
    this.batchDatagrams = Math.max(1, Math.min(MAX_BATCH_DATAGRAMS, Math.floor(MAX_BATCH_BYTES / this.datagramSize)));
    const batchBytes = this.batchDatagrams * this.datagramSize;
    this.pacer = new Pacer(options.rate ?? DEFAULT_RATE, batchBytes);
    this.batches = [Buffer.alloc(batchBytes), Buffer.alloc(batchBytes)];
    this.batchLengths = [new Uint32Array(this.batchDatagrams), new Uint32Array(this.batchDatagrams)];
  }

  /** How datagrams reach the kernel: "native" (sendmmsg/GSO addon) or "dgram"; null before start(). */
  get transport(): "native" | "dgram" | null {
    return this.native !== null ? "native" : this.socket !== null ? "dgram" : null;
  }

  /** Counters of the native path (system calls, GSO messages), null on the dgram path. */
  nativeStats(): NativeStats | null {
    return this.native === null ? null : this.native.addon.stats(this.native.handle);
  }

  /** The highest sequence sent completely so far (0 when none). */
  get lastSequence(): number {
    return this.completedSequence;
  }

  async start(): Promise<void> {
    const iface = this.options.interface ?? DEFAULT_INTERFACE;
    const addon = (this.options.nativeSend ?? nativeSendWanted()) ? nativeUdp() : null;
    if (addon !== null) {
      const handle = addon.open(iface, this.group, this.port, this.options.ttl ?? DEFAULT_TTL, true);
      if (!(this.options.nativeGso ?? nativeGsoWanted())) addon.setGso(handle, false);
      this.native = { addon, handle };
    } else {
      await this.startDgram(iface);
    }
    if (this.heartbeatIntervalMs > 0) {
      this.heartbeat();
      this.heartbeatTimer = setInterval(() => this.heartbeat(), this.heartbeatIntervalMs);
      this.heartbeatTimer.unref();
    }
  }

  private async startDgram(iface: string): Promise<void> {
    const socket = dgram.createSocket({ type: "udp4" });
    this.socket = socket;
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
  }

  /** Sends one object; resolves when its last datagram has been handed to the kernel. */
  send(object: OutgoingObject): Promise<SentObject> {
    // Learnt as soon as it happens, so an object whose durability failed stops at its next batch (or
    // before its first, when the failure came while it queued).
    const abandoned = { reason: undefined as unknown, yes: false };
    object.durable?.catch((reason: unknown) => {
      abandoned.yes = true;
      abandoned.reason = reason;
    });
    return this.enqueue(() => this.sendNow(object, abandoned));
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

  /**
   * Sends the Commit of a changeset after every object queued before it; resolves with its sequence.
   * The object ids are left out when they do not fit one datagram (receivers then ask the repository).
   */
  sendCommit(commit: OutgoingCommit): Promise<number> {
    return this.sendCommitAsSent(commit).then((sent) => sent.sequence);
  }

  /**
   * sendCommit, resolving with the Commit as it went on the wire (ids sorted, or none when they did not
   * fit) once its last copy is out: SPEC 4.5's copies, identical, `commitCopyIntervalMs` apart, with
   * nothing else of the sequence between them; heartbeats announce it only then.
   */
  sendCommitAsSent(commit: OutgoingCommit): Promise<CommitInfo> {
    return this.enqueue(async () => {
      const sequence = this.nextSequence;
      const { datagram, sent } = encodeCommitAsSent({ ...commit, senderId: this.senderId, sequence }, this.datagramSize, this.key);
      this.nextSequence++;
      for (let copy = 0; copy < this.commitCopies; copy++) {
        if (copy > 0) await new Promise((resolve) => setTimeout(resolve, this.commitCopyIntervalMs));
        await this.sendDatagram(datagram, 0, datagram.length);
      }
      this.completedSequence = sequence;
      return sent;
    });
  }

  /** The keytables' current keys that heartbeats announce from now on (SPEC 4.3; at most 32). */
  setKeys(keys: readonly KeyPosition[]): void {
    this.keys = keys.slice(0, MAX_HEARTBEAT_KEYS);
  }

  async close(): Promise<void> {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = null;
    await this.queue.catch(() => undefined);
    const socket = this.socket;
    this.socket = null;
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
    const native = this.native;
    this.native = null;
    native?.addon.close(native.handle);
  }

  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async sendNow(object: OutgoingObject, abandoned: { readonly yes: boolean; readonly reason: unknown }): Promise<SentObject> {
    if (this.socket === null && this.native === null) throw new Error("sender is not started");
    const startedAt = performance.now();
    const id = object.id ?? randomUUID();
    if (!isUuid(id)) throw new TypeError(`object id must be a UUID, got ${JSON.stringify(id)}`);
    const meta: ObjectMetadata = {
      path: object.path,
      validFrom: object.validFrom,
      validUntil: object.validUntil,
      created: object.created ?? Date.now(),
      contentType: object.contentType ?? "application/octet-stream",
      fileName: object.fileName ?? "",
      md5: object.md5 ?? md5Hex(object.payload),
      metadata: object.metadata ?? {},
      ...(object.changeset === undefined ? {} : { changeset: object.changeset }),
    };
    const sequence = this.nextSequence;
    const durable = object.durable;
    const encoder = new ObjectEncoder({ senderId: this.senderId, sequence, id, meta, payload: object.payload }, this.datagramSize, {
      key: this.key,
      fec: this.fec,
      fecEncoder: this.fecEncoder ?? undefined,
      holdBack: durable !== undefined,
    });
    this.nextSequence++;
    // Send positions from here on complete the object: they wait for `durable`.
    const gate = durable === undefined ? encoder.count : encoder.count - encoder.heldBack;
    let bytes = 0;
    const abandon = async (reason: unknown): Promise<never> => {
      await Promise.all(this.batchSent);
      // Nothing numbered after it has gone out (one object at a time): the next takes its sequence.
      this.nextSequence = sequence;
      throw new ObjectAbandoned(id, sequence, reason);
    };
    for (let first = 0, turn = 0; first < encoder.count; turn ^= 1) {
      if (abandoned.yes) return abandon(abandoned.reason);
      if (first === gate) {
        try {
          await durable;
        } catch (reason) {
          return abandon(reason);
        }
      }
      const last = Math.min(first + this.batchDatagrams, first < gate ? gate : encoder.count);
      await this.batchSent[turn]; // the buffer's previous datagrams are with the kernel
      const batch = this.batches[turn]!;
      const lengths = this.batchLengths[turn]!;
      let batchBytes = 0;
      for (let i = first; i < last; i++) {
        const length = encoder.writeDatagram(i, batch, (i - first) * this.datagramSize);
        lengths[i - first] = length;
        batchBytes += length;
      }
      await this.pacer.take(batchBytes);
      this.batchSent[turn] = this.sendBatch(batch, lengths, last - first);
      bytes += batchBytes;
      first = last;
    }
    await Promise.all(this.batchSent);
    this.completedSequence = sequence;
    return { id, sequence, meta, datagrams: encoder.count, bytes, startedAt };
  }

  private sendDatagram(buf: Uint8Array, offset: number, length: number): Promise<void> {
    if (this.native !== null) {
      try {
        this.native.addon.send(this.native.handle, buf.subarray(offset, offset + length), length, Uint32Array.of(length), 1);
        return Promise.resolve();
      } catch (error) {
        return Promise.reject(error as Error);
      }
    }
    const socket = this.socket;
    if (socket === null) return Promise.reject(new Error("sender is closed"));
    return new Promise((resolve, reject) => {
      socket.send(buf, offset, length, (error) => (error ? reject(error) : resolve()));
    });
  }

  /** Hands a batch (datagram j at j * datagramSize) to the kernel; one promise for the whole batch. */
  private sendBatch(buf: Uint8Array, lengths: Uint32Array, count: number): Promise<void> {
    if (this.native !== null) return this.sendBatchNative(buf, lengths, count);
    const socket = this.socket;
    if (socket === null) return Promise.reject(new Error("sender is closed"));
    return new Promise((resolve, reject) => {
      let pending = count;
      let failed = false;
      const onSent = (error: Error | null): void => {
        if (failed) return;
        if (error) {
          failed = true;
          reject(error);
        } else if (--pending === 0) resolve();
      };
      for (let j = 0; j < count; j++) socket.send(buf, j * this.datagramSize, lengths[j]!, onSent);
    });
  }

  /**
   * The native path: one sendmmsg (GSO where available) for the whole batch, synchronously; the
   * buffer is free again when it returns. Errors are thrown here, so no rejected promise stays in
   * batchSent for the next object. The promise resolves on the next turn of the event loop, so a
   * long object yields to other work (HTTP, timers) between batches as the dgram path does.
   */
  private sendBatchNative(buf: Uint8Array, lengths: Uint32Array, count: number): Promise<void> {
    const native = this.native!;
    native.addon.send(native.handle, buf, this.datagramSize, lengths, count);
    return new Promise((resolve) => setImmediate(resolve));
  }

  private heartbeat(): void {
    const datagram = encodeHeartbeat(
      {
        senderId: this.senderId,
        lastSequence: this.lastSequence,
        sentAt: Date.now(),
        intervalMs: this.heartbeatIntervalMs,
        senderName: this.senderName,
        keys: this.keys,
      },
      this.key,
    );
    this.sendDatagram(datagram, 0, datagram.length).catch(() => undefined);
  }
}
