// The chaos suite (make chaos; its short form runs in make test): a repository, four caches, a load
// host and a fault host on network-namespace hosts joined by a bridge. Each scenario runs a steady
// upload load, injects one fault, heals it, and checks the invariants of docs/RELIABILITY.md: every
// acknowledged upload is held by the repository and every cache with the right MD5, nothing is served
// that was not uploaded (or whose upload was refused), and every process still answers. One runner, a
// table of scenarios; each is bounded in time and stops by itself. A failed scenario keeps every
// process's log and final /status under out/chaos/ and says where.
//
//   node chaos/run.ts [--long] [--scenarios a,b,...] [--skip-without-root]
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { Topology, removeStale, run, type Host, type TopologySpec } from "../interop/topology.ts";
import type { Attempt, Verdict } from "./client.ts";
import { Fleet, ROOT } from "./fleet.ts";
import { xorshift } from "./random.ts";

const SPEC: TopologySpec = {
  subnet: "198.18.2.0/24",
  group: "239.255.91.1",
  port: 44000,
  hosts: [
    { name: "repository", role: "repository", impl: "ts", address: "198.18.2.10" },
    { name: "cache-1", role: "cache", impl: "ts", address: "198.18.2.21" },
    { name: "cache-2", role: "cache", impl: "ts", address: "198.18.2.22" },
    { name: "cache-3", role: "cache", impl: "ts", address: "198.18.2.23" },
    { name: "cache-4", role: "cache", impl: "ts", address: "198.18.2.24" },
    { name: "load", role: "sender", impl: "ts", address: "198.18.2.31" },
    { name: "chaos", role: "sender", impl: "ts", address: "198.18.2.41" },
  ],
};
const PREFIX = "Chaos/Load";
const CACHES = 4;

/** What a scenario works with: the hosts, its processes, its own multicast port, and helpers. */
class Env {
  readonly repo: Host;
  readonly caches: Host[];
  readonly load: Host;
  readonly chaos: Host;
  readonly repoUrl: string;
  readonly cacheUrls: string[];
  readonly attempts: string;
  readonly dataDir: string;
  readonly notes: string[] = [];
  readonly problems: string[] = [];
  /** Set once a scenario checked /health itself (one that stops its servers before it ends). */
  aliveChecked = false;
  private loadDone: Promise<void> | null = null;
  readonly topo: Topology;
  readonly fleet: Fleet;
  readonly work: string;
  readonly group: string;
  readonly port: number;
  readonly long: boolean;

  constructor(topo: Topology, fleet: Fleet, work: string, group: string, port: number, long: boolean) {
    this.topo = topo;
    this.fleet = fleet;
    this.work = work;
    this.group = group;
    this.port = port;
    this.long = long;
    this.repo = topo.host("repository");
    this.caches = Array.from({ length: CACHES }, (_, i) => topo.host(`cache-${i + 1}`));
    this.load = topo.host("load");
    this.chaos = topo.host("chaos");
    this.repoUrl = `http://${this.repo.address}:8080`;
    this.cacheUrls = this.caches.map((c) => `http://${c.address}:8080`);
    this.attempts = join(work, "attempts.jsonl");
    this.dataDir = join(work, "repository");
    writeFileSync(this.attempts, "");
  }

  /** Seconds: the short form's figure, or the long form's. */
  t(short: number, long: number): number {
    return this.long ? long : short;
  }

  startRepository(extra: readonly string[] = [], dataDir = this.dataDir): void {
    this.fleet.serve("repository", this.repo, [
      "--role", "repository", "--listen", `${this.repo.address}:8080`, "--data-dir", dataDir, "--interface", this.repo.address,
      "--group", this.group, "--port", String(this.port), "--rate", "50000000", "--heartbeat-interval", "500", "--log-level", "info", ...extra,
    ]);
  }

  startCache(i: number, extra: readonly string[] = [], group = this.group): void {
    const c = this.caches[i]!;
    this.fleet.serve(`cache-${i + 1}`, c, [
      "--role", "cache", "--listen", `${c.address}:8080`, "--upstream", this.repoUrl, "--interface", c.address, "--group", group, "--port", String(this.port),
      "--warm", PREFIX, "--repair-quiet", "100", "--repair-jitter", "100", "--grace", "600000", "--startup-grace", "5000", "--log-level", "info", ...extra,
    ]);
  }

  /** A repository and every cache, up and answering. */
  async startCluster(options: { repository?: readonly string[]; cache?: readonly string[]; cacheGroup?: string } = {}): Promise<void> {
    this.startRepository(options.repository);
    await this.waitFor(this.repoUrl);
    for (let i = 0; i < CACHES; i++) this.startCache(i, options.cache, options.cacheGroup);
    await Promise.all(this.cacheUrls.map((u) => this.waitFor(u)));
  }

  /** SIGKILL, a pause, the same command again, and its /health answering. */
  async killAndRestart(name: string, url: string, pauseMs: number): Promise<void> {
    await this.fleet.kill(name);
    if (pauseMs > 0) await sleep(pauseMs);
    this.fleet.restart(name);
    await this.waitFor(url);
  }

  async waitFor(url: string, seconds = 30): Promise<void> {
    const r = await this.fleet.client(this.load, ["wait", url, String(seconds)]);
    if (r.code !== 0) throw new Error(`${url} did not come up: ${r.stderr.trim()}`);
  }

  /** Starts the steady upload load in the background. */
  startLoad(hz: number, seconds: number, sizes: readonly number[]): void {
    this.fleet.start("load", this.load, [process.execPath, join(ROOT, "chaos", "client.ts"), "load", this.repoUrl, PREFIX, String(hz), String(seconds), this.attempts, sizes.join(",")]);
    this.loadDone = (async () => {
      while (this.fleet.running("load")) await sleep(100);
    })();
  }

  async loadFinished(): Promise<void> {
    await this.loadDone;
  }

  async upload(path: string, size: number): Promise<Attempt> {
    const r = await this.fleet.client(this.load, ["upload", this.repoUrl, path, String(size), this.attempts]);
    return Fleet.json<Attempt>(r);
  }

  async get(url: string): Promise<{ status: number; body: string }> {
    return Fleet.json(await this.fleet.client(this.load, ["get", url]));
  }

  async metric(url: string, name: string): Promise<number> {
    const text = (await this.get(`${url}/metrics`)).body;
    let sum = 0;
    for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "gm"))) sum += Number(m[1]);
    return sum;
  }

  /** The invariants, waiting up to `timeoutS` for the caches to catch up. */
  async check(timeoutS: number, caches: readonly string[] = this.cacheUrls): Promise<Verdict> {
    const verdict = Fleet.json<Verdict>(await this.fleet.client(this.load, ["check", this.attempts, this.repoUrl, PREFIX, String(timeoutS), ...caches]));
    this.problems.push(...verdict.problems);
    this.notes.push(`${verdict.acked} uploads acknowledged (${verdict.lost} without answer, ${verdict.refused} refused), all held by the repository and ${caches.length} caches after ${(verdict.waitedMs / 1000).toFixed(1)} s`);
    return verdict;
  }

  /** Every server still answers /health. */
  async alive(urls: readonly string[] = [this.repoUrl, ...this.cacheUrls]): Promise<void> {
    this.aliveChecked = true;
    for (const url of urls) {
      const h = await this.get(`${url}/health`);
      if (h.status !== 200) this.problems.push(`${url}/health answered ${h.status}: ${h.body.slice(0, 200)}`);
    }
  }

  expect(condition: boolean, problem: string): void {
    if (!condition) this.problems.push(problem);
  }

  /** Runs an nftables ruleset inside `host`. */
  nft(host: Host, rules: string): void {
    execFileSync("ip", ["netns", "exec", host.netns, "nft", "-f", "-"], { input: rules, stdio: ["pipe", "ignore", "pipe"] });
  }

  nftDelete(host: Host, table: string): void {
    try {
      run(host.netns, "nft", ["delete", "table", "inet", table]);
    } catch {
      // not there
    }
  }

  /** Writes every server's /status into the log folder. */
  async saveStatus(): Promise<void> {
    for (const [name, url] of [["repository", this.repoUrl], ...this.cacheUrls.map((u, i) => [`cache-${i + 1}`, u])] as const) {
      const s = await this.get(`${url}/status`).catch((e: Error) => ({ status: 0, body: e.message }));
      writeFileSync(join(this.fleet.logDir, `${name}.status.json`), s.body);
    }
  }
}

interface Scenario {
  readonly name: string;
  /** What it does and what it shows, one line (docs/RELIABILITY.md has the long form). */
  readonly what: string;
  run(env: Env): Promise<void>;
}

const SMALL = [2_000, 20_000, 100_000, 300_000];

/** Lines of a cache's log that fetched or repaired each object: more than one for an id is a double fetch. */
function fetchesPerObject(log: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of log.split("\n")) {
    if (!line.includes('"msg":"object fetched from upstream"') && !line.includes('"msg":"object repaired over HTTP"')) continue;
    const id = /"id":"([0-9a-f-]{36})"/.exec(line)?.[1];
    if (id !== undefined) counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

const SCENARIOS: readonly Scenario[] = [
  {
    name: "repository-killed-mid-multicast",
    what: "SIGKILL of the repository while a 10 MB object is on the wire, then a restart on the same data directory",
    async run(env) {
      await env.startCluster({ repository: ["--rate", "20000000"] });
      env.startLoad(5, env.t(12, 30), SMALL);
      await sleep(3000);
      const big = await env.upload(`${PREFIX}/Big`, 10_000_000);
      env.expect(big.state === "acked", `the 10 MB upload was not acknowledged: ${JSON.stringify(big)}`);
      await sleep(150); // 10 MB at 20 MB/s: half a second on the wire
      await env.killAndRestart("repository", env.repoUrl, 2000);
      await env.loadFinished();
      await env.check(60);
    },
  },
  {
    name: "cache-killed-and-restarted",
    what: "SIGKILL of a cache while objects arrive; it restarts empty and catches up by warm start and the change log",
    async run(env) {
      await env.startCluster();
      env.startLoad(10, env.t(10, 30), SMALL);
      await sleep(3000);
      await env.killAndRestart("cache-2", env.cacheUrls[1]!, 2000);
      await env.loadFinished();
      await env.check(60);
    },
  },
  {
    name: "upstream-unreachable",
    what: "every cache's TCP to the repository dropped while uploads go on (2 % datagram loss, so repairs are needed): held objects served, 503 for the rest, recovery after",
    async run(env) {
      await env.startCluster();
      for (const c of env.caches) env.topo.injectLoss(c, env.port, 2);
      const outage = env.t(10, 30);
      env.startLoad(10, outage + 8, SMALL);
      await sleep(2000);
      const before = (await env.get(`${env.cacheUrls[0]}/browse/${PREFIX}.*?Accept=application/json`)).body;
      const heldId = (JSON.parse(before) as { objects: { id: string }[] }).objects[0]?.id;
      const block = `table inet condcast_chaos {\n  chain output {\n    type filter hook output priority 0; policy accept;\n    ip daddr ${env.repo.address} tcp dport 8080 drop\n  }\n}\n`;
      for (const c of env.caches) env.nft(c, block);
      const cutAt = Date.now();
      await sleep(1000);
      if (heldId !== undefined) {
        const held = await env.get(`${env.cacheUrls[0]}/download/${heldId}`);
        env.expect(held.status === 200, `a held object answered ${held.status} while the upstream was unreachable`);
      } else env.problems.push("cache-1 held nothing before the outage");
      const miss = await env.get(`${env.cacheUrls[0]}/Chaos/Never/Uploaded/${Date.now()}`);
      env.expect(miss.status === 503, `a miss answered ${miss.status} (expected 503) while the upstream was unreachable: ${miss.body.slice(0, 200)}`);
      env.expect(/upstream/i.test(miss.body), `the 503 gives no reason: ${miss.body.slice(0, 200)}`);
      await sleep(Math.max(0, outage * 1000 - (Date.now() - cutAt)));
      for (const c of env.caches) env.nftDelete(c, "condcast_chaos");
      for (const c of env.caches) env.topo.clearLoss(c);
      env.notes.push(`outage ${outage} s; a miss during it answered ${miss.status}`);
      await env.loadFinished();
      await env.check(90);
    },
  },
  {
    name: "cache-cut-off",
    what: "one cache's multicast input dropped for 20 s under load (nftables): it notices the silence, reads the change log, and holds everything; no object fetched twice",
    async run(env) {
      await env.startCluster();
      env.startLoad(10, 30, SMALL);
      await sleep(3000);
      env.nft(env.caches[1]!, `table inet condcast_chaos {\n  chain input {\n    type filter hook input priority 0; policy accept;\n    udp dport ${env.port} counter drop\n  }\n}\n`);
      let degraded = false;
      const until = Date.now() + 20_000;
      while (Date.now() < until) {
        const h = await env.get(`${env.cacheUrls[1]}/health`);
        if (h.body.includes('"degraded"') && h.body.includes("multicast silent")) degraded = true;
        await sleep(1000);
      }
      env.nftDelete(env.caches[1]!, "condcast_chaos");
      env.expect(degraded, "cache-2's /health never said its multicast was silent");
      await env.loadFinished();
      await env.check(60);
      const episodes = await env.metric(env.cacheUrls[1]!, "condcast_multicast_silent_episodes_total");
      env.expect(episodes === 1, `cache-2 counted ${episodes} silent episodes (expected 1)`);
      env.expect((await env.metric(env.cacheUrls[1]!, "condcast_multicast_silent")) === 0, "cache-2 still reports a silent group after healing");
      for (const i of [0, 2, 3]) {
        const other = await env.metric(env.cacheUrls[i]!, "condcast_multicast_silent_episodes_total");
        env.expect(other === 0, `cache-${i + 1}, never cut off, counted ${other} silent episodes`);
      }
      const polls = await env.metric(env.cacheUrls[1]!, "condcast_change_log_polls_total");
      env.expect(polls >= 5, `cache-2 read the change log only ${polls} times while cut off`);
      env.notes.push(`cache-2: ${episodes} silent episode, ${polls} change-log reads`);
      const { readFileSync } = await import("node:fs");
      for (let i = 0; i < CACHES; i++) {
        const twice = [...fetchesPerObject(readFileSync(join(env.fleet.logDir, `cache-${i + 1}.log`), "utf8"))].filter(([, n]) => n > 1);
        env.expect(twice.length === 0, `cache-${i + 1} fetched ${twice.length} objects more than once: ${twice.slice(0, 3).map(([id, n]) => `${id} ×${n}`).join(", ")}`);
      }
    },
  },
  {
    name: "duplicated-and-reordered",
    what: "every datagram passes a relay that reorders it within windows of 16 and sends 10 % twice",
    async run(env) {
      const cacheGroup = "239.255.91.2";
      env.startRepository();
      await env.waitFor(env.repoUrl);
      env.fleet.start("relay", env.chaos, [process.execPath, join(ROOT, "chaos", "relay.ts"), "--from", `${env.group}:${env.port}`, "--to", `${cacheGroup}:${env.port}`, "--interface", env.chaos.address, "--duplicate", "0.1", "--window", "16", "--seconds", String(env.t(40, 90)), "--seed", "7"]);
      for (let i = 0; i < CACHES; i++) env.startCache(i, [], cacheGroup);
      await Promise.all(env.cacheUrls.map((u) => env.waitFor(u)));
      env.startLoad(10, env.t(10, 30), SMALL);
      await env.loadFinished();
      await env.check(60);
      for (const [i, url] of env.cacheUrls.entries()) {
        const duplicates = await env.metric(url, 'condcast_datagram_drops_total\\{reason="duplicate"\\}');
        env.expect(duplicates > 0, `cache-${i + 1} counted no duplicate datagram`);
      }
      await env.fleet.kill("relay", "SIGTERM");
    },
  },
  {
    name: "garbage-flood",
    what: "random and mutated datagrams sent to the group at 20,000/s during the load",
    async run(env) {
      await env.startCluster();
      env.startLoad(10, env.t(10, 30), SMALL);
      env.fleet.start("flood", env.chaos, [process.execPath, join(ROOT, "chaos", "flood.ts"), "--group", env.group, "--port", String(env.port), "--interface", env.chaos.address, "--rate", "20000", "--seconds", String(env.t(8, 25)), "--seed", "11"]);
      await env.loadFinished();
      await env.check(60);
      for (const [i, url] of env.cacheUrls.entries()) {
        const drops = await env.metric(url, "condcast_datagram_drops_total");
        env.expect(drops > 1000, `cache-${i + 1} counted only ${drops} dropped datagrams during the flood`);
      }
    },
  },
  {
    name: "data-dir-full",
    what: "the repository's data directory on a small tmpfs that fills up: 507 with a reason, nothing half-written visible, uploads succeed once space is freed",
    async run(env) {
      const mount = join(env.work, "tmpfs");
      mkdirSync(mount, { recursive: true });
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=24m", "tmpfs", mount]);
      try {
        // Ballast leaves about 6 MB for the store; removing it is how space is freed.
        execFileSync("dd", ["if=/dev/zero", `of=${join(mount, "ballast")}`, "bs=1M", "count=17"], { stdio: "ignore" });
        env.startRepository([], join(mount, "repository"));
        await env.waitFor(env.repoUrl);
        env.startCache(0);
        await env.waitFor(env.cacheUrls[0]!);
        const results: Attempt[] = [];
        for (let i = 0; i < 10; i++) results.push(await env.upload(`${PREFIX}/Full${i}`, 1_000_000));
        const refused = results.filter((r) => r.state === "refused");
        env.expect(results.some((r) => r.state === "acked"), "no upload fitted before the disk was full");
        env.expect(refused.length > 0, "no upload was refused although the disk is full");
        for (const r of refused) {
          env.expect(r.status === 507 || r.status === 503, `a full disk answered ${r.status}`);
          env.expect(/no room|full|space/i.test(r.reason ?? ""), `the refusal gives no reason: ${r.reason}`);
        }
        env.expect(results.every((r) => r.state !== "lost"), "an upload got no answer on a full disk");
        await env.check(30, [env.cacheUrls[0]!]);
        execFileSync("rm", [join(mount, "ballast")]);
        const after = [await env.upload(`${PREFIX}/Freed0`, 1_000_000), await env.upload(`${PREFIX}/Freed1`, 1_000_000)];
        env.expect(after.every((r) => r.state === "acked"), `uploads after freeing space: ${after.map((r) => r.status ?? r.state).join(", ")}`);
        env.notes.push(`${results.filter((r) => r.state === "acked").length} of 10 uploads fitted, ${refused.length} refused with ${[...new Set(refused.map((r) => r.status))].join("/")}`);
        await env.check(30, [env.cacheUrls[0]!]);
        // Restarted on the emptied disk, the store has no half-written leftovers to hide.
        await env.killAndRestart("repository", env.repoUrl, 0);
        await env.check(30, [env.cacheUrls[0]!]);
        await env.alive([env.repoUrl, env.cacheUrls[0]!]);
      } finally {
        await env.fleet.stopAll();
        execFileSync("umount", ["-l", mount]);
      }
    },
  },
  {
    name: "keys-atomic-under-loss",
    what: "changesets of 10 objects committed in a loop under 5 % datagram loss while readers poll the repository and every cache, by timestamp and pinned to keys, and cache-2 is SIGKILLed and restarted: no answer mixes generations, every server ends on the last key",
    async run(env) {
      await env.startCluster();
      for (const c of env.caches) env.topo.injectLoss(c, env.port, 5);
      const seconds = env.t(15, 60);
      const checked = env.fleet.client(env.load, [env.repoUrl, String(seconds), env.repoUrl, ...env.cacheUrls], join(ROOT, "chaos", "keys-client.ts"));
      await sleep(seconds * 500);
      await env.killAndRestart("cache-2", env.cacheUrls[1]!, 1000);
      const verdict = Fleet.json<{ commits: number; reads: number; pinnedRounds: number; unreachable: number; lastKey: number; problems: string[]; problemCount: number }>(await checked);
      env.problems.push(...verdict.problems);
      if (verdict.problemCount > verdict.problems.length) env.problems.push(`... and ${verdict.problemCount - verdict.problems.length} more`);
      env.expect(verdict.commits >= 5, `only ${verdict.commits} changesets committed`);
      for (const c of env.caches) env.topo.clearLoss(c);
      env.notes.push(`${verdict.commits} keys committed, ${verdict.reads} unpinned reads and ${verdict.pinnedRounds} pinned rounds of 10 without a mix, ${verdict.unreachable} refused while cache-2 restarted; every server on key ${verdict.lastKey}`);
    },
  },
  {
    name: "repository-killed-during-uploads",
    what: "SIGKILL of the repository 20 times at random moments during uploads; every acknowledged upload survives byte for byte, no half-written one is visible",
    async run(env) {
      await env.startCluster();
      const kills = 20;
      env.startLoad(20, 600, [1_000, 50_000, 500_000, 2_000_000]);
      const random = xorshift(12345);
      for (let k = 0; k < kills; k++) {
        await sleep(300 + random() * 900);
        await env.killAndRestart("repository", env.repoUrl, 0);
      }
      await sleep(1000);
      await env.fleet.kill("load", "SIGTERM");
      await env.loadFinished();
      env.notes.push(`${kills} kills`);
      await env.check(90);
    },
  },
];

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      long: { type: "boolean", default: false },
      scenarios: { type: "string", default: SCENARIOS.map((s) => s.name).join(",") },
      "skip-without-root": { type: "boolean", default: false },
    },
  });
  if (process.getuid?.() !== 0) {
    const message = "chaos: the suite needs root for network namespaces, nftables and tmpfs";
    if (values["skip-without-root"]) {
      console.log(`${message}: skipped (--skip-without-root)`);
      return 0;
    }
    console.error(`${message}; run as root, or pass --skip-without-root`);
    return 1;
  }
  const wanted = values.scenarios.split(",");
  for (const name of wanted) if (!SCENARIOS.some((s) => s.name === name)) throw new Error(`unknown scenario ${name}`);
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const outDir = join(ROOT, "out", "chaos", stamp);
  const stem = "cch";
  removeStale(stem);
  const topo = new Topology({ prefix: `${stem}${process.pid % 10000}`, spec: SPEC, mtu: 1500 });
  const cleanup = (): void => topo.destroy();
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      cleanup();
      process.exit(130);
    });
  }
  let passed = 0;
  let failed = 0;
  try {
    topo.create();
    for (const [index, scenario] of SCENARIOS.entries()) {
      if (!wanted.includes(scenario.name)) continue;
      const started = performance.now();
      const work = mkdtempSync(join(tmpdir(), "condcast-chaos-"));
      const fleet = new Fleet(join(outDir, scenario.name));
      const env = new Env(topo, fleet, work, SPEC.group, SPEC.port + index, values.long);
      try {
        await scenario.run(env);
        if (!env.aliveChecked) await env.alive();
      } catch (error) {
        env.problems.push(`the scenario failed: ${(error as Error).stack ?? String(error)}`);
      }
      const ok = env.problems.length === 0;
      if (!ok) await env.saveStatus().catch(() => undefined);
      await fleet.stopAll();
      for (const h of topo.hosts) {
        topo.clearLoss(h);
        env.nftDelete(h, "condcast_chaos");
      }
      rmSync(work, { recursive: true, force: true });
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      if (ok) {
        passed++;
        rmSync(fleet.logDir, { recursive: true, force: true });
        console.log(`chaos: pass ${scenario.name} (${seconds} s): ${env.notes.join("; ")}`);
      } else {
        failed++;
        console.log(`chaos: FAIL ${scenario.name} (${seconds} s): ${scenario.what}`);
        for (const p of env.problems) console.log(`    ${p}`);
        console.log(`    logs and /status of every process: ${fleet.logDir}`);
      }
    }
  } finally {
    cleanup();
    if (failed === 0) rmSync(outDir, { recursive: true, force: true });
  }
  console.log(`chaos: ${passed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
