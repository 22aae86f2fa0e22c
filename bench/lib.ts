// Small helpers shared by the benchmarks: processes inside a namespace host, JSON lines, figures.
import { spawn } from "node:child_process";
import type { Host } from "../interop/topology.ts";

export interface Proc {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

export interface Running {
  readonly done: Promise<Proc>;
  /** Resolves once stderr shows a line containing `"event":"listening"` (or the process ended). */
  readonly listening: Promise<void>;
  kill(): void;
}

export function startIn(host: Host, command: readonly string[], args: readonly string[], env: NodeJS.ProcessEnv = {}): Running {
  const started = performance.now();
  const child = spawn("ip", ["netns", "exec", host.netns, ...command, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  let stdout = "";
  let stderr = "";
  let heard!: () => void;
  const listening = new Promise<void>((resolve) => (heard = resolve));
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
    if (stderr.includes('"event":"listening"')) heard();
  });
  const done = new Promise<Proc>((resolve) => {
    child.on("error", (e) => resolve({ code: -1, stdout, stderr: stderr + e.message, seconds: 0 }));
    child.on("close", (code) => {
      heard();
      resolve({ code, stdout, stderr, seconds: (performance.now() - started) / 1000 });
    });
  });
  return { done, listening, kill: () => child.kill("SIGKILL") };
}

export function lastJson<T>(text: string): T {
  const line = text.trim().split("\n").filter((l) => l.startsWith("{")).at(-1);
  if (!line) throw new Error(`no JSON line in: ${text.slice(0, 300)}`);
  return JSON.parse(line) as T;
}

export function jsonLines(text: string): Record<string, unknown>[] {
  return text.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
}

export const MB = 1e6;

export function mbps(bytes: number, seconds: number): number {
  return seconds > 0 ? bytes / MB / seconds : 0;
}
