// The repository's backends compared (issue 16): uploads/s (64 KiB objects, 8 clients) and 2 MB GET/s
// (8 clients) on the embedded backend, on one PostgreSQL + S3 replica and on two replicas (the clients
// spread over both), every ratio against the embedded backend of the same run; and the multicast
// sender's takeover time (SIGKILL of the leading replica until the other logs that it leads).
// Each repository is a `condcast serve` process on loopback (multicast on 127.0.0.1, TTL 1). Needs
// scripts/with-pg-s3.sh around it and a network namespace of its own; `make bench-store` does both.
//   node bench/store.ts [--seconds 10] [--takeovers 5] [--json]
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const CLI = join(ROOT, "bin", "condcast");
const { values } = parseArgs({ options: { seconds: { type: "string", default: "10" }, takeovers: { type: "string", default: "5" }, json: { type: "boolean", default: false } } });
const SECONDS = Number(values.seconds);
const CLIENTS = 8;

function env(name: string): string {
  const v = process.env[name];
  if (v === undefined) throw new Error(`${name} is not set: run under scripts/with-pg-s3.sh (make bench-store)`);
  return v;
}

interface Replica {
  readonly url: string;
  readonly child: ChildProcess;
  log: string;
}

/** A port the kernel says is free now: fixed ports collided with the PostgreSQL and S3 clients' ephemeral ones. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}
const work = mkdtempSync(join(tmpdir(), "condcast-bench-store-"));
const running: Replica[] = [];

async function start(backend: { dataDir: string } | { schema: string }, heartbeatMs = 1000): Promise<Replica> {
  const port = await freePort();
  const store = "dataDir" in backend
    ? ["--data-dir", backend.dataDir]
    : ["--pg-url", env("CONDCAST_PG_URL"), "--pg-schema", backend.schema, "--s3-endpoint", env("CONDCAST_S3_ENDPOINT"), "--s3-bucket", env("CONDCAST_S3_BUCKET"), "--s3-prefix", `${backend.schema}/`];
  const args = ["serve", "--role", "repository", "--listen", `127.0.0.1:${port}`, ...store, "--group", "239.255.91.1", "--port", "46099", "--interface", "127.0.0.1", "--heartbeat-interval", String(heartbeatMs), "--log-level", "info"];
  // The embedded backend must not pick up with-pg-s3.sh's CONDCAST_PG_URL (serve refuses both stores).
  const child = spawn(CLI, args, { stdio: ["ignore", "pipe", "pipe"], env: "dataDir" in backend ? { ...process.env, CONDCAST_PG_URL: "" } : process.env });
  const replica: Replica = { url: `http://127.0.0.1:${port}`, child, log: "" };
  const keep = (d: Buffer): void => void (replica.log = (replica.log + d.toString()).slice(-200_000));
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  running.push(replica);
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const r = await fetch(`${replica.url}/health`);
      await r.arrayBuffer();
      if (r.status === 200) return replica;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`repository on ${port} did not start: ${replica.log.slice(-2000)}`);
    await sleep(100);
  }
}

async function stop(r: Replica, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  if (r.child.exitCode === null) {
    const exited = new Promise((resolve) => r.child.once("exit", resolve));
    r.child.kill(signal);
    await Promise.race([exited, sleep(10_000)]);
    r.child.kill("SIGKILL");
  }
  running.splice(running.indexOf(r), 1);
}

async function upload(base: string, path: string, payload: Buffer): Promise<boolean> {
  const form = new FormData();
  form.append("send", new Blob([payload]), "object.root");
  const r = await fetch(`${base}/${path}/1000/900000000000`, { method: "POST", body: form });
  await r.arrayBuffer();
  return r.status === 201;
}

/** `clients` loops, each on targets[i % targets.length], for SECONDS; operations per second. */
async function load(targets: readonly Replica[], op: (base: string, client: number, n: number) => Promise<boolean>): Promise<{ perSecond: number; failed: number }> {
  const until = Date.now() + SECONDS * 1000;
  let done = 0;
  let failed = 0;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, c) => {
      for (let n = 0; Date.now() < until; n++) {
        if (await op(targets[c % targets.length]!.url, c, n).catch(() => false)) done++;
        else failed++;
      }
    }),
  );
  return { perSecond: done / ((Date.now() - started) / 1000), failed };
}

const small = Buffer.alloc(64 * 1024, 7);
const big = Array.from({ length: 16 }, (_, i) => Buffer.alloc(2_000_000, i + 1));
const bigMd5 = big.map((b) => createHash("md5").update(b).digest("hex"));

async function measure(name: string, replicas: Replica[]): Promise<{ name: string; uploadsPerSecond: number; getsPerSecond: number; failed: number }> {
  const uploads = await load(replicas, (base, c, n) => upload(base, `Bench/${name}/Up${c}`, small.subarray(0, small.length - (n % 100))));
  // 2 MB objects, then GETs of them (by path and time, as CCDB clients read), checked by MD5.
  for (const [i, b] of big.entries()) if (!(await upload(replicas[0]!.url, `Bench/${name}/Big${i}`, b))) throw new Error(`${name}: 2 MB upload ${i} refused`);
  await sleep(1500); // the other replica's index catches up (its poll)
  const gets = await load(replicas, async (base, c, n) => {
    const i = (c * 7 + n) % big.length;
    const r = await fetch(`${base}/Bench/${name}/Big${i}/5000`);
    const body = Buffer.from(await r.arrayBuffer());
    return r.status === 200 && body.length === 2_000_000 && (n % 16 !== 0 || createHash("md5").update(body).digest("hex") === bigMd5[i]);
  });
  return { name, uploadsPerSecond: uploads.perSecond, getsPerSecond: gets.perSecond, failed: uploads.failed + gets.failed };
}

async function takeover(schema: string, heartbeatMs: number): Promise<number> {
  const a = await start({ schema }, heartbeatMs);
  const b = await start({ schema }, heartbeatMs);
  const leads = (r: Replica, from = 0): boolean => r.log.slice(from).includes("this replica leads");
  const deadline = Date.now() + 15_000;
  while (!leads(a) && !leads(b)) {
    if (Date.now() > deadline) throw new Error("no replica leads");
    await sleep(20);
  }
  const [leader, other] = leads(a) ? [a, b] : [b, a];
  const from = other.log.length;
  const killedAt = Date.now();
  leader.child.kill("SIGKILL");
  while (!leads(other, from)) {
    if (Date.now() - killedAt > 30_000) throw new Error("no takeover within 30 s");
    await sleep(5);
  }
  const ms = Date.now() - killedAt;
  await stop(leader);
  await stop(other);
  return ms;
}

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)]!;
}

try {
  const rows = [];
  const embedded = await start({ dataDir: join(work, "embedded") });
  rows.push(await measure("embedded", [embedded]));
  await stop(embedded);
  const one = await start({ schema: "bench_one" });
  rows.push(await measure("pgs3-1", [one]));
  await stop(one);
  const two = [await start({ schema: "bench_two" }), await start({ schema: "bench_two" })];
  rows.push(await measure("pgs3-2", two));
  for (const r of [...two]) await stop(r);
  const takeovers: Record<string, number[]> = {};
  for (const hb of [1000, 100]) {
    takeovers[hb] = [];
    for (let i = 0; i < Number(values.takeovers); i++) takeovers[hb]!.push(await takeover(`bench_takeover_${hb}_${i}`, hb));
  }
  const base = rows[0]!;
  if (values.json) console.log(JSON.stringify({ rows, takeovers }));
  console.log(`| backend | uploads/s (64 KiB, ${CLIENTS} clients) | ratio | 2 MB GET/s (${CLIENTS} clients) | ratio | failed |`);
  console.log("|---|---|---|---|---|---|");
  for (const r of rows) console.log(`| ${r.name} | ${r.uploadsPerSecond.toFixed(0)} | ${(r.uploadsPerSecond / base.uploadsPerSecond).toFixed(2)} | ${r.getsPerSecond.toFixed(0)} | ${(r.getsPerSecond / base.getsPerSecond).toFixed(2)} | ${r.failed} |`);
  for (const [hb, ms] of Object.entries(takeovers)) console.log(`takeover at heartbeat ${hb} ms: median ${median(ms)} ms (${ms.join(", ")} ms)`);
} finally {
  for (const r of [...running]) await stop(r, "SIGKILL");
  rmSync(work, { recursive: true, force: true });
}
