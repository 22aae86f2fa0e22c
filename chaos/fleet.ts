// The processes of one chaos scenario: a repository and caches (`condcast serve`) and helper programs
// on namespace hosts, each writing straight into its own log file (appended across restarts, so a
// SIGKILLed process leaves everything it wrote), killed and restarted by name.
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, openSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Host } from "../interop/topology.ts";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const CONDCAST = join(ROOT, "bin", "condcast");
const CLIENT = join(ROOT, "chaos", "client.ts");

interface Managed {
  readonly host: Host;
  readonly command: readonly string[];
  readonly log: string;
  child: ChildProcess | null;
  exited: Promise<number | null>;
  starts: number;
}

export interface ClientResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export class Fleet {
  private readonly procs = new Map<string, Managed>();
  readonly logDir: string;

  constructor(logDir: string) {
    this.logDir = logDir;
    mkdirSync(logDir, { recursive: true });
  }

  /** Starts (or restarts) `name` on `host`; output goes to <logDir>/<name>.log. */
  start(name: string, host: Host, command: readonly string[]): void {
    const existing = this.procs.get(name);
    if (existing?.child !== null && existing?.child !== undefined) throw new Error(`${name} is running`);
    const log = join(this.logDir, `${name}.log`);
    const fd = openSync(log, "a");
    const starts = (existing?.starts ?? 0) + 1;
    writeSync(fd, `--- start ${starts} at ${new Date().toISOString()}: ${command.join(" ")}\n`);
    const child = spawn("ip", ["netns", "exec", host.netns, ...command], { stdio: ["ignore", fd, fd] });
    closeSync(fd);
    const managed: Managed = { host, command, log, child, starts, exited: Promise.resolve(null) };
    managed.exited = new Promise((resolve) => {
      child.on("error", () => resolve(-1));
      child.on("exit", (code, signal) => {
        managed.child = null;
        const fd2 = openSync(log, "a");
        writeSync(fd2, `--- exit ${code ?? signal} at ${new Date().toISOString()}\n`);
        closeSync(fd2);
        resolve(code);
      });
    });
    this.procs.set(name, managed);
  }

  serve(name: string, host: Host, args: readonly string[]): void {
    this.start(name, host, [CONDCAST, "serve", ...args]);
  }

  /** Starts `name` again with the command it had. */
  restart(name: string): void {
    const m = this.get(name);
    this.start(name, m.host, m.command);
  }

  /** Sends `signal` and waits until the process is gone. */
  async kill(name: string, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const m = this.get(name);
    if (m.child === null) return;
    m.child.kill(signal);
    await m.exited;
  }

  running(name: string): boolean {
    return this.procs.get(name)?.child != null;
  }

  async stopAll(): Promise<void> {
    for (const m of this.procs.values()) m.child?.kill("SIGTERM");
    const late = setTimeout(() => {
      for (const m of this.procs.values()) m.child?.kill("SIGKILL");
    }, 5000);
    await Promise.all([...this.procs.values()].map((m) => m.exited));
    clearTimeout(late);
  }

  /** Runs chaos/client.ts inside `host` and collects its output. */
  client(host: Host, args: readonly string[], script: string = CLIENT): Promise<ClientResult> {
    return new Promise((resolve) => {
      const child = spawn("ip", ["netns", "exec", host.netns, process.execPath, script, ...args], { stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      child.on("error", (e) => resolve({ code: -1, stdout, stderr: stderr + e.message }));
      child.on("close", (code) => resolve({ code, stdout, stderr }));
    });
  }

  /** The parsed last JSON line a client printed. */
  static json<T>(result: ClientResult): T {
    const line = result.stdout.trim().split("\n").filter((l) => l.startsWith("{")).at(-1);
    if (line === undefined) throw new Error(`no JSON from the client (exit ${result.code}): ${result.stderr.slice(0, 500)}`);
    return JSON.parse(line) as T;
  }

  private get(name: string): Managed {
    const m = this.procs.get(name);
    if (m === undefined) throw new Error(`no process ${name}`);
    return m;
  }
}
