// `condcast fec-bench`: encode and decode speed of one FEC block, as one JSON line (the contract the
// C++ and Java implementations share, for bench/): {"impl","symbolSize","block","parity",
// "encodeMBps","decodeMBps","kernel"}. Decoding is the worst case: `parity` sources lost per block.
import { FecDecoder, FecEncoder, type SourceReader } from "../fec/block-coder.js";
import { createKernel, scalarKernel } from "../fec/kernel.js";
import { FecLayout } from "../fec/layout.js";
import { UsageError, intFlag, numberFlag, parseFlags, stringFlag } from "./options.js";

export const FEC_BENCH_FLAGS = {
  "symbol-size": { type: "string" },
  block: { type: "string" },
  parity: { type: "string" },
  seconds: { type: "string" },
  kernel: { type: "string" },
  help: { type: "boolean" },
} as const;

export const FEC_BENCH_USAGE = `usage: condcast fec-bench [--symbol-size 1392] [--block 242] [--parity 13] [--seconds 2] [--kernel simd|scalar]

Measures FEC encoding and worst-case decoding of one block; prints one JSON line.`;

export function runFecBench(argv: string[], env: NodeJS.ProcessEnv, out: NodeJS.WritableStream): number {
  const args = parseFlags(argv, FEC_BENCH_FLAGS, env);
  if (args.values.help === true) {
    out.write(`${FEC_BENCH_USAGE}\n`);
    return 0;
  }
  const symbolSize = intFlag(args, "symbol-size", 1392, 1, 65507);
  const k = intFlag(args, "block", 242, 1, 254);
  const m = intFlag(args, "parity", 13, 1, 254);
  if (k + m > 255) throw new UsageError(`--block + --parity must be at most 255, got ${k + m}`);
  const seconds = numberFlag(args, "seconds", 2, 0.1);
  const kernelName = stringFlag(args, "kernel") ?? "simd";
  if (kernelName !== "simd" && kernelName !== "scalar") throw new UsageError(`--kernel must be simd or scalar`);
  const kernel = kernelName === "scalar" ? scalarKernel() : createKernel();

  const sources = Buffer.allocUnsafe(k * symbolSize);
  for (let i = 0; i < sources.length; i++) sources[i] = (i * 2654435761) >>> 24;
  const read: SourceReader = (index, target, at) => {
    target.set(sources.subarray(index * symbolSize, (index + 1) * symbolSize), at);
    return symbolSize;
  };
  const layout = new FecLayout(k, k * symbolSize, symbolSize, k, m);
  const encoder = new FecEncoder(kernel);
  const encodeMBps = rate(seconds / 2, k * symbolSize, () => encoder.encodeGroup(layout, 0, 1, read));

  const parity = Array.from({ length: m }, (_, i) => ({ row: i, bytes: Buffer.from(encoder.parity(0, i)) }));
  const lost = Math.min(m, k);
  const missing = Array.from({ length: lost }, (_, r) => Math.floor((r * k) / lost));
  const decoder = new FecDecoder(kernel);
  let check = 0;
  const decodeMBps = rate(seconds / 2, k * symbolSize, () => decoder.decodeBlock(k, symbolSize, missing, parity, read, (_j, symbol) => (check ^= symbol[0]!)));
  const first = missing[0]!;
  decoder.decodeBlock(k, symbolSize, missing, parity, read, (j, symbol) => {
    if (j === first && !Buffer.from(symbol).equals(sources.subarray(j * symbolSize, (j + 1) * symbolSize))) throw new Error("decoding rebuilt wrong bytes");
  });
  out.write(`${JSON.stringify({ impl: "ts", symbolSize, block: k, parity: m, encodeMBps: round(encodeMBps), decodeMBps: round(decodeMBps), kernel: kernel.name })}\n`);
  return 0;
}

/** MB/s of `bytes` per call of `work`, over about `seconds` after a short warm-up. */
function rate(seconds: number, bytes: number, work: () => void): number {
  for (let i = 0; i < 3; i++) work();
  let calls = 0;
  const start = performance.now();
  while (performance.now() - start < seconds * 1000) {
    work();
    calls++;
  }
  return (calls * bytes) / 1e6 / ((performance.now() - start) / 1000);
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}
