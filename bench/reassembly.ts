// The TypeScript receiver's reassembly in-process, without sockets (issue 18 items 1 and 3): datagrams of
// 10 MB objects (5 % parity, none lost) fed to Receiver.handleDatagram, against the same run's floor for
// the same bytes: one envelope allocated, every chunk copied into it, the payload hashed in one MD5
// update. The ratio says how close decoding, bookkeeping and the incremental MD5 come to the work
// that cannot be avoided; benchmark 3 adds the socket, the ring and the cores it shares.
//   node bench/reassembly.ts [--objects 12] [--rounds 3] [--size 10000000]
import { createHash } from "node:crypto";
import { parseArgs } from "node:util";
import { fecSettings } from "../ts/dist/fec/layout.js";
import { Receiver } from "../ts/dist/receiver/receiver.js";
import { DatagramDecoder } from "../ts/dist/wire/decode.js";
import { ObjectEncoder } from "../ts/dist/wire/object-encoder.js";

const { values } = parseArgs({ options: { objects: { type: "string", default: "12" }, rounds: { type: "string", default: "3" }, size: { type: "string", default: "10000000" } } });
const OBJECTS = Number(values.objects);
const ROUNDS = Number(values.rounds);
const SIZE = Number(values.size);
const SENDER = "00000000000000b3";

function uuid(n: number): string {
  const hex = n.toString(16).padStart(12, "0");
  return `00000000-0000-4000-8000-${hex}`;
}

/** Every datagram of OBJECTS objects, in send order, one object after the other. */
function encodeAll(datagramSize: number, round: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  const payload = Buffer.alloc(SIZE);
  for (let i = 0; i < SIZE; i++) payload[i] = (i * 131) & 0xff;
  for (let o = 0; o < OBJECTS; o++) {
    payload.writeUInt32BE(round * 1000 + o, 0);
    const n = round * OBJECTS + o + 1;
    const meta = { path: "Bench/Reassembly", validFrom: 1, validUntil: 2, created: 1, contentType: "application/octet-stream", fileName: "x", md5: createHash("md5").update(payload).digest("hex"), metadata: {} };
    const encoder = new ObjectEncoder({ senderId: SENDER, sequence: n, id: uuid(n), meta, payload }, datagramSize, { fec: fecSettings(0.05) });
    out.push(...encoder.datagrams());
  }
  return out;
}

/** The receiver: MB/s of payload completed. */
function receive(datagrams: Uint8Array[]): number {
  const receiver = new Receiver({});
  let completed = 0;
  receiver.on("object", () => completed++);
  const started = performance.now();
  for (const d of datagrams) receiver.handleDatagram(d, 0);
  const seconds = (performance.now() - started) / 1000;
  if (completed !== OBJECTS) throw new Error(`${completed} of ${OBJECTS} objects completed`);
  return (OBJECTS * SIZE) / 1e6 / seconds;
}

/** The floor: per object one envelope, every source chunk copied into place, one MD5 of the payload. */
function floor(datagrams: Uint8Array[]): number {
  const decoder = new DatagramDecoder();
  const started = performance.now();
  let envelope: Buffer | null = null;
  let metadataLength = 0;
  let received = 0;
  let total = 0;
  for (const d of datagrams) {
    const x = decoder.decode(d);
    if (x.kind !== "fragment" || x.fragment.isParity) continue;
    const f = x.fragment;
    if (envelope === null) {
      envelope = Buffer.allocUnsafe(f.envelopeLength);
      metadataLength = f.metadataLength;
      total = f.sourceCount;
    }
    envelope.set(f.buf.subarray(f.chunkOffset, f.chunkOffset + f.chunkLength), f.index * f.fragmentSize);
    if (++received === total) {
      createHash("md5").update(envelope.subarray(metadataLength)).digest("hex");
      envelope = null;
      received = 0;
    }
  }
  return (OBJECTS * SIZE) / 1e6 / ((performance.now() - started) / 1000);
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log("| datagram | receiver (MB/s of payload) | copy + MD5 floor (MB/s, same run) | ratio |");
console.log("|---|---|---|---|");
for (const datagramSize of [1472, 8972]) {
  const r: number[] = [];
  const f: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const datagrams = encodeAll(datagramSize, round);
    // Alternating, so that both see the same state of the machine.
    r.push(receive(datagrams));
    f.push(floor(datagrams));
  }
  console.log(`| ${datagramSize} B | ${median(r).toFixed(0)} | ${median(f).toFixed(0)} | ${(median(r) / median(f)).toFixed(2)} |`);
}
