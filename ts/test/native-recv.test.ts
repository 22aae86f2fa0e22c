// The native receive path (ts/native/udp_recv.c: a native thread, recvmmsg, UDP GRO, straight into the
// ring) over real loopback multicast (127.0.0.1, group 239.255.50.3, ports 40850-40899). Where a test
// opens the addon itself, it reads the ring with the RingReader and compares every record with the
// encoder's datagrams byte for byte. Skipped when the addon is not built (no C compiler); `make ts`
// builds it. The receiver's other tests run on this path too (multicast.test.ts, receiver-ring.test.ts).
import { spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, test } from "vitest";
import { fecSettings } from "../src/fec/layout.js";
import { UDP_GRO, nativeGroWanted, nativeRecv, nativeRecvLoadError, nativeRecvWanted, type NativeRecv, type NativeRecvHandle } from "../src/receiver/native-recv.js";
import { Receiver, type ReceiverOptions } from "../src/receiver/receiver.js";
import { CTRL_HEAD, CTRL_TAIL, MIN_RING_BYTES, RingReader, RingWriter, createRing, recordBytes } from "../src/receiver/socket-worker.js";
import { nativeUdp } from "../src/sender/native.js";
import { Sender, type SenderOptions, type SentObject } from "../src/sender/sender.js";
import { md5Hex } from "../src/wire/object.js";
import { ObjectEncoder } from "../src/wire/object-encoder.js";
import { bytes, collect, sleep, testMeta } from "./helpers.js";

const GROUP = "239.255.50.3";
let nextPort = 40850;
const built = existsSync(fileURLToPath(new URL("../dist/native/udp_recv.node", import.meta.url)));
const open: { close(): unknown }[] = [];

afterEach(async () => {
  for (const c of open.splice(0).reverse()) await c.close();
});

async function waitFor(condition: () => boolean, timeoutMs = 10_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what} not met in ${timeoutMs} ms`);
    await sleep(5);
  }
}

/** The addon opened on a ring of its own; nothing reads the ring unless the test does. */
function openRing(port: number, ringBytes: number, groOption: number) {
  const addon = nativeRecv()!;
  const { ring, control } = createRing(ringBytes);
  const reader = new RingReader(ring, control);
  const wakes: (string | undefined)[] = [];
  const handle = addon.open(new Uint8Array(ring), new Int32Array(control), GROUP, port, "127.0.0.1", 4 * 1024 * 1024, groOption, (e) => wakes.push(e));
  const result = { addon, handle, reader, wakes, ring, close: () => addon.close(handle) };
  open.push(result);
  return result;
}

/** Every record in the ring, copied out and released. */
function drain(reader: RingReader): Buffer[] {
  const out: Buffer[] = [];
  for (let length = reader.next(); length >= 0; length = reader.next()) {
    out.push(Buffer.from(reader.bytes.subarray(reader.offset, reader.offset + length)));
    reader.release(length);
  }
  return out;
}

async function nativeSender(port: number, options: SenderOptions = {}): Promise<Sender> {
  const sender = new Sender({ group: GROUP, port, interface: "127.0.0.1", heartbeatIntervalMs: 0, rate: 100_000_000, nativeSend: true, ...options });
  open.push(sender);
  await sender.start();
  return sender;
}

/** The datagrams the wire carries for a sent object, in send order (default FEC). */
function expectedDatagrams(sender: Sender, sent: SentObject, payload: Uint8Array, datagramSize: number): Uint8Array[] {
  const object = { senderId: sender.senderId, sequence: sent.sequence, id: sent.id, meta: sent.meta, payload };
  return new ObjectEncoder(object, datagramSize, { fec: fecSettings(0.05, undefined, 16) }).datagrams();
}

function sameDatagrams(got: Buffer[], expected: Uint8Array[]): void {
  expect(got.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (!got[i]!.equals(expected[i]!)) throw new Error(`record ${i} of ${expected.length} differs (length ${got[i]!.length}, expected ${expected[i]!.length})`);
  }
}

test("the addon loads when it is built; CONDCAST_NATIVE_RECV=0 and CONDCAST_NATIVE_GRO=0 turn it and GRO off", () => {
  if (built) {
    expect(nativeRecvLoadError()).toBeNull();
    expect(nativeRecv()).not.toBeNull();
  }
  expect(nativeRecvWanted({})).toBe(true);
  expect(nativeRecvWanted({ CONDCAST_NATIVE_RECV: "0" })).toBe(false);
  expect(nativeGroWanted({})).toBe(true);
  expect(nativeGroWanted({ CONDCAST_NATIVE_GRO: "0" })).toBe(false);
});

describe.skipIf(!built)("choosing the path", () => {
  test.each<[string, ReceiverOptions, Record<string, string>, string]>([
    ["the default is native", {}, {}, "native"],
    ["CONDCAST_NATIVE_RECV=0 makes the default the worker", {}, { CONDCAST_NATIVE_RECV: "0" }, "worker"],
    ["drainThread: false is the main thread", { drainThread: false }, {}, "main"],
    ["drainThread: true is native", { drainThread: true }, {}, "native"],
    ["receivePath wins over drainThread", { drainThread: false, receivePath: "native" }, {}, "native"],
    ["receivePath wins over CONDCAST_NATIVE_RECV=0", { receivePath: "native" }, { CONDCAST_NATIVE_RECV: "0" }, "native"],
    ["receivePath worker", { receivePath: "worker" }, {}, "worker"],
  ])("%s", async (_label, options, env, path) => {
    const saved = process.env.CONDCAST_NATIVE_RECV;
    if (env.CONDCAST_NATIVE_RECV !== undefined) process.env.CONDCAST_NATIVE_RECV = env.CONDCAST_NATIVE_RECV;
    else delete process.env.CONDCAST_NATIVE_RECV;
    try {
      const receiver = new Receiver({ group: GROUP, port: nextPort, interface: "127.0.0.1", ...options });
      open.push(receiver);
      const info = await receiver.start();
      expect(info.receivePath).toBe(path);
      expect(info.ringBytes).toBe(path === "main" ? 0 : 64 * 1024 * 1024);
      expect(receiver.nativeStats() !== null).toBe(path === "native");
    } finally {
      if (saved === undefined) delete process.env.CONDCAST_NATIVE_RECV;
      else process.env.CONDCAST_NATIVE_RECV = saved;
    }
  });
});

describe.skipIf(!built)("GSO batches from the native sender, with and without GRO", () => {
  test.each<[string, number, number]>([
    ["GRO on, 1472 B", UDP_GRO, 1472],
    ["GRO on, 8972 B", UDP_GRO, 8972],
    ["GRO off, 8972 B", 0, 8972],
    ["GRO refused by the kernel (an option it does not know), 1472 B", 0x7ff0, 1472],
  ])("%s: one ring record per datagram, in send order, byte for byte", async (_label, groOption, datagramSize) => {
    const port = nextPort++;
    const { addon, handle, reader } = openRing(port, 16 * 1024 * 1024, groOption);
    const gro = addon.stats(handle).gro;
    expect(gro).toBe(groOption === UDP_GRO); // this kernel has UDP_GRO (Linux >= 5.0)
    const sender = await nativeSender(port, { datagramSize });
    const payload = bytes(1_000_000, datagramSize);
    const sent = await sender.send({ payload, ...testMeta(payload), id: undefined });
    const expected = expectedDatagrams(sender, sent, payload, datagramSize);
    await waitFor(() => reader.written >= expected.length, 10_000, `${expected.length} records`);
    await sleep(50); // nothing more arrives
    sameDatagrams(drain(reader), expected);
    const stats = addon.stats(handle);
    expect(stats).toMatchObject({ datagrams: expected.length, truncated: 0 });
    expect(reader.overflows).toBe(0);
    if (gro && sender.nativeStats()!.gso) {
      // The sender's GSO messages reach the socket whole: fewer messages than datagrams.
      expect(stats.groMessages).toBeGreaterThan(0);
      expect(stats.messages).toBeLessThan(expected.length);
    } else {
      expect(stats.groMessages).toBe(0);
      expect(stats.messages).toBe(expected.length);
    }
  });

  test.each([
    ["on", true],
    ["off", false],
  ] as const)("Receiver with GRO %s: a 10 MB object at 8972 B arrives intact", async (_label, nativeGro) => {
    const port = nextPort++;
    const receiver = new Receiver({ group: GROUP, port, interface: "127.0.0.1", receivePath: "native", nativeGro });
    open.push(receiver);
    const info = await receiver.start();
    expect(info.receivePath).toBe("native");
    const sender = await nativeSender(port, { datagramSize: 8972, rate: 200_000_000 });
    const payload = bytes(10_000_000, 11);
    const received = collect(receiver, 1, 20_000);
    const sent = await sender.send({ payload, ...testMeta(payload), id: undefined });
    const [object] = await received;
    expect(md5Hex(object!.payload)).toBe(md5Hex(payload));
    expect(receiver.counters.totalDrops()).toBe(0);
    expect(receiver.counters.ringOverflows).toBe(0);
    expect(receiver.counters.datagrams).toBeLessThanOrEqual(sent.datagrams);
    const stats = receiver.nativeStats()!;
    expect(stats.gro).toBe(nativeGro);
    if (nativeGro && sender.nativeStats()!.gso) expect(stats.groMessages).toBeGreaterThan(0);
    else expect(stats.groMessages).toBe(0);
  });
});

describe.skipIf(!built)("the ring", () => {
  test("nobody reading: the ring fills and counts what it refuses, exactly as RingWriter does; then takes records again", async () => {
    const port = nextPort++;
    const { addon, handle, reader, wakes } = openRing(port, MIN_RING_BYTES, UDP_GRO);
    const sender = await nativeSender(port, { datagramSize: 8972 });
    const payload = bytes(3_000_000, 12);
    const sent = await sender.send({ payload, ...testMeta(payload), id: undefined });
    const expected = expectedDatagrams(sender, sent, payload, 8972);
    await waitFor(() => reader.written + reader.overflows >= expected.length, 10_000, "every datagram written or counted");
    expect(addon.stats(handle).datagrams).toBe(expected.length);
    // The TypeScript writer on a ring of the same size, given the same datagrams, keeps the same ones.
    const twin = createRing(MIN_RING_BYTES);
    const writer = new RingWriter(twin.ring, twin.control);
    const kept = expected.filter((d) => writer.write(d));
    const twinReader = new RingReader(twin.ring, twin.control);
    expect(kept.length).toBeGreaterThan(10);
    expect([reader.written, reader.overflows, reader.highWater]).toEqual([twinReader.written, twinReader.overflows, twinReader.highWater]);
    expect(Buffer.from(reader.bytes).equals(Buffer.from(twinReader.bytes))).toBe(true);
    expect(wakes).toEqual([]); // the reader never slept
    sameDatagrams(drain(reader), kept);
    // Room again: the next object's datagrams land after a wrap marker at the ring's start.
    const small = bytes(20_000, 13);
    const again = await sender.send({ payload: small, ...testMeta(small), id: undefined });
    const next = expectedDatagrams(sender, again, small, 8972);
    await waitFor(() => reader.written >= kept.length + next.length, 10_000, "the second object");
    sameDatagrams(drain(reader), next);
    expect(reader.overflows).toBe(expected.length - kept.length);
  });

  test("a 256 KiB ring wraps many times; records of every length come out intact and in order", async () => {
    const port = nextPort++;
    const { reader, wakes } = openRing(port, MIN_RING_BYTES, UDP_GRO);
    const udp = nativeUdp()!;
    const socket = udp.open("127.0.0.1", GROUP, port, 1, true);
    open.push({ close: () => udp.close(socket) });
    // Rounds of up to 40 datagrams (at most 40 * 5000 bytes, below the ring's size) sent at once; each
    // round is read before the next goes out, so nothing overflows however slow this thread is.
    let seed = 1;
    let bytesWritten = 0;
    for (let round = 0; round < 60; round++) {
      const count = 1 + ((round * 7) % 40);
      const stride = 5000;
      const buffer = new Uint8Array(count * stride);
      const lengths = new Uint32Array(count);
      const sent: Buffer[] = [];
      for (let j = 0; j < count; j++) {
        seed = (seed * 1103515245 + 12345) >>> 0;
        // 0 to 4999 bytes: every padding, wrap markers at every offset, and empty datagrams after longer
        // ones (which the sender's GSO must send alone).
        const length = j % 9 === 4 ? 0 : seed % stride;
        const d = bytes(length, seed);
        buffer.set(d, j * stride);
        lengths[j] = length;
        sent.push(d);
        bytesWritten += recordBytes(length);
      }
      const before = reader.written;
      udp.send(socket, buffer, stride, lengths, count);
      await waitFor(() => reader.written >= before + count, 10_000, `round ${round}`);
      sameDatagrams(drain(reader), sent);
    }
    expect(bytesWritten).toBeGreaterThan(10 * MIN_RING_BYTES);
    expect(reader.overflows).toBe(0);
    expect(wakes).toEqual([]); // nobody slept on CTRL_WAKE
  });
});

describe.skipIf(!built)("rejoin, close, errors", () => {
  test("after rejoin() datagrams still arrive", async () => {
    const port = nextPort++;
    const receiver = new Receiver({ group: GROUP, port, interface: "127.0.0.1", receivePath: "native" });
    open.push(receiver);
    const errors: Error[] = [];
    receiver.on("error", (e) => errors.push(e));
    await receiver.start();
    const sender = await nativeSender(port);
    for (let round = 0; round < 3; round++) {
      const payload = bytes(200_000, 20 + round);
      const received = collect(receiver, 1, 10_000);
      await sender.send({ payload, ...testMeta(payload), id: undefined });
      expect(md5Hex((await received)[0]!.payload)).toBe(md5Hex(payload));
      receiver.rejoin();
    }
    expect(errors).toEqual([]);
    const { addon, handle } = openRing(nextPort++, MIN_RING_BYTES, 0);
    addon.close(handle);
    expect(() => addon.rejoin(handle)).toThrow(/EBADF/);
  });

  test("start and close repeatedly leave no thread, descriptor or handle behind", async () => {
    const threads = (): number => readdirSync("/proc/self/task").length;
    const fds = (): number => readdirSync("/proc/self/fd").length;
    // Timers of earlier tests (collect's timeouts) come and go: everything else counts.
    const resources = (): string[] => process.getActiveResourcesInfo().filter((r) => r !== "Timeout" && r !== "Immediate").sort();
    const port = nextPort++;
    const cycle = async (): Promise<void> => {
      const receiver = new Receiver({ group: GROUP, port, interface: "127.0.0.1", receivePath: "native" });
      await receiver.start();
      await receiver.close();
      await receiver.close(); // idempotent
    };
    await cycle(); // first use: whatever Node sets up once
    await sleep(50);
    const before = { threads: threads(), fds: fds(), resources: resources() };
    for (let i = 0; i < 5; i++) await cycle();
    await sleep(50);
    expect({ threads: threads(), fds: fds(), resources: resources() }).toEqual(before);
  });

  test("like a socket, an open native receiver keeps a process alive; closed, the process exits", async () => {
    const dist = new URL("../dist/index.js", import.meta.url).href;
    const child = (closeAfterMs: number) => {
      const script = `import { Receiver } from ${JSON.stringify(dist)};
        const r = new Receiver({ group: "${GROUP}", port: ${nextPort++}, interface: "127.0.0.1", receivePath: "native" });
        const info = await r.start();
        console.log(info.receivePath);
        if (${closeAfterMs} >= 0) setTimeout(() => void r.close(), ${closeAfterMs}).unref();`;
      const process_ = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "pipe"] });
      let output = "";
      process_.stdout.on("data", (d: Buffer) => (output += d.toString()));
      process_.stderr.on("data", (d: Buffer) => (output += d.toString()));
      const exited = new Promise<number | null>((resolve) => process_.on("close", (c) => resolve(c)));
      return { process: process_, exited, output: () => output };
    };
    const closing = child(300);
    const open_ = child(-1);
    const late = sleep(10_000).then(() => "late" as const);
    expect(await Promise.race([closing.exited, late])).toBe(0);
    expect(closing.output()).toBe("native\n");
    await waitFor(() => open_.output() !== "", 10_000, "the second child listening");
    await sleep(300);
    expect(open_.process.exitCode).toBeNull(); // still running
    open_.process.kill("SIGTERM");
    await open_.exited;
  });

  test("a group that cannot be joined fails start() with the errno text", async () => {
    const receiver = new Receiver({ group: GROUP, port: nextPort++, interface: "192.0.2.1", receivePath: "native" });
    await expect(receiver.start()).rejects.toThrow(/IP_ADD_MEMBERSHIP 239\.255\.50\.3:\d+ on 192\.0\.2\.1: .*\(E[A-Z]+\)/);
    expect(receiver.nativeStats()).toBeNull();
    await receiver.close();
  });

  test("the addon rejects rings that are not shared, too small or odd, and bad arguments", () => {
    const addon: NativeRecv = nativeRecv()!;
    const { ring, control } = createRing(MIN_RING_BYTES);
    const args = (r: Uint8Array, c: Int32Array, group = GROUP, wake: unknown = () => {}) =>
      () => addon.open(r, c, group, nextPort, "127.0.0.1", 0, 0, wake as () => void) as NativeRecvHandle;
    expect(args(new Uint8Array(MIN_RING_BYTES), new Int32Array(control))).toThrow(TypeError); // not shared
    expect(args(new Uint8Array(ring, 0, MIN_RING_BYTES - 4), new Int32Array(control))).toThrow(TypeError);
    expect(args(new Uint8Array(ring, 0, MIN_RING_BYTES - 2), new Int32Array(control))).toThrow(TypeError);
    expect(args(new Uint8Array(ring), new Int32Array(control, 0, 4))).toThrow(TypeError);
    expect(args(new Uint8Array(ring), new Int32Array(new ArrayBuffer(32)))).toThrow(TypeError);
    expect(args(new Uint8Array(ring), new Int32Array(control), "not-an-address")).toThrow(/group/);
    expect(args(new Uint8Array(ring), new Int32Array(control), GROUP, 5)).toThrow(TypeError);
    expect(() => addon.stats({} as NativeRecvHandle)).toThrow(TypeError);
    // Nothing was opened: the ring's words are untouched.
    expect([Atomics.load(new Int32Array(control), CTRL_HEAD), Atomics.load(new Int32Array(control), CTRL_TAIL)]).toEqual([0, 0]);
  });
});
