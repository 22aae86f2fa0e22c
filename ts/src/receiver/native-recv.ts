// The optional native receive path (ts/native/udp_recv.c, built by `make ts` into dist/native): a native
// thread drains the socket with recvmmsg (and UDP GRO where the kernel offers it) straight into the
// receiver's SharedArrayBuffer ring, with no JavaScript on the drain path. Without it the receiver
// drains the socket on a worker thread (socket-worker.ts).
import { loadAddon } from "../native/addon.js";

/** A receiving socket and its thread; closed by close() or when garbage-collected. */
export type NativeRecvHandle = { readonly __nativeRecvHandle: unique symbol };

export interface NativeRecvStats {
  /** The socket takes GRO aggregates (several datagrams of one size in one receive). */
  readonly gro: boolean;
  /** SO_RCVBUF as getsockopt reports it (on Linux twice what was granted). */
  readonly receiveBuffer: number;
  /** recvmmsg calls that returned datagrams. */
  readonly calls: number;
  readonly messages: number;
  /** Messages that were GRO aggregates of more than one datagram. */
  readonly groMessages: number;
  /** Datagrams offered to the ring (written or counted as overflows). */
  readonly datagrams: number;
  /** Messages longer than a receive slot (64 KiB), dropped. */
  readonly truncated: number;
  /** Calls of onWake for a reader that slept. */
  readonly wakes: number;
  /** CPU time of the receive thread. */
  readonly cpuSeconds: number;
}

export interface NativeRecv {
  /**
   * Binds group:port (SO_REUSEADDR), joins the group on the interface, requests SO_RCVBUF, turns on GRO
   * with the UDP option `groOption` (0: off) and starts the thread that writes into the ring.
   * `onWake()` runs on this thread when records arrived while the reader slept (CTRL_WAKE was 1);
   * `onWake(message)` once if the receive thread stopped on an error.
   */
  open(
    ring: Uint8Array,
    control: Int32Array,
    group: string,
    port: number,
    iface: string,
    receiveBuffer: number,
    groOption: number,
    onWake: (error?: string) => void,
  ): NativeRecvHandle;
  /** Leaves the group and joins it again (a fresh membership report). */
  rejoin(handle: NativeRecvHandle): void;
  /** Stops and joins the thread, leaves the group, closes the socket; idempotent. */
  close(handle: NativeRecvHandle): void;
  stats(handle: NativeRecvHandle): NativeRecvStats;
}

/** Linux's UDP_GRO socket option (IPPROTO_UDP level). */
export const UDP_GRO = 104;

/** The addon, or null when it is not built or does not load (see nativeRecvLoadError()). */
export function nativeRecv(): NativeRecv | null {
  return loadAddon<NativeRecv>("udp_recv").addon;
}

/** Why nativeRecv() returned null (null when it loaded). */
export function nativeRecvLoadError(): Error | null {
  return loadAddon<NativeRecv>("udp_recv").error;
}

/** Whether the environment allows the native receive path: CONDCAST_NATIVE_RECV=0 turns it off. */
export function nativeRecvWanted(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.CONDCAST_NATIVE_RECV !== "0";
}

/** Whether the environment allows GRO on the native receive path: CONDCAST_NATIVE_GRO=0 turns it off. */
export function nativeGroWanted(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.CONDCAST_NATIVE_GRO !== "0";
}
