// The socket thread's ring (issue 7): records in and out intact across wrap-around, a full ring drops
// and counts, and the Receiver with each thread that fills it (the worker: group 239.255.39.47, ports
// 40400-40449; the native thread: 239.255.50.2, 40830-40839) over real loopback multicast.
import { randomUUID } from "node:crypto";
import { Worker } from "node:worker_threads";
import { describe, expect, test } from "vitest";
import fc from "fast-check";
import { Receiver, type ReceiverOptions } from "../src/receiver/receiver.js";
import {
  CONTROL_WORDS,
  DEFAULT_RING_BYTES,
  MIN_RING_BYTES,
  RingReader,
  RingWriter,
  createRing,
  recordBytes,
} from "../src/receiver/socket-worker.js";
import { Sender } from "../src/sender/sender.js";
import { ObjectEncoder } from "../src/wire/object-encoder.js";
import { md5Hex } from "../src/wire/object.js";
import { RECEIVE_PATHS, bytes, collect, sleep, testMeta } from "./helpers.js";

function ring(capacity: number): { writer: RingWriter; reader: RingReader } {
  const ring = new SharedArrayBuffer(capacity);
  const control = new SharedArrayBuffer(CONTROL_WORDS * 4);
  return { writer: new RingWriter(ring, control), reader: new RingReader(ring, control) };
}

function datagram(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (seed * 31 + i * 7) & 0xff;
  return out;
}

/** Reads one record, copies it out and releases it; null when empty. */
function take(reader: RingReader): Uint8Array | null {
  const length = reader.next();
  if (length < 0) return null;
  const copy = reader.bytes.slice(reader.offset, reader.offset + length);
  reader.release(length);
  return copy;
}

describe("ring", () => {
  test("records come out in order and intact across many wrap-arounds", () => {
    const { writer, reader } = ring(2048);
    let written = 0;
    let read = 0;
    const check = (): void => {
      const out = take(reader)!;
      expect(out).toEqual(datagram(out.length, read));
      read++;
    };
    for (let round = 0; round < 3000; round++) {
      const length = (round * 37) % 300;
      expect(writer.write(datagram(length, written))).toBe(true);
      written++;
      if (written - read >= 3) check();
      if (round % 7 === 0) while (reader.pending()) check();
    }
    while (reader.pending()) check();
    expect(read).toBe(written);
    expect(reader.overflows).toBe(0);
    expect(reader.written).toBe(written);
  });

  test("a full ring drops and counts; what it kept is intact; it takes records again once read", () => {
    const { writer, reader } = ring(4096);
    let accepted = 0;
    let refused = 0;
    for (let i = 0; i < 100; i++) {
      if (writer.write(datagram(200, i))) accepted++;
      else refused++;
    }
    expect(accepted).toBe(Math.floor((4096 - 1) / recordBytes(200)));
    expect(refused).toBe(100 - accepted);
    expect(reader.overflows).toBe(refused);
    expect(reader.highWater).toBe(accepted * recordBytes(200));
    for (let i = 0; i < accepted; i++) expect(take(reader)).toEqual(datagram(200, i));
    expect(take(reader)).toBeNull();
    expect(writer.write(datagram(200, 1000))).toBe(true);
    expect(take(reader)).toEqual(datagram(200, 1000));
  });

  test("a record that fits only at the start wraps; one larger than the free space is refused", () => {
    const { writer, reader } = ring(256);
    expect(writer.write(datagram(150, 1))).toBe(true); // [0, 156)
    expect(take(reader)).toEqual(datagram(150, 1)); // tail 156
    expect(writer.write(datagram(60, 2))).toBe(true); // [156, 220)
    expect(writer.write(datagram(100, 3))).toBe(true); // wraps: marker at 220, [0, 104)
    expect(writer.write(datagram(60, 4))).toBe(false); // 104 + 64 >= 156: no room
    expect(take(reader)).toEqual(datagram(60, 2));
    expect(take(reader)).toEqual(datagram(100, 3));
    expect(take(reader)).toBeNull();
    expect(reader.overflows).toBe(1);
  });

  test("any interleaving of writes and reads keeps order and content; a refusal only when full", () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.integer({ min: 0, max: 700 }), fc.constant(-1)), { maxLength: 400 }), (ops) => {
        const capacity = 2048;
        const { writer, reader } = ring(capacity);
        const queue: Uint8Array[] = [];
        let used = 0;
        let seed = 0;
        let refused = 0;
        for (const op of ops) {
          if (op < 0) {
            const out = take(reader);
            const expected = queue.shift();
            if (expected === undefined) expect(out).toBeNull();
            else {
              expect(out).toEqual(expected);
              used -= recordBytes(expected.length);
            }
            continue;
          }
          const d = datagram(op, seed++);
          if (writer.write(d)) {
            queue.push(d);
            used += recordBytes(op);
          } else {
            refused++;
            // Refused only when the record could not fit even in one piece of free space.
            expect(used + recordBytes(op)).toBeGreaterThan(capacity / 2 - 4);
          }
        }
        for (const expected of queue) expect(take(reader)).toEqual(expected);
        expect(take(reader)).toBeNull();
        expect(reader.overflows).toBe(refused);
      }),
      { numRuns: 300 },
    );
  });

  test("ring sizes out of range are refused", () => {
    expect(() => createRing(MIN_RING_BYTES - 1)).toThrow(RangeError);
    expect(() => createRing(2 ** 31)).toThrow(RangeError);
    expect(createRing(DEFAULT_RING_BYTES).ring.byteLength).toBe(64 * 1024 * 1024);
  });

  test("the receiver decodes datagrams in place in the ring, keyed ones too", () => {
    const key = { id: 5, key: new Uint8Array(16).fill(3) };
    const receiver = new Receiver({ keys: new Map([[5, key.key]]) });
    const objects: { md5: string }[] = [];
    receiver.on("object", (o) => objects.push({ md5: md5Hex(o.payload) }));
    const { writer, reader } = ring(64 * 1024);
    const payloads = [bytes(300_000, 1), bytes(1, 2), bytes(0, 3)];
    for (const payload of payloads) {
      const object = { senderId: "00000000000000aa", sequence: 1 + payloads.indexOf(payload), id: randomUUID(), meta: testMeta(payload), payload };
      const encoder = new ObjectEncoder(object, 1472, { key });
      for (const d of encoder.datagrams()) {
        expect(writer.write(d)).toBe(true);
        const length = reader.next();
        // The ring's bytes, not a copy: the reassembler copies the chunk before the record is released.
        receiver.handleDatagram(reader.bytes.subarray(reader.offset, reader.offset + length), Date.now());
        reader.bytes.fill(0xee, reader.offset, reader.offset + length);
        reader.release(length);
      }
    }
    expect(objects.map((o) => o.md5)).toEqual(payloads.map((p) => md5Hex(p)));
    expect(receiver.counters.totalDrops()).toBe(0);
  });
});

/** Handles of the kinds a worker or a socket leaves behind. */
function handles(): string[] {
  return process.getActiveResourcesInfo().filter((r) => r === "UDPWrap" || r === "MessagePort" || r === "Worker");
}

/** Handles open now that were not open `before` (an earlier test's socket may still be closing). */
async function leaked(before: string[]): Promise<string[]> {
  await sleep(50);
  const left = [...before];
  return handles().filter((h) => {
    const i = left.indexOf(h);
    if (i < 0) return true;
    left.splice(i, 1);
    return false;
  });
}

/** Each drain path on a group and ports of its own (6 ports each). */
const PLACES = {
  worker: { group: "239.255.39.47", port: 40400 },
  native: { group: "239.255.50.2", port: 40830 },
} as const;
const DRAIN_PATHS = RECEIVE_PATHS.filter((p): p is "native" | "worker" => p !== "main");

describe.each(DRAIN_PATHS)("receiver with the %s socket thread, over loopback multicast", (receivePath) => {
  const GROUP = PLACES[receivePath].group;
  let nextPort = PLACES[receivePath].port;

  async function pair(receiverOptions: ReceiverOptions, rate = 100_000_000) {
    const port = nextPort++;
    const receiver = new Receiver({ group: GROUP, port, interface: "127.0.0.1", receivePath, ...receiverOptions });
    const info = await receiver.start();
    expect(info.receivePath).toBe(receiverOptions.receivePath ?? receivePath);
    const sender = new Sender({ group: GROUP, port, interface: "127.0.0.1", heartbeatIntervalMs: 0, rate, datagramSize: 8972 });
    await sender.start();
    return { receiver, sender, info };
  }

  test("a 20 MB object arrives intact; listening reports the buffers and the ring", async () => {
    const before = handles();
    const { receiver, sender, info } = await pair({});
    try {
      expect(info.receiveBufferRequested).toBe(32 * 1024 * 1024);
      expect(info.receiveBufferGranted).toBeGreaterThan(0);
      expect(info.receiveBufferGranted).toBeLessThanOrEqual(info.receiveBufferRequested);
      expect(info.ringBytes).toBe(DEFAULT_RING_BYTES);
      const payload = bytes(20_000_000, 7);
      const received = collect(receiver, 1, 30_000);
      const sent = await sender.send({ payload, ...testMeta(payload), id: undefined });
      const [object] = await received;
      expect(object!.id).toBe(sent.id);
      expect(md5Hex(object!.payload)).toBe(md5Hex(payload));
      // Parity that arrives after the object is complete may still be on its way.
      expect(receiver.counters.datagrams).toBeLessThanOrEqual(sent.datagrams);
      expect(receiver.counters.totalDrops()).toBe(0);
      expect(receiver.counters.ringOverflows).toBe(0);
      expect(receiver.counters.toJSON()).toMatchObject({ ringOverflows: 0 });
    } finally {
      await sender.close();
      await receiver.close();
    }
    expect(await leaked(before)).toEqual([]);
  });

  test("the in-thread path reports the same granted buffer and no ring", async () => {
    const a = await pair({ receivePath: "main", receiveBufferSize: 1 << 20 }, 20_000_000);
    const b = await pair({ receiveBufferSize: 1 << 20 }, 20_000_000);
    try {
      expect(a.info.ringBytes).toBe(0);
      expect(a.info.receiveBufferRequested).toBe(1 << 20);
      expect(b.info.receiveBufferGranted).toBe(a.info.receiveBufferGranted);
      const payload = bytes(500_000, 8);
      const got = [collect(a.receiver, 1, 20_000), collect(b.receiver, 1, 20_000)];
      await a.sender.send({ payload, ...testMeta(payload), id: undefined });
      await b.sender.send({ payload, ...testMeta(payload), id: undefined });
      for (const [object] of await Promise.all(got)) expect(md5Hex(object!.payload)).toBe(md5Hex(payload));
    } finally {
      for (const p of [a, b]) {
        await p.sender.close();
        await p.receiver.close();
      }
    }
  });

  test("a stalled main thread overflows a small ring: counted, and the receiver goes on", async () => {
    const { receiver, sender } = await pair({ ringBytes: MIN_RING_BYTES, partialTimeoutMs: 200 });
    const port = nextPort - 1;
    // Another thread sends while this one is blocked: the datagrams of a 3 MB object, as fast as it can.
    const payload = bytes(3_000_000, 9);
    const encoder = new ObjectEncoder({ senderId: "00000000000000bb", sequence: 1, id: randomUUID(), meta: testMeta(payload), payload }, 8972);
    const datagrams = [...encoder.datagrams()].map((d) => Uint8Array.from(d));
    const blaster = new Worker(
      `const dgram = require("node:dgram");
       const { parentPort, workerData } = require("node:worker_threads");
       const socket = dgram.createSocket("udp4");
       socket.bind(0, "127.0.0.1", () => {
         socket.setMulticastInterface("127.0.0.1");
         parentPort.once("message", () => {
           let pending = workerData.datagrams.length;
           for (const d of workerData.datagrams) socket.send(d, workerData.port, workerData.group, () => {
             if (--pending === 0) socket.close(() => parentPort.close());
           });
         });
         parentPort.postMessage("ready");
       });`,
      { eval: true, workerData: { datagrams, port, group: GROUP } },
    );
    try {
      await new Promise((resolve) => blaster.once("message", resolve));
      const dropped = new Promise<void>((resolve) => receiver.once("dropped", () => resolve()));
      blaster.postMessage("go");
      const until = Date.now() + 500;
      while (Date.now() < until) {
        /* this thread stalls; the socket thread fills the 256 KiB ring */
      }
      await dropped; // incomplete, so it expires
      expect(receiver.counters.ringOverflows).toBeGreaterThan(0);
      expect(receiver.counters.ringHighWater).toBeGreaterThan(MIN_RING_BYTES / 2);
      expect(receiver.counters.datagrams + receiver.counters.ringOverflows).toBeLessThanOrEqual(datagrams.length);
      expect(receiver.counters.toJSON()).toMatchObject({ ringOverflows: receiver.counters.ringOverflows });
      const small = bytes(100_000, 10);
      const received = collect(receiver, 1, 10_000);
      await sender.send({ payload: small, ...testMeta(small), id: undefined });
      expect(md5Hex((await received)[0]!.payload)).toBe(md5Hex(small));
    } finally {
      await blaster.terminate();
      await sender.close();
      await receiver.close();
    }
  });

  test("start and close repeatedly leave no worker, port or socket behind", async () => {
    const before = handles();
    for (let i = 0; i < 4; i++) {
      const receiver = new Receiver({ group: GROUP, port: nextPort, interface: "127.0.0.1", receivePath });
      await receiver.start();
      await receiver.close();
      await receiver.close(); // idempotent
    }
    nextPort++;
    expect(await leaked(before)).toEqual([]);
  });

  test("a group that cannot be joined fails start() and ends the worker", async () => {
    const before = handles();
    const receiver = new Receiver({ group: GROUP, port: nextPort++, interface: "192.0.2.1", receivePath });
    await expect(receiver.start()).rejects.toThrow();
    await receiver.close();
    expect(await leaked(before)).toEqual([]);
  });
});
