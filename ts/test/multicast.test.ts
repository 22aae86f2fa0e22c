// Real sockets, real multicast on the loopback interface (127.0.0.1, TTL 1), on every receive path.
import { afterEach, describe, expect, test } from "vitest";
import type { ChangesetDelivery } from "../src/receiver/changeset-stager.js";
import { Receiver, type ReceiverOptions } from "../src/receiver/receiver.js";
import { deferred } from "../src/sender/deferred.js";
import { ObjectAbandoned, Sender, type SenderOptions } from "../src/sender/sender.js";
import { fragmentSizeFor } from "../src/wire/constants.js";
import { encodeObjectMeta, md5Hex } from "../src/wire/object.js";
import type { HeartbeatInfo, LifecycleInfo } from "../src/wire/control.js";
import { RECEIVE_PATHS, bytes, collect, sleep, testMeta } from "./helpers.js";

const open: { close(): Promise<void> }[] = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

/** Each receive path on a group and ports of its own (15 ports each). */
const PLACES = {
  worker: { group: "239.255.39.1", port: 40100 },
  main: { group: "239.255.50.1", port: 40800 },
  native: { group: "239.255.50.1", port: 40815 },
} as const;

/** The changeset test's port per path (each path's range above is full). */
const CHANGESET_PORTS = { worker: 41700, main: 41701, native: 41702 } as const;

describe.each(RECEIVE_PATHS)("receive path %s", (receivePath) => {
  const GROUP = PLACES[receivePath].group;
  let nextPort = PLACES[receivePath].port;

  async function pair(senderOptions: SenderOptions = {}, receiverOptions: ReceiverOptions = {}) {
    const port = nextPort++;
    const receiver = new Receiver({ group: GROUP, port, interface: "127.0.0.1", receivePath, ...receiverOptions });
    open.push(receiver);
    const info = await receiver.start();
    expect(info.receivePath).toBe(receivePath);
    const sender = new Sender({ group: GROUP, port, interface: "127.0.0.1", heartbeatIntervalMs: 0, ...senderOptions });
    open.push(sender);
    await sender.start();
    return { receiver, sender, info };
  }

  const metaLength = encodeObjectMeta(testMeta(new Uint8Array(0))).length;
  const oneFragment = fragmentSizeFor(1472, false) - metaLength;

  describe("objects of every size cross loopback multicast intact", () => {
    test.each([
      ["0 B", 0, 1472, 100_000_000],
      ["1 B", 1, 1472, 100_000_000],
      ["exactly one fragment", oneFragment, 1472, 100_000_000],
      ["one byte more (two fragments)", oneFragment + 1, 1472, 100_000_000],
      ["1 MB", 1_000_000, 1472, 100_000_000],
      ["10 MB", 10_000_000, 1472, 25_000_000],
      // Paced so that a receiver stalled for ~0.3 s by a loaded machine (vitest runs files side by side)
      // still finds its datagrams in a 4 MiB socket buffer: this checks reassembly, not speed (bench/ does).
      ["100 MB (loopback-size datagrams)", 100_000_000, 65507, 25_000_000],
    ])("%s", async (_label, size, datagramSize, rate) => {
      const { receiver, sender, info } = await pair({ datagramSize, rate });
      expect(info.receiveBufferGranted).toBeGreaterThan(0);
      const payload = bytes(size, size + 1);
      const received = collect(receiver, 1, 30_000);
      const sent = await sender.send({ payload, ...testMeta(payload), id: undefined });
      const [object] = await received;
      expect(object!.id).toBe(sent.id);
      expect(object!.sequence).toBe(sent.sequence);
      expect(object!.meta).toEqual(sent.meta);
      expect(object!.payload.length).toBe(size);
      expect(md5Hex(object!.payload)).toBe(md5Hex(payload));
      expect(receiver.counters.totalDrops()).toBe(0);
      expect(receiver.counters.partialBytes).toBe(0);
      // With the default FEC (p 0.05) every block gets at least one parity fragment.
      if (size === oneFragment) expect(sent.datagrams).toBe(1 + 1);
      if (size === oneFragment + 1) expect(sent.datagrams).toBe(2 + 1);
    });
  });

  describe("authentication", () => {
    const key = { id: 7, key: Uint8Array.from(Buffer.from("00112233445566778899aabbccddeeff", "hex")) };

    test("a keyed receiver takes objects signed with its key", async () => {
      const { receiver, sender } = await pair({ key }, { keys: new Map([[7, key.key]]) });
      const payload = bytes(50_000);
      const received = collect(receiver, 1, 10_000);
      await sender.send({ payload, ...testMeta(payload), id: undefined });
      expect(md5Hex((await received)[0]!.payload)).toBe(md5Hex(payload));
    });

    test.each([
      ["the wrong key", { key: { id: 7, key: new Uint8Array(16).fill(9) } }, "bad_mac"],
      ["an unknown key id", { key: { id: 8, key: key.key } }, "unknown_key"],
      ["no key", {}, "unauthenticated"],
    ] as const)("a keyed receiver drops every datagram sent with %s", async (_label, senderOptions, reason) => {
      const { receiver, sender } = await pair(senderOptions, { keys: new Map([[7, key.key]]) });
      const objects: unknown[] = [];
      receiver.on("object", (o) => objects.push(o));
      const payload = bytes(20_000);
      const sent = await sender.send({ payload, ...testMeta(payload), id: undefined });
      await waitFor(() => receiver.counters.datagrams >= sent.datagrams);
      expect(objects).toEqual([]);
      expect(receiver.counters.drops[reason]).toBe(sent.datagrams);
      expect(receiver.counters.partialBytes).toBe(0);
    });
  });

  test("a changeset of three objects is delivered as one unit, in id order, after its Commit", async () => {
    const port = CHANGESET_PORTS[receivePath];
    const receiver = new Receiver({ group: GROUP, port, interface: "127.0.0.1", receivePath });
    open.push(receiver);
    await receiver.start();
    const sender = new Sender({ group: GROUP, port, interface: "127.0.0.1", heartbeatIntervalMs: 0 });
    open.push(sender);
    await sender.start();
    const events: string[] = [];
    receiver.on("object", (o) => events.push(`object ${o.id}`));
    receiver.on("commit", (c) => events.push(`commit ${c.changeset}`));
    const delivered = new Promise<ChangesetDelivery>((resolve) => receiver.once("changeset", resolve));
    const payloads = [bytes(1000, 1), bytes(50_000, 2), bytes(300_000, 3)];
    const sent = [];
    for (const payload of payloads) sent.push(await sender.send({ payload, ...testMeta(payload), id: undefined, changeset: "cs-loopback" }));
    await waitFor(() => receiver.counters.stagedObjects === 3);
    expect(events).toEqual([]); // held: nothing of the changeset before its Commit
    await sender.sendCommit({ keytable: "online", key: 1, parentKey: 0, changeset: "cs-loopback", objectCount: 3, objectIds: sent.map((o) => o.id), removedPaths: [], committedAt: Date.now(), aborted: false });
    const { commit, objects } = await delivered;
    expect(events).toEqual(["commit cs-loopback"]);
    expect(commit).toMatchObject({ senderId: sender.senderId, keytable: "online", key: 1, objectCount: 3 });
    expect(objects.map((o) => o.id)).toEqual(sent.map((o) => o.id).sort());
    for (const o of objects) {
      const i = sent.findIndex((x) => x.id === o.id);
      expect(md5Hex(o.payload)).toBe(md5Hex(payloads[i]!));
      expect(o.meta).toEqual(sent[i]!.meta);
      expect(o.meta.changeset).toBe("cs-loopback");
    }
    expect(receiver.counters.stagedObjects).toBe(0);
    expect(receiver.counters.stagedBytes).toBe(0);
    expect(receiver.counters.totalDrops()).toBe(0);
  });

  describe("control messages", () => {
    test("heartbeats announce the sender and its last sequence", async () => {
      const { receiver, sender } = await pair({ heartbeatIntervalMs: 50, senderName: "test-sender" });
      const heartbeats: HeartbeatInfo[] = [];
      receiver.on("heartbeat", (h) => heartbeats.push(h));
      const payload = bytes(100);
      const received = collect(receiver, 1, 5000);
      await sender.send({ payload, ...testMeta(payload), id: undefined });
      await received;
      await waitFor(() => heartbeats.some((h) => h.lastSequence === 1));
      const last = heartbeats.at(-1)!;
      expect(last).toMatchObject({ senderId: sender.senderId, senderName: "test-sender", intervalMs: 50, lastSequence: 1 });
    });

    test.each([
      ["a later object", 0],
      ["a heartbeat", 20],
    ])("a receiver that missed objects entirely learns of the gap from %s", async (_label, heartbeatIntervalMs) => {
      const { receiver, sender } = await pair();
      const gaps: unknown[] = [];
      receiver.on("gap", (g) => gaps.push(g));
      const payload = bytes(100);
      const received = collect(receiver, 1, 5000);
      await sender.send({ payload, ...testMeta(payload), id: undefined });
      await received;
      // The same sender after sequences 2 and 3 went elsewhere (this receiver never saw them).
      const later = new Sender({ group: GROUP, port: nextPort - 1, interface: "127.0.0.1", senderId: sender.senderId, firstSequence: 4, heartbeatIntervalMs });
      open.push(later);
      await later.start();
      if (heartbeatIntervalMs === 0) await later.send({ payload, ...testMeta(payload), id: undefined });
      await waitFor(() => gaps.length > 0);
      expect(gaps).toEqual([{ senderId: sender.senderId, from: 2, to: 3 }]);
    });

    test("lifecycle messages arrive with their sequence and content", async () => {
      const { receiver, sender } = await pair();
      const changes: LifecycleInfo[] = [];
      receiver.on("lifecycle", (l) => changes.push(l));
      const payload = bytes(10);
      const received = collect(receiver, 1, 5000);
      const sent = await sender.send({ payload, ...testMeta(payload), id: undefined });
      await received;
      const updated = await sender.sendLifecycle({ objectId: sent.id, action: "updated", path: sent.meta.path, validUntil: 1_800_000_000_000, metadata: { runNumber: "1" } });
      const deleted = await sender.sendLifecycle({ objectId: sent.id, action: "deleted", path: sent.meta.path });
      await waitFor(() => changes.length === 2);
      expect(changes.map((c) => [c.sequence, c.action, c.objectId])).toEqual([
        [updated, "updated", sent.id],
        [deleted, "deleted", sent.id],
      ]);
      expect([updated, deleted]).toEqual([2, 3]);
      expect(changes[0]!.validUntil).toBe(1_800_000_000_000);
      expect({ ...changes[0]!.metadata }).toEqual({ runNumber: "1" });
    });
  });
});

describe("an object sent while it is being made durable (Sender durable, SPEC 10.4)", () => {
  const GROUP = "239.255.50.7";
  const PORT = 41703;

  /** Resolves once no datagram came for `quietMs`. */
  async function settled(receiver: Receiver, quietMs = 150): Promise<void> {
    let seen = -1;
    while (receiver.counters.datagrams !== seen) {
      seen = receiver.counters.datagrams;
      await sleep(quietMs);
    }
  }

  test("goes out up to the datagrams that complete it, which wait; abandoned, its sequence goes to the next object", async () => {
    const receiver = new Receiver({ group: GROUP, port: PORT, interface: "127.0.0.1" });
    open.push(receiver);
    await receiver.start();
    const sender = new Sender({ group: GROUP, port: PORT, interface: "127.0.0.1", heartbeatIntervalMs: 0, rate: 100_000_000 });
    open.push(sender);
    await sender.start();
    const objects: { id: string; sequence: number }[] = [];
    receiver.on("object", (o) => objects.push(o));
    // 600 kB at 1472 B: 2 blocks of 5 % parity, so m = 11 and 12 datagrams wait.
    const payload = bytes(600_000, 9);

    const durable = deferred();
    const sending = sender.send({ payload, ...testMeta(payload), id: undefined, durable: durable.promise });
    await waitFor(() => receiver.counters.datagrams > 0);
    await settled(receiver);
    const early = receiver.counters.datagrams;
    expect(objects).toEqual([]);
    const [partial] = receiver.incomplete();
    expect(partial!.endedAt).toBeNull();
    expect(early).toBe(partial!.count + partial!.fecLayout!.blockCount * partial!.fecLayout!.parityCount - (partial!.fecLayout!.parityCount + 1));
    durable.resolve();
    const sent = await sending;
    await waitFor(() => objects.length === 1);
    expect(objects[0]!.id).toBe(sent.id);
    expect(receiver.counters.datagrams).toBe(sent.datagrams);
    expect(receiver.counters.fec.blocksDecoded).toBe(0); // nothing was lost: not completed by parity before the wait ended

    const failing = deferred();
    const abandoned = sender.send({ payload, ...testMeta(payload), id: undefined, durable: failing.promise });
    await waitFor(() => receiver.incomplete().length === 1);
    await settled(receiver);
    failing.reject(new Error("no room to store it"));
    await expect(abandoned).rejects.toThrow(ObjectAbandoned);
    await expect(abandoned).rejects.toMatchObject({ sequence: sent.sequence + 1 });
    const next = await sender.send({ payload, ...testMeta(payload), id: undefined });
    expect(next.sequence).toBe(sent.sequence + 1);
    await waitFor(() => objects.length === 2);
    expect(objects.map((o) => [o.id, o.sequence])).toEqual([
      [sent.id, sent.sequence],
      [next.id, next.sequence],
    ]);
    expect(receiver.incomplete()).toHaveLength(1); // the abandoned one, for its repair to find unknown (404)
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await sleep(10);
  }
}
