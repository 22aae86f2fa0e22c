// HTTP steps of the loss columns, run inside a namespace host (the runner's own namespace cannot reach
// the hosts' addresses):
//   node interop/http-client.ts wait <url>                       until GET <url>/health answers 200
//   node interop/http-client.ts upload <repository> <path> <interval-ms> <meta k=v,...> <file>...
//        POSTs each file as the CCDB does (multipart, one part); prints {id,size,md5} per object
//   node interop/http-client.ts verify <cache> <path> <expected.jsonl> <timeout-s>
//        waits until the cache holds every expected object (/browse lists only what a cache holds),
//        then fetches each: payload MD5 and size, and how it arrived (Condcast-Source)
//   node interop/http-client.ts verify-files <cache> <path> <timeout-s> <poll-ms> <ready-file|-> <file>...
//        the same, started before the upload: objects matched by MD5, <ready-file> written after the
//        first listing; prints when all were first listed
//   node interop/http-client.ts status <url>                     prints GET <url>/status
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { basename, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { jsonLines } from "./process.ts";
import { multipartUpload } from "../ts/dist/server/http/multipart-upload.js";

const VALID_FROM = 1_700_000_000_000;
const VALID_UNTIL = 1_900_000_000_000;

interface Expected {
  id: string;
  size: number;
  md5: string;
}

/** Polls GET `url` until it answers 2xx; fails after `timeoutMs`. */
export async function waitForOk(url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not up yet
    }
    await sleep(100);
  }
  throw new Error(`${url} did not answer in ${timeoutMs} ms`);
}

/**
 * POSTs one object as the CCDB expects it (multipart with one part, "send", as the O2 client names it)
 * to `<repository>/<urlPath>` (path, validity, k=v elements); returns the id from the 201's Location.
 */
export async function postObject(repository: string, urlPath: string, bytes: Uint8Array, fileName: string): Promise<string> {
  // One buffer on a kept-alive connection, as the O2 client's libcurl sends it: the global fetch
  // streamed the FormData's Blob through web streams, about as much CPU per 2 MB as the repository's
  // own MD5, on the cores the benchmarks share with what they measure.
  const form = multipartUpload("send", fileName, bytes);
  const { status, headers, body } = await exchange(`${repository}/${urlPath}`, "POST", { "content-type": form.contentType, "content-length": String(form.body.length) }, form.body, uploadAgent);
  if (status !== 201) throw new Error(`upload of ${fileName} answered ${status}: ${body}`);
  return String(headers.location ?? "").split("/").at(-1)!;
}

/** Kept-alive connections: at most 16 uploads in flight, 64 other requests per server. */
const uploadAgent = new Agent({ keepAlive: true, maxSockets: 16 });
const keptAlive = new Agent({ keepAlive: true, maxSockets: 64 });

/**
 * One request over node:http on a kept-alive connection, its answer read whole: what the benchmarks'
 * uploads and polls use, at a fraction of the global fetch's CPU.
 */
export function exchange(url: string, method: "GET" | "POST", headers: Record<string, string> = {}, body?: Buffer, agent: Agent = keptAlive): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent, headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (c: Buffer) => chunks.push(c));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString() }));
      response.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

async function upload(repository: string, path: string, intervalMs: number, meta: string, files: string[]): Promise<void> {
  const elements = meta.split(",").filter((m) => m.length > 0).map((m) => `/${m.split("=").map(encodeURIComponent).join("=")}`).join("");
  const payloads = files.map((file) => readFileSync(file));
  // When the first request leaves (epoch ms), for a benchmark that times from there, not from this
  // process's start-up.
  console.error(JSON.stringify({ firstRequestAt: Date.now() }));
  for (const [i, file] of files.entries()) {
    const bytes = payloads[i]!;
    const id = await postObject(repository, `${path}/${VALID_FROM}/${VALID_UNTIL}${elements}`, bytes, basename(file));
    console.log(JSON.stringify({ id, size: bytes.length, md5: createHash("md5").update(bytes).digest("hex") }));
    if (intervalMs > 0) await sleep(intervalMs);
  }
}

/** The cache's listing under `path`: what it holds (/browse lists only that). */
async function listing(cache: string, path: string): Promise<{ id: string; MD5?: string }[]> {
  return ((await (await fetch(`${cache}/browse/${path}?Accept=application/json`)).json()) as { objects: { id: string; MD5?: string }[] }).objects;
}

async function verify(cache: string, path: string, expectedFile: string, timeoutS: number): Promise<void> {
  const expected = jsonLines<Expected>(readFileSync(expectedFile, "utf8"));
  const deadline = Date.now() + timeoutS * 1000;
  let held = new Set<string>();
  while (Date.now() < deadline) {
    held = new Set((await listing(cache, path)).map((o) => o.id));
    if (expected.every((e) => held.has(e.id))) break;
    await sleep(200);
  }
  console.log(JSON.stringify(await check(cache, expected, held)));
}

/**
 * Like verify, for objects not uploaded yet: started before the upload, it knows the files (size, MD5),
 * matches them by the listing's MD5, and prints when the cache first listed all of them (heldAt,
 * epoch ms), so that a benchmark can time delivery without the checking.
 */
async function verifyFiles(cache: string, path: string, timeoutS: number, pollMs: number, readyFile: string, files: string[]): Promise<void> {
  const wanted = files.map((f) => {
    const bytes = readFileSync(f);
    return { size: bytes.length, md5: createHash("md5").update(bytes).digest("hex") };
  });
  const deadline = Date.now() + timeoutS * 1000;
  let byMd5 = new Map<string, string>();
  let heldAt: number | undefined;
  while (Date.now() < deadline) {
    byMd5 = new Map((await listing(cache, path)).map((o) => [o.MD5 ?? "", o.id]));
    if (readyFile !== "-" && !existsSync(readyFile)) writeFileSync(readyFile, `${Date.now()}\n`);
    if (wanted.every((w) => byMd5.has(w.md5))) {
      heldAt = Date.now();
      break;
    }
    await sleep(pollMs);
  }
  const expected = wanted.map((w) => ({ ...w, id: byMd5.get(w.md5) ?? `(md5 ${w.md5})` }));
  console.log(JSON.stringify({ heldAt, ...(await check(cache, expected, new Set(byMd5.values()))) }));
}

/** Fetches each held object: payload MD5 and size, and how it arrived (Condcast-Source). */
async function check(cache: string, expected: Expected[], held: Set<string>): Promise<{ objects: number; bytes: number; sources: Record<string, number>; repairBytes: number; fecFragmentsRecovered: number; problems: string[] }> {
  const sources: Record<string, number> = {};
  const problems: string[] = [];
  let bytes = 0;
  for (const e of expected) {
    if (!held.has(e.id)) {
      problems.push(`${e.id} (${e.size} B) never arrived`);
      continue;
    }
    const response = await fetch(`${cache}/download/${e.id}`);
    const body = Buffer.from(await response.arrayBuffer());
    const source = response.headers.get("condcast-source") ?? "none";
    sources[source] = (sources[source] ?? 0) + 1;
    bytes += body.length;
    const md5 = createHash("md5").update(body).digest("hex");
    if (response.status !== 200 || md5 !== e.md5 || body.length !== e.size) problems.push(`${e.id}: status ${response.status}, ${body.length} B, md5 ${md5} (expected ${e.size} B, ${e.md5})`);
    if (response.headers.get("etag") !== `"${e.id}"`) problems.push(`${e.id}: ETag ${response.headers.get("etag")}`);
  }
  const metrics = await (await fetch(`${cache}/metrics`)).text();
  const metric = (name: string): number => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(metrics)?.[1] ?? 0);
  return { objects: expected.length - problems.filter((p) => p.includes("never arrived")).length, bytes, sources, repairBytes: metric("condcast_repair_bytes_total"), fecFragmentsRecovered: metric("condcast_fec_fragments_recovered_total"), problems };
}

async function status(url: string): Promise<void> {
  console.log(JSON.stringify(await (await fetch(`${url}/status`)).json()));
}

async function main(command: string | undefined, args: string[]): Promise<void> {
  if (command === "wait") return waitForOk(`${args[0]!}/health`);
  if (command === "status") return status(args[0]!);
  if (command === "upload") return upload(args[0]!, args[1]!, Number(args[2]), args[3]!, args.slice(4));
  if (command === "verify") return verify(args[0]!, args[1]!, args[2]!, Number(args[3]));
  if (command === "verify-files") return verifyFiles(args[0]!, args[1]!, Number(args[2]), Number(args[3]), args[4]!, args.slice(5));
  throw new Error(`unknown command ${command}`);
}

// Run as a script; imported (by the benchmarks) it only lends its functions.
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [command, ...args] = process.argv.slice(2);
  main(command, args).catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
