// Start of run (issue 13 item 4): POST /runs/<run> records the run with the keytable's current key and
// multicasts every object of that key again. A cache that started after the commit and cannot reach
// its upstream holds the whole key from that multicast alone, and flips to it once the upstream is
// back without fetching one object. (Multicast group 239.255.40.44, UDP port 40791.)
import { createConnection, createServer, type Server as TcpServer } from "node:net";
import { FormData, request } from "undici";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { runRuns } from "../../src/cli/keys.js";
import { freePort, eventually, get, randomPayload, startCache, startRepository, tempDir, type Running } from "./helpers.js";

const MC = { group: "239.255.40.44", port: 40791 };
// Valid now: a cache evicts objects whose validity ended (after its grace) unless a key it holds pins them.
const T = Date.now();
const paths = ["Run/TPC/Gain", "Run/TPC/Drift", "Run/TRD/Calib", "Run/ITS/Noise"];

async function call(url: string, method: "GET" | "POST" = "GET", body?: unknown): Promise<{ status: number; body: any; headers: Record<string, unknown> }> {
  const r = await request(url, { method, headers: body === undefined ? {} : { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.body.text();
  return { status: r.statusCode, body: text.length > 0 ? JSON.parse(text) : undefined, headers: r.headers };
}

/** A plain TCP forwarder to the repository: the cache's upstream, down until it is started. */
function forwarder(port: number, target: URL): Promise<TcpServer> {
  const server = createServer((socket) => {
    const upstream = createConnection({ host: target.hostname, port: Number(target.port) });
    socket.pipe(upstream).pipe(socket);
    socket.on("error", () => upstream.destroy());
    upstream.on("error", () => socket.destroy());
  });
  return new Promise((resolve) => server.listen(port, "127.0.0.1", () => resolve(server)));
}

describe("start of run", () => {
  const dir = tempDir();
  let repo: Running;
  let cache: Running | undefined;
  let relay: TcpServer | undefined;
  const ids: string[] = [];
  const md5s = new Map<string, string>();

  beforeAll(async () => {
    repo = await startRepository(dir.dir, MC, { rate: 50_000_000 });
    const opened = await call(`${repo.url}/changesets`, "POST", { keytable: "online" });
    for (const [i, path] of paths.entries()) {
      const form = new FormData();
      const payload = randomPayload(100_000 + i * 50_000, 70 + i);
      form.append("send", new Blob([payload]), "object.root");
      const r = await request(`${repo.url}/${path}/${T - 1000}/${T + 86_400_000}`, { method: "POST", body: form, headers: { "condcast-changeset": opened.body.id } });
      expect(r.statusCode).toBe(201);
      await r.body.dump();
      const id = String(r.headers.etag).replaceAll('"', "");
      ids.push(id);
      md5s.set(path, (await import("node:crypto")).createHash("md5").update(payload).digest("hex"));
    }
    expect((await call(`${repo.url}/changesets/${opened.body.id}/commit`, "POST", {})).body.key).toBe(1);
  });

  afterAll(async () => {
    await cache?.server.close();
    relay?.close();
    await repo.server.close();
    dir.cleanup();
  });

  test("a cache started after the commit, its upstream down, holds the whole key from the run's multicast and flips without fetching an object", async () => {
    const relayPort = await freePort();
    cache = await startCache([`http://127.0.0.1:${relayPort}`], MC, {}, { intervalMs: 100, name: "late" });
    const store = cache.server.ctx.store;
    await new Promise((r) => setTimeout(r, 300));
    expect(ids.filter((id) => store.has(id))).toEqual([]); // it missed the objects

    const started = await call(`${repo.url}/runs/523897`, "POST", { keytable: "online" });
    expect(started.status).toBe(201);
    expect(started.headers.location).toBe("/runs/523897");
    expect(started.body).toMatchObject({ run: 523897, keytable: "online", key: 1, objects: 4 });
    await eventually(() => (ids.every((id) => store.has(id)) ? true : undefined), 10_000, "every object of the key held from multicast");
    const shown = await eventually(async () => {
      const r = await call(`${repo.url}/runs/523897`);
      return r.body.distribution === "sent" ? r.body : undefined;
    }, 10_000, "distribution sent");
    expect(shown).toMatchObject({ sentObjects: 4, bytes: [0, 1, 2, 3].reduce((s, i) => s + 100_000 + i * 50_000, 0) });

    // The change log names the re-sent objects under their new sequences.
    const log = await call(`${repo.url}/changes?since=0`);
    expect(log.body.changes.filter((c: { action: string; run?: number }) => c.action === "resent" && c.run === 523897).map((c: { id: string }) => c.id).sort()).toEqual([...ids].sort());

    relay = await forwarder(relayPort, new URL(repo.url));
    const key = await eventually(async () => {
      const r = await call(`${cache!.url}/keys/online`);
      return r.status === 200 ? r.body : undefined;
    }, 10_000, "the cache flipped to key 1");
    expect(key.key).toBe(1);
    const counters = cache.server.ctx.counters;
    expect(counters.fetched).toBe(0);
    const missesBefore = counters.misses;
    for (const path of paths) {
      const read = await get(`${cache.url}/${path}/${T}`, { "condcast-key": "online/1" });
      expect(read.status).toBe(200);
      expect(read.headers["condcast-key"]).toBe("online/1");
      expect((await import("node:crypto")).createHash("md5").update(read.body).digest("hex")).toBe(md5s.get(path));
    }
    expect(counters.misses).toBe(missesBefore);
    expect(counters.fetched).toBe(0);
    // The run's record says which of the caches that report hold its key.
    const holders = await eventually(async () => {
      const r = await call(`${repo.url}/runs/523897`);
      return r.body.caches?.held === 1 ? r.body.caches : undefined;
    }, 5000, "the run's key held by the reporting cache");
    expect(holders).toEqual({ caches: 1, held: 1, laggingCount: 0, lagging: [] });
  });

  test("a run starts once; an unknown keytable, a bad name or number are refused with a reason; a cache redirects", async () => {
    const again = await call(`${repo.url}/runs/523897`, "POST", { keytable: "online" });
    expect(again.status).toBe(409);
    expect(again.body.message).toMatch(/run 523897 was started at \d+ with online\/1/);
    expect((await call(`${repo.url}/runs/523898`, "POST", { keytable: "offline" })).status).toBe(404);
    expect((await call(`${repo.url}/runs/523898`, "POST", { keytable: "on/line" })).status).toBe(400);
    expect((await call(`${repo.url}/runs/523898`, "POST", { keytable: 7 })).status).toBe(400);
    expect((await call(`${repo.url}/runs/0`, "POST", { keytable: "online" })).status).toBe(400);
    expect((await call(`${repo.url}/runs/523899`)).status).toBe(404);
    const list = await call(`${repo.url}/runs`);
    expect(list.body.runs.map((r: { run: number }) => r.run)).toEqual([523897]);
    // The CLI prints the server's answers; a refusal exits with the reason.
    const lines: string[] = [];
    const out = new Writable({ write: (chunk, _e, done) => (lines.push(String(chunk)), done()) });
    expect(await runRuns(["show", "--url", repo.url, "--run", "523897"], {}, out)).toBe(0);
    expect(JSON.parse(lines.join(""))).toMatchObject({ run: 523897, key: 1 });
    await expect(runRuns(["start", "--url", repo.url, "--run", "523897", "--keytable", "online"], {}, out)).rejects.toThrow(/409.*run 523897 was started/);
    if (cache !== undefined) {
      const redirected = await request(`${cache.url}/runs/523897`, { method: "GET" });
      await redirected.body.dump();
      expect(redirected.statusCode).toBe(307);
    }
  });

  test("the run record survives a restart of the repository", async () => {
    await cache?.server.close();
    cache = undefined;
    relay?.close();
    relay = undefined;
    await repo.server.close();
    repo = await startRepository(dir.dir, MC);
    const r = await call(`${repo.url}/runs/523897`);
    expect(r.body).toMatchObject({ run: 523897, keytable: "online", key: 1, objects: 4, distribution: "unknown" });
  });
});
