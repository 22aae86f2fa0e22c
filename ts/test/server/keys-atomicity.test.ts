// Atomicity under load (SPEC 11): a writer commits changesets of 10 objects in a loop, each object
// carrying its generation in its metadata, while readers poll the repository and every cache. No
// answer may mix generations: an unpinned read's object is the generation of the key its
// Condcast-Key header names, and reads pinned to that key give the same generation for all 10 paths.
// (Multicast group 239.255.40.31, port 40661.)
// A miss answered upstream under an older key than the cache flipped to while it waited is answered
// under the key it belongs to (the chaos suite's restarted cache once answered generation 25 under 26).
import { createServer, request as httpRequest, type IncomingMessage, type Server } from "node:http";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { multipartUpload } from "../../src/server/http/multipart-upload.js";
import { eventually, get, randomPayload, startCache, startRepository, tempDir, type Running } from "./helpers.js";

const MC = { group: "239.255.40.31", port: 40661 };
const PATHS = Array.from({ length: 10 }, (_, i) => `Atomic/Det${i}/Calib`);
const GENERATIONS = 12;

async function commitGeneration(repo: string, gen: number, validity: string): Promise<number> {
  const opened = await request(`${repo}/changesets`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ keytable: "online" }) });
  const { id } = (await opened.body.json()) as { id: string };
  for (const [i, path] of PATHS.entries()) {
    const form = multipartUpload("send", "calib.root", randomPayload(1000 + 700 * i, gen * 100 + i));
    const r = await request(`${repo}/${path}/${validity}/gen=${gen}`, { method: "POST", body: form.body, headers: { "content-type": form.contentType, "condcast-changeset": id } });
    await r.body.dump();
    if (r.statusCode !== 201) throw new Error(`upload answered ${r.statusCode}`);
  }
  const done = await request(`${repo}/changesets/${id}/commit`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
  return ((await done.body.json()) as { key: number }).key;
}

describe("keys: atomicity under load", () => {
  const tmp = tempDir();
  let repo: Running;
  let caches: Running[];
  beforeAll(async () => {
    repo = await startRepository(tmp.dir, MC, { fecParity: 0.05 });
    caches = [await startCache([repo.url], MC), await startCache([repo.url], MC)];
  });
  afterAll(async () => {
    for (const c of caches) await c.server.close();
    await repo.server.close();
    tmp.cleanup();
  });

  test(`${GENERATIONS} generations of 10 objects: no reader sees two generations under one key`, async () => {
    const T = Date.now();
    const validity = `${T - 1000}/${T + 3_600_000}`;
    const generationOfKey = new Map<number, number>();
    const problems: string[] = [];
    const seenKeys = new Set<string>();
    let reads = 0;
    let writing = true;

    const reader = async (base: string): Promise<void> => {
      while (writing) {
        // Ten concurrent unpinned reads: each answer's generation must be its own key's.
        const answers = await Promise.all(PATHS.map((p) => get(`${base}/${p}/${T}`)));
        let key: string | undefined;
        for (const [i, a] of answers.entries()) {
          if (a.status === 404) continue; // before the first key
          reads++;
          const header = String(a.headers["condcast-key"] ?? "");
          const k = Number(/online\/(\d+)/.exec(header)?.[1] ?? 0);
          const gen = Number(a.headers.gen);
          seenKeys.add(`${base} ${k}`);
          // A fresh repository: generation g is key g (checked against the commits' answers below).
          const expected = generationOfKey.get(k) ?? k;
          if (gen !== expected) problems.push(`${base} ${PATHS[i]}: generation ${gen} answered under key ${k} (generation ${expected})`);
          key ??= header.match(/online\/\d+/)?.[0];
        }
        if (key === undefined) continue;
        // All ten pinned to that key: one generation.
        const pinned = await Promise.all(PATHS.map((p) => get(`${base}/${p}/${T}`, { "condcast-key": key! })));
        const gens = new Set(pinned.map((a) => a.headers.gen));
        if (pinned.some((a) => a.status !== 200)) problems.push(`${base}: pinned to ${key}: ${pinned.map((a) => a.status).join(",")}`);
        if (gens.size !== 1) problems.push(`${base}: pinned to ${key}: generations ${[...gens].join(",")}`);
      }
    };

    const readers = [repo.url, ...caches.map((c) => c.url)].map((base) => reader(base));
    for (let gen = 1; gen <= GENERATIONS; gen++) generationOfKey.set(await commitGeneration(repo.url, gen, validity), gen);
    // Every cache ends on the last key.
    for (const c of caches) await eventually(async () => (JSON.parse((await get(`${c.url}/keys/online`)).body.toString()).key === GENERATIONS ? true : undefined), 10_000, "the last key");
    writing = false;
    await Promise.all(readers);
    expect([...generationOfKey]).toEqual(Array.from({ length: GENERATIONS }, (_, i) => [i + 1, i + 1]));
    expect(problems).toEqual([]);
    expect(reads).toBeGreaterThan(100);
    // The readers saw the keys change on every server (the test could fail).
    for (const base of [repo.url, ...caches.map((c) => c.url)]) expect([...seenKeys].filter((k) => k.startsWith(`${base} `)).length, base).toBeGreaterThanOrEqual(3);
  });
});

const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "content-length", "host", "upgrade", "te", "trailer"]);
function endToEnd(headers: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined && !HOP_BY_HOP.has(k.toLowerCase())) out[k] = v;
  return out;
}

/** An HTTP relay to the repository that holds back the answers to GETs under one path until released. */
function holdingRelay(upstream: string, heldPath: string): { server: Server; url: () => string; held: () => number; release: () => void } {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let held = 0;
  const server = createServer((req, res) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const r = await new Promise<IncomingMessage>((resolve, reject) => {
        const out = httpRequest(`${upstream}${req.url}`, { method: req.method, headers: endToEnd(req.headers) }, resolve);
        out.on("error", reject);
        out.end(Buffer.concat(chunks));
      });
      const body = Buffer.concat(await Array.fromAsync(r as AsyncIterable<Buffer>));
      if (req.method === "GET" && req.url!.startsWith(`/${heldPath}/`)) {
        held++;
        await gate; // answered by the repository now, delivered later
      }
      res.writeHead(r.statusCode!, { ...endToEnd(r.headers), "content-length": String(body.length) });
      res.end(body);
    })().catch(() => res.destroy());
  });
  server.listen(0, "127.0.0.1");
  return { server, url: () => `http://127.0.0.1:${(server.address() as { port: number }).port}`, held: () => held, release };
}

describe("keys: a miss that outlives a flip", () => {
  const tmp = tempDir();
  let repo: Running;
  let cache: Running | undefined;
  let relay: ReturnType<typeof holdingRelay> | undefined;
  beforeAll(async () => {
    repo = await startRepository(tmp.dir, { group: "239.255.40.31", port: 40662 });
  });
  afterAll(async () => {
    relay?.release();
    await cache?.server.close();
    relay?.server.close();
    await repo.server.close();
    tmp.cleanup();
  });

  test("the answer agrees with the key it is answered under", async () => {
    const T = Date.now();
    const validity = `${T - 1000}/${T + 3_600_000}`;
    relay = holdingRelay(repo.url, PATHS[0]!);
    if (!relay.server.listening) await new Promise((r) => relay!.server.once("listening", r));
    // No multicast: the cache learns keys only from what its upstream answers.
    cache = await startCache([relay.url()], undefined);
    expect(await commitGeneration(repo.url, 1, validity)).toBe(1);
    // The miss reaches the repository while key 1 is current; its answer is held back.
    const slow = get(`${cache.url}/${PATHS[0]}/${T}`);
    await eventually(() => (relay!.held() === 1 ? true : undefined), 5000, "the first read held at the relay");
    expect(await commitGeneration(repo.url, 2, validity)).toBe(2);
    // Another path's miss names key 2: the cache flips to it, holding every object of key 2.
    const other = await get(`${cache.url}/${PATHS[1]}/${T}`);
    expect(other.headers["condcast-key"]).toBe("online/2");
    expect(other.headers.gen).toBe("2");
    relay.release();
    const answered = await slow;
    expect(answered.status).toBe(200);
    const key = Number(/online\/(\d+)/.exec(String(answered.headers["condcast-key"]))?.[1]);
    expect({ key, gen: Number(answered.headers.gen) }).toEqual({ key: 2, gen: 2 });
  });
});
