// Benchmark 8: FEC encoding and worst-case decoding speed of one block per language (each
// implementation's fec-bench command), at the default block (242 + 13) and both datagram sizes,
// next to the rate that language's sender reached in benchmark 2 (the encoder must keep up with it).
import { execFileSync } from "node:child_process";
import type { Implementation } from "../interop/implementations.ts";

export interface FecCodecResult {
  impl: string;
  symbolSize: number;
  block: number;
  parity: number;
  encodeMBps: number;
  decodeMBps: number;
  /** The kernel the implementation picked (simd, avx2, scalar …), when it says. */
  kernel?: string;
}

export function fecCodec(impls: readonly Implementation[], seconds: number): FecCodecResult[] {
  const results: FecCodecResult[] = [];
  for (const impl of impls) {
    // The fragment sizes of the 1400- and 8972-byte datagrams of benchmarks 1-3.
    for (const symbolSize of [1400 - 80, 8972 - 80]) {
      const [command, ...args] = impl.fecBench;
      const out = execFileSync(command!, [...args, "--symbol-size", String(symbolSize), "--block", "242", "--parity", "13", "--seconds", String(seconds)], {
        encoding: "utf8",
        timeout: (seconds + 30) * 1000,
      });
      const line = JSON.parse(out.trim().split("\n").at(-1)!) as FecCodecResult;
      results.push({ ...line, impl: impl.name });
    }
  }
  return results;
}
