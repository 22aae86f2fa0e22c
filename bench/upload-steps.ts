// Upload → servable, step by step, for one large object at a time (issue 18 item 6): a real repository
// and one cache (`bin/condcast serve`, loopback multicast, log level info) per pacing rate; each object
// is uploaded alone (the previous one servable first), and the cache's /browse polled every 1 ms.
// The client times the upload (request → 201) and ack → servable; the repository's "object multicast"
// log line splits its side: MD5, store (write, fsync, index), the sender's queue and encoding + pacing,
// both from the store's start (the datagrams go out while the store makes the object durable, and
// those that complete it wait for it, SPEC 10.4).
// Run inside a network namespace of its own:
//   flock /tmp/condcast-netns.lock unshare -n bash -c 'ip link set lo up && node bench/upload-steps.ts'
//   [--objects 10] [--size 10485760] [--rates 100000000,400000000,0] [--datagram-size 1472]
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { postObject } from "../interop/http-client.ts";

const ROOT = join(import.meta.dirname, "..");
const CONDCAST = join(ROOT, "bin", "condcast");

interface Row {
  rate: number;
  uploadMs: number[];
  md5Ms: number[];
  storeMs: number[];
  queueMs: number[];
  sendMs: number[];
  ackToServableMs: number[];
  /** Of ack → servable: the send still under way at the ack (queue + send − store, at least 0). */
  sendAfterAckMs: number[];
  /** ack → servable minus the send still under way: the last datagrams' trip, reassembly's end, MD5 check, index. */
  cacheTailMs: number[];
  totalMs: number[];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : s[Math.floor(s.length / 2)]!;
}

function serve(args: string[], log: (line: string) => void): ChildProcess {
  const child = spawn(CONDCAST, ["serve", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  for (const stream of [child.stdout!, child.stderr!]) {
    let rest = "";
    stream.on("data", (d: Buffer) => {
      const lines = (rest + d.toString()).split("\n");
      rest = lines.pop()!;
      for (const l of lines) log(l);
    });
  }
  return child;
}

async function waitUp(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${url}/health`)).ok) return;
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  throw new Error(`${url} did not start`);
}

async function measure(rate: number, objects: number, size: number, datagramSize: number, port: number): Promise<Row> {
  const data = mkdtempSync(join(tmpdir(), "condcast-steps-"));
  const timings = new Map<string, { md5Ms: number; storeMs: number; queueMs: number; sendMs: number }>();
  const mc = ["--group", "239.255.88.9", "--port", String(port), "--log-level", "info", "--interface", "127.0.0.1", "--datagram-size", String(datagramSize)];
  const repo = serve(["--role", "repository", "--listen", "127.0.0.1:45300", "--data-dir", data, "--rate", String(rate), ...mc], (line) => {
    if (!line.includes('"object multicast"')) return;
    const e = JSON.parse(line) as { path: string; md5Ms: number; storeMs: number; queueMs: number; sendMs: number };
    timings.set(e.path, e);
  });
  const cache = serve(["--role", "cache", "--listen", "127.0.0.1:45301", "--upstream", "http://127.0.0.1:45300", "--memory", "1G", ...mc], () => undefined);
  const row: Row = { rate, uploadMs: [], md5Ms: [], storeMs: [], queueMs: [], sendMs: [], ackToServableMs: [], sendAfterAckMs: [], cacheTailMs: [], totalMs: [] };
  try {
    await waitUp("http://127.0.0.1:45300");
    await waitUp("http://127.0.0.1:45301");
    await sleep(500);
    const payload = Buffer.alloc(size);
    for (let i = 0; i < size; i++) payload[i] = (i * 7919) & 0xff;
    for (let n = -2; n < objects; n++) {
      // Two warm-up objects (JIT, first connections), not counted.
      const path = `Bench/Steps/r${rate}/o${n + 2}`;
      payload.writeUInt32BE(n + 2, 0);
      const t0 = performance.now();
      await postObject("http://127.0.0.1:45300", `${path}/1/9000000000000`, payload, `o${n}`);
      const acked = performance.now();
      for (;;) {
        const listing = (await (await fetch(`http://127.0.0.1:45301/browse/${path}?Accept=application/json`)).json()) as { objects: unknown[] };
        if (listing.objects.length > 0) break;
        if (performance.now() - acked > 20_000) throw new Error(`${path} never servable`);
        await sleep(1);
      }
      const servable = performance.now();
      for (let i = 0; i < 100 && !timings.has(path); i++) await sleep(10);
      const t = timings.get(path);
      if (n < 0 || t === undefined) continue;
      row.uploadMs.push(acked - t0);
      row.md5Ms.push(t.md5Ms);
      row.storeMs.push(t.storeMs);
      row.queueMs.push(t.queueMs);
      row.sendMs.push(t.sendMs);
      row.ackToServableMs.push(servable - acked);
      const sendAfterAck = Math.max(0, t.queueMs + t.sendMs - t.storeMs);
      row.sendAfterAckMs.push(sendAfterAck);
      row.cacheTailMs.push(servable - acked - sendAfterAck);
      row.totalMs.push(servable - t0);
    }
    return row;
  } finally {
    repo.kill();
    cache.kill();
    await Promise.all([repo, cache].map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once("exit", r)))));
    rmSync(data, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      objects: { type: "string", default: "10" },
      size: { type: "string", default: String(10 * 1024 * 1024) },
      rates: { type: "string", default: "100000000,400000000,0" },
      "datagram-size": { type: "string", default: "1472" },
      json: { type: "boolean", default: false },
    },
  });
  const rows: Row[] = [];
  let port = 45310;
  for (const rate of values.rates.split(",").map(Number)) rows.push(await measure(rate, Number(values.objects), Number(values.size), Number(values["datagram-size"]), port++));
  if (values.json) console.log(JSON.stringify(rows));
  const f = (x: number): string => x.toFixed(1);
  console.log(
    `| pacing | upload request → 201 | of it: MD5 | of it: store (write, fsync, index) | sender queue, from the store's start | encode + paced send | ack → servable | of it: send still under way | of it: cache tail (last datagram → servable) | request → servable | vs ${rows[0]!.rate / 1e6} MB/s |`,
  );
  console.log("|---|---|---|---|---|---|---|---|---|---|---|");
  const base = median(rows[0]!.totalMs);
  for (const r of rows) {
    const rate = r.rate === 0 ? "unpaced" : `${r.rate / 1e6} MB/s`;
    console.log(`| ${rate} | ${f(median(r.uploadMs))} | ${f(median(r.md5Ms))} | ${f(median(r.storeMs))} | ${f(median(r.queueMs))} | ${f(median(r.sendMs))} | ${f(median(r.ackToServableMs))} | ${f(median(r.sendAfterAckMs))} | ${f(median(r.cacheTailMs))} | ${f(median(r.totalMs))} | ${(median(r.totalMs) / base).toFixed(2)} |`);
  }
}

await main();
