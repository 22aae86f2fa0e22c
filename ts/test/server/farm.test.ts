// Farm readiness (farm/): caches report to the repository, which keeps the farm view (GET /caches,
// GET /caches/keys) and holds a farm-wide commit's flip until the reporting caches hold the changeset.
// Real repository and caches on loopback multicast. (Multicast groups 239.255.40.4x, ports 40800-40849.)
import { FormData, request } from "undici";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { Writable } from "node:stream";
import { runCaches } from "../../src/cli/caches.js";
import { eventually, get, randomPayload, startCache, startRepository, tempDir, upload, type Running } from "./helpers.js";

const json = async (url: string): Promise<{ status: number; body: any }> => {
  const r = await get(url);
  return { status: r.status, body: r.body.length > 0 ? JSON.parse(r.body.toString()) : undefined };
};

async function post(url: string, body: unknown, contentType = "application/json"): Promise<{ status: number; body: any }> {
  const r = await request(url, { method: "POST", headers: { "content-type": contentType }, body: typeof body === "string" ? body : JSON.stringify(body) });
  const text = await r.body.text();
  return { status: r.statusCode, body: text.length > 0 ? JSON.parse(text) : undefined };
}

async function uploadInto(base: string, changeset: string, urlPath: string, payload: Buffer): Promise<string> {
  const form = new FormData();
  form.append("send", new Blob([payload]), "object.root");
  const r = await request(`${base}${urlPath}`, { method: "POST", body: form, headers: { "condcast-changeset": changeset } });
  const text = await r.body.text();
  expect(r.statusCode, text).toBe(201);
  return String(r.headers.etag ?? "").replaceAll('"', "");
}

const T = Date.now();
const validity = `${T - 1000}/${T + 3_600_000}`;

/** Opens a changeset of `online` and uploads `sizes.length` objects into it; returns its id and bytes. */
async function stage(repo: string, sizes: number[], seed: number): Promise<{ changeset: string; bytes: number }> {
  const opened = await post(`${repo}/changesets`, { keytable: "online" });
  expect(opened.status).toBe(201);
  for (const [i, size] of sizes.entries()) await uploadInto(repo, opened.body.id, `/Farm/P${i}/${validity}/seed=${seed}`, randomPayload(size, seed * 10 + i));
  return { changeset: opened.body.id, bytes: sizes.reduce((a, b) => a + b, 0) };
}

function validReport(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const counters = Object.fromEntries(["datagrams", "datagramsDropped", "objectsCompleted", "fecBlocksDecoded", "fecFragmentsRecovered", "repaired", "repairBytes", "repairFailures", "fetched", "gaps"].map((n) => [n, 0]));
  return { name, intervalMs: 2000, keys: [], objects: 0, bytes: 0, counters, heartbeatAgeMs: null, staged: [], ...extra };
}

describe("readiness reports and the farm view", () => {
  const MC = { group: "239.255.40.40", port: 40801 };
  const tmp = tempDir();
  let repo: Running;
  let a: Running;
  let b: Running;
  beforeAll(async () => {
    repo = await startRepository(tmp.dir, MC, { fecParity: 0, farm: { forgetAfterMs: 2000 } });
    a = await startCache([repo.url], MC, {}, { intervalMs: 150, name: "cache-a" });
    b = await startCache([repo.url], MC, {}, { intervalMs: 150, name: "cache-b" });
  });
  afterAll(async () => {
    await a.server.close();
    await b.server.close().catch(() => undefined);
    await repo.server.close();
    tmp.cleanup();
  });

  test("each cache's report matches what it holds: keys, objects, bytes, staged changesets", async () => {
    for (let i = 0; i < 3; i++) expect((await upload(repo.url, `/Farm/Plain${i}/${validity}`, randomPayload(5000 + i * 1000, i + 1))).status).toBe(201);
    const one = await stage(repo.url, [3000, 7000], 1);
    expect((await post(`${repo.url}/changesets/${one.changeset}/commit`, {})).status).toBe(200);
    const open = await stage(repo.url, [4000, 6000], 2);
    for (const c of [a, b]) await eventually(async () => ((await json(`${c.url}/keys/online`)).status === 200 ? true : undefined), 10_000, "the flip to key 1");

    // Once the caches are quiet, every figure of the view is the cache's own.
    await eventually(async () => {
      const view = (await json(`${repo.url}/caches`)).body;
      for (const [name, cache] of [["cache-a", a], ["cache-b", b]] as const) {
        const status = (await json(`${cache.url}/status`)).body;
        const entry = view.caches.find((c: { name: string }) => c.name === name);
        if (entry === undefined || entry.state !== "ok" || entry.objects !== status.objects || entry.bytes !== status.bytes) return undefined;
        if (JSON.stringify(entry.keys) !== JSON.stringify(status.keys.map((k: { keytable: string; key: number }) => ({ keytable: k.keytable, key: k.key })))) return undefined;
        if (JSON.stringify(entry.staged) !== JSON.stringify([{ changeset: open.changeset, objects: 2, bytes: open.bytes }])) return undefined;
        if (entry.counters.datagrams !== status.receiver.datagrams && entry.counters.datagrams < 10) return undefined;
      }
      return true;
    }, 10_000, "reports that match each cache's /status");
    const view = (await json(`${repo.url}/caches`)).body;
    expect(view.counts).toEqual({ ok: 2, stale: 0 });
    expect(view.caches.map((c: { name: string }) => c.name).sort()).toEqual(["cache-a", "cache-b"]);
    for (const c of view.caches) {
      expect(c).toMatchObject({ state: "ok", intervalMs: 150, keys: [{ keytable: "online", key: 1 }], objects: 5, bytes: 5000 + 6000 + 7000 + 3000 + 7000, address: "127.0.0.1" });
      expect(c.ageMs).toBeLessThan(1000);
      expect(c.heartbeatAgeMs).not.toBeNull();
      expect(c.heartbeatAgeMs).toBeLessThan(1000);
      expect(c.counters.objectsCompleted).toBeGreaterThanOrEqual(7);
      expect(c.reports).toBeGreaterThan(1);
    }

    const keys = (await json(`${repo.url}/caches/keys?keytable=online`)).body;
    expect(keys).toEqual({ keytables: [{ keytable: "online", key: 1, caches: 2, keys: [{ key: 1, held: 2 }], laggingCount: 0, lagging: [] }] });
    expect((await json(`${repo.url}/caches/keys?keytable=nothing`)).status).toBe(404);
    expect((await json(`${repo.url}/caches/keys?keytable=bad%20name`)).status).toBe(400);
    expect((await json(`${a.url}/caches`)).status).toBe(404); // the view is the repository's

    const metrics = (await get(`${repo.url}/metrics`)).body.toString();
    expect(metrics).toMatch(/condcast_farm_caches\{state="ok"\} 2/);
    // Every report the view counted (at least 2 per cache) is in the total (more may have come since).
    const counted = view.caches.reduce((sum: number, c: { reports: number }) => sum + c.reports, 0);
    expect(Number(/condcast_farm_reports_total (\d+)/.exec(metrics)![1])).toBeGreaterThanOrEqual(counted);

    let text = "";
    const out = new Writable({ write: (chunk, _e, done) => ((text += String(chunk)), done()) });
    expect(await runCaches(["--url", repo.url], {}, out)).toBe(0);
    expect(text).toMatch(/^NAME +STATE/);
    expect(text).toMatch(/cache-a +ok +\S+ +online\/1 +5 +28000/);
    expect(text).toMatch(/2 ok, 0 stale\n$/);
    text = "";
    expect(await runCaches(["--url", repo.url, "--keys"], {}, out)).toBe(0);
    expect(text).toMatch(/online +1 +2 +1:2 +0/);
  });

  test("a closed cache goes stale after 3 missed periods, then is forgotten", async () => {
    await b.server.close();
    const stale = await eventually(async () => {
      const e = (await json(`${repo.url}/caches`)).body.caches.find((c: { name: string }) => c.name === "cache-b");
      return e?.state === "stale" ? e : undefined;
    }, 5000, "cache-b stale");
    expect(stale.ageMs).toBeGreaterThan(3 * 150);
    expect((await json(`${repo.url}/caches?state=stale`)).body.caches.map((c: { name: string }) => c.name)).toEqual(["cache-b"]);
    expect((await json(`${repo.url}/caches/keys`)).body.keytables[0].caches).toBe(1); // stale caches are not counted
    await eventually(async () => ((await json(`${repo.url}/caches`)).body.caches.some((c: { name: string }) => c.name === "cache-b") ? undefined : true), 8000, "cache-b forgotten");
    expect(Date.now() - stale.lastReportAt).toBeGreaterThanOrEqual(2000); // --farm-forget after its last report
    const view = (await json(`${repo.url}/caches`)).body;
    expect(view.counts).toEqual({ ok: 1, stale: 0 });
    expect((await get(`${repo.url}/metrics`)).body.toString()).toMatch(/condcast_farm_caches_forgotten_total 1/);
  });
});

describe("bad reports and a bounded table", () => {
  const tmp = tempDir();
  let repo: Running;
  beforeAll(async () => {
    repo = await startRepository(tmp.dir, undefined, { farm: { maxCaches: 5 } });
  });
  afterAll(async () => {
    await repo.server.close();
    tmp.cleanup();
  });

  test("a malformed report is a 400 that says why, and changes nothing", async () => {
    const url = `${repo.url}/caches/report`;
    const cases: [unknown, RegExp][] = [
      ["{not json", /JSON/i],
      [{ ...validReport("x"), name: undefined }, /name/],
      [validReport("has space"), /name/],
      [validReport("x", { objects: "3" }), /objects/],
      [validReport("x", { objects: -1 }), /objects/],
      [validReport("x", { intervalMs: 10 }), /intervalMs/],
      [validReport("x", { keys: [{ keytable: "bad/table", key: 1 }] }), /keytable/],
      [validReport("x", { staged: [{ changeset: "not-a-uuid", objects: 1, bytes: 1 }] }), /changeset/],
      [validReport("x", { staged: Array.from({ length: 65 }, () => ({ changeset: "3f2504e0-4f89-11d3-9a0c-0305e82c3301", objects: 1, bytes: 1 })) }), /staged/],
      [validReport("x", { counters: { datagrams: 1 } }), /counters/],
      [[validReport("x")], /object/],
    ];
    for (const [body, why] of cases) {
      const r = await post(url, body);
      expect([JSON.stringify(body).slice(0, 80), r.status]).toEqual([JSON.stringify(body).slice(0, 80), 400]);
      expect(r.body.message).toMatch(why);
    }
    expect((await post(url, "name=x", "text/plain")).status).toBe(400);
    const huge = await post(url, validReport("x", { padding: "p".repeat(70_000) }));
    expect(huge.status).toBe(413);
    expect((await json(`${repo.url}/caches`)).body.total).toBe(0);
    expect((await get(`${repo.url}/metrics`)).body.toString()).toMatch(/condcast_farm_reports_rejected_total 1[01]\b/);
    // A sender's extra fields are accepted but not kept.
    expect((await post(url, validReport("x", { future: "field" }))).status).toBe(204);
    const entry = (await json(`${repo.url}/caches`)).body.caches[0];
    expect(entry.name).toBe("x");
    expect(entry).not.toHaveProperty("future");
    // "__proto__" is just a name in JSON: accepted, not kept, the prototype untouched.
    const poisoned = JSON.stringify(validReport("y")).replace(/^\{/, '{"__proto__":{"polluted":true},');
    expect((await post(url, poisoned)).status).toBe(204);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((await json(`${repo.url}/caches`)).body.caches[0]).not.toHaveProperty("polluted");
  });

  test("at most maxCaches are kept: the one silent longest is forgotten first", async () => {
    for (let i = 0; i < 8; i++) expect((await post(`${repo.url}/caches/report`, validReport(`c${i}`))).status).toBe(204);
    const names = async (): Promise<string[]> => (await json(`${repo.url}/caches`)).body.caches.map((c: { name: string }) => c.name);
    expect(await names()).toEqual(["c7", "c6", "c5", "c4", "c3"]); // newest report first
    expect((await post(`${repo.url}/caches/report`, validReport("c3"))).status).toBe(204); // reports again: now the newest
    expect((await post(`${repo.url}/caches/report`, validReport("c8"))).status).toBe(204);
    expect(await names()).toEqual(["c8", "c3", "c7", "c6", "c5"]);
    expect((await json(`${repo.url}/caches?limit=2`)).body).toMatchObject({ total: 5, maxCaches: 5 });
    expect((await json(`${repo.url}/caches?limit=2`)).body.caches).toHaveLength(2);
    expect((await json(`${repo.url}/caches`)).body.caches.find((c: { name: string }) => c.name === "c3").reports).toBe(2);
  });
});

describe("farm-wide commit", () => {
  const MC = { group: "239.255.40.41", port: 40811 };
  /** Cache "deaf" listens here, where nothing is sent: its multicast input is cut off. */
  const NOWHERE = { group: "239.255.40.42", port: 40821 };
  const tmp = tempDir();
  let repo: Running;
  let hearing: Running;
  let deaf: Running;
  beforeAll(async () => {
    repo = await startRepository(tmp.dir, MC, { fecParity: 0 });
    hearing = await startCache([repo.url], MC, {}, { intervalMs: 200, name: "hearing" });
    deaf = await startCache([repo.url], NOWHERE, {}, { intervalMs: 200, name: "deaf" });
    await eventually(async () => ((await json(`${repo.url}/caches`)).body.counts.ok === 2 ? true : undefined), 5000, "two caches reporting");
  });
  afterAll(async () => {
    await hearing.server.close();
    await deaf.server.close().catch(() => undefined);
    await repo.server.close();
    tmp.cleanup();
  });

  const heldBy = async (name: string, changeset: string): Promise<number> =>
    (await json(`${repo.url}/caches`)).body.caches.find((c: { name: string }) => c.name === name)?.staged.find((s: { changeset: string }) => s.changeset === changeset)?.objects ?? 0;

  test("bad farm settings are a 400", async () => {
    const { changeset } = await stage(repo.url, [100], 9);
    for (const body of [{ mode: "farm", share: 1.5 }, { mode: "farm", share: -0.1 }, { mode: "everywhere" }, { mode: "farm", timeoutMs: 1_000_000 }, { mode: "farm", share: "1" }]) {
      const r = await post(`${repo.url}/changesets/${changeset}/commit`, body);
      expect([body, r.status]).toEqual([body, 400]);
    }
    expect((await post(`${repo.url}/changesets/${changeset}/abort`, {})).status).toBe(200);
    expect((await post(`${repo.url}/changesets/${changeset}/commit`, { mode: "farm" })).status).toBe(409);
    expect((await post(`${repo.url}/changesets/3f2504e0-4f89-11d3-9a0c-0305e82c3301/commit`, { mode: "farm" })).status).toBe(404);
  });

  test("share 1 with one cache unable to hold the set: no flip anywhere until the timeout", async () => {
    const { changeset } = await stage(repo.url, [3000, 5000], 1);
    await eventually(async () => ((await heldBy("hearing", changeset)) === 2 ? true : undefined), 5000, "hearing reports the set held");
    const started = Date.now();
    const commit = post(`${repo.url}/changesets/${changeset}/commit`, { mode: "farm", share: 1, timeoutMs: 1500 });
    await new Promise((r) => setTimeout(r, 800));
    // Still waiting: neither the repository nor the cache that holds everything shows the key.
    expect((await json(`${hearing.url}/keys/online`)).status).toBe(404);
    expect((await json(`${repo.url}/keys/online`)).status).toBe(404);
    expect((await json(`${repo.url}/changesets/${changeset}`)).body.state).toBe("open");
    const answer = await commit;
    expect(answer.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
    expect(answer.body).toMatchObject({ keytable: "online", key: 1, farm: { reason: "timeout", held: 1, total: 2, share: 1 } });
    expect(answer.body.farm.waitedMs).toBeGreaterThanOrEqual(1500);
    // The Commit went out: the cache that held the set flips (by multicast, nothing fetched).
    await eventually(async () => ((await json(`${hearing.url}/keys/online`)).body?.key === 1 ? true : undefined), 5000, "hearing flips to key 1");
    expect((await json(`${hearing.url}/status`)).body.counters.fetched).toBe(0);
    expect((await json(`${deaf.url}/keys/online`)).status).toBe(404);
  });

  test("share 0.5: the Commit goes out once the one cache that can hold the set reports it", async () => {
    const { changeset } = await stage(repo.url, [2000, 4000, 6000], 2);
    const started = Date.now();
    const answer = await post(`${repo.url}/changesets/${changeset}/commit`, { mode: "farm", share: 0.5, timeoutMs: 20_000 });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ key: 2, farm: { reason: "share", held: 1, total: 2, share: 0.5 } });
    expect(Date.now() - started).toBeLessThan(10_000);
    // It went out because of hearing's report: the view says hearing held all three.
    expect(await heldBy("deaf", changeset)).toBe(0);
    await eventually(async () => ((await json(`${hearing.url}/keys/online`)).body?.key === 2 ? true : undefined), 5000, "hearing flips to key 2");
    const keys = (await json(`${repo.url}/caches/keys?keytable=online`)).body.keytables[0];
    await eventually(async () => ((await json(`${repo.url}/caches/keys?keytable=online`)).body.keytables[0].keys[0].held === 1 ? true : undefined), 5000, "the view shows key 2 held by one cache");
    expect(keys.key).toBe(2);
    expect((await json(`${repo.url}/caches/keys?keytable=online`)).body.keytables[0]).toMatchObject({ laggingCount: 1, lagging: [{ name: "deaf", key: 0 }] });
  });

  test("share 1 once the deaf cache is gone (stale): every cache that reports holds it, at once", async () => {
    await deaf.server.close();
    await eventually(async () => ((await json(`${repo.url}/caches`)).body.counts.stale === 1 ? true : undefined), 5000, "deaf stale");
    const { changeset } = await stage(repo.url, [1000], 3);
    const answer = await post(`${repo.url}/changesets/${changeset}/commit`, { mode: "farm", timeoutMs: 20_000 });
    expect(answer.body).toMatchObject({ key: 3, farm: { reason: "all", held: 1, total: 1, share: 1 } });
    await eventually(async () => ((await json(`${hearing.url}/keys/online`)).body?.key === 3 ? true : undefined), 5000, "hearing flips to key 3");
    expect((await get(`${repo.url}/metrics`)).body.toString()).toMatch(/condcast_farm_commits_total\{reason="all"\} 1/);
    // The immediate mode is unchanged: no wait, no farm field.
    const next = await stage(repo.url, [1000], 4);
    const immediate = await post(`${repo.url}/changesets/${next.changeset}/commit`, {});
    expect(immediate.body.key).toBe(4);
    expect(immediate.body).not.toHaveProperty("farm");
  });
});
