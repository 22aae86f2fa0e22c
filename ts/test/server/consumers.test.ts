// Consumer declarations (issue 14 item 1, docs/KEYS.md "Consumers"): a local process declares on its
// cache the paths and <prefix>/* patterns it reads; the cache holds them before any read, flips to a key
// only holding the key's objects at declared paths, evicts them after undeclared ones, reports them; the
// repository aggregates the farm's declarations and a run can multicast only the declared objects.
// Real repository and caches on loopback. (Multicast group 239.255.40.46, UDP port 40841.)
import { Writable } from "node:stream";
import { FormData, request } from "undici";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { runConsumers } from "../../src/cli/consumers.js";
import type { KeySnapshot } from "../../src/server/keys/model.js";
import { buildReport, REPORT_LIMITS } from "../../src/server/farm/report.js";
import { eventually, freePort, get, randomPayload, startCache, startRepository, tempDir, upload, type Running } from "./helpers.js";

const MC = { group: "239.255.40.46", port: 40841 };
const T = Date.now();
const UNTIL = T + 86_400_000;

async function call(url: string, method: "GET" | "POST" | "PUT" | "DELETE" = "GET", body?: unknown): Promise<{ status: number; body: any }> {
  const r = await request(url, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await r.body.text();
  return { status: r.statusCode, body: text.length > 0 ? JSON.parse(text) : undefined };
}

async function put(base: string, path: string, size: number, seed: number, changeset?: string): Promise<string> {
  if (changeset === undefined) {
    const u = await upload(base, `/${path}/${T - 1000}/${UNTIL}`, randomPayload(size, seed));
    expect(u.status).toBe(201);
    return u.id;
  }
  const form = new FormData();
  form.append("send", new Blob([randomPayload(size, seed)]), "object.root");
  const r = await request(`${base}/${path}/${T - 1000}/${UNTIL}`, { method: "POST", body: form, headers: { "condcast-changeset": changeset } });
  expect(r.statusCode).toBe(201);
  await r.body.dump();
  return String(r.headers.etag).replaceAll('"', "");
}

/** Commits a changeset of `paths` (each a new object) in `keytable`; the object ids by path. */
async function commit(base: string, keytable: string, paths: readonly string[], seed: number): Promise<Map<string, string>> {
  const opened = await call(`${base}/changesets`, "POST", { keytable });
  expect(opened.status).toBe(201);
  const ids = new Map<string, string>();
  for (const [i, path] of paths.entries()) ids.set(path, await put(base, path, 20_000 + i * 1000, seed + i, opened.body.id));
  const committed = await call(`${base}/changesets/${opened.body.id}/commit`, "POST", {});
  expect(committed.status).toBe(200);
  return ids;
}

describe("consumer declarations", () => {
  const dir = tempDir();
  let repo: Running;
  const started: Running[] = [];
  const plain = new Map<string, string>();

  beforeAll(async () => {
    repo = await startRepository(dir.dir, MC, { rate: 50_000_000 });
    for (const [i, path] of ["Decl/A/one", "Decl/A/two", "Decl/P/x", "Decl/P/y/z", "Decl/PX/no", "Decl/Other", "Decl/Q+(1)/a"].entries()) plain.set(path, await put(repo.url, path, 30_000 + i * 100, 10 + i));
  });

  afterAll(async () => {
    for (const c of started) await c.server.close();
    await repo.server.close();
    dir.cleanup();
  });

  async function cache(...args: Parameters<typeof startCache>): Promise<Running> {
    const c = await startCache(...args);
    started.push(c);
    return c;
  }

  test("a cache that starts empty holds every declared object within 5 s without a read: the paths, and what /latest lists under the pattern", async () => {
    const c = await cache([repo.url], undefined);
    const store = c.server.ctx.store;
    expect(store.stats().objects).toBe(0);
    const declared = await call(`${c.url}/consumers/reco`, "PUT", { paths: ["Decl/A/one", "Decl/A/two"], patterns: ["Decl/P/*", "Decl/Q+(1)/*"], ttlMs: 60_000 });
    expect(declared.status).toBe(201);
    expect(declared.body).toMatchObject({ name: "reco", paths: ["Decl/A/one", "Decl/A/two"], patterns: ["Decl/P/*", "Decl/Q+(1)/*"], ttlMs: 60_000 });
    // A pattern's regular-expression characters are literal (escaped in the /latest listing it asks for).
    const wanted = ["Decl/A/one", "Decl/A/two", "Decl/P/x", "Decl/P/y/z", "Decl/Q+(1)/a"].map((p) => plain.get(p)!);
    await eventually(() => (wanted.every((id) => store.has(id)) ? true : undefined), 5000, "every declared object held");
    // Nothing read it, and nothing undeclared came along (Decl/PX is not under Decl/P/).
    expect(c.server.ctx.counters.misses).toBe(0);
    expect(store.has(plain.get("Decl/PX/no")!)).toBe(false);
    expect(store.has(plain.get("Decl/Other")!)).toBe(false);
    const view = await call(`${c.url}/consumers`);
    expect(view.status).toBe(200);
    expect(view.body).toMatchObject({
      role: "cache",
      paths: [
        { path: "Decl/A/one", consumers: 1, held: true },
        { path: "Decl/A/two", consumers: 1, held: true },
      ],
      patterns: [
        { pattern: "Decl/P/*", consumers: 1, held: true },
        { pattern: "Decl/Q+(1)/*", consumers: 1, held: true },
      ],
      allHeld: true,
    });
    expect(view.body.consumers[0]).toMatchObject({ name: "reco", ttlMs: 60_000 });
    expect(view.body.consumers[0].expiresInMs).toBeGreaterThan(50_000);
    // Renewing answers 200; a path with no object upstream is declared but not held.
    const renewed = await call(`${c.url}/consumers/reco`, "PUT", { paths: ["Decl/A/one", "Decl/A/two", "Decl/None"], patterns: ["Decl/P/*"], ttlMs: 60_000 });
    expect(renewed.status).toBe(200);
    const after = await call(`${c.url}/consumers`);
    expect(after.body.allHeld).toBe(false);
    expect(after.body.paths.find((p: { path: string }) => p.path === "Decl/None").held).toBe(false);
    expect((await call(`${c.url}/consumers/reco`, "DELETE")).status).toBe(204);
    expect((await call(`${c.url}/consumers`)).body).toMatchObject({ consumers: [], paths: [], patterns: [], allHeld: true });
  });

  test("a new key that changes a declared path is flipped to only once its object there is held (by commit and by key sync)", async () => {
    const flips: { cache: string; key: number; held: boolean }[] = [];
    /** Records, at each flip, whether the new key's object at the declared path is held. */
    const watch = (name: string, c: Running): void => {
      const service = c.server.cache!;
      const flip = service.keys.flip.bind(service.keys);
      service.keys.flip = (snapshot: KeySnapshot): boolean => {
        const entry = snapshot.entries.find((e) => e.path === "Keyed/declared");
        if (entry !== undefined) flips.push({ cache: name, key: snapshot.key, held: service.store.has(entry.id) });
        return flip(snapshot);
      };
    };
    const first = await commit(repo.url, "decl", ["Keyed/declared", "Keyed/other"], 100);
    const live = await cache([repo.url], MC);
    watch("live", live);
    expect((await call(`${live.url}/consumers/daq`, "PUT", { paths: ["Keyed/declared"], ttlMs: 60_000 })).status).toBe(201);
    await eventually(() => (live.server.cache!.keys.currentKey("decl") === 1 ? true : undefined), 5000, "the live cache on key 1");
    expect(live.server.ctx.store.has(first.get("Keyed/declared")!)).toBe(true);
    // Key 2 changes the declared path: the live cache hears its objects and its Commit.
    const second = await commit(repo.url, "decl", ["Keyed/declared"], 200);
    await eventually(() => (live.server.cache!.keys.currentKey("decl") === 2 ? true : undefined), 5000, "the live cache on key 2");
    expect(live.server.ctx.store.has(second.get("Keyed/declared")!)).toBe(true);
    // A cache that starts now syncs key 2 from the repository (GET /keys/decl) and flips once it holds it.
    const late = await cache([repo.url], MC);
    watch("late", late);
    expect((await call(`${late.url}/consumers/daq`, "PUT", { paths: ["Keyed/declared"], ttlMs: 60_000 })).status).toBe(201);
    await eventually(() => (late.server.cache!.keys.currentKey("decl") === 2 ? true : undefined), 5000, "the late cache on key 2");
    expect(flips.filter((f) => f.key === 2).map((f) => f.cache).sort()).toEqual(["late", "live"]);
    expect(flips.every((f) => f.held)).toBe(true);
    const read = await get(`${late.url}/Keyed/declared/${T}`);
    expect(read.status).toBe(200);
    expect(String(read.headers.etag).replaceAll('"', "")).toBe(second.get("Keyed/declared"));
  });

  test("under a small budget, undeclared objects are evicted first: the declared one stays", async () => {
    const ids = new Map<string, string>();
    for (const [i, path] of ["Budget/declared", "Budget/u1", "Budget/u2", "Budget/u3"].entries()) ids.set(path, await put(repo.url, path, 100_000, 50 + i));
    // 400 kB: the keys held (pinned, about 41 kB), the declared object and two undeclared ones fit; a third does not.
    const c = await cache([repo.url], undefined, { budgetBytes: 400_000 });
    const store = c.server.ctx.store;
    expect((await call(`${c.url}/consumers/hlt`, "PUT", { paths: ["Budget/declared"], ttlMs: 60_000 })).status).toBe(201);
    await eventually(() => (store.has(ids.get("Budget/declared")!) ? true : undefined), 5000, "the declared object held");
    // Three undeclared reads: the declared object is the least recently used when the third comes.
    for (const path of ["Budget/u1", "Budget/u2", "Budget/u3"]) expect((await get(`${c.url}/${path}/${T}`)).status).toBe(200);
    const status = (await call(`${c.url}/status`)).body;
    expect(status.evictions.evictedLru).toBe(1);
    expect(status.evictions.evictedLruDeclared).toBe(0);
    expect(store.has(ids.get("Budget/declared")!)).toBe(true);
    expect(store.has(ids.get("Budget/u1")!)).toBe(false);
    expect(store.has(ids.get("Budget/u3")!)).toBe(true);
    expect(status.bytes).toBeLessThanOrEqual(400_000);
  });

  test("the repository's view of the declarations is what the caches were told; a run with only: declared multicasts exactly those objects", async () => {
    const key = await commit(repo.url, "online", ["Run/TPC/Gain", "Run/TPC/Drift", "Run/TRD/Calib", "Run/ITS/Noise"], 300);
    const a = await cache([repo.url], MC, { consumerRefreshMs: 200 }, { intervalMs: 100, name: "farm-a" });
    const b = await cache([repo.url], MC, { consumerRefreshMs: 200 }, { intervalMs: 100, name: "farm-b" });
    expect((await call(`${a.url}/consumers/tpc`, "PUT", { paths: ["Run/TPC/Gain"], patterns: ["Run/TRD/*"], ttlMs: 60_000 })).status).toBe(201);
    expect((await call(`${b.url}/consumers/tpc`, "PUT", { paths: ["Run/TPC/Gain", "Run/None"], ttlMs: 60_000 })).status).toBe(201);
    const view = await eventually(async () => {
      const r = await call(`${repo.url}/consumers`);
      return r.body.caches === 2 && r.body.paths.find((p: { path: string }) => p.path === "Run/TPC/Gain")?.held === 2 && r.body.patterns[0]?.held === 1 ? r.body : undefined;
    }, 5000, "the repository sees both caches' declarations held");
    expect(view).toEqual({
      role: "repository",
      caches: 2,
      truncated: 0,
      allHeld: 1, // b declared Run/None, which has no object
      paths: [
        { path: "Run/None", caches: 1, held: 0 },
        { path: "Run/TPC/Gain", caches: 2, held: 2 },
      ],
      patterns: [{ pattern: "Run/TRD/*", caches: 1, held: 1 }],
      pathsTotal: 2,
      patternsTotal: 1,
    });
    const first = (await call(`${repo.url}/consumers?limit=1`)).body;
    expect([first.paths, first.pathsTotal]).toEqual([[{ path: "Run/None", caches: 1, held: 0 }], 2]);
    // The farm view shows each cache's part.
    const caches = (await call(`${repo.url}/caches`)).body.caches as { name: string; consumers: { pathsTotal: number; allHeld: boolean } }[];
    expect(caches.find((c) => c.name === "farm-a")?.consumers).toMatchObject({ declarations: 1, pathsTotal: 1, pathsHeld: 1, allHeld: true });

    // A cache that declares nothing and cannot reach its upstream receives what the run multicasts,
    // staged: the run's Commit names the whole key (SPEC 11.6), which it cannot complete, so it shows none.
    const deaf = await cache([`http://127.0.0.1:${await freePort()}`], MC);
    await new Promise((r) => setTimeout(r, 200));
    const run = await call(`${repo.url}/runs/777001`, "POST", { keytable: "online", only: "declared" });
    expect(run.status).toBe(201);
    expect(run.body).toMatchObject({ run: 777001, keytable: "online", only: "declared", objects: 2 });
    const sentIds = [key.get("Run/TPC/Gain")!, key.get("Run/TRD/Calib")!];
    const staged = async (): Promise<{ objects: number; bytes: number }> => ((await call(`${deaf.url}/status`)).body.staging as { objects: number; bytes: number });
    await eventually(async () => ((await staged()).objects === 2 ? true : undefined), 5000, "the declared objects multicast");
    const shown = await eventually(async () => {
      const r = await call(`${repo.url}/runs/777001`);
      return r.body.distribution === "sent" ? r.body : undefined;
    }, 5000, "distribution sent");
    expect(shown).toMatchObject({ sentObjects: 2, only: "declared", bytes: 20_000 + 22_000 });
    const log = await call(`${repo.url}/changes?since=0&limit=10000`);
    expect(log.body.changes.filter((c: { action: string; run?: number }) => c.action === "resent" && c.run === 777001).map((c: { id: string }) => c.id).sort()).toEqual([...sentIds].sort());
    await new Promise((r) => setTimeout(r, 300));
    expect(await staged()).toEqual({ objects: 2, bytes: 20_000 + 22_000, dropped: 0 });
    expect([...key.values()].filter((id) => deaf.server.ctx.store.has(id))).toEqual([]);
    // Without only, the whole key, as before.
    const all = await call(`${repo.url}/runs/777002`, "POST", { keytable: "online" });
    expect(all.body).toMatchObject({ only: "all", objects: 4 });
    expect((await call(`${repo.url}/runs/777003`, "POST", { keytable: "online", only: "some" })).status).toBe(400);
  });

  test("bad declarations are refused with a reason; the repository takes none; a declaration not renewed expires", async () => {
    const c = await cache([repo.url], undefined);
    const refused = async (name: string, body: unknown, pattern: RegExp): Promise<void> => {
      const r = await call(`${c.url}/consumers/${name}`, "PUT", body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.message).toMatch(pattern);
    };
    await refused("ok", { paths: ["A/*"], ttlMs: 5000 }, /has one of \*/);
    await refused("ok", { paths: ["A/123/B"], ttlMs: 5000 }, /all-digit element/);
    await refused("ok", { paths: ["A//B"], ttlMs: 5000 }, /empty element/);
    await refused("ok", { paths: ["A/../B"], ttlMs: 5000 }, /\. or \.\. element/);
    await refused("ok", { patterns: ["Decl/P/*"], paths: [], ttlMs: 5000, extra: 1 }, /additional/);
    await refused("ok", { patterns: ["A/B"], ttlMs: 5000 }, /not <path>\/\*/);
    await refused("ok", { paths: ["A/B"], ttlMs: 10 }, /ttlMs/);
    await refused("ok", { paths: ["A/B"] }, /ttlMs/);
    await refused("ok", { paths: "A/B", ttlMs: 5000 }, /paths/);
    await refused("ok", { paths: ["A/B"], ttlMs: 5000, path: "x" }, /additional/);
    await refused("ok", { ttlMs: 5000 }, /no path and no pattern/);
    await refused("ok", { paths: Array.from({ length: 257 }, (_, i) => `Many/p${i}`), ttlMs: 5000 }, /paths/);
    await refused("bad%20name", { paths: ["A/B"], ttlMs: 5000 }, /name/);
    expect((await call(`${c.url}/consumers/ok`, "PUT", "{not json")).status).toBe(400);
    expect((await call(`${c.url}/consumers/nobody`, "DELETE")).status).toBe(404);
    const onRepo = await call(`${repo.url}/consumers/x`, "PUT", { paths: ["A/B"], ttlMs: 5000 });
    expect(onRepo.status).toBe(404);
    expect(onRepo.body.message).toMatch(/on the cache/);
    expect((await call(`${c.url}/consumers`)).body.consumers).toEqual([]);
    // "__proto__" is a name in JSON: dropped (for every JSON body), the prototype untouched.
    const poisoned = await call(`${c.url}/consumers/proto`, "PUT", '{"__proto__":{"polluted":true},"paths":["Decl/Other"],"ttlMs":5000}');
    expect(poisoned.status).toBe(201);
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
    expect((await call(`${c.url}/consumers/proto`, "DELETE")).status).toBe(204);

    expect((await call(`${c.url}/consumers/brief`, "PUT", { paths: ["Decl/Other"], ttlMs: 1000 })).status).toBe(201);
    expect((await call(`${c.url}/consumers`)).body.consumers.map((d: { name: string }) => d.name)).toEqual(["brief"]);
    await eventually(() => (c.server.cache!.consumers.size === 0 ? true : undefined), 3000, "the declaration expired");
    const view = await call(`${c.url}/consumers`);
    expect(view.body).toMatchObject({ consumers: [], paths: [] });
  });

  test("the union is bounded (1024 paths, 409 beyond) and the report stays within its limit, the repository counting it truncated", async () => {
    const c = await cache([], undefined);
    // Quotes: twice as long in JSON. 8 declarations of 128 paths and 8 patterns (a body of 64 kB each).
    const long = (k: number, i: number): string => `Big/c${k}/p${i}/`.padEnd(250, '"');
    for (let k = 0; k < 8; k++) {
      const r = await call(`${c.url}/consumers/big${k}`, "PUT", { paths: Array.from({ length: 128 }, (_, i) => long(k, i)), patterns: Array.from({ length: 8 }, (_, i) => `${`Big/c${k}/q${i}/`.padEnd(250, '"')}/*`), ttlMs: 60_000 });
      expect(r.status).toBe(201);
    }
    const full = await call(`${c.url}/consumers/big8`, "PUT", { paths: [long(8, 0)], ttlMs: 60_000 });
    expect(full.status).toBe(409);
    expect(full.body.message).toMatch(/would number 1025 \(at most 1024\)/);
    const report = buildReport("big", 1000, c.server.cache!, c.server.ctx.counters, Date.now());
    const body = JSON.stringify(report);
    expect(Buffer.byteLength(body)).toBeLessThanOrEqual(REPORT_LIMITS.bodyBytes);
    expect(report.consumers).toMatchObject({ declarations: 8, pathsTotal: 1024, patternsTotal: 64, pathsHeld: 0, allHeld: false });
    expect(report.consumers!.patterns.length + report.consumers!.paths.length).toBeLessThan(1024 + 64);
    const posted = await request(`${repo.url}/caches/report`, { method: "POST", headers: { "content-type": "application/json" }, body });
    await posted.body.dump();
    expect(posted.statusCode).toBe(204);
    expect((await call(`${repo.url}/consumers`)).body).toMatchObject({ truncated: 1 });
  });

  test("condcast consumers declare, list and leave", async () => {
    const c = await cache([repo.url], undefined);
    const lines: string[] = [];
    const out = new Writable({ write: (chunk, _e, done) => (lines.push(String(chunk)), done()) });
    expect(await runConsumers(["declare", "--url", c.url, "--name", "cli", "--path", "Decl/A/one", "--pattern", "Decl/P/*", "--ttl", "30000"], {}, out)).toBe(0);
    expect(JSON.parse(lines.pop()!)).toMatchObject({ name: "cli", paths: ["Decl/A/one"], patterns: ["Decl/P/*"], ttlMs: 30_000 });
    expect(await runConsumers(["list", "--url", c.url], {}, out)).toBe(0);
    expect(JSON.parse(lines.pop()!).consumers.map((d: { name: string }) => d.name)).toEqual(["cli"]);
    expect(await runConsumers(["leave", "--url", c.url, "--name", "cli"], {}, out)).toBe(0);
    await expect(runConsumers(["leave", "--url", c.url, "--name", "cli"], {}, out)).rejects.toThrow(/404.*no consumer cli/);
    await expect(runConsumers(["declare", "--url", c.url, "--name", "cli", "--path", "A/*", "--ttl", "30000"], {}, out)).rejects.toThrow(/400/);
  });
});
