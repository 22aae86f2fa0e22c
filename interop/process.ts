// Runs a command inside a namespace host (`ip netns exec`), collecting its output: the one launcher
// of the interop matrix, the clusters and the benchmarks.
import { spawn } from "node:child_process";
import type { Host } from "./topology.ts";

export interface Exec {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface Started {
  readonly done: Promise<Exec>;
  /** Resolves once stderr shows `"event":"listening"` (the CLIs' log line), or the process ended. */
  readonly listening: Promise<void>;
  readonly pid: number | undefined;
  kill(signal?: NodeJS.Signals): void;
}

export function startIn(host: Host, command: readonly string[], args: readonly string[]): Started {
  const child = spawn("ip", ["netns", "exec", host.netns, ...command, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  let heard!: () => void;
  const listening = new Promise<void>((resolve) => (heard = resolve));
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
    if (stderr.includes('"event":"listening"')) heard();
  });
  const done = new Promise<Exec>((resolve) => {
    child.on("error", (e) => resolve({ code: -1, stdout, stderr: stderr + e.message }));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
  void done.then(() => heard());
  return { done, listening, pid: child.pid, kill: (signal = "SIGTERM") => child.kill(signal) };
}

/** The JSON lines of a process's output (the CLIs print one object per line; other lines are skipped). */
export function jsonLines<T = Record<string, unknown>>(text: string): T[] {
  return text
    .split("\n")
    .filter((l) => l.trim().startsWith("{"))
    .map((l) => JSON.parse(l) as T);
}
