// Receiver-side changesets (SPEC 11, spec/CLI.md "Changesets"): staged until the Commit and every object
// are held, delivered as one unit in id order; aborted, timed-out, stale and over-cap changesets dropped
// as uncommitted. Real datagrams through Receiver.handleDatagram (no sockets).
import { describe, expect, test } from "vitest";
import { ChangesetStager } from "../src/receiver/changeset-stager.js";
import { ReceiverCounters } from "../src/receiver/counters.js";
import { Receiver, type ReceiverOptions } from "../src/receiver/receiver.js";
import { encodeCommit, type CommitInfo } from "../src/wire/control.js";
import { ObjectEncoder } from "../src/wire/object-encoder.js";
import type { ReceivedObject } from "../src/wire/object.js";
import { bytes, testMeta } from "./helpers.js";

const SENDER = "00000000000000c5";
// Sent in this order; delivered in ascending id order (B, A, C... sorted: 1…, 5…, 9…).
const IDS = ["99999999-0000-4000-8000-000000000001", "11111111-0000-4000-8000-000000000002", "55555555-0000-4000-8000-000000000003"];
const SORTED = [...IDS].sort();

let sequence = 0;

/** The datagrams of one object of `changeset` (1472-byte datagrams). */
function objectDatagrams(id: string, changeset: string | undefined, size = 3000, sender = SENDER): Uint8Array[] {
  const payload = bytes(size, id.charCodeAt(0));
  return new ObjectEncoder({ senderId: sender, sequence: ++sequence, id, meta: testMeta(payload, changeset === undefined ? {} : { changeset }), payload }, 1472).datagrams();
}

function commitDatagram(fields: Partial<CommitInfo> & { changeset: string }): Uint8Array {
  const commit: CommitInfo = {
    senderId: SENDER,
    sequence: ++sequence,
    keytable: "online",
    key: 1,
    parentKey: 0,
    objectCount: IDS.length,
    objectIds: IDS,
    removedPaths: [],
    committedAt: 1_700_000_000_000,
    aborted: false,
    ...fields,
  };
  return encodeCommit(commit, 1472);
}

/** A receiver never started, with every event it emits recorded in order. */
function recorder(options: ReceiverOptions = {}) {
  const receiver = new Receiver(options);
  const events: string[] = [];
  const objects: ReceivedObject[] = [];
  const deliveries: { commit: CommitInfo; ids: string[] }[] = [];
  const uncommitted: string[] = [];
  const ignored: unknown[] = [];
  receiver.on("object", (o) => {
    events.push(`object ${o.id}`);
    objects.push(o);
  });
  receiver.on("commit", (c) => events.push(`commit ${c.changeset}`));
  receiver.on("changeset", ({ commit, objects: os }) => {
    events.push(`changeset ${commit.changeset}`);
    deliveries.push({ commit, ids: os.map((o) => o.id) });
  });
  receiver.on("uncommitted", (o, reason) => {
    events.push(`${reason} ${o.id}`);
    uncommitted.push(o.id);
  });
  receiver.on("commitIgnored", (i) => {
    events.push(`ignored ${i.changeset}`);
    ignored.push(i);
  });
  const feed = (datagrams: Uint8Array[], now = 0): void => {
    for (const d of datagrams) receiver.handleDatagram(d, now);
  };
  return { receiver, events, objects, deliveries, uncommitted, ignored, feed };
}

describe("delivery as one unit", () => {
  test("objects first, then the Commit: nothing before the Commit, then all in ascending id order", () => {
    const r = recorder();
    for (const id of IDS) r.feed(objectDatagrams(id, "cs-a"));
    expect(r.events).toEqual([]);
    expect(r.receiver.counters.stagedObjects).toBe(3);
    expect(r.receiver.counters.stagedBytes).toBe(9000);
    expect(r.receiver.counters.objectsCompleted).toBe(3);
    r.feed([commitDatagram({ changeset: "cs-a" })]);
    expect(r.events).toEqual(["commit cs-a", "changeset cs-a"]);
    expect(r.deliveries[0]!.ids).toEqual(SORTED);
    expect(r.deliveries[0]!.commit.key).toBe(1);
    expect(r.receiver.counters.stagedObjects).toBe(0);
    expect(r.receiver.counters.stagedBytes).toBe(0);
    expect(r.receiver.counters.changesetsDelivered).toBe(1);
  });

  test("the Commit first: delivered when the last object completes, not before", () => {
    const r = recorder();
    r.feed([commitDatagram({ changeset: "cs-b" })]);
    r.feed(objectDatagrams(IDS[0]!, "cs-b"));
    r.feed(objectDatagrams(IDS[1]!, "cs-b"));
    expect(r.events).toEqual(["commit cs-b"]);
    r.feed(objectDatagrams(IDS[2]!, "cs-b"));
    expect(r.events).toEqual(["commit cs-b", "changeset cs-b"]);
    expect(r.deliveries[0]!.ids).toEqual(SORTED);
  });

  test("ids left out of the Commit: delivered once objectCount objects carry the changeset id", () => {
    const r = recorder();
    r.feed([commitDatagram({ changeset: "cs-c", objectIds: [] })]);
    r.feed(objectDatagrams(IDS[0]!, "cs-c"));
    r.feed(objectDatagrams(IDS[1]!, "other")); // another changeset's object does not count
    r.feed(objectDatagrams(IDS[2]!, "cs-c"));
    expect(r.deliveries).toEqual([]);
    r.feed(objectDatagrams("77777777-0000-4000-8000-000000000004", "cs-c"));
    expect(r.deliveries.map((d) => d.ids)).toEqual([[IDS[0], "77777777-0000-4000-8000-000000000004", IDS[2]].sort()]);
    expect(r.receiver.counters.stagedObjects).toBe(1); // "other" still waits
  });

  test("an object staged under the changeset's id but not named by its Commit is dropped at delivery", () => {
    const r = recorder();
    const stray = "f0000000-0000-4000-8000-000000000001";
    r.feed(objectDatagrams(stray, "cs-n"));
    for (const id of IDS) r.feed(objectDatagrams(id, "cs-n"));
    r.feed([commitDatagram({ changeset: "cs-n" })]);
    expect(r.deliveries.map((d) => d.ids)).toEqual([SORTED]);
    expect(r.uncommitted).toEqual([stray]);
    expect(r.receiver.counters.stagedObjects).toBe(0);
  });

  test("an object of its own is emitted at once, also between staged ones", () => {
    const r = recorder();
    r.feed(objectDatagrams(IDS[0]!, "cs-d"));
    r.feed(objectDatagrams("22222222-0000-4000-8000-000000000009", undefined));
    expect(r.events).toEqual(["object 22222222-0000-4000-8000-000000000009"]);
  });

  test("stageChangesets false: objects of a changeset are emitted as they complete (the cache's way)", () => {
    const r = recorder({ stageChangesets: false });
    for (const id of IDS) r.feed(objectDatagrams(id, "cs-e"));
    r.feed([commitDatagram({ changeset: "cs-e" })]);
    expect(r.events).toEqual([...IDS.map((id) => `object ${id}`), "commit cs-e"]);
    expect(r.objects.every((o) => o.meta.changeset === "cs-e")).toBe(true);
    expect(r.receiver.counters.stagedObjects).toBe(0);
  });
});

describe("dropped as uncommitted", () => {
  test("an aborted Commit drops the staged objects, and objects of it arriving later", () => {
    const r = recorder();
    r.feed(objectDatagrams(IDS[0]!, "cs-f"));
    r.feed(objectDatagrams(IDS[1]!, "cs-f"));
    r.feed([commitDatagram({ changeset: "cs-f", key: 0, parentKey: 0, aborted: true })]);
    expect(r.events).toEqual(["commit cs-f", `uncommitted ${IDS[0]}`, `uncommitted ${IDS[1]}`]);
    r.feed(objectDatagrams(IDS[2]!, "cs-f"));
    expect(r.uncommitted).toEqual(IDS);
    expect(r.receiver.counters.objectsDropped.uncommitted).toBe(3);
    expect(r.receiver.counters.stagedObjects).toBe(0);
    expect(r.deliveries).toEqual([]);
  });

  test("the staged timeout runs per changeset from its most recently staged object (SPEC 11.4)", () => {
    const r = recorder({ stagedTimeoutMs: 1000, partialTimeoutMs: 60_000 });
    const first = objectDatagrams(IDS[0]!, "cs-g");
    r.feed(first, 0);
    r.feed(objectDatagrams(IDS[1]!, "cs-g"), 500);
    r.feed(first, 900); // held already: a repeat does not restart the clock
    // Measured from the object staged at 500, not from the first (0) nor per object: both go at 1500.
    r.receiver.expire(1000);
    r.receiver.expire(1499);
    expect(r.uncommitted).toEqual([]);
    expect(r.receiver.counters.stagedObjects).toBe(2);
    r.receiver.expire(1500);
    expect(r.uncommitted).toEqual([IDS[0], IDS[1]]);
    expect(r.receiver.counters.stagedObjects).toBe(0);

    // A Commit waiting for objects: the clock runs from the Commit, and again from each object staged after it.
    r.feed([commitDatagram({ changeset: "cs-h" })], 2000);
    const late = "e0000000-0000-4000-8000-000000000001";
    r.feed(objectDatagrams(late, "cs-h"), 2600);
    r.receiver.expire(3000);
    r.receiver.expire(3599);
    expect(r.receiver.counters.stagedObjects).toBe(1);
    r.receiver.expire(3600);
    expect(r.uncommitted).toEqual([IDS[0], IDS[1], late]);
    expect(r.receiver.counters.objectsDropped.uncommitted).toBe(3);
    expect(r.receiver.counters.stagedObjects).toBe(0);
    expect(r.deliveries).toEqual([]);
  });

  test("the key only moves forward per sender and keytable: a stale Commit is ignored, its objects dropped", () => {
    const r = recorder();
    const ids2 = ["a0000000-0000-4000-8000-000000000001"];
    r.feed(objectDatagrams(ids2[0]!, "cs-k2"));
    r.feed([commitDatagram({ changeset: "cs-k2", key: 2, parentKey: 1, objectCount: 1, objectIds: ids2 })]);
    expect(r.deliveries.map((d) => d.commit.key)).toEqual([2]);

    for (const id of IDS) r.feed(objectDatagrams(id, "cs-k1"));
    r.feed([commitDatagram({ changeset: "cs-k1", key: 2, parentKey: 1 })]);
    expect(r.ignored).toEqual([{ senderId: SENDER, keytable: "online", key: 2, heldKey: 2, changeset: "cs-k1" }]);
    expect(r.uncommitted).toEqual(IDS);
    expect(r.receiver.counters.commitsIgnored).toBe(1);
    expect(r.receiver.counters.stagedObjects).toBe(0);

    // Another keytable, or another sender, has keys of its own.
    const other = ["b0000000-0000-4000-8000-000000000001"];
    r.feed(objectDatagrams(other[0]!, "cs-x"));
    r.feed([commitDatagram({ changeset: "cs-x", keytable: "offline", key: 1, objectCount: 1, objectIds: other })]);
    const otherSender = "00000000000000d6";
    r.feed(objectDatagrams(other[0]!, "cs-y", 100, otherSender));
    r.feed([encodeCommit({ senderId: otherSender, sequence: 99, keytable: "online", key: 1, parentKey: 0, changeset: "cs-y", objectCount: 1, objectIds: other, removedPaths: [], committedAt: 1, aborted: false }, 1472)]);
    expect(r.deliveries.map((d) => `${d.commit.senderId} ${d.commit.keytable} ${d.commit.key}`)).toEqual([`${SENDER} online 2`, `${SENDER} offline 1`, `${otherSender} online 1`]);
  });

  test("a Commit overtaken by a higher key while it waited for its objects is ignored at delivery", () => {
    const r = recorder();
    r.feed([commitDatagram({ changeset: "cs-slow", key: 3, parentKey: 2, objectCount: 1, objectIds: [IDS[0]!] })]);
    r.feed(objectDatagrams(IDS[1]!, "cs-fast"));
    r.feed([commitDatagram({ changeset: "cs-fast", key: 4, parentKey: 3, objectCount: 1, objectIds: [IDS[1]!] })]);
    r.feed(objectDatagrams(IDS[0]!, "cs-slow"));
    expect(r.deliveries.map((d) => d.commit.changeset)).toEqual(["cs-fast"]);
    expect(r.ignored).toEqual([{ senderId: SENDER, keytable: "online", key: 3, heldKey: 4, changeset: "cs-slow" }]);
    expect(r.uncommitted).toEqual([IDS[0]]);
  });
});

describe("bounds", () => {
  test("staged bytes count against the partial-bytes cap: over it the oldest staged changeset goes", () => {
    const r = recorder({ maxPartialBytes: 20_000 });
    r.feed(objectDatagrams(IDS[0]!, "cs-old", 8000));
    r.feed(objectDatagrams(IDS[1]!, "cs-new", 8000));
    expect(r.receiver.counters.stagedBytes).toBe(16_000);
    // A third object needs more room than is left: the oldest staged changeset makes way for it.
    r.feed(objectDatagrams(IDS[2]!, "cs-new", 8000));
    expect(r.uncommitted).toEqual([IDS[0]]);
    expect(r.receiver.counters.stagedBytes).toBe(16_000);
    expect(r.receiver.counters.drops.over_capacity).toBe(0);
    // An object needing more room than one changeset frees takes every older staged changeset.
    r.feed(objectDatagrams("c0000000-0000-4000-8000-000000000001", "cs-big", 12_000));
    expect(r.uncommitted).toEqual([IDS[0], IDS[1], IDS[2]]);
    expect(r.receiver.counters.stagedBytes).toBe(12_000);
    expect(r.receiver.counters.partialBytes + r.receiver.counters.stagedBytes).toBeLessThanOrEqual(20_000);
  });

  test("a plain object that does not fit beside staged bytes takes their room", () => {
    const r = recorder({ maxPartialBytes: 10_000 });
    r.feed(objectDatagrams(IDS[0]!, "cs-p", 6000));
    r.feed(objectDatagrams("d0000000-0000-4000-8000-000000000001", undefined, 6000));
    expect(r.uncommitted).toEqual([IDS[0]]);
    expect(r.objects.map((o) => o.id)).toEqual(["d0000000-0000-4000-8000-000000000001"]);
  });

  test("the staged-object bound drops the oldest changeset", () => {
    const r = recorder({ maxStagedObjects: 2 });
    r.feed(objectDatagrams(IDS[0]!, "cs-1", 10));
    r.feed(objectDatagrams(IDS[1]!, "cs-2", 10));
    r.feed(objectDatagrams(IDS[2]!, "cs-2", 10));
    expect(r.uncommitted).toEqual([IDS[0]]);
    expect(r.receiver.counters.stagedObjects).toBe(2);
  });

  test("the changeset bound: commits waiting for objects that never come cannot pile up", () => {
    const r = recorder({ maxStagedChangesets: 4 });
    for (let i = 0; i < 100; i++) r.feed([commitDatagram({ changeset: `cs-${i}`, key: i + 1, parentKey: i })]);
    r.feed(objectDatagrams(IDS[0]!, "cs-99"));
    r.feed(objectDatagrams(IDS[1]!, "cs-99"));
    r.feed(objectDatagrams(IDS[2]!, "cs-99"));
    expect(r.deliveries.map((d) => d.commit.changeset)).toEqual(["cs-99"]);
  });
});

describe("duplicates", () => {
  test("a repeated object or Commit delivers once; a repeat after delivery is a stale Commit", () => {
    const r = recorder();
    const first = objectDatagrams(IDS[0]!, "cs-dup");
    const fields = { changeset: "cs-dup", key: 2, parentKey: 1, objectCount: 2, objectIds: [IDS[0]!, IDS[1]!] };
    r.feed(first);
    r.feed(first);
    r.feed([commitDatagram(fields)]);
    r.feed([commitDatagram(fields)]);
    r.feed(objectDatagrams(IDS[1]!, "cs-dup"));
    expect(r.deliveries.map((d) => d.ids)).toEqual([[IDS[1], IDS[0]]]);
    r.feed([commitDatagram(fields)]);
    expect(r.ignored).toHaveLength(1);
    expect(r.uncommitted).toEqual([]);
  });

  test("copies of a Commit (SPEC 4.5, 5.4): the first one taken counts, the others go nowhere and are no drop", () => {
    const r = recorder();
    const commit = commitDatagram({ changeset: "cs-copy", key: 2, parentKey: 1 });
    r.feed([commit]); // before its objects: it waits for them
    r.feed([commit]);
    for (const id of IDS) r.feed(objectDatagrams(id, "cs-copy"));
    r.feed([commit]); // after the delivery: not a stale Commit, nothing dropped
    expect(r.events.filter((e) => e.startsWith("commit "))).toEqual(["commit cs-copy"]);
    expect(r.deliveries.map((d) => d.ids)).toEqual([SORTED]);
    expect(r.ignored).toEqual([]);
    expect(r.uncommitted).toEqual([]);
    expect(r.receiver.counters.commits).toBe(1);
    expect(r.receiver.counters.commitCopies).toBe(2);
    expect(r.receiver.counters.commitsIgnored).toBe(0);
    expect(r.receiver.counters.totalDrops()).toBe(0);
    // Only the first copy reaching a receiver is taken: here the third, the first two lost.
    const other = recorder();
    for (const id of IDS) other.feed(objectDatagrams(id, "cs-copy2"));
    const lateCopy = commitDatagram({ changeset: "cs-copy2", key: 3, parentKey: 2 });
    other.feed([lateCopy]);
    expect(other.deliveries.map((d) => d.commit.key)).toEqual([3]);
    expect(other.receiver.counters.commitCopies).toBe(0);
    // A sender started again under the same id numbers from 1 once more: its Commit with a sequence
    // taken before is no copy (another changeset, key, committed_at), and is taken.
    const again = recorder();
    const reused = ++sequence;
    again.feed([commitDatagram({ changeset: "cs-first", key: 4, parentKey: 3, objectCount: 0, objectIds: [], sequence: reused })]);
    again.feed([commitDatagram({ changeset: "cs-second", key: 5, parentKey: 4, objectCount: 0, objectIds: [], sequence: reused })]);
    expect(again.deliveries.map((d) => d.commit.changeset)).toEqual(["cs-first", "cs-second"]);
    expect(again.receiver.counters.commitCopies).toBe(0);
  });

  test("a re-send of the key held (SPEC 11.6: parent 0, key = the key held) lets its copies go quietly; a receiver behind flips with it", () => {
    const held = recorder();
    for (const id of IDS) held.feed(objectDatagrams(id, "cs-key5"));
    held.feed([commitDatagram({ changeset: "cs-key5", key: 5, parentKey: 4 })]);
    expect(held.deliveries.map((d) => d.commit.key)).toEqual([5]);
    const behind = recorder();
    // The run's re-send: the key's objects under a changeset of their own, then a Commit of key 5 from parent 0.
    const resend = IDS.map((id) => objectDatagrams(id, "run-77"));
    const resendCommit = commitDatagram({ changeset: "run-77", key: 5, parentKey: 0 });
    for (const r of [held, behind]) {
      for (const datagrams of resend) r.feed(datagrams);
      r.feed([resendCommit]);
    }
    expect(held.deliveries.map((d) => d.commit.key)).toEqual([5]);
    expect(held.uncommitted).toEqual([]);
    expect(held.ignored).toEqual([]);
    expect(held.receiver.counters.resendsDiscarded).toBe(1);
    expect(held.receiver.counters.stagedObjects).toBe(0);
    expect(behind.deliveries).toEqual([{ commit: expect.objectContaining({ changeset: "run-77", key: 5 }), ids: SORTED }]);
    // A Commit of the key held that is no re-send (its parent is not 0) is still a stale one.
    const again = "f0000000-0000-4000-8000-000000000001";
    held.feed(objectDatagrams(again, "cs-again"));
    held.feed([commitDatagram({ changeset: "cs-again", key: 5, parentKey: 4, objectCount: 1, objectIds: [again] })]);
    expect(held.ignored).toHaveLength(1);
    expect(held.uncommitted).toEqual([again]);
  });

  test("the stager itself holds an object once when it is staged twice", () => {
    const counters = new ReceiverCounters();
    const delivered: string[][] = [];
    const stager = new ChangesetStager(counters, { onChangeset: (d) => delivered.push(d.objects.map((o) => o.id)), onUncommitted: () => undefined, onCommitIgnored: () => undefined }, { maxBytes: 1 << 20 });
    const payload = bytes(10);
    const object: ReceivedObject = { id: IDS[0]!, senderId: SENDER, sequence: 1, meta: testMeta(payload, { changeset: "cs-s" }), payload };
    stager.stage(object, 0);
    stager.stage(object, 0);
    expect(counters.stagedObjects).toBe(1);
    expect(counters.stagedBytes).toBe(10);
    stager.commit({ senderId: SENDER, sequence: 2, keytable: "online", key: 1, parentKey: 0, changeset: "cs-s", objectCount: 1, objectIds: [], removedPaths: [], committedAt: 0, aborted: false }, 0);
    expect(delivered).toEqual([[IDS[0]]]);
    expect(stager.size).toBe(0);
  });
});
