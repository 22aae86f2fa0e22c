// Reassembly in-process: order, duplicates, loss, missing ranges, bounds and timeouts (SPEC 5.2).
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { Receiver } from "../src/receiver/receiver.js";
import { finishObject } from "../src/receiver/reassembler.js";
import { SequenceTracker } from "../src/receiver/sequence-tracker.js";
import { ObjectEncoder } from "../src/wire/object-encoder.js";
import { encodeHeartbeat } from "../src/wire/control.js";
import { encodeObjectMeta, type ReceivedObject } from "../src/wire/object.js";
import { bytes, testMeta } from "./helpers.js";

const SENDER = "00000000000000aa";
const ID = "11111111-2222-4333-8444-555555555555";

function encode(payload: Uint8Array, datagramSize = 512, sequence = 1, id = ID): { encoder: ObjectEncoder; datagrams: Uint8Array[] } {
  const encoder = new ObjectEncoder({ senderId: SENDER, sequence, id, meta: testMeta(payload), payload }, datagramSize);
  return { encoder, datagrams: encoder.datagrams() };
}

function receiverWith(options: ConstructorParameters<typeof Receiver>[0] = {}) {
  const receiver = new Receiver(options);
  const objects: ReceivedObject[] = [];
  const dropped: string[] = [];
  receiver.on("object", (o) => objects.push(o));
  receiver.on("dropped", (_p, r) => dropped.push(r));
  return { receiver, objects, dropped };
}

describe("order and duplicates", () => {
  test("any permutation with any duplicates yields the object once", () => {
    const payload = bytes(5000, 7);
    const { datagrams } = encode(payload);
    fc.assert(
      fc.property(fc.shuffledSubarray(datagrams.map((_, i) => i), { minLength: datagrams.length, maxLength: datagrams.length }), fc.array(fc.nat(datagrams.length - 1), { maxLength: 20 }), (order, extra) => {
        const { receiver, objects } = receiverWith();
        for (const i of [...order, ...extra]) receiver.handleDatagram(datagrams[i]!, 0);
        expect(objects).toHaveLength(1);
        expect(Buffer.from(objects[0]!.payload).equals(payload)).toBe(true);
        expect(receiver.counters.drops.duplicate).toBe(extra.length);
        expect(receiver.counters.partialBytes).toBe(0);
      }),
      { numRuns: 200 },
    );
  });

  test("a complete object's late duplicates are counted, not reassembled again", () => {
    const { datagrams } = encode(bytes(3000));
    const { receiver, objects } = receiverWith();
    for (const d of [...datagrams, ...datagrams]) receiver.handleDatagram(d, 0);
    expect(objects).toHaveLength(1);
    expect(receiver.counters.drops.duplicate).toBe(datagrams.length);
    expect(receiver.counters.partialObjects).toBe(0);
  });
});

describe("loss and missing ranges", () => {
  test("missing fragments become payload ranges; metadata loss is reported", () => {
    const payload = bytes(10_000, 3);
    const { encoder, datagrams } = encode(payload);
    const lost = new Set([0, 3, 4, encoder.count - 1]);
    const { receiver, objects } = receiverWith();
    datagrams.forEach((d, i) => lost.has(i) || receiver.handleDatagram(d, 0));
    expect(objects).toEqual([]);
    const [partial] = receiver.incomplete();
    expect(partial).toBeDefined();
    const f = encoder.fragmentSize;
    const m = partial!.metadataLength;
    expect(partial!.missingEnvelopeRanges()).toEqual([
      { start: 0, end: f },
      { start: 3 * f, end: 5 * f },
      { start: (encoder.count - 1) * f, end: encoder.envelopeLength },
    ]);
    expect(partial!.missingPayloadRanges()).toEqual([
      { start: 0, end: f - m },
      { start: 3 * f - m, end: 5 * f - m },
      { start: (encoder.count - 1) * f - m, end: payload.length },
    ]);
    expect(partial!.metadataMissing()).toBe(true);
  });

  test("a released partial is completed from the missing envelope bytes alone", () => {
    const payload = bytes(20_000, 5);
    const { encoder, datagrams } = encode(payload);
    const { receiver, objects } = receiverWith();
    const lost = datagrams.map((_, i) => i).filter((i) => i % 7 === 2);
    datagrams.forEach((d, i) => lost.includes(i) || receiver.handleDatagram(d, 0));
    const partial = receiver.release(receiver.incomplete()[0]!.key)!;
    expect(receiver.incomplete()).toEqual([]);
    // What a repair fetches: exactly the missing ranges of the envelope (metadata ‖ payload).
    const envelope = Buffer.concat([encodeObjectMeta(testMeta(payload)), payload]);
    let fetched = 0;
    for (const r of partial.missingEnvelopeRanges()) {
      partial.fillEnvelope(r.start, envelope.subarray(r.start, r.end));
      fetched += r.end - r.start;
    }
    const lostBytes = lost.reduce((sum, i) => sum + Math.min(encoder.fragmentSize, encoder.envelopeLength - i * encoder.fragmentSize), 0);
    expect(fetched).toBe(lostBytes);
    expect(partial.complete).toBe(true);
    const result = finishObject(partial);
    expect("object" in result && Buffer.from(result.object.payload).equals(payload)).toBe(true);
    // Late fragments of a released object are duplicates.
    receiver.handleDatagram(datagrams[2]!, 0);
    expect(receiver.counters.drops.duplicate).toBe(1);
    expect(objects).toEqual([]);
  });
});

describe("bounds", () => {
  test("a first fragment that does not fit the partial-bytes cap allocates nothing", () => {
    const { datagrams } = encode(bytes(100_000), 1472);
    const { receiver } = receiverWith({ maxPartialBytes: 50_000 });
    receiver.handleDatagram(datagrams[0]!, 0);
    expect(receiver.counters.drops.over_capacity).toBe(1);
    expect(receiver.counters.partialBytes).toBe(0);
    expect(receiver.incomplete()).toEqual([]);
  });

  test("the cap holds across many objects; completed objects free their bytes", () => {
    const { receiver, objects } = receiverWith({ maxPartialBytes: 40_000 });
    const a = encode(bytes(15_000, 1), 1472, 1, "00000000-0000-4000-8000-000000000001").datagrams;
    const b = encode(bytes(15_000, 2), 1472, 2, "00000000-0000-4000-8000-000000000002").datagrams;
    const c = encode(bytes(15_000, 3), 1472, 3, "00000000-0000-4000-8000-000000000003").datagrams;
    receiver.handleDatagram(a[0]!, 0);
    receiver.handleDatagram(b[0]!, 0);
    receiver.handleDatagram(c[0]!, 0); // a + b hold ~30 KB: c does not fit
    expect(receiver.counters.drops.over_capacity).toBe(1);
    expect(receiver.counters.partialBytes).toBeLessThanOrEqual(40_000);
    for (const d of a.slice(1)) receiver.handleDatagram(d, 0);
    for (const d of c) receiver.handleDatagram(d, 0); // room again
    expect(objects.map((o) => o.sequence)).toEqual([1, 3]);
  });

  test("the object-count cap holds", () => {
    const { receiver } = receiverWith({ maxPartialObjects: 2 });
    for (let n = 1; n <= 3; n++) receiver.handleDatagram(encode(bytes(5000, n), 1472, n, `00000000-0000-4000-8000-00000000000${n}`).datagrams[0]!, 0);
    expect(receiver.incomplete()).toHaveLength(2);
    expect(receiver.counters.drops.over_capacity).toBe(1);
  });

  test("an object with no fragment for the partial timeout expires and frees its bytes", () => {
    const { datagrams } = encode(bytes(5000));
    const { receiver, dropped } = receiverWith({ partialTimeoutMs: 1000 });
    receiver.handleDatagram(datagrams[0]!, 0);
    receiver.handleDatagram(datagrams[1]!, 500);
    (receiver as unknown as { reassembler: { expire(now: number): void } }).reassembler.expire(1400);
    expect(dropped).toEqual([]);
    (receiver as unknown as { reassembler: { expire(now: number): void } }).reassembler.expire(1500);
    expect(dropped).toEqual(["expired"]);
    expect(receiver.counters.objectsDropped.expired).toBe(1);
    expect(receiver.counters.partialBytes).toBe(0);
  });

  test("a fragment disagreeing with its object's parameters is inconsistent", () => {
    const payload = bytes(5000);
    const first = encode(payload, 512).datagrams;
    const other = encode(payload, 1024).datagrams; // same id, other fragment size
    const { receiver } = receiverWith();
    receiver.handleDatagram(first[0]!, 0);
    receiver.handleDatagram(other[1]!, 0);
    expect(receiver.counters.drops.inconsistent).toBe(1);
  });
});

describe("sequences", () => {
  test("gaps in a sender's sequence are reported once, from fragments and heartbeats", () => {
    const { receiver } = receiverWith();
    const gaps: unknown[] = [];
    receiver.on("gap", (g) => gaps.push(g));
    for (const seq of [5, 6, 9]) receiver.handleDatagram(encode(bytes(10, seq), 1472, seq, `00000000-0000-4000-8000-00000000000${seq}`).datagrams[0]!, 0);
    expect(gaps).toEqual([{ senderId: SENDER, from: 7, to: 8 }]);
  });

  test("a heartbeat's last sequence counts as sent: missing up to and including it", () => {
    const tracker = new SequenceTracker();
    expect(tracker.observe("a", 1)).toBeNull();
    expect(tracker.observeLast("a", 1)).toBeNull();
    expect(tracker.observeLast("a", 3)).toEqual({ senderId: "a", from: 2, to: 3 });
    expect(tracker.observe("a", 3)).toBeNull(); // late, already reported
    expect(tracker.observe("a", 5)).toEqual({ senderId: "a", from: 4, to: 4 });
    expect(tracker.observe("b", 9)).toBeNull(); // first contact: nothing before it is claimed
  });
});

describe("the end of an object (when repair need not wait out the quiet time)", () => {
  const ID_B = "00000000-0000-4000-8000-0000000000b2";
  const heartbeat = (senderId: string, lastSequence: number) => encodeHeartbeat({ senderId, lastSequence, sentAt: 0, intervalMs: 1000, senderName: "test" });

  test("its last fragment in the send order marks it ended; fragments lost before it do not", () => {
    const { encoder, datagrams } = encode(bytes(5000, 4));
    const { receiver } = receiverWith();
    for (let i = 0; i < encoder.count - 1; i++) if (i !== 2) receiver.handleDatagram(datagrams[i]!, 10 + i);
    const [partial] = receiver.incomplete();
    expect(partial!.endedAt).toBeNull();
    receiver.handleDatagram(datagrams[encoder.count - 1]!, 99);
    expect(partial!.endedAt).toBe(99);
    expect(partial!.lastFragmentAt).toBe(99);
  });

  test("a later sequence of its sender marks it ended; another sender's does not", () => {
    const { encoder, datagrams } = encode(bytes(5000, 5), 512, 7);
    const { receiver } = receiverWith();
    for (let i = 0; i < encoder.count - 1; i++) receiver.handleDatagram(datagrams[i]!, 1);
    const [partial] = receiver.incomplete();
    const other = new ObjectEncoder({ senderId: "00000000000000bb", sequence: 8, id: ID_B, meta: testMeta(bytes(10)), payload: bytes(10) }, 512);
    receiver.handleDatagram(other.datagrams()[0]!, 2);
    expect(partial!.endedAt).toBeNull();
    receiver.handleDatagram(encode(bytes(10, 1), 512, 8, ID_B).datagrams[0]!, 3);
    expect(partial!.endedAt).toBe(3);
  });

  test("a heartbeat whose last_sequence reaches it marks it ended", () => {
    const { encoder, datagrams } = encode(bytes(5000, 6), 512, 4);
    const { receiver } = receiverWith();
    for (let i = 1; i < encoder.count - 1; i++) receiver.handleDatagram(datagrams[i]!, 1);
    const [partial] = receiver.incomplete();
    receiver.handleDatagram(heartbeat(SENDER, 3), 2);
    receiver.handleDatagram(heartbeat("00000000000000bb", 9), 3);
    expect(partial!.endedAt).toBeNull();
    receiver.handleDatagram(heartbeat(SENDER, 4), 4);
    expect(partial!.endedAt).toBe(4);
  });
});
