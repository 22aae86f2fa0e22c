// A repository and caches as `condcast serve` processes on namespace hosts: used by the interop loss
// columns and by the end-to-end and loss benchmarks.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { startIn, type Exec, type Started } from "./process.ts";
import type { Host } from "./topology.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
export const HTTP_CLIENT = join(ROOT, "interop", "http-client.ts");
const CONDCAST = join(ROOT, "bin", "condcast");

/** Runs the HTTP client (interop/http-client.ts) inside a host's namespace. */
export function httpClient(host: Host, args: readonly string[]): Promise<Exec> {
  return startIn(host, [process.execPath], [HTTP_CLIENT, ...args]).done;
}

export interface ClusterOptions {
  readonly group: string;
  readonly port: number;
  readonly datagramSize?: number;
  readonly rate?: number;
  /** Extra `serve` flags for every cache. */
  readonly cacheFlags?: readonly string[];
  /** Extra `serve` flags for the repository (e.g. --fec-parity). */
  readonly repositoryFlags?: readonly string[];
  /** `serve --log-level` of every process (default warn). */
  readonly logLevel?: string;
}

export class Cluster {
  readonly repository: Host;
  readonly caches: readonly Host[];
  readonly repositoryUrl: string;
  readonly cacheUrls: string[];
  private readonly options: ClusterOptions;
  private readonly procs: Started[] = [];
  private readonly dataDir = mkdtempSync(join(tmpdir(), "condcast-cluster-"));

  constructor(repository: Host, caches: readonly Host[], options: ClusterOptions) {
    this.repository = repository;
    this.caches = caches;
    this.options = options;
    this.repositoryUrl = `http://${repository.address}:8080`;
    this.cacheUrls = caches.map((c) => `http://${c.address}:8080`);
  }

  /** Starts the repository and the caches and waits until every one answers /health. */
  async start(): Promise<void> {
    const multicast = ["--group", this.options.group, "--port", String(this.options.port), "--log-level", this.options.logLevel ?? "warn"];
    const r = this.repository;
    this.procs.push(
      startIn(r, [CONDCAST, "serve"], ["--role", "repository", "--listen", `${r.address}:8080`, "--data-dir", this.dataDir, "--interface", r.address, "--rate", String(this.options.rate ?? 50_000_000), "--datagram-size", String(this.options.datagramSize ?? 1472), ...(this.options.repositoryFlags ?? []), ...multicast]),
    );
    for (const c of this.caches) {
      this.procs.push(startIn(c, [CONDCAST, "serve"], ["--role", "cache", "--listen", `${c.address}:8080`, "--upstream", this.repositoryUrl, "--interface", c.address, ...(this.options.cacheFlags ?? []), ...multicast]));
    }
    for (const [i, host] of [r, ...this.caches].entries()) {
      const up = await httpClient(host, ["wait", `http://${host.address}:8080`]);
      if (up.code !== 0) throw new Error(`${host.name} did not start: ${up.stderr} ${(await this.stopOne(i)).stderr.slice(0, 500)}`);
    }
  }

  /** The pid of cache i's process (its `ip netns exec` parent execs the CLI, which execs node). */
  cachePid(i: number): number | undefined {
    return this.procs[i + 1]?.pid;
  }

  /** The pid of the repository's process. */
  repositoryPid(): number | undefined {
    return this.procs[0]?.pid;
  }

  /** The hosts in process order: the repository, then the caches. */
  get hosts(): readonly Host[] {
    return [this.repository, ...this.caches];
  }

  /**
   * Writes every process's GET /status into `dir` (<host>.status.json), while they still run: what a
   * failed cell's reader needs next to the logs.
   */
  async saveStatus(dir: string): Promise<void> {
    mkdirSync(dir, { recursive: true });
    const urls = [this.repositoryUrl, ...this.cacheUrls];
    await Promise.all(
      this.hosts.map(async (host, i) => {
        const out = await httpClient(host, ["status", urls[i]!]);
        writeFileSync(join(dir, `${host.name}.status.json`), out.code === 0 ? out.stdout : `status failed (${out.code}): ${out.stderr}`);
      }),
    );
  }

  /** Stops every process; with `logDir`, writes each one's output there (<host>.log). */
  async stop(logDir?: string): Promise<void> {
    for (const p of this.procs) p.kill();
    const outputs = await Promise.all(this.procs.map((p) => p.done));
    if (logDir !== undefined) {
      mkdirSync(logDir, { recursive: true });
      outputs.forEach((out, i) => {
        const host = this.hosts[i]?.name ?? `process-${i}`;
        writeFileSync(join(logDir, `${host}.log`), `exit ${out.code}\n--- stdout\n${out.stdout}\n--- stderr\n${out.stderr}`);
      });
    }
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  private async stopOne(i: number): Promise<Exec> {
    this.procs[i]?.kill();
    return this.procs[i]!.done;
  }
}
