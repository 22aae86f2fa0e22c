// The native send path (ts/native/udp_batch.c: sendmmsg, UDP GSO) over real loopback multicast
// (127.0.0.1, groups 239.255.39.4x, ports 40340-40399). A second socket on the group captures every
// datagram in arrival order, so each test compares the wire with the encoder's datagrams byte for byte.
// Skipped when the addon is not built (no C compiler); `make ts` builds it.
import dgram from "node:dgram";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, test } from "vitest";
import { fecSettings } from "../src/fec/layout.js";
import { Receiver } from "../src/receiver/receiver.js";
import { nativeGsoWanted, nativeLoadError, nativeSendWanted, nativeUdp, type NativeHandle, type NativeUdp } from "../src/sender/native.js";
import { Sender, type SenderOptions } from "../src/sender/sender.js";
import type { AuthKey } from "../src/wire/auth.js";
import { md5Hex } from "../src/wire/object.js";
import { ObjectEncoder } from "../src/wire/object-encoder.js";
import { bytes, collect, sleep, testMeta } from "./helpers.js";

const GROUP = "239.255.39.41";
let nextPort = 40340;
const open: { close(): unknown }[] = [];
const built = existsSync(fileURLToPath(new URL("../dist/native/udp_batch.node", import.meta.url)));

afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

test("the addon loads when it is built", () => {
  if (!built) return; // nothing to load: the sender uses node:dgram
  expect(nativeLoadError()).toBeNull();
  expect(nativeUdp()).not.toBeNull();
});

test("CONDCAST_NATIVE_SEND=0 and CONDCAST_NATIVE_GSO=0 turn the native path and GSO off", () => {
  expect(nativeSendWanted({})).toBe(true);
  expect(nativeSendWanted({ CONDCAST_NATIVE_SEND: "0" })).toBe(false);
  expect(nativeGsoWanted({})).toBe(true);
  expect(nativeGsoWanted({ CONDCAST_NATIVE_GSO: "0" })).toBe(false);
});

test("nativeSend: false keeps the dgram path", async () => {
  const sender = new Sender({ group: GROUP, port: nextPort++, interface: "127.0.0.1", heartbeatIntervalMs: 0, nativeSend: false });
  open.push(sender);
  expect(sender.transport).toBeNull();
  await sender.start();
  expect(sender.transport).toBe("dgram");
  expect(sender.nativeStats()).toBeNull();
});

/** Every datagram arriving on the group's port, in order. */
async function capture(port: number): Promise<{ datagrams: Buffer[]; close(): Promise<void> }> {
  const socket = dgram.createSocket({ type: "udp4", reuseAddr: true, recvBufferSize: 4 * 1024 * 1024 });
  const datagrams: Buffer[] = [];
  socket.on("message", (m) => datagrams.push(m));
  await new Promise<void>((resolve) => socket.bind(port, resolve));
  socket.addMembership(GROUP, "127.0.0.1");
  return { datagrams, close: () => new Promise<void>((resolve) => socket.close(() => resolve())) };
}

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await sleep(10);
  }
}

function internals(sender: Sender): { addon: NativeUdp; handle: NativeHandle } {
  const native = (sender as unknown as { native: { addon: NativeUdp; handle: NativeHandle } | null }).native;
  if (native === null) throw new Error("sender is not on the native path");
  return native;
}

interface Case {
  readonly size: number;
  readonly datagramSize: number;
  readonly fecParity?: number;
  readonly fecBlockLength?: number;
  readonly fecInterleave?: number;
  readonly key?: AuthKey;
  /** The object's short last source fragment is sent before other datagrams (FEC interleaving). */
  readonly shortMidOrder?: boolean;
}

/**
 * Sends one object through a native sender while a Receiver and a capture socket listen; checks the
 * object arrives intact and the wire carries exactly the encoder's datagrams in send order.
 */
async function roundTrip(c: Case, options: SenderOptions = {}, prepare?: (sender: Sender) => void) {
  const port = nextPort++;
  const keys = c.key ? new Map([[c.key.id, c.key.key]]) : undefined;
  const receiver = new Receiver({ group: GROUP, port, interface: "127.0.0.1", keys });
  open.push(receiver);
  await receiver.start();
  const wire = await capture(port);
  open.push(wire);
  const settings = { datagramSize: c.datagramSize, fecParity: c.fecParity, fecBlockLength: c.fecBlockLength, fecInterleave: c.fecInterleave, key: c.key };
  const sender = new Sender({ group: GROUP, port, interface: "127.0.0.1", heartbeatIntervalMs: 0, rate: 100_000_000, nativeSend: true, ...settings, ...options });
  open.push(sender);
  await sender.start();
  expect(sender.transport).toBe("native");
  prepare?.(sender);
  const before = sender.nativeStats()!;
  const payload = bytes(c.size, c.size + 7);
  const received = collect(receiver, 1, 20_000);
  const sent = await sender.send({ payload, ...testMeta(payload), id: undefined });
  const [object] = await received;
  expect(object!.id).toBe(sent.id);
  expect(object!.meta).toEqual(sent.meta);
  expect(md5Hex(object!.payload)).toBe(md5Hex(payload));
  expect(receiver.counters.totalDrops()).toBe(0);

  // The same object encoded again: the datagrams the wire must carry, in this order.
  const fec = fecSettings(c.fecParity ?? 0.05, c.fecBlockLength, c.fecInterleave ?? 16);
  const expected = new ObjectEncoder({ senderId: sender.senderId, sequence: sent.sequence, id: sent.id, meta: sent.meta, payload }, c.datagramSize, { key: c.key, fec }).datagrams();
  await waitFor(() => wire.datagrams.length >= expected.length);
  await sleep(50); // nothing more (no duplicates) arrives
  expect(wire.datagrams.length).toBe(expected.length);
  expect(sent.datagrams).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (!wire.datagrams[i]!.equals(expected[i]!)) throw new Error(`datagram ${i} of ${expected.length} differs (length ${wire.datagrams[i]!.length}, expected ${expected[i]!.length})`);
  }
  if (c.shortMidOrder) {
    const lengths = expected.map((d) => d.length);
    const shortAt = lengths.findIndex((l, i) => i < lengths.length - 1 && l < lengths[i + 1]!);
    expect(shortAt).toBeGreaterThanOrEqual(0); // the case does what it says
  }
  const after = sender.nativeStats()!;
  return { sender, before, after, datagrams: expected.length };
}

const key: AuthKey = { id: 5, key: Uint8Array.from(Buffer.from("00112233445566778899aabbccddeeff", "hex")) };

describe.skipIf(!built)("native path: objects cross loopback multicast intact, datagram for datagram", () => {
  test.each<[string, Case]>([
    ["0 B", { size: 0, datagramSize: 1472 }],
    ["1 B, no FEC", { size: 1, datagramSize: 1472, fecParity: 0 }],
    ["100 kB at 1472 B, no FEC (short last datagram ends a GSO run)", { size: 100_000, datagramSize: 1472, fecParity: 0 }],
    ["1 MB at 8972 B, default FEC (short last source fragment before the parity)", { size: 1_000_000, datagramSize: 8972, shortMidOrder: true }],
    ["2 MB at 1472 B, FEC p 0.2, B 20, D 3 (short fragment mid-order)", { size: 2_000_000, datagramSize: 1472, fecParity: 0.2, fecBlockLength: 20, fecInterleave: 3, shortMidOrder: true }],
    ["700 kB at 8972 B, keyed, FEC p 0.1, B 7, D 4", { size: 700_000, datagramSize: 8972, key, fecParity: 0.1, fecBlockLength: 7, fecInterleave: 4, shortMidOrder: true }],
    ["3 MB at 65507 B (no GSO: one datagram per message)", { size: 3_000_000, datagramSize: 65507 }],
  ])("%s", async (_label, c) => {
    const { before, after, datagrams } = await roundTrip(c);
    expect(after.datagrams - before.datagrams).toBe(datagrams);
    // One sendmmsg per batch (at most 64 datagrams and 256 KiB), not one call per datagram.
    const batches = Math.ceil(datagrams / Math.max(1, Math.min(64, Math.floor(262_144 / c.datagramSize))));
    expect(after.calls - before.calls - (after.retries - before.retries)).toBeLessThanOrEqual(batches);
    if (before.gso && c.datagramSize < 32_000 && datagrams > 2) expect(after.gsoMessages).toBeGreaterThan(before.gsoMessages);
  });
});

describe.skipIf(!built)("native path: GSO fallback", () => {
  test("GSO forced off: plain sendmmsg, one message per datagram", async () => {
    const { after, datagrams } = await roundTrip({ size: 1_000_000, datagramSize: 8972, shortMidOrder: true }, { nativeGso: false });
    expect(after.gso).toBe(false);
    expect(after.gsoMessages).toBe(0);
    expect(after.messages).toBe(datagrams);
    expect(after.calls).toBeLessThan(datagrams);
  });

  test("the kernel refusing GSO (EINVAL) switches it off mid-object; nothing is lost or sent twice", async () => {
    let gsoAtStart = false;
    const { after, datagrams } = await roundTrip({ size: 1_500_000, datagramSize: 1472, fecParity: 0.2, fecBlockLength: 20, fecInterleave: 3, shortMidOrder: true }, {}, (sender) => {
      const { addon, handle } = internals(sender);
      gsoAtStart = addon.stats(handle).gso;
      addon.setNoChecksum(handle); // UDP GSO needs checksums: the kernel now answers EINVAL
    });
    if (!gsoAtStart) return; // a kernel without UDP GSO: nothing to fall back from
    expect(after.gso).toBe(false);
    expect(after.gsoMessages).toBe(0);
    expect(after.datagrams).toBe(datagrams);
  });
});

describe.skipIf(!built)("native path: errors", () => {
  test("sending on a closed sender rejects", async () => {
    const sender = new Sender({ group: GROUP, port: nextPort++, interface: "127.0.0.1", heartbeatIntervalMs: 0, nativeSend: true });
    await sender.start();
    expect(sender.transport).toBe("native");
    await sender.close();
    const payload = bytes(10);
    await expect(sender.send({ payload, ...testMeta(payload) })).rejects.toThrow(/not started/);
    await expect(sender.sendLifecycle({ objectId: "6f1c2d3e-4a5b-4c6d-8e7f-8091a2b3c4d5", action: "deleted", path: "A/B" })).rejects.toThrow(/closed/);
    await sender.close(); // twice is fine
  });

  test("a sender on an address that is not local fails to start with the errno text", async () => {
    const sender = new Sender({ group: GROUP, port: nextPort++, interface: "192.0.2.1", heartbeatIntervalMs: 0, nativeSend: true });
    await expect(sender.start()).rejects.toThrow(/bind 192\.0\.2\.1.*EADDRNOTAVAIL/);
    expect(sender.transport).toBeNull();
  });

  test("the addon rejects bad arguments, closed sockets and datagrams the kernel refuses", () => {
    const addon = nativeUdp()!;
    const handle = addon.open("127.0.0.1", GROUP, nextPort++, 1, true);
    const buffer = new Uint8Array(70_000);
    expect(() => addon.send(handle, buffer, 100, Uint32Array.of(101), 1)).toThrow(TypeError); // longer than the stride
    expect(() => addon.send(handle, buffer.subarray(0, 150), 100, Uint32Array.of(100, 100), 2)).toThrow(TypeError); // past the end
    expect(() => addon.send(handle, buffer, 100, Uint32Array.of(100), 2)).toThrow(TypeError); // count > lengths
    expect(() => addon.send({} as NativeHandle, buffer, 100, Uint32Array.of(100), 1)).toThrow(TypeError);
    expect(addon.send(handle, buffer, 100, Uint32Array.of(100, 50), 2)).toBe(2);
    expect(() => addon.send(handle, buffer, 65535, Uint32Array.of(65535), 1)).toThrow(/sendmmsg: .*EMSGSIZE/); // above 65507
    addon.close(handle);
    addon.close(handle); // idempotent
    expect(() => addon.send(handle, buffer, 100, Uint32Array.of(100), 1)).toThrow(/EBADF/);
    expect(() => addon.open("not-an-address", GROUP, 1, 1, true)).toThrow(/interface/);
  });
});
