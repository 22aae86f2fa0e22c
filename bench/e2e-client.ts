// The ALICE load, run inside the uploader's namespace host: uploads a `size`-byte object to the
// repository every 1/rate s for `seconds`, and for each polls every cache (its /browse lists only
// what it holds, so polling never triggers an upstream fetch) until the object is servable there.
// Prints one JSON line: {"uploads":N,"latenciesMs":[...per cache per object...],"missing":N}.
//   node bench/e2e-client.ts <repository-url> <seconds> <rate-hz> <size> <cache-url>...
import { setTimeout as sleep } from "node:timers/promises";
import { postObject } from "../interop/http-client.ts";

const [repository, secondsText, rateText, sizeText, ...caches] = process.argv.slice(2);
const seconds = Number(secondsText);
const rate = Number(rateText);
const size = Number(sizeText);
const POLL_MS = 5;
const GIVE_UP_MS = 20_000;

const payload = Buffer.alloc(size);
for (let i = 0; i < size; i++) payload[i] = (i * 7919) & 0xff;

async function servable(cache: string, path: string, acked: number): Promise<number | null> {
  while (performance.now() - acked < GIVE_UP_MS) {
    const listing = (await (await fetch(`${cache}/browse/${path}?Accept=application/json`)).json()) as { objects: unknown[] };
    if (listing.objects.length > 0) return performance.now() - acked;
    await sleep(POLL_MS);
  }
  return null;
}

async function one(n: number): Promise<(number | null)[]> {
  const path = `Bench/E2E/o${n}`;
  payload.writeUInt32BE(n, 0); // distinct payloads (postObject copies them into the request at once)
  await postObject(repository!, `${path}/1/9000000000000`, payload, `o${n}`);
  const acked = performance.now();
  return Promise.all(caches.map((cache) => servable(cache, path, acked)));
}

const started = performance.now();
const pending: Promise<(number | null)[]>[] = [];
for (let n = 0; performance.now() - started < seconds * 1000; n++) {
  pending.push(one(n));
  const due = started + ((n + 1) * 1000) / rate;
  const wait = due - performance.now();
  if (wait > 0) await sleep(wait);
}
const results = (await Promise.all(pending)).flat();
const latencies = results.filter((x): x is number => x !== null);
console.log(JSON.stringify({ uploads: pending.length, latenciesMs: latencies.map((x) => Math.round(x * 10) / 10), missing: results.length - latencies.length, seconds: (performance.now() - started) / 1000 }));
