// Flip latency (issue 13): how long after a changeset's commit is acknowledged every cache answers
// with the new key. A real repository and N real caches (`bin/condcast serve`, each its own process)
// on loopback multicast; for N = 1 and 4, in both commit modes (immediate; farm with share 1 and the
// caches reporting every 100 ms), for two changesets: 10 objects of 100 kB and 1 object of 2 MB.
//
// Each round: a long-poll GET /keys/online?after=<old key> is started on every cache, a changeset is
// opened and its objects uploaded, then the commit is POSTed. t0 is the moment the commit's answer
// arrives; a cache's flip is the moment its long-poll answers (so no polling interval is measured).
// Then one object is read back from every cache, which must say `Condcast-Key: online/<new key>` and
// carry the uploaded id. The baseline, from the same run, is the immediate mode at N = 1.
//
// Bounded: R rounds (+ warm-up) per (N, mode, case), every request with a timeout, the farm commit's
// timeoutMs, and a deadline for the whole run; every server is stopped at the end, also on failure,
// and a failed run keeps the servers' logs in out/bench-flip/. Run it in a network namespace of its
// own (`make bench-flip` does, under the bench lock).
//
//   node bench/flip-latency.ts [--caches 1,4] [--rounds 30] [--warmup 2] [--report-interval 100]
//                              [--deadline 900] [--json]
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync } from "node:fs";
import { Agent, request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";

const ROOT = join(import.meta.dirname, "..");
const CONDCAST = join(ROOT, "bin", "condcast");
const LOGS = join(ROOT, "out", "bench-flip");
/** Loopback multicast of this benchmark only; HTTP on 127.0.0.1:45100 (repository) and 45101.. (caches). */
const GROUP = "239.255.70.1";
const UDP_PORT = 45150;
const HTTP_BASE_PORT = 45100;
const KEYTABLE = "online";
/** Longest wait for one cache's flip (the long-poll's wait), and for any other request. */
const FLIP_WAIT_MS = 30_000;
const REQUEST_TIMEOUT_MS = 20_000;
const FARM_TIMEOUT_MS = 10_000;

export type CommitMode = "immediate" | "farm";

export interface FlipCase {
  readonly name: string;
  readonly objects: number;
  readonly bytes: number;
}

export const FLIP_CASES: readonly FlipCase[] = [
  { name: "10 × 100 kB", objects: 10, bytes: 100_000 },
  { name: "1 × 2 MB", objects: 1, bytes: 2_000_000 },
];

/** The figures of one (N, mode, case), in ms. */
export interface FlipResult {
  readonly caches: number;
  readonly mode: CommitMode;
  readonly case: string;
  readonly rounds: number;
  /** Commit answered -> the last cache flipped, per round. */
  readonly flip: Summary;
  /** Commit answered -> each cache flipped (every cache of every round). */
  readonly flipPerCache: Summary;
  /** Commit request sent -> its answer: the farm wait (and the commit itself). */
  readonly commit: Summary;
  /** Commit request sent -> the last cache flipped: the two modes end to end. */
  readonly endToEnd: Summary;
  /** The farm answer's reasons (`all`, `share`, `timeout`) and how many rounds had each. */
  readonly farmReasons: Record<string, number>;
}

export interface Summary {
  readonly p50: number;
  readonly p95: number;
  readonly max: number;
}

export interface FlipRun {
  readonly results: FlipResult[];
  /** Each cache's receive and repair counters at the end of its N (from /status). */
  readonly cacheCounters: { caches: number; name: string; counters: Record<string, number> }[];
  readonly failures: string[];
  readonly seconds: number;
}

/** Nearest-rank percentile of ascending values. */
function percentile(sorted: number[], q: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

function summary(values: number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: percentile(sorted, 0.5), p95: percentile(sorted, 0.95), max: sorted.at(-1) ?? NaN };
}

interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  /** performance.now() when the answer's head arrived. */
  readonly at: number;
}

/** One HTTP request on 127.0.0.1; resolves once the whole answer is read, with the time its head came. */
function call(agent: Agent, url: string, method: "GET" | "POST", body?: Buffer | string, headers: Record<string, string> = {}, timeoutMs = REQUEST_TIMEOUT_MS): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const payload = typeof body === "string" ? Buffer.from(body) : body;
    const h: Record<string, string | number> = { ...headers };
    if (payload !== undefined) h["content-length"] = payload.length;
    const req = httpRequest(url, { method, agent, headers: h }, (res) => {
      const at = performance.now();
      const chunks: Buffer[] = [];
      res.on("data", (d: Buffer) => chunks.push(d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), at }));
      res.on("error", reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${url}: no answer within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(payload);
  });
}

function json(a: Answer): any {
  return a.body.length > 0 ? JSON.parse(a.body.toString()) : undefined;
}

/** The ordinary CCDB upload (multipart field `send`) into a changeset; returns the object's id. */
async function upload(agent: Agent, base: string, path: string, payload: Buffer, changeset: string): Promise<string> {
  const boundary = `condcast-bench-${randomBytes(8).toString("hex")}`;
  const body = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="send"; filename="object.root"\r\nContent-Type: application/octet-stream\r\n\r\n`),
    payload,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  const a = await call(agent, `${base}${path}`, "POST", body, { "content-type": `multipart/form-data; boundary=${boundary}`, "condcast-changeset": changeset });
  if (a.status !== 201) throw new Error(`upload ${path}: ${a.status} ${a.body.toString().slice(0, 200)}`);
  return String(a.headers.etag ?? "").replaceAll('"', "");
}

interface Server {
  readonly name: string;
  readonly url: string;
  readonly proc: ChildProcess;
}

/** Every server this run started and that has not exited yet. */
const running = new Set<ChildProcess>();
/** Kills every server still running when this process exits, also on a signal or a crash. */
function stopAllOnExit(): void {
  process.once("exit", () => {
    for (const p of running) p.kill("SIGKILL");
  });
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      console.error(`bench-flip: stopped by ${signal}; the servers' logs are in ${LOGS}`);
      process.exit(130);
    });
  }
}

function startServer(name: string, port: number, args: string[], logDir: string): Server {
  const log = openSync(join(logDir, `${name}.log`), "a");
  const proc = spawn(CONDCAST, ["serve", "--listen", `127.0.0.1:${port}`, "--group", GROUP, "--port", String(UDP_PORT), "--interface", "127.0.0.1", "--ttl", "1", "--log-level", "info", ...args], { stdio: ["ignore", log, log] });
  closeSync(log);
  running.add(proc);
  proc.once("exit", () => running.delete(proc));
  return { name, url: `http://127.0.0.1:${port}`, proc };
}

async function stopServer(s: Server): Promise<void> {
  if (s.proc.exitCode !== null || s.proc.signalCode !== null) return;
  const exited = new Promise((r) => s.proc.once("exit", r));
  s.proc.kill("SIGTERM");
  if ((await Promise.race([exited.then(() => true), sleep(5000).then(() => false)])) === false) {
    s.proc.kill("SIGKILL");
    await exited;
  }
}

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const end = performance.now() + ms;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch {
      // not up yet
    }
    if (performance.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(50);
  }
}

/** A repository and `n` caches, with the agents the rounds use. */
class Farm {
  readonly repo: Server;
  readonly caches: Server[];
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 8 });
  /** One agent per cache for its long-poll, so a waiting poll never holds up a read. */
  private readonly pollAgents: Agent[];
  readonly n: number;
  key = 0;

  constructor(n: number, dataDir: string, logDir: string, reportIntervalMs: number) {
    this.n = n;
    this.repo = startServer("repository", HTTP_BASE_PORT, ["--role", "repository", "--data-dir", dataDir], logDir);
    this.caches = Array.from({ length: n }, (_, i) =>
      startServer(`cache-${i + 1}`, HTTP_BASE_PORT + 1 + i, ["--role", "cache", "--upstream", `http://127.0.0.1:${HTTP_BASE_PORT}`, "--name", `flip-cache-${i + 1}`, "--report-interval", String(reportIntervalMs), "--memory", "512M"], logDir),
    );
    this.pollAgents = this.caches.map(() => new Agent({ keepAlive: true, maxSockets: 1 }));
  }

  async ready(): Promise<void> {
    for (const s of [this.repo, ...this.caches]) await until(`${s.name} up`, 15_000, async () => ((await call(this.agent, `${s.url}/health`, "GET")).status === 200 ? true : undefined));
    // The farm mode counts only caches the repository sees as ok: every one must be reporting.
    await until(`${this.n} caches ok in the farm view`, 15_000, async () => (json(await call(this.agent, `${this.repo.url}/caches?state=ok`, "GET")).caches.length === this.n ? true : undefined));
  }

  /** One round; returns the times relative to the commit request, or throws what went wrong. */
  async round(mode: CommitMode, c: FlipCase, seq: number): Promise<{ commitMs: number; flipsMs: number[]; farmReason: string | undefined }> {
    const old = this.key;
    const polls = this.caches.map((cache, i) => call(this.pollAgents[i]!, `${cache.url}/keys/${KEYTABLE}?after=${old}&wait=${FLIP_WAIT_MS}`, "GET", undefined, {}, FLIP_WAIT_MS + 5000));
    const polled = performance.now();
    const opened = await call(this.agent, `${this.repo.url}/changesets`, "POST", JSON.stringify({ keytable: KEYTABLE }), { "content-type": "application/json" });
    if (opened.status !== 201) throw new Error(`open changeset: ${opened.status} ${opened.body.toString()}`);
    const changeset = json(opened).id as string;
    const now = Date.now();
    const validity = `${now - 60_000}/${now + 3_600_000}`;
    const ids: string[] = [];
    for (let i = 0; i < c.objects; i++) ids.push(await upload(this.agent, this.repo.url, `/Bench/Flip/P${i}/${validity}/round=${seq}`, randomBytes(c.bytes), changeset));
    // The long-polls must be waiting on the caches before the commit goes out.
    await sleep(Math.max(0, 20 - (performance.now() - polled)));
    const body = mode === "farm" ? { mode: "farm", share: 1, timeoutMs: FARM_TIMEOUT_MS } : {};
    const sent = performance.now();
    const committed = await call(this.agent, `${this.repo.url}/changesets/${changeset}/commit`, "POST", JSON.stringify(body), { "content-type": "application/json" }, FARM_TIMEOUT_MS + REQUEST_TIMEOUT_MS);
    const answer = json(committed);
    if (committed.status !== 200 || answer.key !== old + 1) throw new Error(`commit ${changeset}: ${committed.status} ${committed.body.toString().slice(0, 300)} (expected key ${old + 1})`);
    this.key = answer.key;
    const flips = await Promise.all(polls);
    for (const [i, f] of flips.entries()) {
      if (f.status !== 200 || json(f).key !== this.key) throw new Error(`${this.caches[i]!.name}: long-poll after ${old}: ${f.status} ${f.body.toString().slice(0, 200)} (expected key ${this.key})`);
    }
    // Every cache now answers a read under the new key, with the object of this round.
    const last = c.objects - 1;
    for (const cache of this.caches) {
      const read = await call(this.agent, `${cache.url}/Bench/Flip/P${last}/${Date.now()}`, "GET");
      const key = String(read.headers["condcast-key"] ?? "");
      const id = String(read.headers.etag ?? "").replaceAll('"', "");
      if (read.status !== 200 || key !== `${KEYTABLE}/${this.key}` || id !== ids[last] || read.body.length !== c.bytes) {
        throw new Error(`${cache.name}: read after the flip to ${this.key}: ${read.status}, Condcast-Key "${key}" (expected "${KEYTABLE}/${this.key}"), id ${id} (expected ${ids[last]}), ${read.body.length} bytes`);
      }
    }
    return { commitMs: committed.at - sent, flipsMs: flips.map((f) => f.at - sent), farmReason: answer.farm?.reason };
  }

  async counters(): Promise<{ name: string; counters: Record<string, number> }[]> {
    const out: { name: string; counters: Record<string, number> }[] = [];
    for (const cache of this.caches) {
      const s = json(await call(this.agent, `${cache.url}/status`, "GET"));
      // Whether the flips came by multicast alone: repairs, whole fetches and misses would say otherwise.
      const pick: Record<string, number> = { datagrams: s.receiver?.datagrams, commits: s.receiver?.commits };
      for (const k of ["multicastCompleted", "keyFlips", "repaired", "fetched", "refetches", "misses", "gaps"]) pick[k] = s.counters?.[k];
      out.push({ name: cache.name, counters: pick });
    }
    return out;
  }

  async stop(): Promise<void> {
    this.agent.destroy();
    for (const a of this.pollAgents) a.destroy();
    await Promise.all([...this.caches, this.repo].map(stopServer));
  }
}

export async function flipLatency(options: { caches: number[]; rounds: number; warmup: number; reportIntervalMs: number; log?: (line: string) => void }): Promise<FlipRun> {
  const started = performance.now();
  const log = options.log ?? (() => undefined);
  const results: FlipResult[] = [];
  const cacheCounters: FlipRun["cacheCounters"] = [];
  const failures: string[] = [];
  for (const n of options.caches) {
    const logDir = join(LOGS, `n${n}`);
    rmSync(logDir, { recursive: true, force: true });
    mkdirSync(logDir, { recursive: true });
    const data = mkdtempSync(join(tmpdir(), "condcast-bench-flip-"));
    const farm = new Farm(n, data, logDir, options.reportIntervalMs);
    let failed = false;
    try {
      await farm.ready();
      for (const c of FLIP_CASES) {
        const rows = new Map<CommitMode, { commit: number[]; flip: number[]; perCache: number[]; endToEnd: number[]; reasons: Record<string, number> }>();
        for (const mode of ["immediate", "farm"] as const) rows.set(mode, { commit: [], flip: [], perCache: [], endToEnd: [], reasons: {} });
        for (let r = 0; r < options.warmup + options.rounds; r++) {
          // The two modes alternate round by round (and swap who goes first), so drift on a shared
          // machine falls on both alike.
          const order: CommitMode[] = r % 2 === 0 ? ["immediate", "farm"] : ["farm", "immediate"];
          for (const mode of order) {
            const t = await farm.round(mode, c, farm.key + 1);
            if (r < options.warmup) continue;
            const row = rows.get(mode)!;
            const lastFlip = Math.max(...t.flipsMs);
            row.commit.push(t.commitMs);
            row.flip.push(lastFlip - t.commitMs);
            row.perCache.push(...t.flipsMs.map((f) => f - t.commitMs));
            row.endToEnd.push(lastFlip);
            if (t.farmReason !== undefined) {
              row.reasons[t.farmReason] = (row.reasons[t.farmReason] ?? 0) + 1;
              if (t.farmReason !== "all") failures.push(`N=${n} ${c.name} round ${r}: farm commit went on by ${t.farmReason}`);
            }
          }
        }
        for (const [mode, row] of rows) {
          const result: FlipResult = { caches: n, mode, case: c.name, rounds: options.rounds, flip: summary(row.flip), flipPerCache: summary(row.perCache), commit: summary(row.commit), endToEnd: summary(row.endToEnd), farmReasons: row.reasons };
          results.push(result);
          log(`bench-flip: N=${n} ${mode} ${c.name}: flip p50 ${result.flip.p50.toFixed(1)} ms p95 ${result.flip.p95.toFixed(1)} max ${result.flip.max.toFixed(1)}; commit p50 ${result.commit.p50.toFixed(1)} ms; end to end p50 ${result.endToEnd.p50.toFixed(1)} ms`);
        }
      }
      for (const c of await farm.counters()) cacheCounters.push({ caches: n, ...c });
    } catch (error) {
      failed = true;
      failures.push(`N=${n}: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      await farm.stop();
      rmSync(data, { recursive: true, force: true });
    }
    if (failed) {
      log(`bench-flip: N=${n} failed; the servers' logs are in ${logDir}`);
      break;
    }
    if (failures.length === 0) rmSync(logDir, { recursive: true, force: true });
    else log(`bench-flip: N=${n}: the servers' logs are kept in ${logDir}`);
  }
  return { results, cacheCounters, failures, seconds: (performance.now() - started) / 1000 };
}

const f1 = (x: number): string => x.toFixed(1);
const ratio = (x: number, base: number): string => (base > 0 ? (x / base).toFixed(2) : "n/a");

/** The run as a markdown table: every row against the immediate mode at N = 1 of the same case. */
export function renderFlip(run: FlipRun): string {
  const lines = [
    "| caches | mode | changeset | flip p50 | flip p95 | flip max | commit request → answer p50 (max) | end to end p50 (p95) | flip p50 / baseline | end to end p50 / baseline |",
    "|---|---|---|---|---|---|---|---|---|---|",
  ];
  for (const r of run.results) {
    const base = run.results.find((b) => b.caches === 1 && b.mode === "immediate" && b.case === r.case);
    const isBase = base === r;
    lines.push(
      `| ${r.caches} | ${r.mode}${r.mode === "farm" ? " (share 1)" : ""} | ${r.case} | ${f1(r.flip.p50)} ms | ${f1(r.flip.p95)} ms | ${f1(r.flip.max)} ms | ${f1(r.commit.p50)} ms (${f1(r.commit.max)}) | ${f1(r.endToEnd.p50)} ms (${f1(r.endToEnd.p95)}) | ` +
        `${isBase ? "1 (baseline)" : base ? ratio(r.flip.p50, base.flip.p50) : "n/a"} | ${isBase ? "1 (baseline)" : base ? ratio(r.endToEnd.p50, base.endToEnd.p50) : "n/a"} |`,
    );
  }
  return lines.join("\n");
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      caches: { type: "string", default: "1,4" },
      rounds: { type: "string", default: "30" },
      warmup: { type: "string", default: "2" },
      "report-interval": { type: "string", default: "100" },
      deadline: { type: "string", default: "900" },
      json: { type: "boolean", default: false },
    },
  });
  const caches = values.caches.split(",").map(Number);
  const rounds = Math.min(Number(values.rounds), 200); // bounded
  const deadlineS = Math.min(Number(values.deadline), 3600);
  if (caches.some((n) => !Number.isInteger(n) || n < 1 || n > 16) || !(rounds >= 1)) {
    console.error("bench-flip: --caches takes 1 to 16 per entry, --rounds at least 1");
    return 2;
  }
  stopAllOnExit();
  // The whole run is bounded: past the deadline every server is killed (the exit handler) and it fails.
  const deadline = setTimeout(() => {
    console.error(`bench-flip: not done within ${deadlineS} s; stopped. The servers' logs are in ${LOGS}`);
    process.exit(1);
  }, deadlineS * 1000);
  deadline.unref();
  const run = await flipLatency({ caches, rounds, warmup: Number(values.warmup), reportIntervalMs: Number(values["report-interval"]), log: (line) => console.error(line) });
  clearTimeout(deadline);
  console.log(renderFlip(run));
  for (const c of run.cacheCounters) console.log(`N=${c.caches} ${c.name}: ${Object.entries(c.counters).map(([k, v]) => `${k} ${v}`).join(", ")}`);
  console.log(`${run.results.length} rows, ${rounds} rounds each (+ ${values.warmup} warm-up), in ${run.seconds.toFixed(0)} s`);
  for (const f of run.failures) console.log(`FAILED: ${f}`);
  if (run.failures.length > 0) console.log(`bench-flip: the servers' logs are in ${LOGS}`);
  if (values.json) console.log(JSON.stringify(run));
  return run.failures.length === 0 ? 0 : 1;
}

if (process.argv[1] === import.meta.filename) process.exitCode = await main();
