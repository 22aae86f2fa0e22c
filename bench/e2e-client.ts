// The ALICE load, run inside the uploader's namespace host: uploads a `size`-byte object to the
// repository every 1/rate s for `seconds`, and for each polls every cache (its /browse lists only
// what it holds, so polling never triggers an upstream fetch) until the object is servable there.
// Prints one JSON line: {"uploads":N,"warmupUploads":N,"latenciesMs":[...per cache per measured object...],
// "missing":N (every object, warm-up included),"ackLagP99Ms":N (measured objects' 201 after the time
// they were due: what says the rate was sustained, not queued),"cpuSeconds":N}.
// Paths are Bench/E2E/<prefix>o<n>, so steps of a capacity curve on one repository never collide.
//   node bench/e2e-client.ts <repository-url> <seconds> <rate-hz> <size> [--prefix P] [--warmup S] <cache-url>...
import { setTimeout as sleep } from "node:timers/promises";
import { exchange, postObject } from "../interop/http-client.ts";

const [repository, secondsText, rateText, sizeText, ...rest] = process.argv.slice(2);
const flags = new Map<string, string>();
while (rest[0]?.startsWith("--") === true) flags.set(rest.shift()!.slice(2), rest.shift()!);
const caches = rest;
const prefix = flags.get("prefix") ?? "";
/** Objects uploaded in the first `warmup` seconds are waited for but not counted (JIT, first connections). */
const warmupMs = Number(flags.get("warmup") ?? "0") * 1000;
const seconds = Number(secondsText);
const rate = Number(rateText);
const size = Number(sizeText);
const POLL_MS = 5;
const GIVE_UP_MS = 20_000;

const payload = Buffer.alloc(size);
for (let i = 0; i < size; i++) payload[i] = (i * 7919) & 0xff;

// The polls are most of this client's work (a few per object and cache): exchange() on kept-alive
// connections costs a fraction of the CPU of the global fetch, which the machine's two cores share
// with the repository and the caches being measured (bench/README.md, "End to end").
async function listed(url: string): Promise<boolean> {
  const answer = await exchange(url, "GET");
  if (answer.status !== 200) throw new Error(`${url}: HTTP ${answer.status}`);
  return (JSON.parse(answer.body) as { objects: unknown[] }).objects.length > 0;
}

async function servable(cache: string, path: string, acked: number): Promise<number | null> {
  while (performance.now() - acked < GIVE_UP_MS) {
    if (await listed(`${cache}/browse/${path}?Accept=application/json`)) return performance.now() - acked;
    await sleep(POLL_MS);
  }
  return null;
}

/** Per measured upload: its 201 after the time it was due. */
const ackLags: number[] = [];

async function one(n: number, due: number, measured: boolean): Promise<(number | null)[]> {
  const path = `Bench/E2E/${prefix}o${n}`;
  payload.writeUInt32BE(n, 0); // distinct payloads (postObject copies them into the request at once)
  await postObject(repository!, `${path}/1/9000000000000`, payload, `o${n}`);
  const acked = performance.now();
  if (measured) ackLags.push(acked - due);
  return Promise.all(caches.map((cache) => servable(cache, path, acked)));
}

const started = performance.now();
const pending: Promise<(number | null)[]>[] = [];
const warmup: Promise<(number | null)[]>[] = [];
for (let n = 0; performance.now() - started < warmupMs + seconds * 1000; n++) {
  const measured = performance.now() - started >= warmupMs;
  (measured ? pending : warmup).push(one(n, started + (n * 1000) / rate, measured));
  const due = started + ((n + 1) * 1000) / rate;
  const wait = due - performance.now();
  if (wait > 0) await sleep(wait);
}
const warmupMissing = (await Promise.all(warmup)).flat().filter((x) => x === null).length;
const results = (await Promise.all(pending)).flat();
const latencies = results.filter((x): x is number => x !== null);
ackLags.sort((a, b) => a - b);
const ackLagP99Ms = Math.round((ackLags[Math.min(ackLags.length - 1, Math.floor(ackLags.length * 0.99))] ?? 0) * 10) / 10;
console.log(JSON.stringify({ ackLagP99Ms, uploads: pending.length, warmupUploads: warmup.length, latenciesMs: latencies.map((x) => Math.round(x * 10) / 10), missing: results.length - latencies.length + warmupMissing, seconds: (performance.now() - started) / 1000, cpuSeconds: (process.cpuUsage().user + process.cpuUsage().system) / 1e6 }));
