// The golden vectors: decoding, reassembly, rejection reasons, and byte-for-byte encoding.
import { describe, expect, test } from "vitest";
import { Receiver } from "../src/receiver/receiver.js";
import { DatagramDecoder } from "../src/wire/decode.js";
import { encodeCommit, encodeHeartbeat, encodeLifecycle } from "../src/wire/control.js";
import { bytesToUuid } from "../src/wire/ids.js";
import type { ReceivedObject } from "../src/wire/object.js";
import { ObjectEncoder } from "../src/wire/object-encoder.js";
import { fecSettings } from "../src/fec/layout.js";
import { vectorFiles } from "../src/vectors/write-vectors.js";
import { VECTORS_DIR, keyRing, loadVectors, type LoadedVector } from "./vectors.js";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const vectors = loadVectors();
const byKind = (kind: LoadedVector["kind"]) => vectors.filter((v) => v.kind === kind);

/** A receiver that is never started: datagrams go in through handleDatagram. */
function offlineReceiver(v: LoadedVector, stageChangesets = true) {
  const receiver = new Receiver({ keys: keyRing(v.receiver), maxEnvelopeLength: v.receiver?.maxEnvelopeLength, stageChangesets });
  const objects: ReceivedObject[] = [];
  const dropped: string[] = [];
  receiver.on("object", (o) => objects.push(o));
  receiver.on("dropped", (_p, reason) => dropped.push(reason));
  return { receiver, objects, dropped };
}

function objectAsJson(o: ReceivedObject) {
  return {
    id: o.id,
    senderId: o.senderId,
    sequence: o.sequence,
    path: o.meta.path,
    validFrom: o.meta.validFrom,
    validUntil: o.meta.validUntil,
    created: o.meta.created,
    contentType: o.meta.contentType,
    fileName: o.meta.fileName,
    md5: o.meta.md5,
    metadata: Object.entries(o.meta.metadata),
    payloadHex: Buffer.from(o.payload).toString("hex"),
    ...(o.meta.changeset === undefined ? {} : { changeset: o.meta.changeset }),
  };
}

test("the vector set covers every kind and every per-datagram reason", () => {
  expect(new Set(vectors.map((v) => v.kind))).toEqual(new Set(["object", "heartbeat", "lifecycle", "commit", "invalid", "invalid-object"]));
  const reasons = new Set(byKind("invalid").map((v) => v.reason));
  for (const r of ["truncated", "bad_magic", "bad_version", "bad_flags", "unknown_kind", "unauthenticated", "unknown_key", "bad_mac", "malformed", "bad_object_id", "unsupported_fec", "bad_fec", "oversize", "bad_length", "index_out_of_range", "bad_commit"]) {
    expect(reasons, r).toContain(r);
  }
});

test("the files on disk are what the generator writes", () => {
  for (const [name, content] of vectorFiles()) {
    expect(readFileSync(join(VECTORS_DIR, name)).equals(content), name).toBe(true);
  }
});

describe.each(byKind("object").map((v) => [v.name, v] as const))("object vector %s", (_name, v) => {
  test("each datagram decodes to its fragment", () => {
    const decoder = new DatagramDecoder({ keys: keyRing(v.receiver) });
    v.datagrams.forEach((d, i) => {
      const decoded = decoder.decode(d);
      expect(decoded.kind).toBe("fragment");
      if (decoded.kind !== "fragment") return;
      const f = decoded.fragment;
      expect({
        senderId: f.senderIdHex(),
        sequence: f.sequence,
        objectId: bytesToUuid(f.buf, f.objectIdOffset),
        envelopeLength: f.envelopeLength,
        metadataLength: f.metadataLength,
        fragmentSize: f.fragmentSize,
        index: f.index,
        fecScheme: f.fecScheme,
        fecBlockLength: f.fecBlockLength,
        fecParityCount: f.fecParityCount,
        chunkHex: Buffer.from(f.buf.subarray(f.chunkOffset, f.chunkOffset + f.chunkLength)).toString("hex"),
      }).toEqual(v.fragments![i]);
    });
  });

  test.each([
    ["in order", (ds: Uint8Array[]) => ds],
    ["in reverse", (ds: Uint8Array[]) => [...ds].reverse()],
    ["each twice", (ds: Uint8Array[]) => ds.flatMap((d) => [d, d])],
  ])("reassembles %s into the object", (_order, arrange) => {
    // Objects of a changeset as they complete (what staging holds is tested below and in changeset-stager).
    const { receiver, objects } = offlineReceiver(v, false);
    for (const d of arrange(v.datagrams)) receiver.handleDatagram(d, 0);
    expect(objects.map(objectAsJson)).toEqual([v.object]);
    if (v.fec === undefined) {
      expect(receiver.counters.totalDrops()).toBe(arrange(v.datagrams).length - v.datagrams.length);
    } else {
      // Sources that arrive after parity rebuilt them are duplicates; parity after completion is no drop.
      expect(receiver.counters.totalDrops()).toBe(receiver.counters.drops.duplicate);
    }
  });

  test("an object of a changeset is staged, not delivered, until its Commit", () => {
    const { receiver, objects } = offlineReceiver(v);
    const delivered: string[] = [];
    receiver.on("changeset", (d) => delivered.push(...d.objects.map((o) => o.id)));
    for (const d of v.datagrams) receiver.handleDatagram(d, 0);
    const o = v.object!;
    if (o.changeset === undefined) {
      expect(objects).toHaveLength(1);
      return;
    }
    expect(objects).toEqual([]);
    expect(receiver.counters.stagedObjects).toBe(1);
    const commit = { senderId: o.senderId, sequence: o.sequence + 1, keytable: "online", key: 1, parentKey: 0, changeset: o.changeset, objectCount: 1, objectIds: [o.id], removedPaths: [], committedAt: 1, aborted: false };
    receiver.handleDatagram(encodeCommit(commit, 1472), 0);
    expect(delivered).toEqual([o.id]);
  });

  test("the encoder reproduces the datagrams byte for byte", () => {
    const o = v.object!;
    const key = v.sender?.key ? { id: v.sender.key.id, key: Uint8Array.from(Buffer.from(v.sender.key.keyHex, "hex")) } : undefined;
    const encoder = new ObjectEncoder(
      {
        senderId: o.senderId,
        sequence: o.sequence,
        id: o.id,
        meta: { ...o, metadata: Object.fromEntries(o.metadata) },
        payload: Buffer.from(o.payloadHex, "hex"),
      },
      v.sender!.datagramSize!,
      { key, fec: fecSettings(v.sender!.fecParity!, v.sender!.fecBlockLength, v.sender!.fecInterleave) },
    );
    expect(encoder.datagrams().map((d) => Buffer.from(d).toString("hex"))).toEqual(v.datagrams.map((d) => Buffer.from(d).toString("hex")));
  });
});

describe.each(byKind("heartbeat").map((v) => [v.name, v] as const))("heartbeat vector %s", (_name, v) => {
  test("decodes and re-encodes", () => {
    const decoded = new DatagramDecoder({ keys: keyRing(v.receiver) }).decode(v.datagrams[0]!);
    expect(decoded).toEqual({ kind: "heartbeat", heartbeat: v.heartbeat });
    const key = v.sender?.key ? { id: v.sender.key.id, key: Uint8Array.from(Buffer.from(v.sender.key.keyHex, "hex")) } : undefined;
    expect(Buffer.from(encodeHeartbeat(v.heartbeat!, key)).equals(Buffer.from(v.datagrams[0]!))).toBe(true);
  });
});

describe.each(byKind("lifecycle").map((v) => [v.name, v] as const))("lifecycle vector %s", (_name, v) => {
  test("decodes and re-encodes", () => {
    const decoded = new DatagramDecoder().decode(v.datagrams[0]!);
    expect(decoded.kind).toBe("lifecycle");
    if (decoded.kind !== "lifecycle") return;
    expect({ ...decoded.lifecycle, metadata: Object.entries(decoded.lifecycle.metadata) }).toEqual(v.lifecycle);
    const info = { ...v.lifecycle!, metadata: Object.fromEntries(v.lifecycle!.metadata) };
    expect(Buffer.from(encodeLifecycle(info)).equals(Buffer.from(v.datagrams[0]!))).toBe(true);
  });
});

describe.each(byKind("commit").map((v) => [v.name, v] as const))("commit vector %s", (_name, v) => {
  test("decodes and re-encodes (ids left out exactly when they do not fit the datagram size)", () => {
    const decoded = new DatagramDecoder({ keys: keyRing(v.receiver) }).decode(v.datagrams[0]!);
    expect(decoded).toEqual({ kind: "commit", commit: v.commit });
    const key = v.sender?.key ? { id: v.sender.key.id, key: Uint8Array.from(Buffer.from(v.sender.key.keyHex, "hex")) } : undefined;
    // An encoder given every id of a changeset too large for one datagram leaves them out.
    const ids = v.commit!.objectIds.length > 0 ? v.commit!.objectIds : Array.from({ length: v.commit!.objectCount }, (_, i) => `b0000000-0000-4000-8000-${i.toString(16).padStart(12, "0")}`);
    expect(Buffer.from(encodeCommit({ ...v.commit!, objectIds: ids }, v.sender!.datagramSize, key)).equals(Buffer.from(v.datagrams[0]!))).toBe(true);
  });

  test("a receiver counts it and reports it with its sequence", () => {
    const { receiver } = offlineReceiver(v);
    const commits: unknown[] = [];
    receiver.on("commit", (c) => commits.push(c));
    receiver.handleDatagram(v.datagrams[0]!, 0);
    expect(commits).toEqual([v.commit]);
    expect(receiver.counters.commits).toBe(1);
    expect(receiver.sequences.snapshot()[v.commit!.senderId]).toBe(v.commit!.sequence);
  });
});

describe.each(byKind("invalid").map((v) => [v.name, v] as const))("invalid vector %s", (_name, v) => {
  test("is rejected with the stated reason and delivers nothing", () => {
    const decoded = new DatagramDecoder({ keys: keyRing(v.receiver), maxEnvelopeLength: v.receiver?.maxEnvelopeLength }).decode(v.datagrams[0]!);
    expect(decoded).toEqual({ kind: "rejected", reason: v.reason });
    const { receiver, objects } = offlineReceiver(v);
    receiver.handleDatagram(v.datagrams[0]!, 0);
    expect(objects).toEqual([]);
    expect(receiver.counters.drops[v.reason as keyof typeof receiver.counters.drops]).toBe(1);
    expect(receiver.counters.partialBytes).toBe(0);
  });
});

describe.each(byKind("invalid-object").map((v) => [v.name, v] as const))("invalid object vector %s", (_name, v) => {
  test("every datagram is accepted but the object is dropped with the stated reason", () => {
    const { receiver, objects, dropped } = offlineReceiver(v);
    for (const d of v.datagrams) receiver.handleDatagram(d, 0);
    expect(receiver.counters.totalDrops()).toBe(0);
    expect(objects).toEqual([]);
    expect(dropped).toEqual([v.reason]);
    expect(receiver.counters.objectsDropped[v.reason as "md5_mismatch" | "bad_metadata"]).toBe(1);
  });
});

/** Every way of choosing `size` of `items` (small inputs only). */
function subsets<T>(items: readonly T[], size: number): T[][] {
  if (size === 0) return [[]];
  if (items.length < size) return [];
  const [first, ...rest] = items;
  return [...subsets(rest, size - 1).map((s) => [first!, ...s]), ...subsets(rest, size)];
}

describe.each(byKind("object").filter((v) => v.fec !== undefined).map((v) => [v.name, v] as const))("FEC vector %s (vectors README rule 5)", (_name, v) => {
  const fec = v.fec!;
  const positionOf = new Map(v.fragments!.map((f, position) => [f.index, position]));
  const blockIndexes = fec.blocks.map((b) => [
    ...Array.from({ length: b.sourceCount }, (_, j) => b.first + j),
    ...Array.from({ length: fec.parityCount }, (_, i) => b.parityFirst + i),
  ]);

  test.each(fec.blocks.map((_, b) => [b] as const))("block %i: any m of its fragments lost, the object still arrives", (b) => {
    const sets = subsets(blockIndexes[b]!, fec.parityCount);
    expect(sets.length).toBeGreaterThan(0);
    for (const lost of sets) {
      const { receiver, objects } = offlineReceiver(v);
      const skip = new Set(lost.map((index) => positionOf.get(index)!));
      v.datagrams.forEach((d, position) => skip.has(position) || receiver.handleDatagram(d, 0));
      const sources = lost.filter((index) => index < fec.blocks[0]!.parityFirst).length; // indexes below T are sources
      expect(objects.map(objectAsJson), `lost ${lost.join(",")}`).toEqual([v.object]);
      expect(receiver.counters.fec).toEqual({ blocksDecoded: sources > 0 ? 1 : 0, parityUsed: sources, fragmentsRecovered: sources });
    }
  });

  test("m + 1 source fragments of a block lost: no object, and repair asks for exactly one", () => {
    const b = fec.blocks.findIndex((block) => block.sourceCount > fec.parityCount);
    if (b < 0) return; // every block is smaller than m + 1
    const lost = blockIndexes[b]!.slice(0, fec.parityCount + 1);
    const { receiver, objects } = offlineReceiver(v);
    const skip = new Set(lost.map((index) => positionOf.get(index)!));
    v.datagrams.forEach((d, position) => skip.has(position) || receiver.handleDatagram(d, 0));
    expect(objects).toEqual([]);
    const [partial] = receiver.incomplete();
    const fragmentSize = v.fragments![0]!.fragmentSize;
    expect(partial!.missingEnvelopeRanges()).toEqual([{ start: lost[0]! * fragmentSize, end: (lost[0]! + 1) * fragmentSize }]);
  });
});
