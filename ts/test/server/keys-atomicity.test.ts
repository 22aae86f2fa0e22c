// Atomicity under load (SPEC 11): a writer commits changesets of 10 objects in a loop, each object
// carrying its generation in its metadata, while readers poll the repository and every cache. No
// answer may mix generations: an unpinned read's object is the generation of the key its
// Condcast-Key header names, and reads pinned to that key give the same generation for all 10 paths.
// (Multicast group 239.255.40.31, port 40661.)
import { FormData, request } from "undici";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { eventually, get, randomPayload, startCache, startRepository, tempDir, type Running } from "./helpers.js";

const MC = { group: "239.255.40.31", port: 40661 };
const PATHS = Array.from({ length: 10 }, (_, i) => `Atomic/Det${i}/Calib`);
const GENERATIONS = 12;

async function commitGeneration(repo: string, gen: number, validity: string): Promise<number> {
  const opened = await request(`${repo}/changesets`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ keytable: "online" }) });
  const { id } = (await opened.body.json()) as { id: string };
  for (const [i, path] of PATHS.entries()) {
    const form = new FormData();
    form.append("send", new Blob([randomPayload(1000 + 700 * i, gen * 100 + i)]), "calib.root");
    const r = await request(`${repo}/${path}/${validity}/gen=${gen}`, { method: "POST", body: form, headers: { "condcast-changeset": id } });
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
