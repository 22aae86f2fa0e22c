// The multicast receiver: joins a group on an explicit interface, checks every datagram, reassembles
// objects, and reports complete objects, control messages, sequence gaps and drops.
import dgram from "node:dgram";
import { EventEmitter } from "node:events";
import type { KeyRing } from "../wire/auth.js";
import { DEFAULT_GROUP, DEFAULT_INTERFACE, DEFAULT_PORT } from "../wire/constants.js";
import type { HeartbeatInfo, LifecycleInfo } from "../wire/control.js";
import { DatagramDecoder } from "../wire/decode.js";
import type { ReceivedObject } from "../wire/object.js";
import type { ObjectReason } from "../wire/reasons.js";
import { ReceiverCounters } from "./counters.js";
import type { PartialObject } from "./partial-object.js";
import { Reassembler, type ReassemblerOptions } from "./reassembler.js";
import { SequenceTracker, type SequenceGap } from "./sequence-tracker.js";

export interface ReceiverOptions extends ReassemblerOptions {
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
}

export interface ReceiverEvents {
  object: [object: ReceivedObject];
  heartbeat: [heartbeat: HeartbeatInfo];
  lifecycle: [lifecycle: LifecycleInfo];
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
}

const DEFAULT_RECEIVE_BUFFER = 32 * 1024 * 1024;

export class Receiver extends EventEmitter<ReceiverEvents> {
  readonly counters = new ReceiverCounters();
  readonly sequences = new SequenceTracker();
  private readonly decoder: DatagramDecoder;
  private readonly reassembler: Reassembler;
  private readonly options: ReceiverOptions;
  private socket: dgram.Socket | null = null;
  private expiryTimer: NodeJS.Timeout | null = null;

  constructor(options: ReceiverOptions = {}) {
    super();
    this.options = options;
    this.decoder = new DatagramDecoder({ keys: options.keys, maxEnvelopeLength: options.maxEnvelopeLength });
    this.reassembler = new Reassembler(
      this.counters,
      {
        onObject: (object) => this.emit("object", object),
        onObjectDropped: (partial, reason) => this.emit("dropped", partial, reason),
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
    const timeout = this.options.partialTimeoutMs ?? 10_000;
    this.expiryTimer = setInterval(() => this.reassembler.expire(Date.now()), Math.max(10, Math.min(1000, timeout / 4)));
    this.expiryTimer.unref();
    // Linux reports twice the size it grants (the rest is its bookkeeping): CLI.md's "granted" is the half.
    const reported = socket.getRecvBufferSize();
    const granted = process.platform === "linux" ? reported / 2 : reported;
    return { group, port, interface: iface, receiveBufferRequested: requested, receiveBufferGranted: granted };
  }

  /** Processes one datagram as if it had arrived now (also the entry point for in-process tests). */
  handleDatagram(datagram: Uint8Array, now: number): void {
    const counters = this.counters;
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
        if (decoded.heartbeat.lastSequence > 0) this.report(this.sequences.observeLast(decoded.heartbeat.senderId, decoded.heartbeat.lastSequence));
        this.emit("heartbeat", decoded.heartbeat);
        return;
      case "lifecycle":
        counters.lifecycles++;
        this.observeSequence(decoded.lifecycle.senderId, decoded.lifecycle.sequence);
        this.emit("lifecycle", decoded.lifecycle);
        return;
      case "rejected":
        counters.drops[decoded.reason]++;
        return;
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

  private observeSequence(senderId: string, sequence: number): void {
    this.report(this.sequences.observe(senderId, sequence));
  }

  private report(gap: SequenceGap | null): void {
    if (gap !== null) this.emit("gap", gap);
  }
}
