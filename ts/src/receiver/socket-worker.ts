// The socket-draining thread (issue 7) and the ring it fills. A worker owns the dgram socket and copies
// every datagram into a SharedArrayBuffer ring; the main thread decodes from the ring in batches. A
// stall of the main thread (GC, MD5 of a large object, a slow listener) then fills the ring, not the
// kernel's socket buffer, which net.core.rmem_max caps at a few MiB.
//
// This file imports nothing but node:* so that the same file runs as the worker both when built
// (dist/receiver/socket-worker.js) and when tests run the sources (src/receiver/socket-worker.ts, which
// Node 24 runs after stripping the types): keep it to erasable TypeScript (no enums, no parameter
// properties, no namespaces) and free of project imports.
//
// Ring: one writer (the worker), one reader (the main thread). Records are a 4-byte length followed by
// the datagram, padded to 4 bytes. `head` (next write offset) is stored only by the writer, `tail` (next
// read offset) only by the reader; head === tail means empty, and the writer never fills the ring
// completely. A record that does not fit before the end of the ring is written at offset 0 after a
// wrap marker (length -1). When the ring lacks room the datagram is dropped and counted.
import dgram from "node:dgram";
import { isMainThread, parentPort, workerData, type MessagePort } from "node:worker_threads";

/** Index of the control words (an Int32Array of CONTROL_WORDS over a SharedArrayBuffer). */
export const CTRL_HEAD = 0;
export const CTRL_TAIL = 1;
/** 1 while the reader sleeps and wants a notify on this word; the writer sets it to 0 and notifies. */
export const CTRL_WAKE = 2;
/** Datagrams dropped because the ring was full. */
export const CTRL_OVERFLOWS = 3;
/** Datagrams written into the ring. */
export const CTRL_WRITTEN = 4;
/** Highest number of bytes the ring held (a gauge of how close it came to overflowing). */
export const CTRL_HIGH_WATER = 5;
export const CONTROL_WORDS = 8;

export const RECORD_HEADER = 4;
export const WRAP_MARKER = -1;
/** Smallest ring accepted: one record of the largest UDP payload, plus room. */
export const MIN_RING_BYTES = 256 * 1024;
export const DEFAULT_RING_BYTES = 64 * 1024 * 1024;

/** What the worker is started with (workerData). */
export interface SocketWorkerConfig {
  readonly kind: "condcast-socket-worker";
  readonly ring: SharedArrayBuffer;
  readonly control: SharedArrayBuffer;
  readonly group: string;
  readonly port: number;
  readonly interface: string;
  readonly receiveBufferSize: number;
}

/** Messages from the worker to the main thread. */
export type SocketWorkerMessage =
  | { readonly type: "listening"; readonly reportedReceiveBuffer: number }
  | { readonly type: "error"; readonly starting: boolean; readonly message: string; readonly code: string | undefined }
  | { readonly type: "rejoined"; readonly error: string | undefined }
  | { readonly type: "closed" };

/** Bytes a record of `length` datagram bytes takes in the ring. */
export function recordBytes(length: number): number {
  return (RECORD_HEADER + length + 3) & ~3;
}

/** A ring's storage: the bytes (a multiple of 4) and the control words, both shareable with a worker. */
export function createRing(ringBytes: number): { ring: SharedArrayBuffer; control: SharedArrayBuffer } {
  if (!Number.isSafeInteger(ringBytes) || ringBytes < MIN_RING_BYTES || ringBytes > 2 ** 30) {
    throw new RangeError(`ring size must be an integer in [${MIN_RING_BYTES}, ${2 ** 30}], got ${ringBytes}`);
  }
  return { ring: new SharedArrayBuffer(ringBytes & ~3), control: new SharedArrayBuffer(CONTROL_WORDS * 4) };
}

/** The writing side (the worker; tests use it in-process). */
export class RingWriter {
  private readonly bytes: Uint8Array;
  private readonly words: Int32Array;
  private readonly control: Int32Array;
  private readonly capacity: number;
  private head: number;

  constructor(ring: SharedArrayBuffer, control: SharedArrayBuffer) {
    this.bytes = new Uint8Array(ring);
    this.words = new Int32Array(ring);
    this.control = new Int32Array(control);
    this.capacity = ring.byteLength;
    this.head = Atomics.load(this.control, CTRL_HEAD);
  }

  /** Copies one datagram in; false when the ring is full (the datagram is dropped and counted). */
  write(datagram: Uint8Array): boolean {
    const size = recordBytes(datagram.length);
    const capacity = this.capacity;
    const tail = Atomics.load(this.control, CTRL_TAIL);
    let head = this.head;
    let at: number;
    if (head >= tail) {
      // Free: [head, capacity) and [0, tail). The ring must not become full (head === tail is empty).
      if (head + size < capacity || (head + size === capacity && tail > 0)) {
        at = head;
      } else if (size < tail) {
        this.words[head >> 2] = WRAP_MARKER;
        at = 0;
      } else {
        return this.overflow();
      }
    } else if (head + size < tail) {
      at = head;
    } else {
      return this.overflow();
    }
    this.words[at >> 2] = datagram.length;
    this.bytes.set(datagram, at + RECORD_HEADER);
    head = at + size;
    if (head === capacity) head = 0;
    this.head = head;
    // The store publishes the record (Atomics are sequentially consistent).
    Atomics.store(this.control, CTRL_HEAD, head);
    Atomics.add(this.control, CTRL_WRITTEN, 1);
    const used = head >= tail ? head - tail : capacity - tail + head;
    if (used > Atomics.load(this.control, CTRL_HIGH_WATER)) Atomics.store(this.control, CTRL_HIGH_WATER, used);
    return true;
  }

  /** Wakes the reader if it sleeps on CTRL_WAKE. */
  wake(): void {
    if (Atomics.load(this.control, CTRL_WAKE) !== 0 && Atomics.compareExchange(this.control, CTRL_WAKE, 1, 0) === 1) {
      Atomics.notify(this.control, CTRL_WAKE);
    }
  }

  private overflow(): false {
    Atomics.add(this.control, CTRL_OVERFLOWS, 1);
    return false;
  }
}

/** The reading side (the main thread): views into the ring, valid until `release`. */
export class RingReader {
  /** The ring's bytes: a record is bytes[offset, offset + length). */
  readonly bytes: Uint8Array;
  private readonly words: Int32Array;
  readonly control: Int32Array;
  private readonly capacity: number;
  private tail: number;
  /** Where the record returned by `next` starts (its datagram bytes). */
  offset = 0;

  constructor(ring: SharedArrayBuffer, control: SharedArrayBuffer) {
    this.bytes = new Uint8Array(ring);
    this.words = new Int32Array(ring);
    this.control = new Int32Array(control);
    this.capacity = ring.byteLength;
    this.tail = Atomics.load(this.control, CTRL_TAIL);
  }

  /**
   * The length of the next datagram (its bytes start at `offset`), or -1 when the ring is empty. The
   * record stays in place until `release`, which must come before the next call.
   */
  next(): number {
    let tail = this.tail;
    const head = Atomics.load(this.control, CTRL_HEAD);
    if (tail === head) return -1;
    let length = this.words[tail >> 2]!;
    if (length === WRAP_MARKER) {
      tail = 0;
      this.tail = 0;
      length = this.words[0]!;
    }
    this.offset = tail + RECORD_HEADER;
    return length;
  }

  /** Whether a record is waiting. */
  pending(): boolean {
    return Atomics.load(this.control, CTRL_HEAD) !== this.tail;
  }

  /** Gives the record returned by `next` (of `length` bytes) back to the writer. */
  release(length: number): void {
    let tail = this.tail + recordBytes(length);
    if (tail === this.capacity) tail = 0;
    this.tail = tail;
    Atomics.store(this.control, CTRL_TAIL, tail);
  }

  get overflows(): number {
    return Atomics.load(this.control, CTRL_OVERFLOWS);
  }

  get written(): number {
    return Atomics.load(this.control, CTRL_WRITTEN);
  }

  get highWater(): number {
    return Atomics.load(this.control, CTRL_HIGH_WATER);
  }
}

/** The worker's body: bind, join, copy every datagram into the ring, wake the reader. */
function runSocketWorker(config: SocketWorkerConfig, port: MessagePort): void {
  const writer = new RingWriter(config.ring, config.control);
  const post = (message: SocketWorkerMessage): void => port.postMessage(message);
  let starting = true;
  const socket = dgram.createSocket({ type: "udp4", reuseAddr: true, recvBufferSize: config.receiveBufferSize });
  socket.on("message", (datagram) => {
    writer.write(datagram);
    // Also after an overflow: the reader must come and make room.
    writer.wake();
  });
  socket.on("error", (error: NodeJS.ErrnoException) => post({ type: "error", starting, message: error.message, code: error.code }));
  port.on("message", (message: { type: string }) => {
    if (message.type === "rejoin") {
      post({ type: "rejoined", error: rejoin(socket, config.group, config.interface) });
      return;
    }
    if (message.type !== "close") return;
    const closed = (): void => {
      post({ type: "closed" });
      port.close();
    };
    try {
      socket.close(closed);
    } catch {
      closed(); // never bound, or already closed
    }
  });
  // Binding to the group address keeps other traffic to the port out of this socket.
  socket.bind(config.port, config.group, () => {
    try {
      socket.addMembership(config.group, config.interface);
    } catch (error) {
      const e = error as NodeJS.ErrnoException;
      post({ type: "error", starting: true, message: e.message, code: e.code });
      return;
    }
    starting = false;
    post({ type: "listening", reportedReceiveBuffer: socket.getRecvBufferSize() });
  });
}

/**
 * Leaves the group and joins it again, so that a new membership report goes out (a switch or router
 * that lost the old one forwards the group again); returns the error's message, if any.
 */
export function rejoin(socket: dgram.Socket, group: string, iface: string): string | undefined {
  try {
    socket.dropMembership(group, iface);
  } catch {
    // not a member (any more): joining is what matters
  }
  try {
    socket.addMembership(group, iface);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

const config = workerData as SocketWorkerConfig | null | undefined;
if (!isMainThread && parentPort !== null && config?.kind === "condcast-socket-worker") runSocketWorker(config, parentPort);
