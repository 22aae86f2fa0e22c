// FEC scheme 1 (SPEC 10): the field, the kernels, the layout, and recovery from every loss pattern a
// block can survive — and clean failure beyond it.
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { FecDecoder, FecEncoder } from "../src/fec/block-coder.js";
import { GF_EXP, cauchyCoefficient, gfInv, gfMul } from "../src/fec/gf256.js";
import { WORKSPACE_BASE, alignRow, scalarKernel, simdKernel, type GfKernel } from "../src/fec/kernel.js";
import { FecLayout, fecSettings, parityFor } from "../src/fec/layout.js";
import { Receiver } from "../src/receiver/receiver.js";
import type { ReceivedObject } from "../src/wire/object.js";
import { DatagramDecoder } from "../src/wire/decode.js";
import { ObjectEncoder } from "../src/wire/object-encoder.js";
import { bytes, testMeta } from "./helpers.js";

const hex = (values: number[]) => values.map((v) => v.toString(16).toUpperCase().padStart(2, "0")).join(" ");

describe("GF(2^8) of SPEC 10.1 and the Cauchy rows of SPEC 10.3", () => {
  test("the check values", () => {
    expect(Array.from(GF_EXP.subarray(0, 9))).toEqual([1, 2, 4, 8, 16, 32, 64, 128, 29]);
    expect(gfMul(0x57, 0x83)).toBe(0x31);
    expect(gfInv(2)).toBe(0x8e);
    const row = (i: number) => hex([0, 1, 2, 3, 4, 5].map((j) => cauchyCoefficient(i, j)));
    expect([row(0), row(1), row(2)]).toEqual(["FD 7E FF 7F 75 E8", "7E FD 7F FF E8 75", "FF 7F FD 7E D4 42"]);
  });

  test("every non-zero element times its inverse is 1", () => {
    for (let a = 1; a < 256; a++) expect(gfMul(a, gfInv(a))).toBe(1);
  });
});

describe("the multiply-accumulate kernels", () => {
  const simd = simdKernel();

  test("WebAssembly SIMD is available on this Node (the scalar kernel is only the fallback)", () => {
    expect(simd?.name).toBe("simd");
  });

  /** Runs mulAddRows on one kernel with the given rows and source; returns the rows after. */
  function run(kernel: GfKernel, src: Uint8Array, coefs: Uint8Array, rows: Uint8Array[]): Uint8Array[] {
    const stride = alignRow(src.length);
    const srcAt = WORKSPACE_BASE;
    const coefAt = srcAt + stride;
    const dstAt = coefAt + alignRow(coefs.length);
    kernel.reserve(dstAt + rows.length * stride - WORKSPACE_BASE);
    const mem = kernel.bytes();
    mem.fill(0, srcAt, dstAt + rows.length * stride);
    mem.set(src, srcAt);
    mem.set(coefs, coefAt);
    rows.forEach((r, i) => mem.set(r, dstAt + i * stride));
    kernel.mulAddRows(srcAt, src.length, coefAt, rows.length, dstAt, stride);
    const after = kernel.bytes();
    return rows.map((_, i) => after.slice(dstAt + i * stride, dstAt + i * stride + src.length));
  }

  test("SIMD equals scalar for every length 0..100 and random rows", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 1, max: 5 }), fc.integer(), (length, rowCount, seed) => {
        const src = bytes(length, seed);
        const coefs = bytes(rowCount, seed + 1);
        const rows = Array.from({ length: rowCount }, (_, i) => bytes(length, seed + 2 + i));
        const expected = rows.map((r, i) => Array.from(r, (x, t) => x ^ gfMul(coefs[i]!, src[t]!)));
        expect(run(scalarKernel(), src, coefs, rows).map((r) => Array.from(r))).toEqual(expected);
        expect(run(simd!, src, coefs, rows).map((r) => Array.from(r))).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });
});

describe("layout (SPEC 10.2) and send order (SPEC 10.4)", () => {
  test("18 fragments in blocks of at most 5: 5, 5, 4, 4, parity indexes after the sources", () => {
    const layout = new FecLayout(18, 3000, 176, 5, 2);
    expect([layout.blockCount, layout.largeBlockLength, layout.smallBlockLength, layout.largeBlockCount]).toEqual([4, 5, 4, 2]);
    expect([0, 1, 2, 3].map((b) => [layout.blockStart(b), layout.blockSourceCount(b)])).toEqual([[0, 5], [5, 5], [10, 4], [14, 4]]);
    expect(Array.from({ length: 18 }, (_, i) => layout.blockOfSource(i))).toEqual([0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]);
    expect(layout.totalCount).toBe(26);
    expect(Array.from(layout.sendOrder(2))).toEqual([0, 5, 1, 6, 2, 7, 3, 8, 4, 9, 18, 20, 19, 21, 10, 14, 11, 15, 12, 16, 13, 17, 22, 24, 23, 25]);
    expect(Array.from(layout.sendOrder(1))).toEqual([0, 1, 2, 3, 4, 18, 19, 5, 6, 7, 8, 9, 20, 21, 10, 11, 12, 13, 22, 23, 14, 15, 16, 17, 24, 25]);
  });

  test("a send order holds every index exactly once, whatever the depth", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3000 }), fc.integer({ min: 1, max: 254 }), fc.integer({ min: 1, max: 40 }), (t, b, d) => {
        const m = Math.max(1, Math.min(255 - b, 13));
        const layout = new FecLayout(t, t * 100, 100, b, m);
        const order = Array.from(layout.sendOrder(d)).sort((x, y) => x - y);
        expect(order).toEqual(Array.from({ length: layout.totalCount }, (_, i) => i));
        expect(layout.largeBlockLength).toBeLessThanOrEqual(b);
        expect(layout.largeBlockLength - layout.smallBlockLength).toBeLessThanOrEqual(1);
      }),
    );
  });

  test("holding back: the last block's last source and its parity go last; the rest keeps its order", () => {
    const layout = new FecLayout(18, 3000, 176, 5, 2);
    // Block 3 is 14..17 with parity 24, 25: 17, 24, 25 wait; without them block 3 has 3 of its 4 sources.
    expect(Array.from(layout.sendOrder(2, true))).toEqual([0, 5, 1, 6, 2, 7, 3, 8, 4, 9, 18, 20, 19, 21, 10, 14, 11, 15, 12, 16, 13, 22, 23, 17, 24, 25]);
    expect(layout.heldBackCount).toBe(3);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3000 }), fc.integer({ min: 1, max: 254 }), fc.integer({ min: 1, max: 40 }), (t, b, d) => {
        const m = Math.max(1, Math.min(255 - b, 13));
        const layout = new FecLayout(t, t * 100, 100, b, m);
        const held = Array.from(layout.sendOrder(d, true));
        const tail = held.slice(held.length - layout.heldBackCount);
        const last = layout.blockCount - 1;
        const k = layout.blockSourceCount(last);
        expect(tail).toEqual(Array.from({ length: m + 1 }, (_, j) => layout.indexOfSymbol(last, k - 1 + j)));
        expect(held.slice(0, held.length - tail.length)).toEqual(Array.from(layout.sendOrder(d)).filter((i) => !tail.includes(i)));
      }),
    );
  });

  test("sender parameters in integer units: defaults 242 + 13, small objects get few parity fragments", () => {
    expect(fecSettings(0.05)).toEqual({ parityUnits: 500, blockLength: 242, interleave: 16 });
    expect(fecSettings(0.1)!.blockLength).toBe(231);
    expect(fecSettings(0.02)!.blockLength).toBe(250);
    expect(fecSettings(0)).toBeNull();
    expect(parityFor(242, 500)).toBe(13);
    expect(parityFor(216, 500)).toBe(11);
    expect(parityFor(1, 500)).toBe(1);
    expect(() => fecSettings(0.05, 250)).toThrow(/255/);
    expect(() => fecSettings(1.5)).toThrow(RangeError);
    expect(() => fecSettings(0.05, undefined, 0)).toThrow(/interleave/);
  });
});

describe("block encoding and decoding", () => {
  test("any e <= m lost sources of a block are rebuilt exactly (random blocks, both kernels)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 300 }), fc.nat(), (k, m, size, seed) => {
        const sources = Array.from({ length: k }, (_, j) => bytes(size, seed + j));
        const layout = new FecLayout(k, k * size, size, k, m);
        const read = (index: number, target: Uint8Array, at: number) => (target.set(sources[index]!, at), size);
        for (const kernel of [simdKernel()!, scalarKernel()]) {
          const encoder = new FecEncoder(kernel);
          encoder.encodeGroup(layout, 0, 1, read);
          const parity = Array.from({ length: m }, (_, i) => ({ row: i, bytes: encoder.parity(0, i).slice() }));
          const e = Math.min(m, k);
          const missing = [...new Set(Array.from({ length: e }, (_, r) => (seed * 7 + r * 13) % k))].sort((a, b) => a - b);
          const rows = parity.slice(m - missing.length); // any rows will do: take the last ones
          const rebuilt = new Map<number, Uint8Array>();
          new FecDecoder(kernel).decodeBlock(k, size, missing, rows, (j, target, at) => read(j, target, at), (j, symbol) => rebuilt.set(j, symbol.slice()));
          expect([...rebuilt.keys()]).toEqual(missing);
          for (const j of missing) expect(Buffer.from(rebuilt.get(j)!).equals(sources[j]!)).toBe(true);
        }
      }),
      { numRuns: 60 },
    );
  });
});

/** An object cut with FEC; the datagrams in send order with the fragment index of each. */
function codedObject(size: number, datagramSize: number, parity: number, blockLength?: number, interleave = 16) {
  const payload = bytes(size, size);
  const encoder = new ObjectEncoder(
    { senderId: "00000000000000fe", sequence: 1, id: "11111111-2222-4333-8444-555555555555", meta: testMeta(payload), payload },
    datagramSize,
    { fec: fecSettings(parity, blockLength, interleave) },
  );
  return { payload, encoder, datagrams: encoder.datagrams(), indexes: Array.from({ length: encoder.count }, (_, p) => encoder.indexAt(p)) };
}

function deliver(datagrams: Uint8Array[], keep: (position: number) => boolean) {
  const receiver = new Receiver();
  const objects: ReceivedObject[] = [];
  receiver.on("object", (o) => objects.push(o));
  datagrams.forEach((d, p) => keep(p) && receiver.handleDatagram(d, 0));
  return { receiver, objects };
}

describe("objects through the receiver", () => {
  test("default layout (242 + 13): any 13 random losses per block are repaired without asking anyone", () => {
    // 2 blocks of 242 source fragments at 256-byte datagrams (176-byte fragments).
    const { payload, encoder, datagrams, indexes } = codedObject(484 * 176 - 400, 256, 0.05);
    const layout = encoder.fecLayout!;
    expect([layout.blockCount, layout.largeBlockLength, layout.parityCount]).toEqual([2, 242, 13]);
    const blockOf = (index: number) => (index < layout.sourceCount ? layout.blockOfSource(index) : Math.floor((index - layout.sourceCount) / layout.parityCount));
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: datagrams.length - 1 }), { maxLength: 40 }), (candidates) => {
        // Keep at most 13 losses per block.
        const perBlock = [0, 0];
        const lost = new Set<number>();
        for (const p of candidates) if (!lost.has(p) && perBlock[blockOf(indexes[p]!)]! < 13) (lost.add(p), perBlock[blockOf(indexes[p]!)]!++);
        const { receiver, objects } = deliver(datagrams, (p) => !lost.has(p));
        expect(objects).toHaveLength(1);
        expect(Buffer.from(objects[0]!.payload).equals(payload)).toBe(true);
        const lostSources = [...lost].filter((p) => indexes[p]! < layout.sourceCount).length;
        expect(receiver.counters.fec.fragmentsRecovered).toBe(lostSources);
        expect(receiver.counters.fec.parityUsed).toBe(lostSources);
        expect(receiver.counters.partialBytes).toBe(0);
      }),
      { numRuns: 40 },
    );
  });

  test("beyond m losses a block fails cleanly: no object, and repair asks only for what decoding lacks", () => {
    const { encoder, datagrams, indexes } = codedObject(200 * 176, 256, 0.05);
    const layout = encoder.fecLayout!;
    expect(layout.blockCount).toBe(1);
    const m = layout.parityCount;
    // Lose m + 3 sources (every third one from 10 on) and one parity fragment: 4 short of k.
    const lostIndexes = new Set([...Array.from({ length: m + 3 }, (_, i) => 10 + 3 * i), layout.sourceCount]);
    const { receiver, objects } = deliver(datagrams, (p) => !lostIndexes.has(indexes[p]!));
    expect(objects).toEqual([]);
    expect(receiver.counters.fec.blocksDecoded).toBe(0);
    const [partial] = receiver.incomplete();
    expect(partial!.blocksShort()).toBe(1);
    const ranges = partial!.missingEnvelopeRanges();
    expect(ranges).toEqual([10, 13, 16, 19].map((i) => ({ start: i * 176, end: (i + 1) * 176 })));
    // Filling just those (as an HTTP range repair does) lets the parity rebuild the other m.
    const envelope = Buffer.alloc(encoder.envelopeLength);
    const decoder = new DatagramDecoder();
    for (let p = 0; p < encoder.count; p++) {
      const index = indexes[p]!;
      if (index >= layout.sourceCount) continue;
      const d = decoder.decode(datagrams[p]!);
      if (d.kind !== "fragment") throw new Error("not a fragment");
      envelope.set(d.fragment.buf.subarray(d.fragment.chunkOffset, d.fragment.chunkOffset + d.fragment.chunkLength), index * 176);
    }
    // The other m + 3 + 1 − 4 = m − 1 lost sources come from the m − 1 parity fragments held.
    for (const r of ranges) expect(partial!.fillEnvelope(r.start, envelope.subarray(r.start, r.end))).toBe(r === ranges.at(-1) ? m - 1 : 0);
    expect(partial!.complete).toBe(true);
    expect(Buffer.from(partial!.envelope).equals(envelope)).toBe(true);
  });

  test("a burst shorter than D·m datagrams is survived thanks to interleaving, not without it", () => {
    // 8 blocks of 100 + 5: a burst of 30 consecutive datagrams.
    const size = 800 * 176 - 200;
    const burst = (datagrams: Uint8Array[]) => deliver(datagrams, (p) => p < 300 || p >= 330).objects.length;
    expect(burst(codedObject(size, 256, 0.05, 100, 8).datagrams)).toBe(1);
    expect(burst(codedObject(size, 256, 0.05, 100, 1).datagrams)).toBe(0);
  });
});
