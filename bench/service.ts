// Benchmarks 4-7, on the REST service: end to end at the ALICE load, loss recovery, REST serving
// against nginx, and the memory a cache needs per byte held.
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Cluster, httpClient } from "../interop/cluster.ts";
import { postObject, waitForOk } from "../interop/http-client.ts";
import { startIn } from "../interop/process.ts";
import type { Topology } from "../interop/topology.ts";
import { predictRepair, type RepairPrediction } from "./repair-model.ts";

const E2E_CLIENT = join(import.meta.dirname, "e2e-client.ts");
const ROOT = join(import.meta.dirname, "..");

function percentile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** CPU seconds (user + system, all threads) a process has used so far, from /proc/<pid>/stat. */
export function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    // Fields after the command's closing parenthesis: utime and stime are fields 14 and 15 of the line.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // the command may hold ") "
    return (Number(fields[11]) + Number(fields[12])) / 100; // clock ticks (USER_HZ 100)
  } catch {
    return 0;
  }
}

/** One step of the end-to-end capacity curve: a fixed upload rate for a bounded time. */
export interface CurveStep {
  caches: number;
  rateHz: number;
  uploads: number;
  p50: number;
  p99: number;
  max: number;
  missing: number;
  /** p99 of the uploads' 201 after the time each was due (the client's schedule). */
  ackLagP99: number;
  /** p99 < 100 ms with every object servable at every cache, and the rate sustained (ackLagP99 < CURVE_SUSTAINED_MS). */
  pass: boolean;
  /** CPU milliseconds per uploaded object: the repository, each cache, the client (uploads + polls). */
  cpuMsPerObject: { repository: number; caches: number[]; client: number };
  /** The step's wall time (uploads plus the polls that ended after them). */
  seconds: number;
}

export interface EndToEndCurve {
  steps: CurveStep[];
  /** Highest passing rate per cache count (0: none passed). */
  capacityHz: Record<number, number>;
  stepSeconds: number;
  objectBytes: number;
  datagramSize: number;
}

export const CURVE_RATES_HZ = [10, 20, 30, 40, 50, 60, 80, 100];
export const CURVE_P99_MS = 100;
/**
 * A step's uploads are sustained when their 201s come (p99) less than this after the time each was due:
 * the upload's own time is tens of ms, and beyond capacity a queue grows past a second within a step.
 */
export const CURVE_SUSTAINED_MS = 1000;

/** Seconds of uploads at the step's rate before the measured ones (waited for, counted as missing, not timed). */
export const CURVE_WARMUP_S = 2;

/**
 * Benchmark 4 as a capacity curve: 2 MB objects from the repository to 1 and to 4 caches, the upload
 * rate stepped up (a fresh repository and caches per step, `stepSeconds` of uploads each) until the
 * first rate whose p99 (upload ack → servable at every cache) is 100 ms or more, whose uploads' 201s
 * come a second or more (p99) after they were due, or that leaves an object unservable somewhere. Each step also records the CPU every process spent per object.
 */
export async function endToEndCurve(topo: Topology, stepSeconds: number, datagramSize: number, nextPort: () => number, cacheCounts: readonly number[] = [1, 4], rates: readonly number[] = CURVE_RATES_HZ): Promise<EndToEndCurve> {
  const objectBytes = 2_000_000;
  const steps: CurveStep[] = [];
  const capacityHz: Record<number, number> = {};
  for (const count of cacheCounts) {
    capacityHz[count] = 0;
    for (const rateHz of rates) {
      const caches = ["cache-1", "cache-2", "cache-3", "cache-4"].slice(0, count).map((n) => topo.host(n));
      const cluster = new Cluster(topo.host("repository"), caches, { group: "239.255.88.4", port: nextPort(), datagramSize, rate: 400_000_000, cacheFlags: ["--memory", "512M"] });
      try {
        await cluster.start();
        const pids = [cluster.repositoryPid(), ...caches.map((_, i) => cluster.cachePid(i))];
        const before = pids.map(cpuSeconds);
        const run = await startIn(topo.host("sender-ts"), [process.execPath], [E2E_CLIENT, cluster.repositoryUrl, String(stepSeconds), String(rateHz), String(objectBytes), "--prefix", `r${rateHz}`, "--warmup", String(CURVE_WARMUP_S), ...cluster.cacheUrls]).done;
        const spent = pids.map((pid, i) => cpuSeconds(pid) - before[i]!);
        if (run.code !== 0) throw new Error(`e2e client failed: ${run.stderr.slice(0, 500)}`);
        const r = JSON.parse(run.stdout.trim().split("\n").at(-1)!) as { uploads: number; warmupUploads: number; latenciesMs: number[]; missing: number; ackLagP99Ms: number; seconds: number; cpuSeconds: number };
        const perObject = (s: number): number => Math.round((s / Math.max(1, r.uploads + r.warmupUploads)) * 1e4) / 10;
        const p99 = percentile(r.latenciesMs, 0.99);
        // Past what the machine sustains the uploads queue (at the client or the repository) and their
        // 201s come later and later while ack → servable can stay short: the rate must hold as well.
        const pass = r.missing === 0 && r.latenciesMs.length > 0 && p99 < CURVE_P99_MS && r.ackLagP99Ms < CURVE_SUSTAINED_MS;
        steps.push({
          caches: count,
          rateHz,
          uploads: r.uploads,
          p50: percentile(r.latenciesMs, 0.5),
          p99,
          max: Math.max(0, ...r.latenciesMs),
          missing: r.missing,
          ackLagP99: r.ackLagP99Ms,
          pass,
          cpuMsPerObject: { repository: perObject(spent[0]!), caches: spent.slice(1).map(perObject), client: perObject(r.cpuSeconds) },
          seconds: r.seconds,
        });
        console.log(`bench: end to end ${count} cache(s) at ${rateHz} Hz: p50 ${steps.at(-1)!.p50} ms p99 ${p99} ms, 201 p99 ${r.ackLagP99Ms} ms after due, ${r.missing} missing, CPU ms/object ${JSON.stringify(steps.at(-1)!.cpuMsPerObject)}${pass ? "" : " (fails)"}`);
        if (!pass) break;
        capacityHz[count] = rateHz;
      } finally {
        await cluster.stop();
      }
    }
  }
  return { steps, capacityHz, stepSeconds, objectBytes, datagramSize };
}

export interface LossResult {
  percent: number;
  /** The repository's FEC parity ratio (0 = none). */
  fecParity: number;
  objects: number;
  /** Objects complete by multicast alone, as a share of objects × caches. */
  multicastShare: number;
  repairP50: number;
  repairP99: number;
  /** Bytes fetched over HTTP (repairs and whole-object fetches) as a share of the bytes delivered. */
  httpShare: number;
  dropped: number;
  /** HTTP repairs (range GETs) per object per cache, and FEC blocks that needed one. */
  repairsPerObject: number;
  fecBlocksRepaired: number;
  fragmentsRebuilt: number;
  /** Objects a cache fetched whole instead of repairing, and repairs that failed (then retried). */
  wholeFetches: number;
  repairFailures: number;
  /** The loss the caches saw: datagrams dropped / datagrams sent to them. */
  realizedLoss: number;
  /** The model of bench/repair-model.ts at the realized loss, for the same objects and parity. */
  simulated: RepairPrediction;
  complete: boolean;
}

/** Benchmark 5: random loss at 4 caches, 10 MB objects. */
export async function lossRecovery(topo: Topology, percent: number, fecParity: number, objects: number, files: string[], port: number): Promise<LossResult> {
  const caches = ["cache-1", "cache-2", "cache-3", "cache-4"].map((n) => topo.host(n));
  const cluster = new Cluster(topo.host("repository"), caches, {
    group: "239.255.88.5",
    port,
    datagramSize: 1472,
    rate: 50_000_000,
    cacheFlags: ["--memory", "1G"],
    repositoryFlags: ["--fec-parity", String(fecParity)],
  });
  // Independent loss per datagram: the repository's GSO batches are cut up on its interface, as a NIC does.
  topo.segmentOnWire(topo.host("repository"), true);
  for (const c of caches) topo.injectLoss(c, port, percent);
  try {
    await cluster.start();
    const path = "Bench/Loss/Object";
    const uploads = await httpClient(topo.host("sender-ts"), ["upload", cluster.repositoryUrl, path, "500", "", ...files.slice(0, objects)]);
    if (uploads.code !== 0) throw new Error(`uploads failed: ${uploads.stderr}`);
    const expected = join(ROOT, "out", `bench-loss-${percent}.jsonl`);
    writeFileSync(expected, uploads.stdout);
    const verdicts = await Promise.all(caches.map((c, i) => httpClient(c, ["verify", cluster.cacheUrls[i]!, path, expected, "120"])));
    let complete = true;
    let multicast = 0;
    let httpBytes = 0;
    let deliveredBytes = 0;
    let repairs = 0;
    let fecBlocksRepaired = 0;
    let fragmentsRebuilt = 0;
    let wholeFetches = 0;
    let repairFailures = 0;
    const p50s: number[] = [];
    const p99s: number[] = [];
    for (const [i, v] of verdicts.entries()) {
      const verdict = JSON.parse(v.stdout.trim().split("\n").at(-1) ?? "{}") as { objects?: number; bytes?: number; problems?: string[] };
      complete &&= v.code === 0 && verdict.objects === objects && (verdict.problems ?? []).length === 0;
      deliveredBytes += verdict.bytes ?? 0;
      const status = await httpClient(caches[i]!, ["status", cluster.cacheUrls[i]!]);
      const s = JSON.parse(status.stdout) as {
        counters: { multicastCompleted: number; repairBytes: number; fetched: number; repaired: number; fecBlocksRepaired: number; repairFailures: number };
        receiver: { fec: { fragmentsRecovered: number } };
        repairLatencyMs: { p50: number; p99: number; count: number };
      };
      multicast += s.counters.multicastCompleted;
      repairs += s.counters.repaired;
      fecBlocksRepaired += s.counters.fecBlocksRepaired;
      fragmentsRebuilt += s.receiver.fec.fragmentsRecovered;
      wholeFetches += s.counters.fetched;
      repairFailures += s.counters.repairFailures;
      httpBytes += s.counters.repairBytes + s.counters.fetched * (files.length > 0 ? 10_000_000 : 0);
      if (s.repairLatencyMs.count > 0) {
        p50s.push(s.repairLatencyMs.p50);
        p99s.push(s.repairLatencyMs.p99);
      }
    }
    const dropped = caches.reduce((n, c) => n + topo.droppedByLoss(c), 0);
    // The model at the loss the caches actually saw (nftables counts heartbeats too: a rounding error).
    const sent = predictRepair({ objectBytes: 10_000_000, parityRatio: fecParity, lossRate: 0 }).datagramsPerObject * objects * caches.length;
    const realizedLoss = dropped / sent;
    return {
      percent,
      fecParity,
      objects,
      multicastShare: multicast / (objects * caches.length),
      repairP50: percentile(p50s, 0.5),
      repairP99: Math.max(0, ...p99s),
      httpShare: deliveredBytes > 0 ? httpBytes / deliveredBytes : 0,
      dropped,
      repairsPerObject: repairs / (objects * caches.length),
      fecBlocksRepaired,
      fragmentsRebuilt,
      wholeFetches,
      repairFailures,
      realizedLoss,
      simulated: predictRepair({ objectBytes: 10_000_000, parityRatio: fecParity, lossRate: realizedLoss }),
      complete,
    };
  } finally {
    await cluster.stop();
    topo.segmentOnWire(topo.host("repository"), false);
    for (const c of caches) topo.clearLoss(c);
  }
}

export interface RestResult {
  object: string;
  cacheRps: number;
  cacheP99Ms: number;
  nginxRps: number;
  nginxP99Ms: number;
  /** CPU (user + system) per request of the measured phase: the cache process, nginx's one worker. */
  cacheCpuUs: number;
  nginxCpuUs: number;
}

/** nginx's one worker: the child of the master. */
function nginxWorker(master: number): number {
  const children = readFileSync(`/proc/${master}/task/${master}/children`, "utf8").trim().split(/\s+/).filter((x) => x !== "");
  if (children.length !== 1) throw new Error(`nginx ${master} has ${children.length} workers, not 1`);
  return Number(children[0]);
}

/** wrk for `seconds` while the CPU of `pid` is measured: requests/s, p99 and CPU µs per request. */
function wrkCpu(url: string, seconds: number, pid: number): Wrk & { cpuUs: number } {
  const before = cpuSeconds(pid);
  const w = wrk(url, seconds);
  const cpu = cpuSeconds(pid) - before;
  return { ...w, cpuUs: w.rps > 0 ? (cpu / (w.rps * seconds)) * 1e6 : 0 };
}

interface Wrk {
  rps: number;
  p99Ms: number;
}

function wrk(url: string, seconds: number): Wrk {
  const out = execFileSync("wrk", ["-t2", "-c64", `-d${seconds}s`, "--latency", url], { encoding: "utf8" });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  const p99 = /99%\s+([\d.]+)(us|ms|s)/.exec(out);
  const p99Ms = p99 ? Number(p99[1]) * (p99[2] === "us" ? 0.001 : p99[2] === "s" ? 1000 : 1) : 0;
  if (/Non-2xx/.test(out)) throw new Error(`wrk saw errors for ${url}:\n${out}`);
  return { rps, p99Ms };
}

/** Starts `condcast serve` on loopback (these two benchmarks need no namespaces). */
function serveLocal(args: string[], env: NodeJS.ProcessEnv = process.env): { pid: number; stop(): Promise<void> } {
  const child = spawn(join(ROOT, "bin", "condcast"), ["serve", "--log-level", "warn", ...args], { stdio: ["ignore", "ignore", "inherit"], env });
  return { pid: child.pid!, stop: () => new Promise((resolve) => (child.exitCode !== null ? resolve() : (child.once("exit", () => resolve()), child.kill("SIGTERM")))) };
}

/** Benchmark 6: a cache answering GET /<path>/<ts> at concurrency 64 vs nginx serving the same bytes. */
export async function restServing(work: string, seconds: number, options: { sizes?: readonly (readonly [string, number])[]; cpuProfDir?: string } = {}): Promise<RestResult[]> {
  const www = join(work, "www");
  mkdirSync(www, { recursive: true });
  const conf = join(work, "nginx.conf");
  writeFileSync(
    conf,
    `user root; worker_processes 1; daemon off; pid ${work}/nginx.pid; error_log ${work}/nginx-error.log;
events { worker_connections 1024; }
http { access_log off; sendfile on; tcp_nopush on; keepalive_requests 1000000;
  server { listen 127.0.0.1:45801; root ${www}; location / { } } }
`,
  );
  const repo = serveLocal(["--role", "repository", "--listen", "127.0.0.1:45802", "--data-dir", join(work, "rest-repo"), "--group", "239.255.88.6", "--port", "45803"]);
  // With cpuProfDir the cache writes a V8 CPU profile there when it stops (node --cpu-prof).
  const cacheEnv = options.cpuProfDir === undefined ? process.env : { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --cpu-prof --cpu-prof-dir=${options.cpuProfDir}` };
  const cache = serveLocal(["--role", "cache", "--listen", "127.0.0.1:45804", "--upstream", "http://127.0.0.1:45802", "--group", "239.255.88.6", "--port", "45803"], cacheEnv);
  const nginx = spawn("nginx", ["-c", conf], { stdio: "ignore" });
  const results: RestResult[] = [];
  try {
    await waitForOk("http://127.0.0.1:45802/health");
    await waitForOk("http://127.0.0.1:45804/health");
    for (const [name, size] of options.sizes ?? ([["1KB", 1000], ["2MB", 2_000_000]] as const)) {
      const bytes = Buffer.alloc(size, 0x42);
      writeFileSync(join(www, name), bytes);
      await postObject("http://127.0.0.1:45802", `Bench/Rest/${name}/1/9000000000000`, bytes, name);
      const url = `http://127.0.0.1:45804/Bench/Rest/${name}/1000`;
      await waitForOk(url); // held by the cache (multicast, or fetched once on this first miss)
      await waitForOk(`http://127.0.0.1:45801/${name}`);
      // Both servers get the same load for 2 s first, unmeasured: the figures are of a cache that has
      // been serving (its code compiled by V8's optimizing tiers), as one in a farm has.
      wrk(url, 2);
      wrk(`http://127.0.0.1:45801/${name}`, 2);
      const c = wrkCpu(url, seconds, cache.pid) // bin/condcast execs node: the same pid;
      const n = wrkCpu(`http://127.0.0.1:45801/${name}`, seconds, nginxWorker(nginx.pid!));
      results.push({ object: name, cacheRps: c.rps, cacheP99Ms: c.p99Ms, nginxRps: n.rps, nginxP99Ms: n.p99Ms, cacheCpuUs: c.cpuUs, nginxCpuUs: n.cpuUs });
    }
  } finally {
    nginx.kill("SIGTERM");
    await cache.stop();
    await repo.stop();
  }
  return results;
}

export interface MemoryResult {
  bytesHeld: number;
  objectsHeld: number;
  rssBytes: number;
  idleRssBytes: number;
}

function rss(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  return Number(kb ?? 0) * 1024;
}

/** Benchmark 7: resident memory of a cache holding `total` bytes of 10 MB objects received by multicast. */
export async function memory(work: string, total: number): Promise<MemoryResult> {
  const repo = serveLocal(["--role", "repository", "--listen", "127.0.0.1:45812", "--data-dir", join(work, "mem-repo"), "--group", "239.255.88.7", "--port", "45813", "--datagram-size", "65000", "--rate", "200000000"]);
  const cache = serveLocal(["--role", "cache", "--listen", "127.0.0.1:45814", "--upstream", "http://127.0.0.1:45812", "--memory", "4G", "--group", "239.255.88.7", "--port", "45813"]);
  try {
    await waitForOk("http://127.0.0.1:45812/health");
    await waitForOk("http://127.0.0.1:45814/health");
    const idle = rss(cache.pid);
    const count = Math.round(total / 10_000_000);
    const bytes = Buffer.alloc(10_000_000);
    for (let n = 0; n < count; n++) {
      bytes.writeUInt32BE(n, 0);
      await postObject("http://127.0.0.1:45812", `Bench/Memory/o${n}/1/9000000000000`, bytes, `o${n}`);
    }
    let status = { bytes: 0, objects: 0 };
    for (let i = 0; i < 600 && status.objects < count; i++) {
      status = (await (await fetch("http://127.0.0.1:45814/status")).json()) as typeof status;
      await sleep(100);
    }
    await sleep(2000); // let the collector settle after the last reassembly
    return { bytesHeld: status.bytes, objectsHeld: status.objects, rssBytes: rss(cache.pid), idleRssBytes: idle };
  } finally {
    await cache.stop();
    await repo.stop();
  }
}
