// The chaos suite's HTTP side, run inside a namespace host (the runner's own namespace cannot reach
// the hosts' addresses):
//   node chaos/client.ts load <repository> <prefix> <hz> <seconds> <attempts.jsonl> <size,size,...>
//        uploads at <hz> for <seconds> (or until SIGTERM), each object under its own path and with an
//        id chosen here, so that an upload whose answer was lost can still be recognised; appends
//        {"n","id","state":"sent"} before each request and {"n","id","state":"acked"|"refused"|"lost",
//        "status","md5","size"} after it
//   node chaos/client.ts upload <repository> <path> <size> <attempts.jsonl>   one upload, one record
//   node chaos/client.ts check <attempts.jsonl> <repository> <prefix> <timeout-s> <cache>...
//        waits until every cache lists every acknowledged upload, then verifies the MD5 of each on the
//        repository and on every cache, and that nothing is served that was never attempted; prints
//        one JSON verdict
//   node chaos/client.ts get <url>                      prints {"status","body"} of one GET
//   node chaos/client.ts wait <url> [timeout-s]         until GET <url>/health answers 200
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { appendFileSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

const VALID_FROM = 1_700_000_000_000;
const VALID_UNTIL = 1_900_000_000_000;
/** One request may take this long (a repository killed mid-request never answers). */
const REQUEST_TIMEOUT_MS = 15_000;

export interface Attempt {
  readonly n: number;
  readonly id: string;
  readonly state: "sent" | "acked" | "refused" | "lost";
  readonly path?: string;
  readonly status?: number;
  readonly md5?: string;
  readonly size?: number;
  readonly reason?: string;
}

export function readAttempts(file: string): Attempt[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Attempt);
}

async function uploadOne(repository: string, path: string, n: number, size: number, out: string): Promise<Attempt> {
  const id = randomUUID();
  const payload = randomBytes(size);
  const md5 = createHash("md5").update(payload).digest("hex");
  appendFileSync(out, `${JSON.stringify({ n, id, state: "sent", path, size, md5 })}\n`);
  const form = new FormData();
  form.append("send", new Blob([payload]), `chaos-${n}.bin`);
  let record: Attempt;
  try {
    const response = await fetch(`${repository}/${path}/${VALID_FROM}/${VALID_UNTIL}/${id}/chaos=${n}`, { method: "POST", body: form, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    const text = await response.text();
    record =
      response.status === 201
        ? { n, id, state: "acked", path, status: 201, md5, size }
        : { n, id, state: "refused", path, status: response.status, md5, size, reason: text.slice(0, 300) };
  } catch (error) {
    // No answer: the repository may or may not have stored it.
    record = { n, id, state: "lost", path, md5, size, reason: (error as Error).message };
  }
  appendFileSync(out, `${JSON.stringify(record)}\n`);
  return record;
}

async function load(repository: string, prefix: string, hz: number, seconds: number, out: string, sizes: number[]): Promise<void> {
  let stop = false;
  process.once("SIGTERM", () => (stop = true));
  const start = Date.now();
  const period = 1000 / hz;
  const counts: Record<string, number> = {};
  for (let n = 0; !stop && Date.now() - start < seconds * 1000; n++) {
    const due = start + n * period;
    if (due > Date.now()) await sleep(due - Date.now());
    if (stop) break;
    const r = await uploadOne(repository, `${prefix}/O${n}`, n, sizes[n % sizes.length]!, out);
    counts[r.state] = (counts[r.state] ?? 0) + 1;
  }
  console.log(JSON.stringify({ load: counts }));
}

interface Listed {
  id: string;
  path: string;
}

async function listing(base: string, prefix: string): Promise<Listed[]> {
  const response = await fetch(`${base}/browse/${prefix}.*?Accept=application/json`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  if (response.status !== 200) throw new Error(`${base}/browse answered ${response.status}`);
  return ((await response.json()) as { objects: Listed[] }).objects;
}

async function md5Of(url: string): Promise<{ status: number; md5: string; size: number; source: string | null }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  const body = Buffer.from(await response.arrayBuffer());
  return { status: response.status, md5: createHash("md5").update(body).digest("hex"), size: body.length, source: response.headers.get("condcast-source") };
}

/** The verdict of one check: problems empty means the invariants hold. */
export interface Verdict {
  acked: number;
  lost: number;
  refused: number;
  repositoryHolds: number;
  cachesHold: number[];
  waitedMs: number;
  problems: string[];
}

async function check(attemptsFile: string, repository: string, prefix: string, timeoutS: number, caches: string[]): Promise<Verdict> {
  const attempts = readAttempts(attemptsFile);
  const final = new Map<string, Attempt>();
  for (const a of attempts) if (a.state !== "sent" || !final.has(a.id)) final.set(a.id, a);
  const acked = [...final.values()].filter((a) => a.state === "acked");
  const problems: string[] = [];
  const started = Date.now();
  // Every acknowledged upload must be listed (held) by the repository and every cache.
  const lists: Listed[][] = [];
  for (const base of [repository, ...caches]) {
    let held: Listed[] = [];
    let missing: Attempt[] = acked;
    for (;;) {
      try {
        held = await listing(base, prefix);
        const ids = new Set(held.map((o) => o.id));
        missing = acked.filter((a) => !ids.has(a.id));
      } catch (error) {
        missing = acked;
        if (Date.now() - started > timeoutS * 1000) problems.push(`${base}: ${(error as Error).message}`);
      }
      if (missing.length === 0 || Date.now() - started > timeoutS * 1000) break;
      await sleep(250);
    }
    for (const m of missing.slice(0, 5)) problems.push(`${base} does not hold acknowledged upload ${m.id} (#${m.n}, ${m.size} B)`);
    if (missing.length > 5) problems.push(`${base} lacks ${missing.length} acknowledged uploads in all`);
    lists.push(held);
  }
  const waitedMs = Date.now() - started;
  // Nothing served that was never attempted; nothing on a cache that the repository does not hold.
  const repositoryIds = new Set(lists[0]!.map((o) => o.id));
  for (const o of lists[0]!) {
    const a = final.get(o.id);
    if (a === undefined) problems.push(`the repository holds ${o.id}, which was never uploaded`);
    else if (a.state === "refused") problems.push(`the repository holds ${o.id}, whose upload was refused (${a.status})`);
  }
  caches.forEach((base, i) => {
    for (const o of lists[i + 1]!) if (!repositoryIds.has(o.id)) problems.push(`${base} serves ${o.id}, which the repository does not hold`);
  });
  // Byte for byte: every acknowledged upload on the repository and every cache; every object the
  // repository holds (acknowledged or lost in flight) matches what was sent.
  const byId = new Map([...final.values()].map((a) => [a.id, a]));
  for (const [i, base] of [repository, ...caches].entries()) {
    for (const o of lists[i]!) {
      const sent = byId.get(o.id);
      if (sent === undefined) continue;
      const got = await md5Of(`${base}/download/${o.id}`);
      if (got.status !== 200 || got.md5 !== sent.md5 || got.size !== sent.size) problems.push(`${base}/download/${o.id}: ${got.status}, ${got.size} B, md5 ${got.md5} (sent ${sent.size} B, ${sent.md5})`);
      else if (i > 0 && got.source === "upstream") problems.push(`${base} fetched ${o.id} for this check instead of holding it`);
    }
  }
  return {
    acked: acked.length,
    lost: [...final.values()].filter((a) => a.state === "lost").length,
    refused: [...final.values()].filter((a) => a.state === "refused").length,
    repositoryHolds: lists[0]!.length,
    cachesHold: lists.slice(1).map((l) => l.length),
    waitedMs,
    problems: problems.slice(0, 40),
  };
}

async function main(command: string | undefined, args: string[]): Promise<void> {
  switch (command) {
    case "load":
      return load(args[0]!, args[1]!, Number(args[2]), Number(args[3]), args[4]!, args[5]!.split(",").map(Number));
    case "upload":
      console.log(JSON.stringify(await uploadOne(args[0]!, args[1]!, Date.now(), Number(args[2]), args[3]!)));
      return;
    case "check":
      console.log(JSON.stringify(await check(args[0]!, args[1]!, args[2]!, Number(args[3]), args.slice(4))));
      return;
    case "get": {
      try {
        const response = await fetch(args[0]!, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
        console.log(JSON.stringify({ status: response.status, body: await response.text() }));
      } catch (error) {
        console.log(JSON.stringify({ status: 0, body: (error as Error).message }));
      }
      return;
    }
    case "wait": {
      const deadline = Date.now() + Number(args[1] ?? 30) * 1000;
      while (Date.now() < deadline) {
        try {
          if ((await fetch(`${args[0]!}/health`, { signal: AbortSignal.timeout(2000) })).ok) return;
        } catch {
          // not up yet
        }
        await sleep(100);
      }
      throw new Error(`${args[0]} did not answer /health`);
    }
  }
  throw new Error(`unknown command ${command}`);
}

main(process.argv[2], process.argv.slice(3)).catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
