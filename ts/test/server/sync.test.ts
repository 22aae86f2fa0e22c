// Instances that share a prefix (issue 15, sync/): an owner and a mirror as real `condcast serve`
// processes (so that either can be SIGKILLed), the mirror's cache in-process, objects fed by
// `condcast produce`. Multicast groups 239.255.41.1 (owner) and 239.255.41.2 (mirror), UDP ports
// 41001 and 41002. The owner's outage lasts CONDCAST_SYNC_OUTAGE_MS (default 30000, as the issue asks; shorter for development).
// Under CONDCAST_TEST_STORE=pgs3 (make ts-test-pgs3) owner and mirror keep their stores in PostgreSQL + S3,
// each in a schema of its own (explicit flags: scripts/with-pg-s3.sh's CONDCAST_PG_URL would otherwise
// put every `serve` of the file in the one default schema), and two mirror replicas on one database
// take turns pulling.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { FormData, request } from "undici";
import { signIssuerToken, startIssuer } from "../../src/server/auth/issuer.js";
import { afterAll, afterEach, describe, expect, test } from "vitest";
import { CLI, ServeProcess, TEST_STORE, eventually, keepLog, pgServeFlags, freePort, startCache, tempDir, type Running } from "./helpers.js";

const OUTAGE_MS = Number(process.env.CONDCAST_SYNC_OUTAGE_MS ?? 30_000);
const OWNER_MC = { group: "239.255.41.1", port: 41001 };
const MIRROR_MC = { group: "239.255.41.2", port: 41002 };
const PATHS = Array.from({ length: 5 }, (_, i) => `Shared/Det${i}/Calib`).join(",");

/** An instance's repository: `condcast serve --instance FILE` on its own multicast group (`store` flags: PostgreSQL + S3). */
function instance(name: string, dataDir: string, port: number, multicast: { group: string; port: number }, configFile: string, store: readonly string[] = []): ServeProcess {
  return new ServeProcess(name, dataDir, port, ["--instance", configFile, "--group", multicast.group, "--port", String(multicast.port), "--interface", "127.0.0.1", "--heartbeat-interval", "100", "--log-level", "warn", ...store]);
}


async function json(url: string): Promise<any> {
  const r = await request(url, { headers: { accept: "application/json" } });
  const text = await r.body.text();
  if (r.statusCode !== 200) throw new Error(`${url}: ${r.statusCode} ${text}`);
  return JSON.parse(text);
}

/** What must be equal at the owner and a mirror: the objects under the prefix, as the listing shows them. */
async function namespace(base: string, prefix = "Shared", query = ""): Promise<any[]> {
  const listing = await json(`${base}/browse/${prefix}/.*${query}`);
  return (listing.objects as any[])
    .map((o) => {
      const { lastModified: _a, "Last-Modified": _b, replicas: _c, ...rest } = o;
      return rest;
    })
    .sort((a, b) => (a.id < b.id ? -1 : 1));
}

/** The fields a cache's listing shares with the repository's. */
function core(objects: any[]): any[] {
  return objects.map((o) => ({ id: o.id, path: o.path, validFrom: o.validFrom, validUntil: o.validUntil, initialValidity: o.initialValidity, MD5: o.MD5, size: o.size, createTime: o.createTime, quality: o.quality, producer: o.producer, seq: o.seq }));
}

function produce(target: string, ...args: string[]): Promise<{ code: number; summary: any; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, "produce", "--target", target, "--paths", PATHS, "--sizes", "100-20k", ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("exit", (code) => resolve({ code: code ?? 1, summary: out.trim() === "" ? undefined : JSON.parse(out.trim().split("\n").pop()!), stderr: err }));
  });
}

async function mirrorState(mirror: ServeProcess): Promise<any> {
  return (await json(`${mirror.url}/instances`)).mirrors[0];
}

/** Resolves once the mirror has applied everything the owner has. */
async function caughtUp(owner: ServeProcess, mirror: ServeProcess, ms = 30_000): Promise<void> {
  await eventually(async () => {
    const last = (await json(`${owner.url}/status`)).lastSequence as number;
    const m = await mirrorState(mirror).catch(() => undefined);
    return m !== undefined && m.appliedSequence >= last && m.lagChanges === 0 ? true : undefined;
  }, ms, "the mirror caught up");
}

describe("sync: a mirror of a prefix pulled from its owner", () => {
  const dirs: { cleanup: () => void }[] = [];
  const instances: ServeProcess[] = [];
  const caches: Running[] = [];

  afterEach(async ({ task }) => {
    for (const c of caches.splice(0)) await c.server.close();
    const failed = task.result?.state === "fail";
    for (const i of instances.splice(0)) {
      await i.kill();
      // A failing case leaves its instances' logs behind, and says where.
      if (failed) console.error(`sync.test: ${i.name}'s log of the failed case: ${keepLog(task.name, i)}`);
    }
  });
  afterAll(() => dirs.forEach((d) => d.cleanup()));

  async function pair(pollMs = 100, tokenFile?: string): Promise<{ owner: ServeProcess; mirror: ServeProcess }> {
    const d = tempDir();
    dirs.push(d);
    const [ownerPort, mirrorPort] = [await freePort(), await freePort()];
    const ownerFile = join(d.dir, "alpha.json");
    const mirrorFile = join(d.dir, "beta.json");
    writeFileSync(ownerFile, JSON.stringify({ name: "alpha", owns: ["Shared", "Private"], peers: [{ name: "beta", url: `http://127.0.0.1:${mirrorPort}`, owns: ["Beta"] }] }));
    writeFileSync(mirrorFile, JSON.stringify({ name: "beta", owns: ["Beta"], peers: [{ name: "alpha", url: `http://127.0.0.1:${ownerPort}`, owns: ["Shared", "Private"], ...(tokenFile !== undefined ? { tokenFile } : {}) }], mirrors: [{ prefix: "Shared", from: "alpha" }], pollMs, maxBackoffMs: 500 }));
    const owner = instance("alpha", join(d.dir, "alpha"), ownerPort, OWNER_MC, ownerFile, TEST_STORE === "pgs3" ? pgServeFlags("s_alpha") : []);
    const mirror = instance("beta", join(d.dir, "beta"), mirrorPort, MIRROR_MC, mirrorFile, TEST_STORE === "pgs3" ? pgServeFlags("s_beta") : []);
    instances.push(owner, mirror);
    return { owner, mirror };
  }

  test("after the producer stops, the mirror and its cache hold exactly the owner's namespace (ids, MD5, validity, metadata, deletes)", async () => {
    const { owner, mirror } = await pair();
    await owner.start();
    // History before the mirror exists: back-filled on its first sync.
    const before = await produce(owner.url, "--count", "20", "--rate", "200", "--update-every", "3", "--delete-every", "4", "--seed", "1");
    expect(before.code, before.stderr).toBe(0);
    // The cache listens before the mirror starts: it takes the back-fill by multicast too.
    const cache = await startCache([mirror.url], MIRROR_MC);
    caches.push(cache);
    await mirror.start();
    const plain = produce(owner.url, "--count", "30", "--rate", "60", "--update-every", "4", "--delete-every", "5", "--seed", "2");
    const sets = produce(owner.url, "--count", "15", "--rate", "60", "--changeset-size", "5", "--seed", "3", "--paths", "Shared/Set/A,Shared/Set/B,Shared/Set/C,Shared/Set/D,Shared/Set/E");
    for (const run of await Promise.all([plain, sets])) expect(run.code, run.stderr).toBe(0);
    await produce(owner.url, "--count", "5", "--rate", "100", "--paths", "Private/Only/Here");
    await caughtUp(owner, mirror);
    const ownerNs = await namespace(owner.url);
    expect(ownerNs.length).toBeGreaterThan(40);
    expect(ownerNs.some((o) => o.quality === "checked")).toBe(true); // validity changes happened
    expect(await namespace(mirror.url)).toEqual(ownerNs);
    // Outside the prefix nothing is mirrored; deletes left nothing behind.
    expect((await json(`${mirror.url}/browse/Private/.*`)).objects).toEqual([]);
    expect((await mirrorState(mirror)).applied.deletes + before.summary.deletes).toBeGreaterThan(0);
    let atCache: any[] = [];
    await eventually(async () => {
      atCache = core(await namespace(cache.url));
      return JSON.stringify(atCache) === JSON.stringify(core(ownerNs)) ? true : undefined;
    }, 15_000, "the mirror's cache holds the same objects").catch(() => expect(atCache).toEqual(core(ownerNs)));
    // Payloads at the cache are the owner's bytes.
    for (const o of ownerNs.slice(0, 10)) {
      const r = await request(`${cache.url}/download/${o.id}`);
      expect(createHash("md5").update(Buffer.from(await r.body.arrayBuffer())).digest("hex")).toBe(o.MD5);
    }
    const keysOwner = await json(`${owner.url}/keys/synthetic/3`);
    const keysMirror = await json(`${mirror.url}/keys/synthetic/3`);
    expect(keysMirror.entries).toEqual(keysOwner.entries);
  }, 120_000);

  test("a mirror SIGKILLed mid-sync resumes with no gap and no duplicate", async () => {
    const { owner, mirror } = await pair(50);
    await owner.start();
    const fed = await produce(owner.url, "--count", "300", "--rate", "1000", "--sizes", "20k-60k", "--update-every", "7", "--delete-every", "9", "--changeset-size", "0");
    expect(fed.code, fed.stderr).toBe(0);
    const last = (await json(`${owner.url}/status`)).lastSequence as number;
    let kills = 0;
    for (let round = 0; round < 3; round++) {
      await mirror.start();
      const applied = await eventually(async () => {
        const m = await mirrorState(mirror);
        return m.appliedSequence > 0 ? m.appliedSequence : undefined;
      }, 20_000, "the mirror applied something");
      if (applied >= last) break;
      await new Promise((r) => setTimeout(r, 30 + round * 40));
      await mirror.kill("SIGKILL");
      kills++;
    }
    expect(kills).toBeGreaterThan(0);
    if ((await request(`${mirror.url}/health`).catch(() => undefined)) === undefined) await mirror.start();
    await caughtUp(owner, mirror, 60_000);
    expect(await namespace(mirror.url)).toEqual(await namespace(owner.url));
    // No duplicate: every owner object was stored once at the mirror (its own change log says so).
    const uploads = ((await json(`${mirror.url}/changes?since=0&limit=10000`)).changes as any[]).filter((c) => c.action === "uploaded").map((c) => c.id);
    expect(new Set(uploads).size).toBe(uploads.length);
  }, 180_000);

  test(`the owner down for ${OUTAGE_MS} ms: the mirror keeps serving, retries, and catches up afterwards`, async () => {
    const { owner, mirror } = await pair();
    await owner.start();
    await mirror.start();
    const cache = await startCache([mirror.url], MIRROR_MC);
    caches.push(cache);
    expect((await produce(owner.url, "--count", "10", "--rate", "100")).code).toBe(0);
    await caughtUp(owner, mirror);
    const held = await namespace(mirror.url);
    await owner.kill("SIGKILL");
    const deadline = Date.now() + OUTAGE_MS;
    while (Date.now() < deadline) {
      const o = held[Math.floor(Math.random() * held.length)];
      for (const base of [mirror.url, cache.url]) {
        const r = await request(`${base}/${o.path}/${o.validFrom}`);
        await r.body.dump();
        expect(r.statusCode, base).toBe(200);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const down = await mirrorState(mirror);
    expect(down.ownerReachable).toBe(false);
    expect(down.lastError).toMatch(/./);
    await owner.start();
    expect((await produce(owner.url, "--count", "10", "--rate", "100", "--seed", "9")).code).toBe(0);
    await caughtUp(owner, mirror, 30_000);
    expect(await namespace(mirror.url)).toEqual(await namespace(owner.url));
    expect((await mirrorState(mirror)).ownerReachable).toBe(true);
  }, 120_000);

  test("a mirrored changeset is never seen half-applied at the mirror or its cache", async () => {
    const { owner, mirror } = await pair(20);
    await owner.start();
    await mirror.start();
    const cache = await startCache([mirror.url], MIRROR_MC);
    caches.push(cache);
    const feeding = produce(owner.url, "--count", "100", "--rate", "50", "--changeset-size", "5", "--sizes", "5k-40k");
    let done = false;
    const reads = { mirror: 0, cache: 0 };
    const mixed: string[] = [];
    const poll = async (base: string, who: "mirror" | "cache"): Promise<void> => {
      while (!done) {
        const objects = (await json(`${base}/latest/Shared/.*`)).objects as any[];
        // Objects of one changeset carry consecutive seq numbers 5c..5c+4: one c per read, or a mix.
        const sets = new Set(objects.map((o) => Math.floor(Number(o.seq) / 5)));
        if (objects.length > 0 && (objects.length !== 5 || sets.size !== 1)) mixed.push(`${who}: ${objects.map((o) => `${o.path}@${o.seq}`).join(" ")}`);
        reads[who]++;
      }
    };
    const polling = Promise.all([poll(mirror.url, "mirror"), poll(cache.url, "cache")]);
    expect((await feeding).code).toBe(0);
    await caughtUp(owner, mirror);
    await new Promise((r) => setTimeout(r, 300));
    done = true;
    await polling;
    expect(mixed.slice(0, 5)).toEqual([]);
    expect(reads.mirror).toBeGreaterThan(50);
    expect(reads.cache).toBeGreaterThan(50);
    expect((await mirrorState(mirror)).applied.changesets).toBe(20);
  }, 120_000);

  test("a changeset whose object's validity changed at the owner before the mirror applied it reaches the mirror's cache with the initial validity and the new one", async () => {
    const { owner, mirror } = await pair(50);
    await owner.start();
    await mirror.start();
    const cache = await startCache([mirror.url], MIRROR_MC);
    caches.push(cache);
    const validFrom = 1_800_000_000_000;
    const opened = await request(`${owner.url}/changesets`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ keytable: "late" }) });
    const changeset = ((await opened.body.json()) as { id: string }).id;
    const form = new FormData();
    form.append("send", new Blob([Buffer.alloc(3000, 7)]), "calib.bin");
    const staged = await request(`${owner.url}/Shared/Late/Calib/${validFrom}/${validFrom + 86_400_000}`, { method: "POST", body: form, headers: { "condcast-changeset": changeset } });
    await staged.body.dump();
    expect(staged.statusCode).toBe(201);
    // The mirror reads past the staged (still hidden) row, then stops: it never holds that row.
    await caughtUp(owner, mirror);
    await mirror.kill("SIGKILL");
    const committed = await request(`${owner.url}/changesets/${changeset}/commit`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(committed.statusCode, await committed.body.text()).toBe(200);
    const shortened = await request(`${owner.url}/Shared/Late/Calib/${validFrom}/${validFrom + 3_600_000}?quality=checked`, { method: "PUT" });
    await shortened.body.dump();
    expect(shortened.statusCode).toBeLessThan(300);
    await mirror.start();
    await caughtUp(owner, mirror);
    const [want] = await namespace(owner.url, "Shared/Late");
    expect(want.validUntil).toBe(validFrom + 3_600_000);
    expect(want.initialValidity).toBe(validFrom + 86_400_000);
    expect(await namespace(mirror.url, "Shared/Late")).toEqual([want]);
    let atCache: any[] = [];
    await eventually(async () => {
      atCache = await namespace(cache.url, "Shared/Late");
      return atCache.length === 1 && atCache[0].validUntil === want.validUntil && atCache[0].quality === "checked" ? true : undefined;
    }, 10_000, "the mirror's cache holds the changed object").catch(() => expect(atCache).toEqual([want]));
    expect({ initialValidity: atCache[0].initialValidity, InitialValidityLimit: atCache[0].InitialValidityLimit }).toEqual({ initialValidity: want.initialValidity, InitialValidityLimit: want.InitialValidityLimit });
  }, 60_000);

  test("writes on a mirror reach the owner (307); a peer's namespace answers with ?instance=", async () => {
    const { owner, mirror } = await pair();
    await owner.start();
    await mirror.start();
    const form = new FormData();
    form.append("blob", new Blob([Buffer.from("from the mirror")]), "m.bin");
    const first = await request(`${mirror.url}/Shared/ViaMirror/1000/2000/who=beta`, { method: "POST", body: form });
    await first.body.dump();
    expect(first.statusCode).toBe(307);
    const location = String(first.headers.location);
    expect(location).toBe(`${owner.url}/Shared/ViaMirror/1000/2000/who=beta`);
    const again = new FormData();
    again.append("blob", new Blob([Buffer.from("from the mirror")]), "m.bin");
    const stored = await request(location, { method: "POST", body: again });
    await stored.body.dump();
    expect(stored.statusCode).toBe(201);
    // The write is the owner's, and comes back to the mirror by sync.
    expect((await json(`${owner.url}/browse/Shared/ViaMirror`)).objects).toHaveLength(1);
    await eventually(async () => ((await json(`${mirror.url}/browse/Shared/ViaMirror`)).objects.length === 1 ? true : undefined), 10_000, "the write mirrored back");
    const put = await request(`${mirror.url}/Shared/ViaMirror/1500/1800`, { method: "PUT" });
    expect(put.statusCode).toBe(307);
    const del = await request(`${mirror.url}/Shared/ViaMirror/1500`, { method: "DELETE" });
    expect(del.statusCode).toBe(307);
    // A peer's prefix the mirror does not mirror is redirected too; its own prefix is written locally.
    const priv = await request(`${mirror.url}/Private/X/1000`, { method: "POST", body: form });
    expect(priv.statusCode).toBe(307);
    const own = new FormData();
    own.append("blob", new Blob([Buffer.from("beta's own")]), "b.bin");
    const local = await request(`${mirror.url}/Beta/Own/1000`, { method: "POST", body: own });
    expect(local.statusCode).toBe(201);
    // Remote namespace query: the owner's Private listing, asked at the mirror, which holds none of it.
    expect((await produce(owner.url, "--count", "3", "--rate", "100", "--paths", "Private/Only/Here")).code).toBe(0);
    expect((await json(`${mirror.url}/latest/Private/.*`)).objects).toEqual([]);
    const remote = await request(`${mirror.url}/latest/Private/.*?instance=alpha`, { headers: { accept: "application/json" } });
    expect(remote.statusCode).toBe(200);
    expect(remote.headers["condcast-instance"]).toBe("alpha");
    const remoteObjects = (JSON.parse(await remote.body.text()) as any).objects;
    expect(remoteObjects.map((o: any) => o.id)).toEqual((await json(`${owner.url}/latest/Private/.*`)).objects.map((o: any) => o.id));
    expect(remoteObjects).toHaveLength(1);
    const browse = await json(`${mirror.url}/browse/Private/.*?instance=alpha`);
    expect(browse.objects).toHaveLength(3);
    const self = await json(`${mirror.url}/browse/Beta/.*?instance=beta`);
    expect(self.objects).toHaveLength(1);
    const unknown = await request(`${mirror.url}/browse/Private?instance=gamma`);
    expect(unknown.statusCode).toBe(404);
    expect(JSON.parse(await unknown.body.text()).message).toMatch(/gamma/);
    const view = await json(`${mirror.url}/instances`);
    expect(view.instance).toBe("beta");
    expect(view.mirrors[0]).toMatchObject({ prefix: "Shared", from: "alpha", lagChanges: 0 });
    expect(view.peers[0]).toMatchObject({ name: "alpha", owns: ["Shared", "Private"] });
  }, 60_000);
  test("a run started at the owner changes nothing at the mirror: its re-send is no new changeset", async () => {
    const { owner, mirror } = await pair();
    await owner.start();
    await mirror.start();
    const fed = await produce(owner.url, "--count", "10", "--rate", "200", "--changeset-size", "5", "--seed", "4");
    expect(fed.code, fed.stderr).toBe(0);
    await caughtUp(owner, mirror);
    // Both of produce's changesets counted. Once (in about six runs of the file on PostgreSQL) the mirror
    // read caught up with one still uncounted; mirror.ts now shows the old checkpoint while a change is
    // applied (applyingFrom), the likely cause, but 10 isolated runs did not reproduce it either way,
    // so the test still waits for the counters.
    const before = await eventually(async () => {
      const m = await mirrorState(mirror);
      return m.applied.changesets === 2 ? m : undefined;
    }, 15_000, "the mirror counted both changesets");
    const keyBefore = (await json(`${mirror.url}/keys/synthetic`)).key as number;
    expect(keyBefore).toBe((await json(`${owner.url}/keys/synthetic`)).key);
    const run = await request(`${owner.url}/runs/7`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ keytable: "synthetic" }) });
    expect(run.statusCode, await run.body.text()).toBe(201);
    await caughtUp(owner, mirror);
    expect((await mirrorState(mirror)).applied).toEqual(before.applied);
    expect((await json(`${mirror.url}/keys/synthetic`)).key).toBe(keyBefore);
  }, 60_000);

  test("cross-instance authorisation: the mirror reads an owner that wants tokens with its storage.read token, and nothing without one", async () => {
    const d = tempDir();
    dirs.push(d);
    const issuer = await startIssuer({ dir: join(d.dir, "issuer"), host: "127.0.0.1", port: 0 });
    try {
      const authFile = join(d.dir, "auth.json");
      writeFileSync(authFile, JSON.stringify({ issuers: [{ issuer: issuer.issuer, jwksUri: issuer.jwksUri, audience: ["alpha"], prefix: "/" }], reads: "token" }));
      const tokenFile = join(d.dir, "beta.token");
      const mint = (scope: string): Promise<string> => signIssuerToken(join(d.dir, "issuer"), { issuer: issuer.issuer, audience: "alpha", scope, ttlS: 600 });
      // First a token for another prefix only: the owner refuses the mirror's reads (403), nothing is applied.
      writeFileSync(tokenFile, await mint("storage.read:/Private"));
      const { owner, mirror } = await pair(100, tokenFile);
      owner.extraArgs = ["--auth", authFile];
      await owner.start();
      const writer = await mint("storage.create:/Shared storage.create:/Private");
      const upload = async (path: string): Promise<void> => {
        const f = new FormData();
        f.append("send", new Blob([Buffer.from(`gain table of ${path}`)]), "gain.root");
        const up = await request(`${owner.url}/${path}/1/999999999999`, { method: "POST", body: f, headers: { authorization: `Bearer ${writer}` } });
        expect(up.statusCode, await up.body.text()).toBe(201);
      };
      // Changes 1-2 and 4 under /Private, 3 under /Shared.
      await upload("Private/Det0/Secret");
      await upload("Private/Det1/Secret");
      await upload("Shared/Det0/Calib");
      await upload("Private/Det2/Secret");
      // A storage.read:/Shared token sees only /Shared's changes in the log, and how far it was looked.
      const sharedReader = await mint("storage.read:/Shared");
      const log = async (query: string): Promise<{ lastSequence: number; through: number; changes: { sequence: number; path: string }[] }> => {
        const r = await request(`${owner.url}/changes?${query}`, { headers: { authorization: `Bearer ${sharedReader}` } });
        expect(r.statusCode).toBe(200);
        return (await r.body.json()) as never;
      };
      const firstTwo = await log("since=0&limit=2");
      expect(firstTwo).toMatchObject({ lastSequence: 4, through: 2, changes: [] });
      const all = await log("since=0");
      expect(all.changes.map((c) => [c.sequence, c.path])).toEqual([[3, "Shared/Det0/Calib"]]);
      expect(all.through).toBe(4);
      const anonymous = await request(`${owner.url}/changes?since=0`);
      expect(anonymous.statusCode).toBe(401);
      await anonymous.body.dump();
      await mirror.start();
      const refused = await eventually(async () => {
        const m = await mirrorState(mirror);
        return m.lastError !== null ? m : undefined;
      }, 15_000, "the mirror reports the owner's refusal");
      expect(refused.lastError).toMatch(/403/);
      expect(refused.appliedSequence).toBe(0);
      expect((await json(`${mirror.url}/browse/Shared/.*`)).objects).toEqual([]);
      // The token renewed with storage.read on the prefix: the mirror picks the new file up and syncs.
      writeFileSync(tokenFile, await mint("storage.read:/Shared"));
      const status = await request(`${owner.url}/status`, { headers: { authorization: `Bearer ${await mint("storage.read:/")}` } });
      const last = ((await status.body.json()) as { lastSequence: number }).lastSequence;
      expect(last).toBeGreaterThan(0);
      await eventually(async () => {
        const m = await mirrorState(mirror);
        return m.appliedSequence >= last && m.lagChanges === 0 ? true : undefined;
      }, 30_000, "the mirror caught up with its renewed token");
      const ownerNs = ((await json(`${mirror.url}/browse/Shared/.*`)).objects as any[]).map((o) => o.id);
      expect(ownerNs).toHaveLength(1);
      expect((await json(`${mirror.url}/browse/Private/.*`)).objects).toEqual([]);
      expect((await mirrorState(mirror)).appliedSequence).toBe(4); // past the /Private change it was not shown
      expect((await mirrorState(mirror)).lastError).toBeNull();
    } finally {
      await issuer.close();
    }
  }, 90_000);

  test("shared upload with authorisation on both sides: a mirror redirects a write under the owner's prefix whatever its token, and the owner judges it", async () => {
    const d = tempDir();
    dirs.push(d);
    const ownerIssuer = await startIssuer({ dir: join(d.dir, "owner-issuer"), host: "127.0.0.1", port: 0 });
    const mirrorIssuer = await startIssuer({ dir: join(d.dir, "mirror-issuer"), host: "127.0.0.1", port: 0 });
    try {
      const authOf = (name: string, issuer: typeof ownerIssuer, audience: string): string => {
        const file = join(d.dir, `${name}-auth.json`);
        writeFileSync(file, JSON.stringify({ issuers: [{ issuer: issuer.issuer, jwksUri: issuer.jwksUri, audience, prefix: "/" }], reads: "open" }));
        return file;
      };
      const { owner, mirror } = await pair();
      owner.extraArgs = ["--auth", authOf("alpha", ownerIssuer, "alpha")];
      mirror.extraArgs = ["--auth", authOf("beta", mirrorIssuer, "beta")];
      await owner.start();
      await mirror.start();
      // A token of the owner's issuer, which the mirror does not trust.
      const ownerToken = await signIssuerToken(join(d.dir, "owner-issuer"), { issuer: ownerIssuer.issuer, audience: "alpha", scope: "storage.create:/Shared", ttlS: 600 });
      const body = (): FormData => {
        const f = new FormData();
        f.append("blob", new Blob([Buffer.from("shared upload")]), "s.bin");
        return f;
      };
      const auth = { authorization: `Bearer ${ownerToken}` };
      const at = await request(`${mirror.url}/Shared/Via/1000/2000`, { method: "POST", body: body(), headers: auth });
      await at.body.dump();
      expect(at.statusCode).toBe(307);
      const stored = await request(String(at.headers.location), { method: "POST", body: body(), headers: auth });
      expect(stored.statusCode, await stored.body.text()).toBe(201);
      // Without a token the owner refuses it, after the same redirect.
      const bare = await request(String(at.headers.location), { method: "POST", body: body() });
      expect(bare.statusCode).toBe(401);
      await bare.body.dump();
      // Under the mirror's own prefix the mirror judges the token: its issuer is not trusted here.
      const own = await request(`${mirror.url}/Beta/Own/1000`, { method: "POST", body: body(), headers: auth });
      expect(own.statusCode).toBe(401);
      expect(await own.body.text()).toMatch(/not trusted/);
      expect((await json(`${mirror.url}/browse/Beta/.*`)).objects).toEqual([]);
      await caughtUp(owner, mirror);
      expect((await json(`${mirror.url}/browse/Shared/Via`)).objects).toHaveLength(1);
    } finally {
      await ownerIssuer.close();
      await mirrorIssuer.close();
    }
  }, 90_000);

  test.skipIf(TEST_STORE !== "pgs3")("two mirror replicas on one PostgreSQL database: the leading one pulls; SIGKILLed mid-sync, the other takes over with no gap and no duplicate", async () => {
    const d = tempDir();
    dirs.push(d);
    const [ownerPort, port0, port1] = [await freePort(), await freePort(), await freePort()];
    const ownerFile = join(d.dir, "alpha.json");
    const mirrorFile = join(d.dir, "beta.json");
    writeFileSync(ownerFile, JSON.stringify({ name: "alpha", owns: ["Shared"], peers: [{ name: "beta", url: `http://127.0.0.1:${port0}`, owns: ["Beta"] }] }));
    writeFileSync(mirrorFile, JSON.stringify({ name: "beta", owns: ["Beta"], peers: [{ name: "alpha", url: `http://127.0.0.1:${ownerPort}`, owns: ["Shared"] }], mirrors: [{ prefix: "Shared", from: "alpha" }], pollMs: 50, maxBackoffMs: 500 }));
    const owner = instance("alpha", join(d.dir, "alpha"), ownerPort, OWNER_MC, ownerFile, pgServeFlags("s_alpha"));
    const store = pgServeFlags("s_replicas");
    const replicas = [port0, port1].map((p, i) => instance(`beta-${i}`, join(d.dir, `beta-${i}`), p, MIRROR_MC, mirrorFile, store));
    instances.push(owner, ...replicas);
    await owner.start();
    const fed = await produce(owner.url, "--count", "300", "--rate", "1000", "--sizes", "20k-60k", "--update-every", "7", "--delete-every", "9", "--changeset-size", "0");
    expect(fed.code, fed.stderr).toBe(0);
    const last = (await json(`${owner.url}/status`)).lastSequence as number;
    await Promise.all(replicas.map((r) => r.start()));
    // Exactly one replica pulls; the other shows the same checkpoint, replayed from the database.
    const leader = await eventually(async () => {
      const states = await Promise.all(replicas.map((r) => mirrorState(r)));
      if (states.filter((s) => s.pulling).length !== 1 || states.every((s) => s.appliedSequence === 0)) return undefined;
      return states[0].pulling ? 0 : 1;
    }, 20_000, "one replica pulls and has applied something");
    const follower = replicas[1 - leader]!;
    const seen = await eventually(async () => {
      const s = await mirrorState(follower);
      return s.appliedSequence > 0 && !s.pulling ? s.appliedSequence : undefined;
    }, 10_000, "the follower shows the leader's checkpoint");
    expect(seen).toBeLessThanOrEqual(last);
    await replicas[leader]!.kill("SIGKILL");
    await eventually(async () => ((await mirrorState(follower)).pulling ? true : undefined), 15_000, "the other replica pulls once the leader is gone");
    await caughtUp(owner, follower, 60_000);
    expect(await namespace(follower.url)).toEqual(await namespace(owner.url));
    const uploads = ((await json(`${follower.url}/changes?since=0&limit=10000`)).changes as any[]).filter((c) => c.action === "uploaded").map((c) => c.id);
    expect(new Set(uploads).size).toBe(uploads.length);
    expect(uploads.length).toBeGreaterThan(0);
  }, 180_000);
});
