// The multicast receiver: joins a group on an explicit interface, checks every datagram, reassembles
// objects, and reports complete objects, control messages, sequence gaps and drops.
import dgram from "node:dgram";
import { EventEmitter } from "node:events";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { KeyRing } from "../wire/auth.js";
import { COMMIT_COPY_MEMORY, DEFAULT_GROUP, DEFAULT_INTERFACE, DEFAULT_MAX_PARTIAL_BYTES, DEFAULT_PORT } from "../wire/constants.js";
import type { CommitInfo, HeartbeatInfo, LifecycleInfo } from "../wire/control.js";
import { DatagramDecoder } from "../wire/decode.js";
import type { ReceivedObject } from "../wire/object.js";
import type { ObjectReason } from "../wire/reasons.js";
import { ChangesetStager, DEFAULT_STAGED_TIMEOUT_MS, type ChangesetDelivery, type ChangesetStagerOptions, type CommitIgnored } from "./changeset-stager.js";
import { ReceiverCounters } from "./counters.js";
import { UDP_GRO, nativeGroWanted, nativeRecv, nativeRecvLoadError, nativeRecvWanted, type NativeRecv, type NativeRecvHandle, type NativeRecvStats } from "./native-recv.js";
import type { PartialObject } from "./partial-object.js";
import { Reassembler, type ReassemblerOptions } from "./reassembler.js";
import { SequenceTracker, type SequenceGap } from "./sequence-tracker.js";
import { CTRL_WAKE, DEFAULT_RING_BYTES, RingReader, createRing, rejoin, type SocketWorkerConfig, type SocketWorkerMessage } from "./socket-worker.js";

export interface ReceiverOptions extends ReassemblerOptions, ChangesetStagerOptions {
  readonly group?: string | undefined;
  readonly port?: number | undefined;
  /** IPv4 address of the interface to join the group on. */
  readonly interface?: string | undefined;
  /** Keys to require; when given, unauthenticated datagrams are dropped. */
  readonly keys?: KeyRing | undefined;
  /** Largest envelope accepted. */
  readonly maxEnvelopeLength?: number | undefined;
  /** SO_RCVBUF to request; the kernel caps it at net.core.rmem_max. */
  readonly receiveBufferSize?: number | undefined;
  /**
   * Where the socket is read (see ReceivePath). Default: "native" when the addon is built and
   * CONDCAST_NATIVE_RECV is not 0, else "worker"; "main" when drainThread is false. Given, it wins
   * over drainThread; "native" without the addon fails start().
   */
  readonly receivePath?: ReceivePath | undefined;
  /**
   * Drain the socket on a thread of its own into a shared ring (default true), so that a stall of this
   * thread does not overflow the kernel's socket buffer; false receives on this thread ("main").
   */
  readonly drainThread?: boolean | undefined;
  /** Bytes of the ring between the socket thread and the decoder (default 64 MiB). */
  readonly ringBytes?: number | undefined;
  /** UDP GRO on the native path where the kernel offers it; default: yes unless CONDCAST_NATIVE_GRO=0. */
  readonly nativeGro?: boolean | undefined;
  /**
   * Stage objects of changesets until their commit and deliver each changeset as one "changeset" event
   * (default true, SPEC 11); false emits them as "object" when they complete, for a consumer that stages
   * itself (the cache, which also fetches what multicast missed from the repository).
   */
  readonly stageChangesets?: boolean | undefined;
}

/**
 * "native": a native thread of the addon (ts/native/udp_recv.c) receives with recvmmsg into the ring;
 * "worker": a worker thread with a node:dgram socket copies into the ring; "main": node:dgram on this
 * thread, no ring.
 */
export const RECEIVE_PATHS = ["native", "worker", "main"] as const;
export type ReceivePath = (typeof RECEIVE_PATHS)[number];

export interface ReceiverEvents {
  /** A complete object; one of a changeset only with stageChangesets false (else see "changeset"). */
  object: [object: ReceivedObject];
  heartbeat: [heartbeat: HeartbeatInfo];
  lifecycle: [lifecycle: LifecycleInfo];
  /** A Commit datagram (committed or aborted, SPEC 4.5) as it arrives, whatever is held of its changeset. */
  commit: [commit: CommitInfo];
  /** A changeset delivered as one unit: its Commit and every one of its objects, in ascending id order. */
  changeset: [delivery: ChangesetDelivery];
  /** A staged object dropped: its changeset aborted, not committed in time, stale, or over the bounds. */
  uncommitted: [object: ReceivedObject, reason: "uncommitted"];
  /** A Commit whose key is not above the key delivered for its sender and keytable: delivered to no one. */
  commitIgnored: [ignored: CommitIgnored];
  gap: [gap: SequenceGap];
  dropped: [partial: PartialObject, reason: ObjectReason];
  error: [error: Error];
}

export interface ListeningInfo {
  readonly group: string;
  readonly port: number;
  readonly interface: string;
  readonly receiveBufferRequested: number;
  /** SO_RCVBUF granted, in the terms it was requested (on Linux, half the figure getsockopt reports). */
  readonly receiveBufferGranted: number;
  /** Bytes of the ring the socket thread fills; 0 when datagrams are read on the main thread. */
  readonly ringBytes: number;
  /** Where the socket is read. */
  readonly receivePath: ReceivePath;
}

const DEFAULT_RECEIVE_BUFFER = 32 * 1024 * 1024;
const DEFAULT_DRAIN_THREAD = true;
/** Datagrams decoded from the ring before other work on this thread gets a turn. */
const BATCH_DATAGRAMS = 1024;

/** Atomics.waitAsync (ES2024; Node >= 16): this package's lib is ES2023. */
type WaitAsyncResult = { async: false; value: "not-equal" | "timed-out" } | { async: true; value: Promise<"ok" | "timed-out"> };
const waitAsync = (Atomics as unknown as { waitAsync(array: Int32Array, index: number, value: number): WaitAsyncResult }).waitAsync;

/**
 * The worker script: socket-worker.js next to this module when built; the .ts source when the sources
 * run (tests), which Node runs after stripping the types.
 */
function socketWorkerUrl(): URL {
  const built = new URL("./socket-worker.js", import.meta.url);
  return existsSync(fileURLToPath(built)) ? built : new URL("./socket-worker.ts", import.meta.url);
}

export class Receiver extends EventEmitter<ReceiverEvents> {
  readonly counters = new ReceiverCounters();
  readonly sequences = new SequenceTracker();
  private readonly decoder: DatagramDecoder;
  private readonly reassembler: Reassembler;
  /** Null with stageChangesets false. */
  private readonly stager: ChangesetStager | null;
  /** The time of the datagram being handled (staging times objects by it). */
  private now = 0;
  private readonly options: ReceiverOptions;
  private socket: dgram.Socket | null = null;
  private worker: Worker | null = null;
  private workerExited: Promise<void> | null = null;
  /** The native path: the addon and its receiving socket. */
  private native: { readonly addon: NativeRecv; readonly handle: NativeRecvHandle } | null = null;
  /** The native path's reader sleeps: the next wake from the native thread drains the ring. */
  private sleeping = false;
  private ring: RingReader | null = null;
  private expiryTimer: NodeJS.Timeout | null = null;

  constructor(options: ReceiverOptions = {}) {
    super();
    this.options = options;
    this.decoder = new DatagramDecoder({ keys: options.keys, maxEnvelopeLength: options.maxEnvelopeLength });
    const stager =
      options.stageChangesets === false
        ? null
        : new ChangesetStager(
            this.counters,
            {
              onChangeset: (delivery) => this.emit("changeset", delivery),
              onUncommitted: (object) => this.emit("uncommitted", object, "uncommitted"),
              onCommitIgnored: (ignored) => this.emit("commitIgnored", ignored),
            },
            { maxBytes: options.maxPartialBytes ?? DEFAULT_MAX_PARTIAL_BYTES },
            options,
          );
    this.stager = stager;
    this.reassembler = new Reassembler(
      this.counters,
      {
        onObject: (object) => {
          if (stager !== null && object.meta.changeset !== undefined) stager.stage(object, this.now);
          else this.emit("object", object);
        },
        onObjectDropped: (partial, reason) => this.emit("dropped", partial, reason),
        ...(stager === null ? {} : { makeRoom: (bytes: number) => stager.makeRoom(bytes) }),
      },
      options,
    );
  }

  /** Binds, joins the group and starts receiving. */
  async start(): Promise<ListeningInfo> {
    const group = this.options.group ?? DEFAULT_GROUP;
    const port = this.options.port ?? DEFAULT_PORT;
    const iface = this.options.interface ?? DEFAULT_INTERFACE;
    const requested = this.options.receiveBufferSize ?? DEFAULT_RECEIVE_BUFFER;
    const path = this.receivePath();
    const ringBytes = this.options.ringBytes ?? DEFAULT_RING_BYTES;
    const reported =
      path === "native" ? this.startNative(group, port, iface, requested, ringBytes)
      : path === "worker" ? await this.startWorker(group, port, iface, requested, ringBytes)
      : await this.startSocket(group, port, iface, requested);
    const timeout = Math.min(this.options.partialTimeoutMs ?? 10_000, this.stager === null ? Infinity : this.options.stagedTimeoutMs ?? DEFAULT_STAGED_TIMEOUT_MS);
    this.expiryTimer = setInterval(() => this.expire(Date.now()), Math.max(10, Math.min(1000, timeout / 4)));
    this.expiryTimer.unref();
    // Linux reports twice the size it grants (the rest is its bookkeeping): CLI.md's "granted" is the half.
    const granted = process.platform === "linux" ? reported / 2 : reported;
    return { group, port, interface: iface, receiveBufferRequested: requested, receiveBufferGranted: granted, ringBytes: this.ring?.bytes.length ?? 0, receivePath: path };
  }

  /** The path start() takes (ReceiverOptions.receivePath). */
  private receivePath(): ReceivePath {
    const chosen = this.options.receivePath;
    if (chosen !== undefined) return chosen;
    if (!(this.options.drainThread ?? DEFAULT_DRAIN_THREAD)) return "main";
    return nativeRecvWanted() && nativeRecv() !== null ? "native" : "worker";
  }

  /** The native path's counters (null on the other paths). */
  nativeStats(): NativeRecvStats | null {
    return this.native === null ? null : this.native.addon.stats(this.native.handle);
  }

  /**
   * Receives on a native thread of the addon that writes every datagram into the ring; returns the
   * SO_RCVBUF getsockopt reports.
   */
  private startNative(group: string, port: number, iface: string, requested: number, ringBytes: number): number {
    const addon = nativeRecv();
    if (addon === null) throw new Error(`receivePath "native": ${nativeRecvLoadError()?.message ?? "the addon does not load"}`);
    const { ring, control } = createRing(ringBytes);
    const gro = this.options.nativeGro ?? nativeGroWanted();
    const handle = addon.open(new Uint8Array(ring), new Int32Array(control), group, port, iface, requested, gro ? UDP_GRO : 0, this.onNativeWake);
    this.native = { addon, handle };
    this.ring = new RingReader(ring, control);
    this.waitForDatagrams();
    return addon.stats(handle).receiveBuffer;
  }

  /** From the native thread (through a threadsafe function): records arrived while the reader slept. */
  private readonly onNativeWake = (error?: string): void => {
    if (this.native === null) return;
    if (error !== undefined) {
      this.emit("error", new Error(error));
      return;
    }
    if (!this.sleeping) return; // a wake that crossed a look at the ring: that drain is on its way
    this.sleeping = false;
    this.drainRing();
  };

  /** Receives on this thread; returns the SO_RCVBUF getsockopt reports. */
  private async startSocket(group: string, port: number, iface: string, requested: number): Promise<number> {
    const socket = dgram.createSocket({ type: "udp4", reuseAddr: true, recvBufferSize: requested });
    this.socket = socket;
    socket.on("message", (msg) => this.handleDatagram(msg, Date.now()));
    socket.on("error", (error) => this.emit("error", error));
    // Binding to the group address keeps other traffic to the port out of this socket.
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(port, group, () => {
        socket.off("error", reject);
        resolve();
      });
    });
    socket.addMembership(group, iface);
    return socket.getRecvBufferSize();
  }

  /**
   * Receives on a worker thread that owns the socket and copies every datagram into a shared ring;
   * returns the SO_RCVBUF getsockopt reports there.
   */
  private async startWorker(group: string, port: number, iface: string, requested: number, ringBytes: number): Promise<number> {
    const { ring, control } = createRing(ringBytes);
    const config: SocketWorkerConfig = { kind: "condcast-socket-worker", ring, control, group, port, interface: iface, receiveBufferSize: requested };
    const worker = new Worker(socketWorkerUrl(), { workerData: config, name: "condcast-socket" });
    this.worker = worker;
    this.workerExited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
    this.ring = new RingReader(ring, control);
    let listening = false;
    try {
      return await new Promise<number>((resolve, reject) => {
        worker.on("message", (message: SocketWorkerMessage) => {
          if (message.type === "listening") {
            listening = true;
            resolve(message.reportedReceiveBuffer);
            this.waitForDatagrams();
          } else if (message.type === "rejoined") {
            if (message.error !== undefined) this.emit("error", new Error(`rejoining ${group} on ${iface} failed: ${message.error}`));
          } else if (message.type === "error") {
            const error = Object.assign(new Error(message.message), { code: message.code });
            if (listening) this.emit("error", error);
            else reject(error);
          }
        });
        worker.on("error", (error) => {
          if (listening) this.emit("error", error);
          else reject(error);
        });
        worker.once("exit", (code) => {
          if (!listening) reject(new Error(`the socket worker exited (code ${code}) before it was listening`));
          else if (this.worker === worker) this.emit("error", new Error(`the socket worker exited (code ${code})`));
        });
      });
    } catch (error) {
      await this.stopDrain();
      throw error;
    }
  }

  /** Sleeps until the worker writes into the ring (or decodes at once if something is there). */
  private waitForDatagrams(): void {
    const reader = this.ring;
    if (reader === null) return;
    const control = reader.control;
    Atomics.store(control, CTRL_WAKE, 1);
    // A record written before the store above did not notify: look again before sleeping.
    if (reader.pending()) {
      Atomics.store(control, CTRL_WAKE, 0);
      setImmediate(this.drainRing);
      return;
    }
    if (this.native !== null) {
      this.sleeping = true; // the native thread's next record calls onNativeWake
      return;
    }
    const wait = waitAsync(control, CTRL_WAKE, 1);
    if (wait.async) void wait.value.then(this.drainRing);
    else setImmediate(this.drainRing);
  }

  /**
   * Decodes what the ring holds, each datagram in place (the reassembler copies the chunks out before
   * the record is released), then sleeps again; after BATCH_DATAGRAMS it lets other work have a turn.
   */
  private readonly drainRing = (): void => {
    const reader = this.ring;
    if (reader === null) return;
    const bytes = reader.bytes;
    let decoded = 0;
    try {
      for (;;) {
        if (this.ring !== reader) return; // closed by a listener
        const length = reader.next();
        if (length < 0) break;
        const at = reader.offset;
        try {
          this.handleDatagram(bytes.subarray(at, at + length), Date.now());
        } finally {
          reader.release(length);
        }
        if (++decoded === BATCH_DATAGRAMS) {
          this.syncRingCounters();
          setImmediate(this.drainRing);
          return;
        }
      }
    } catch (error) {
      // A listener threw: keep receiving, and let the error surface as an uncaught exception, as it
      // does when a socket's "message" listener throws.
      setImmediate(this.drainRing);
      process.nextTick(() => {
        throw error;
      });
      return;
    }
    this.syncRingCounters();
    this.waitForDatagrams();
  };

  private syncRingCounters(): void {
    const reader = this.ring;
    if (reader === null) return;
    this.counters.ringOverflows = reader.overflows;
    this.counters.ringHighWater = reader.highWater;
  }

  /** Ends the native thread or the worker and lets go of the ring. */
  private async stopDrain(): Promise<void> {
    const worker = this.worker;
    const exited = this.workerExited;
    const native = this.native;
    this.syncRingCounters();
    const reader = this.ring;
    this.worker = null;
    this.workerExited = null;
    this.native = null;
    this.sleeping = false;
    this.ring = null;
    if (native !== null) native.addon.close(native.handle);
    else if (reader !== null) {
      // Wakes a pending waitAsync so that nothing waits on the ring any more.
      Atomics.store(reader.control, CTRL_WAKE, 0);
      Atomics.notify(reader.control, CTRL_WAKE);
    }
    if (worker === null || exited === null) return;
    // The worker closes its socket and ends; terminate it if it does not within a second.
    worker.postMessage({ type: "close" });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), 1000)));
    if (await Promise.race([exited.then(() => false), late])) await worker.terminate();
    clearTimeout(timer);
  }

  /** Drops what waited too long: incomplete objects (partial timeout), staged objects (staged timeout). */
  expire(now: number): void {
    this.reassembler.expire(now);
    this.stager?.expire(now);
    this.syncRingCounters();
  }

  /** Processes one datagram as if it had arrived now (also the entry point for in-process tests). */
  handleDatagram(datagram: Uint8Array, now: number): void {
    const counters = this.counters;
    this.now = now;
    counters.datagrams++;
    counters.bytes += datagram.length;
    const decoded = this.decoder.decode(datagram);
    switch (decoded.kind) {
      case "fragment": {
        const view = decoded.fragment;
        counters.fragments++;
        if (this.startsNewObject(view.sequence, view.senderIdHigh, view.senderIdLow)) {
          this.observeSequence(view.senderIdHex(), view.sequence);
        }
        const reason = this.reassembler.accept(view, now);
        if (reason !== null) counters.drops[reason]++;
        return;
      }
      case "heartbeat":
        counters.heartbeats++;
        if (decoded.heartbeat.lastSequence > 0) {
          this.report(this.sequences.observeLast(decoded.heartbeat.senderId, decoded.heartbeat.lastSequence));
          this.reassembler.senderReached(decoded.heartbeat.senderId, decoded.heartbeat.lastSequence, now);
        }
        this.emit("heartbeat", decoded.heartbeat);
        return;
      case "lifecycle":
        counters.lifecycles++;
        this.observeSequence(decoded.lifecycle.senderId, decoded.lifecycle.sequence);
        this.emit("lifecycle", decoded.lifecycle);
        return;
      case "commit":
        if (this.isCommitCopy(decoded.commit)) {
          counters.commitCopies++; // SPEC 5.4: a copy of a Commit taken already is no drop and goes nowhere
          return;
        }
        counters.commits++;
        this.observeSequence(decoded.commit.senderId, decoded.commit.sequence);
        this.emit("commit", decoded.commit);
        this.stager?.commit(decoded.commit, now);
        return;
      case "rejected":
        counters.drops[decoded.reason]++;
        return;
    }
  }

  /**
   * Leaves the group and joins it again (a fresh membership report), on the socket's own thread; a
   * failure is emitted as "error". What a cache does when the group falls silent.
   */
  rejoin(): void {
    const group = this.options.group ?? DEFAULT_GROUP;
    const iface = this.options.interface ?? DEFAULT_INTERFACE;
    if (this.native !== null) {
      try {
        this.native.addon.rejoin(this.native.handle);
      } catch (error) {
        this.emit("error", new Error(`rejoining ${group} on ${iface} failed: ${(error as Error).message}`));
      }
    } else if (this.worker !== null) this.worker.postMessage({ type: "rejoin" });
    else if (this.socket !== null) {
      const error = rejoin(this.socket, group, iface);
      if (error !== undefined) this.emit("error", new Error(`rejoining ${group} on ${iface} failed: ${error}`));
    }
  }

  /** Incomplete objects with their missing ranges (for repair over HTTP). */
  incomplete(): PartialObject[] {
    return this.reassembler.incomplete();
  }

  /** Takes an incomplete object out of reassembly so it can be completed elsewhere. */
  release(key: string): PartialObject | undefined {
    return this.reassembler.release(key);
  }

  async close(): Promise<void> {
    if (this.expiryTimer) clearInterval(this.expiryTimer);
    this.expiryTimer = null;
    await this.stopDrain();
    const socket = this.socket;
    this.socket = null;
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }

  // Sequence bookkeeping runs once per object, not once per datagram: the sender/sequence pair of the
  // previous fragment is remembered.
  private lastSequence = -1;
  private lastSenderHigh = -1;
  private lastSenderLow = -1;

  private startsNewObject(sequence: number, high: number, low: number): boolean {
    if (sequence === this.lastSequence && high === this.lastSenderHigh && low === this.lastSenderLow) return false;
    this.lastSequence = sequence;
    this.lastSenderHigh = high;
    this.lastSenderLow = low;
    return true;
  }

  /** The Commits taken recently (SPEC 5.4: sender, sequence, changeset, key, committed_at), oldest first. */
  private readonly commitsTaken = new Set<string>();

  /** Whether this Commit was taken already (a copy, SPEC 4.5); remembers it when not. */
  private isCommitCopy(commit: CommitInfo): boolean {
    const name = `${commit.senderId}/${commit.sequence}/${commit.changeset}/${commit.key}/${commit.committedAt}`;
    if (this.commitsTaken.has(name)) return true;
    this.commitsTaken.add(name);
    if (this.commitsTaken.size > COMMIT_COPY_MEMORY) {
      const oldest = this.commitsTaken.values().next().value;
      if (oldest !== undefined) this.commitsTaken.delete(oldest);
    }
    return false;
  }

  private observeSequence(senderId: string, sequence: number): void {
    const before = this.sequences.highestOf(senderId);
    this.report(this.sequences.observe(senderId, sequence));
    // Once per new sequence of a sender: what it numbered before has been sent whole.
    if (before !== undefined && sequence > before) this.reassembler.senderReached(senderId, sequence - 1, this.now);
  }

  private report(gap: SequenceGap | null): void {
    if (gap !== null) this.emit("gap", gap);
  }
}
