// N condcast instances on network-namespace hosts (the Topology of interop/): each instance is a
// repository with its own data directory and multicast group and two caches, and owns one prefix
// (Inst<i>), mirrored by every other instance (sync/, `serve --instance FILE`). Used by `make cluster`
// (cluster/run.ts) and the sync-lag benchmark. Authorisation is off unless an AuthHook gives each
// repository its flags and each peer link its token and CA files (the slot for the local issuer).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { httpClient } from "../interop/cluster.ts";
import { startIn, type Started } from "../interop/process.ts";
import { Topology, removeStale, type Host, type HostSpec } from "../interop/topology.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
export const CONDCAST = join(ROOT, "bin", "condcast");
/** Namespace names start with this stem (and the pid): a run's leftovers are found by it. */
export const STEM = "ccsync";

/** Tokens and TLS once auth is wired in: all optional; without a hook, authorisation is off. */
export interface AuthHook {
  /** Prepares issuers/keys in `dir` before any instance starts (e.g. starts `condcast issuer`). */
  setup?(dir: string, instances: readonly InstanceHosts[]): Promise<void>;
  /** Extra `serve` flags of instance i's repository (trusted issuers, TLS files). */
  repositoryFlags?(i: number): string[];
  /** The token file instance `from` sends to peer `to`, and the CA file it trusts for it. */
  peerFiles?(from: number, to: number): { tokenFile?: string; caFile?: string };
  /** The URL scheme of the repositories (https once TLS is on). */
  readonly scheme?: "http" | "https";
  close?(): Promise<void>;
}

export interface InstanceHosts {
  readonly index: number;
  readonly name: string;
  readonly prefix: string;
  readonly repository: Host;
  readonly caches: readonly Host[];
  readonly group: string;
  readonly port: number;
  readonly url: string;
  readonly cacheUrls: readonly string[];
}

export interface ClusterOptions {
  readonly instances: number;
  readonly cachesPerInstance?: number;
  readonly pollMs?: number;
  readonly logLevel?: string;
  readonly auth?: AuthHook;
}

export class InstanceCluster {
  readonly topology: Topology;
  readonly instances: InstanceHosts[] = [];
  readonly dir = mkdtempSync(join(tmpdir(), "condcast-instances-"));
  private readonly procs: { host: Host; started: Started }[] = [];

  readonly options: ClusterOptions;

  constructor(options: ClusterOptions) {
    this.options = options;
    removeStale(STEM);
    const n = options.instances;
    const caches = options.cachesPerInstance ?? 2;
    const hosts: HostSpec[] = [];
    for (let i = 1; i <= n; i++) {
      hosts.push({ name: `i${i}-repo`, role: "repository", impl: "ts", address: `198.18.${100 + i}.1` });
      for (let c = 1; c <= caches; c++) hosts.push({ name: `i${i}-c${c}`, role: "cache", impl: "ts", address: `198.18.${100 + i}.${10 + c}` });
    }
    this.topology = new Topology({ prefix: `${STEM}${process.pid % 100000}`, spec: { subnet: "198.18.0.0/15", group: "239.255.60.1", port: 42001, hosts }, mtu: 1500 });
  }

  /** Creates the namespaces, writes each instance's configuration, starts everything, waits for /health. */
  async start(): Promise<void> {
    this.topology.create();
    const n = this.options.instances;
    const scheme = this.options.auth?.scheme ?? "http";
    for (let i = 1; i <= n; i++) {
      const repository = this.topology.host(`i${i}-repo`);
      const caches = this.topology.hosts.filter((h) => h.name.startsWith(`i${i}-c`));
      this.instances.push({ index: i, name: `inst${i}`, prefix: `Inst${i}`, repository, caches, group: `239.255.60.${i}`, port: 42000 + i, url: `${scheme}://${repository.address}:8080`, cacheUrls: caches.map((c) => `http://${c.address}:8080`) });
    }
    await this.options.auth?.setup?.(this.dir, this.instances);
    for (const inst of this.instances) {
      const others = this.instances.filter((o) => o !== inst);
      const config = {
        name: inst.name,
        owns: [inst.prefix],
        peers: others.map((o) => ({ name: o.name, url: o.url, owns: [o.prefix], ...(this.options.auth?.peerFiles?.(inst.index, o.index) ?? {}) })),
        mirrors: others.map((o) => ({ prefix: o.prefix, from: o.name })),
        pollMs: this.options.pollMs ?? 200,
        maxBackoffMs: 5000,
      };
      const file = join(this.dir, `${inst.name}.json`);
      writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`);
      const mc = ["--group", inst.group, "--port", String(inst.port), "--log-level", this.options.logLevel ?? "warn"];
      const r = inst.repository;
      this.start1(r, ["--role", "repository", "--listen", `${r.address}:8080`, "--data-dir", join(this.dir, inst.name), "--instance", file, "--interface", r.address, ...(this.options.auth?.repositoryFlags?.(inst.index) ?? []), ...mc]);
      for (const c of inst.caches) this.start1(c, ["--role", "cache", "--listen", `${c.address}:8080`, "--upstream", inst.url, "--interface", c.address, "--name", `${inst.name}-${c.name}`, ...mc]);
    }
    for (const { host } of this.procs) {
      const up = await httpClient(host, ["wait", `http://${host.address}:8080`]);
      if (up.code !== 0) throw new Error(`${host.name} did not start: ${up.stderr}`);
    }
  }

  private start1(host: Host, args: string[]): void {
    this.procs.push({ host, started: startIn(host, [CONDCAST, "serve"], args) });
  }

  /** GET `url` from inside `host`'s namespace, as JSON. */
  async getJson(host: Host, url: string): Promise<unknown> {
    const script = `fetch(${JSON.stringify(url)},{headers:{accept:"application/json"}}).then(r=>r.text()).then(t=>process.stdout.write(t),e=>{console.error(e.message);process.exit(1)})`;
    const r = await startIn(host, [process.execPath], ["-e", script]).done;
    if (r.code !== 0) throw new Error(`${url}: ${r.stderr}`);
    return JSON.parse(r.stdout);
  }

  /** Runs `condcast produce` against instance i from its repository's host; resolves with its summary line. */
  async produce(i: number, args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const inst = this.instances[i - 1]!;
    return startIn(inst.repository, [CONDCAST, "produce"], ["--target", inst.url, ...args]).done;
  }

  /** Stops every process, removes the namespaces and the data. */
  async stop(): Promise<void> {
    for (const { started } of this.procs) started.kill("SIGTERM");
    await Promise.all(this.procs.map(({ started }) => Promise.race([started.done, new Promise((r) => setTimeout(r, 5000))])));
    for (const { started } of this.procs) started.kill("SIGKILL");
    this.procs.length = 0;
    await this.options.auth?.close?.();
    this.topology.destroy();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
