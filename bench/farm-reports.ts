// The repository's cost of farm readiness reports (issue 13): N simulated caches each POST
// /caches/report every P ms for S seconds against a real repository (`condcast serve --role
// repository`, its own process), next to a baseline measured in the same run: the same request
// rate against GET /health. Prints the repository's CPU time per request, request latency p50/p99
// and its RSS growth, for both, and their ratios; then one timed GET /caches of the full view.
// Run it in a network namespace of its own (`make bench-farm` does, under the bench lock).
//
//   node bench/farm-reports.ts [--caches 2000] [--period 2000] [--seconds 30] [--connections 32]
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { Agent, request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";

/** Clock ticks per second of /proc/<pid>/stat's times. */
const CLOCK_TICKS = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;

/** One request over the keep-alive agent; resolves with the status once the answer is read. */
function send(agent: Agent, port: number, method: "GET" | "POST", path: string, body?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: "127.0.0.1", port, method, path, agent, headers: body === undefined ? {} : { "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (d: Buffer) => chunks.push(d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

const ROOT = join(import.meta.dirname, "..");

function percentile(sorted: number[], q: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** CPU seconds (user + system) and RSS bytes of a process, from /proc. */
function usage(pid: number): { cpu: number; rss: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
  const rss = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) * 1024;
  return { cpu: ticks / CLOCK_TICKS, rss };
}

function report(name: string, i: number, period: number): string {
  const counters = { datagrams: 1000 + i, datagramsDropped: i % 7, objectsCompleted: 40, fecBlocksDecoded: 3, fecFragmentsRecovered: 9, repaired: 1, repairBytes: 1400, repairFailures: 0, fetched: 2, gaps: 0 };
  return JSON.stringify({
    name,
    intervalMs: period,
    keys: [{ keytable: "online", key: 42 }, { keytable: "calib", key: 7 }],
    objects: 120,
    bytes: 250_000_000,
    counters,
    heartbeatAgeMs: 400,
    staged: [{ changeset: "3f2504e0-4f89-11d3-9a0c-0305e82c3301", objects: 3, bytes: 6_000_000 }],
  });
}

interface Phase {
  requests: number;
  failed: number;
  cpuPerRequestUs: number;
  p50: number;
  p99: number;
  rssGrowthMiB: number;
  rate: number;
}

/** `caches` clients each sending one request every `period` ms (evenly phased) for `seconds`. */
async function phase(pid: number, caches: number, period: number, seconds: number, issue: (i: number) => Promise<number>): Promise<Phase> {
  const before = usage(pid);
  const latencies: number[] = [];
  let failed = 0;
  const inflight = new Set<Promise<void>>();
  const start = performance.now();
  const end = start + seconds * 1000;
  let sent = 0;
  while (performance.now() < end) {
    // Every request due by now: cache i sends at start + i * period / caches + k * period.
    const due = Math.floor(((performance.now() - start) / period) * caches);
    while (sent < due) {
      const i = sent % caches;
      sent++;
      const t0 = performance.now();
      const p = issue(i).then(
        (status) => {
          if (status >= 300) failed++;
          latencies.push(performance.now() - t0);
        },
        () => void failed++,
      );
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
    }
    await sleep(5);
  }
  await Promise.all(inflight);
  const after = usage(pid);
  latencies.sort((a, b) => a - b);
  const elapsed = (performance.now() - start) / 1000;
  return { requests: sent, failed, cpuPerRequestUs: ((after.cpu - before.cpu) / sent) * 1e6, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), rssGrowthMiB: (after.rss - before.rss) / 2 ** 20, rate: sent / elapsed };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { caches: { type: "string", default: "2000" }, period: { type: "string", default: "2000" }, seconds: { type: "string", default: "30" }, connections: { type: "string", default: "32" }, port: { type: "string", default: "18470" } },
  });
  const caches = Number(values.caches);
  const period = Number(values.period);
  const seconds = Math.min(Number(values.seconds), 120); // bounded
  const port = Number(values.port);
  const data = mkdtempSync(join(tmpdir(), "condcast-bench-farm-"));
  const repo = spawn(process.execPath, [join(ROOT, "ts", "dist", "cli", "main.js"), "serve", "--role", "repository", "--data-dir", data, "--listen", `127.0.0.1:${port}`, "--interface", "127.0.0.1", "--ttl", "1", "--group", "239.255.90.1", "--port", "40990", "--log-level", "info", "--farm-max-caches", String(Math.max(10_000, caches))], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let logBytes = 0;
  repo.stdout.on("data", (d: Buffer) => (logBytes += d.length));
  const agent = new Agent({ keepAlive: true, maxSockets: Number(values.connections) });
  try {
    for (let i = 0; ; i++) {
      try {
        if ((await send(agent, port, "GET", "/health")).status === 200) break;
      } catch {
        if (i > 100) throw new Error("the repository did not start");
      }
      await sleep(100);
    }
    const bodies = Array.from({ length: caches }, (_, i) => report(`bench-cache-${String(i).padStart(5, "0")}:8080`, i, period));
    const health = async (): Promise<number> => (await send(agent, port, "GET", "/health")).status;
    const post = async (i: number): Promise<number> => (await send(agent, port, "POST", "/caches/report", bodies[i]!)).status;
    await phase(repo.pid!, caches, period, 3, health); // warm-up (JIT, connections)
    const baseline = await phase(repo.pid!, caches, period, seconds, health);
    const logBefore = logBytes;
    const reports = await phase(repo.pid!, caches, period, seconds, post);
    const logDuring = logBytes - logBefore;
    const t0 = performance.now();
    const viewBody = (await send(agent, port, "GET", "/caches?limit=10000")).text;
    const viewMs = performance.now() - t0;
    const listed = (JSON.parse(viewBody) as { total: number }).total;
    const result = { caches, periodMs: period, seconds, rate: reports.rate, baseline, reports, ratio: { cpuPerRequest: reports.cpuPerRequestUs / baseline.cpuPerRequestUs, p50: reports.p50 / baseline.p50, p99: reports.p99 / baseline.p99 }, view: { caches: listed, ms: viewMs, bytes: viewBody.length }, logBytesDuringReports: logDuring, rssMiB: usage(repo.pid!).rss / 2 ** 20 };
    const f = (x: number, d = 1): string => x.toFixed(d);
    console.log(`| request | requests | rate /s | failed | repository CPU per request | p50 | p99 | RSS growth |`);
    console.log(`|---|---|---|---|---|---|---|---|`);
    for (const [what, p] of [["GET /health (baseline)", baseline], ["POST /caches/report", reports]] as const) {
      console.log(`| ${what} | ${p.requests} | ${f(p.rate, 0)} | ${p.failed} | ${f(p.cpuPerRequestUs)} µs | ${f(p.p50, 2)} ms | ${f(p.p99, 2)} ms | ${f(p.rssGrowthMiB)} MiB |`);
    }
    console.log(`| ratio report / baseline | | | | ${f(result.ratio.cpuPerRequest, 2)} | ${f(result.ratio.p50, 2)} | ${f(result.ratio.p99, 2)} | |`);
    console.log(`GET /caches of ${listed} caches: ${f(viewMs)} ms, ${viewBody.length} bytes; repository RSS at the end ${f(result.rssMiB)} MiB; log bytes during the reports: ${logDuring}`);
    console.log(JSON.stringify(result));
    return reports.failed === 0 && listed === caches ? 0 : 1;
  } finally {
    agent.destroy();
    repo.kill("SIGTERM");
    await new Promise((r) => repo.once("exit", r));
    rmSync(data, { recursive: true, force: true });
  }
}

process.exitCode = await main();
