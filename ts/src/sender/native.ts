// The optional native send path (ts/native/udp_batch.c, built by `make ts` into dist/native): one
// sendmmsg per batch, with UDP GSO where the kernel offers it. node:dgram makes one system call per
// datagram; at jumbo datagram sizes that call is what limits the sender.
import { loadAddon } from "../native/addon.js";

/** A socket of the addon; closed by close() or when garbage-collected. */
export type NativeHandle = { readonly __nativeUdpHandle: unique symbol };

export interface NativeStats {
  /** Runs of equal-length datagrams go out as one UDP_SEGMENT message. */
  readonly gso: boolean;
  /** sendmmsg system calls. */
  readonly calls: number;
  readonly messages: number;
  readonly gsoMessages: number;
  readonly datagrams: number;
  /** Waits for send-buffer space (EAGAIN / ENOBUFS). */
  readonly retries: number;
}

export interface NativeUdp {
  /** A UDP socket bound to interface:0, multicast on that interface, connected to group:port. */
  open(iface: string, group: string, port: number, ttl: number, loop: boolean): NativeHandle;
  /** Datagram j is buffer[j * stride, j * stride + lengths[j]); returns count when all are sent. */
  send(handle: NativeHandle, buffer: Uint8Array, stride: number, lengths: Uint32Array, count: number): number;
  close(handle: NativeHandle): void;
  stats(handle: NativeHandle): NativeStats;
  /** Turns GSO off (or back on where the kernel has it); returns whether it is on. */
  setGso(handle: NativeHandle, on: boolean): boolean;
  /** SO_NO_CHECK: the kernel then refuses GSO sends with EINVAL (for tests of the fallback). */
  setNoChecksum(handle: NativeHandle): void;
}

/** The addon, or null when it is not built or does not load (see nativeLoadError()). */
export function nativeUdp(): NativeUdp | null {
  return loadAddon<NativeUdp>("udp_batch").addon;
}

/** Why nativeUdp() returned null (null when it loaded). */
export function nativeLoadError(): Error | null {
  return loadAddon<NativeUdp>("udp_batch").error;
}

/** Whether the environment allows the native path: CONDCAST_NATIVE_SEND=0 turns it off. */
export function nativeSendWanted(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.CONDCAST_NATIVE_SEND !== "0";
}

/** Whether the environment allows GSO on the native path: CONDCAST_NATIVE_GSO=0 turns it off. */
export function nativeGsoWanted(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.CONDCAST_NATIVE_GSO !== "0";
}
