// Small helpers shared by the benchmarks: JSON lines and figures.

import { jsonLines } from "../interop/process.ts";

export function lastJson<T>(text: string): T {
  const last = jsonLines<T>(text).at(-1);
  if (last === undefined) throw new Error(`no JSON line in: ${text.slice(0, 300)}`);
  return last;
}


export const MB = 1e6;

export function mbps(bytes: number, seconds: number): number {
  return seconds > 0 ? bytes / MB / seconds : 0;
}
