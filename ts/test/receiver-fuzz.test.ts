// Random and mutated datagrams: always rejected with a reason or used, never thrown, never past the cap.
import fc from "fast-check";
import { expect, test } from "vitest";
import { Receiver } from "../src/receiver/receiver.js";
import { DATAGRAM_REASONS } from "../src/wire/reasons.js";
import { DatagramDecoder } from "../src/wire/decode.js";
import { loadVectors } from "./vectors.js";

const CAP = 64 * 1024;
const seeds = loadVectors().flatMap((v) => v.datagrams);

function mutate(datagram: Uint8Array, edits: { at: number; value: number }[], cut: number): Uint8Array {
  const out = Uint8Array.from(datagram);
  for (const e of edits) out[e.at % out.length] = e.value;
  return out.subarray(0, Math.max(0, out.length - cut));
}

const datagrams = fc.oneof(
  fc.uint8Array({ maxLength: 1500 }),
  // Valid preamble, random body: exercises the protobuf parsers rather than the magic check.
  fc.tuple(fc.integer({ min: 1, max: 4 }), fc.uint8Array({ maxLength: 400 })).map(([kind, body]) => Uint8Array.from([0xcc, 0xdb, 0x63, 0x63, 1, kind, 0, 0, ...body])),
  fc.tuple(fc.constantFrom(...seeds), fc.array(fc.record({ at: fc.nat(), value: fc.nat(255) }), { maxLength: 4 }), fc.nat(40)).map(([d, edits, cut]) => mutate(d, edits, cut)),
);

test("every datagram is either accepted or dropped with a known reason; nothing throws; the cap holds", () => {
  fc.assert(
    fc.property(fc.array(datagrams, { minLength: 1, maxLength: 50 }), (batch) => {
      const receiver = new Receiver({ maxPartialBytes: CAP });
      receiver.on("error", () => undefined);
      for (const d of batch) {
        receiver.handleDatagram(d, 0);
        expect(receiver.counters.partialBytes).toBeLessThanOrEqual(CAP);
      }
      const c = receiver.counters;
      expect(c.datagrams).toBe(batch.length);
      const rejected = DATAGRAM_REASONS.reduce((sum, r) => sum + c.drops[r], 0);
      expect(rejected + c.fragments + c.heartbeats + c.lifecycles + c.commits + c.commitCopies).toBe(batch.length);
    }),
    { numRuns: 3000 },
  );
});

test("the decoder returns a verdict for every input", () => {
  const decoder = new DatagramDecoder({ keys: new Map([[7, new Uint8Array(32)]]) });
  fc.assert(
    fc.property(datagrams, (d) => {
      const result = decoder.decode(d);
      expect(["fragment", "heartbeat", "lifecycle", "commit", "rejected"]).toContain(result.kind);
      if (result.kind === "rejected") expect(DATAGRAM_REASONS).toContain(result.reason);
    }),
    { numRuns: 5000 },
  );
});
