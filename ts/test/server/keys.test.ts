// Changesets and keys (SPEC 11) between a real repository and real caches on loopback multicast:
// invisible until the commit, all visible at once after it, numbered keys, pinned reads, diffs,
// waiting for the next key, aborts, conflicts. (Multicast groups 239.255.40.3x, ports 40650-40699.)
import { FormData, request } from "undici";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { runChangeset, runKeys } from "../../src/cli/keys.js";
import { eventually, get, randomPayload, startCache, startRepository, tempDir, upload, type Running } from "./helpers.js";

const MC = { group: "239.255.40.30", port: 40651 };
const json = async (url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any; headers: Record<string, unknown> }> => {
  const r = await get(url, headers);
  return { status: r.status, body: r.body.length > 0 ? JSON.parse(r.body.toString()) : undefined, headers: r.headers };
};

async function post(url: string, body: unknown, method: "POST" | "GET" = "POST"): Promise<{ status: number; body: any; headers: Record<string, unknown> }> {
  const r = await request(url, { method, headers: body === undefined ? {} : { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.body.text();
  return { status: r.statusCode, body: text.length > 0 ? JSON.parse(text) : undefined, headers: r.headers };
}

async function uploadInto(base: string, changeset: string, urlPath: string, payload: Buffer): Promise<{ status: number; id: string; text: string }> {
  const form = new FormData();
  form.append("send", new Blob([payload]), "object.root");
  const r = await request(`${base}${urlPath}`, { method: "POST", body: form, headers: { "condcast-changeset": changeset } });
  const text = await r.body.text();
  return { status: r.statusCode, id: String(r.headers.etag ?? "").replaceAll('"', ""), text };
}

describe("changesets and keys", () => {
  const tmp = tempDir();
  let repo: Running;
  let caches: Running[];
  const T = Date.now();
  const validity = `${T - 1000}/${T + 3_600_000}`;
  beforeAll(async () => {
    repo = await startRepository(tmp.dir, MC, { fecParity: 0 });
    caches = [await startCache([repo.url], MC), await startCache([repo.url], MC)];
  });
  afterAll(async () => {
    for (const c of caches) await c.server.close();
    await repo.server.close();
    tmp.cleanup();
  });

  /** Opens a changeset of `online`, uploads one object per path, returns its id and the object ids. */
  async function stage(paths: string[], seed: number): Promise<{ changeset: string; ids: string[] }> {
    const opened = await post(`${repo.url}/changesets`, { keytable: "online" });
    expect(opened.status).toBe(201);
    const ids: string[] = [];
    for (const [i, path] of paths.entries()) {
      const u = await uploadInto(repo.url, opened.body.id, `/${path}/${validity}/gen=${seed}`, randomPayload(2000 + i * 3000, seed * 100 + i));
      expect(u.status, u.text).toBe(201);
      ids.push(u.id);
    }
    return { changeset: opened.body.id, ids };
  }

  const paths = ["Keys/TPC/Gain", "Keys/TPC/Drift", "Keys/TRD/Calib"];

  test("nothing of an open changeset is visible anywhere; after the commit all of it is, as key 1, on the repository and every cache", async () => {
    const { changeset, ids } = await stage(paths, 1);
    // Invisible: timestamp reads, /latest, /browse, /download on the repository and the caches.
    for (const base of [repo.url, ...caches.map((c) => c.url)]) {
      expect((await get(`${base}/${paths[0]}/${T}`)).status, base).toBe(base === repo.url ? 404 : 404);
      expect((await json(`${base}/browse/Keys.*?Accept=application/json`)).body.objects).toEqual([]);
      expect((await json(`${base}/latest/Keys.*?Accept=application/json`)).body.objects).toEqual([]);
    }
    expect((await get(`${repo.url}/download/${ids[0]}`)).status).toBe(404);
    expect((await json(`${repo.url}/changes?since=0`)).body.changes).toEqual([]);
    expect((await json(`${repo.url}/changesets/${changeset}`)).body).toMatchObject({ state: "open", objects: ids.map((id, i) => ({ id, path: paths[i] })) });
    // The caches hold the objects staged, out of sight.
    for (const c of caches) await eventually(async () => ((await json(`${c.url}/status`)).body.staging.objects === 3 ? true : undefined), 5000, "staged on the cache");

    const committed = await post(`${repo.url}/changesets/${changeset}/commit`, {});
    expect(committed.status).toBe(200);
    expect(committed.body).toMatchObject({ keytable: "online", key: 1, parentKey: 0, changeset });
    expect(committed.body.entries.map((e: { path: string; id: string }) => [e.path, e.id])).toEqual(
      paths.map((p, i) => [p, ids[i]]).sort((a, b) => (a[0]! < b[0]! ? -1 : 1)),
    );
    expect((await json(`${repo.url}/keys`)).body.keytables).toEqual([expect.objectContaining({ keytable: "online", key: 1, objects: 3 })]);
    for (const c of caches) {
      await eventually(async () => ((await json(`${c.url}/keys/online`)).body?.key === 1 ? true : undefined), 5000, "the cache flipped to key 1");
      // All three visible at once, by multicast alone (nothing fetched).
      const status = (await json(`${c.url}/status`)).body;
      expect(status.objects).toBe(3);
      expect(status.counters.fetched).toBe(0);
      const read = await get(`${c.url}/${paths[1]}/${T}`);
      expect(read.status).toBe(200);
      expect(read.headers["condcast-key"]).toBe("online/1");
      // The Commit came in 3 copies (SPEC 4.5): one taken, two ignored; no drop, no ignored commit.
      const receiver = (await eventually(async () => {
        const r = (await json(`${c.url}/status`)).body.receiver;
        return r.commitCopies >= 2 ? r : undefined;
      }, 2000, "the Commit's copies")) as { commits: number; commitCopies: number; commitsIgnored: number; drops: Record<string, number> };
      expect([receiver.commits, receiver.commitCopies, receiver.commitsIgnored]).toEqual([1, 2, 0]);
      expect(Object.values(receiver.drops).reduce((a, b) => a + b, 0)).toBe(0);
    }
  });

  test("keys are immutable: a pinned read keeps answering its key's object after newer commits; the diff names what changed", async () => {
    const k1 = (await json(`${repo.url}/keys/online/1`)).body;
    const { changeset, ids } = await stage([paths[0]!], 2);
    const k2 = await post(`${repo.url}/changesets/${changeset}/commit`, { removedPaths: [paths[2]] });
    expect(k2.body).toMatchObject({ key: 2, parentKey: 1 });
    expect(k2.body.entries.map((e: { path: string }) => e.path)).toEqual([paths[1], paths[0]].sort());
    expect((await json(`${repo.url}/keys/online/1`)).body).toEqual(k1);
    const diff = (await json(`${repo.url}/keys/online/diff?from=1&to=2`)).body;
    expect(diff.added).toEqual([]);
    expect(diff.changed.map((c: { path: string; to: { id: string } }) => [c.path, c.to.id])).toEqual([[paths[0], ids[0]]]);
    expect(diff.removed.map((e: { path: string }) => e.path)).toEqual([paths[2]]);
    for (const base of [repo.url, ...caches.map((c) => c.url)]) {
      await eventually(async () => ((await json(`${base}/keys/online`)).body?.key === 2 ? true : undefined), 5000, "key 2");
      const old = await get(`${base}/${paths[0]}/${T}`, { "condcast-key": "online/1" });
      expect(old.status, base).toBe(200);
      expect(old.headers.etag).toBe(`"${k1.entries.find((e: { path: string }) => e.path === paths[0]).id}"`);
      expect(old.headers["condcast-key"]).toBe("online/1");
      const now = await get(`${base}/${paths[0]}/${T}`, { "condcast-key": "online" });
      expect(now.headers.etag).toBe(`"${ids[0]}"`);
      expect(now.headers["condcast-key"]).toBe("online/2");
      // Removed from key 2, still in key 1.
      expect((await get(`${base}/${paths[2]}/${T}`, { "condcast-key": "online/2" })).status).toBe(404);
      expect((await get(`${base}/${paths[2]}/${T}`, { "condcast-key": "online/1" })).status).toBe(200);
      expect((await get(`${base}/${paths[0]}/${T}`, { "condcast-key": "on/line" })).status).toBe(400);
      expect((await get(`${base}/${paths[0]}/${T}`, { "condcast-key": "online/01" })).status).toBe(400);
      expect((await get(`${base}/${paths[0]}/${T}`, { "condcast-key": "online/0" })).status).toBe(400);
    }
    // The caches' diff agrees with the repository's.
    expect((await json(`${caches[0]!.url}/keys/online/diff?from=1&to=2`)).body).toEqual(diff);
  });

  test("waiting for the next key: the long-poll answers once the cache has flipped, 204 when nothing came", async () => {
    expect((await get(`${caches[0]!.url}/keys/online?after=2&wait=200`)).status).toBe(204);
    const waiting = json(`${caches[0]!.url}/keys/online?after=2&wait=10000`);
    const { changeset } = await stage([paths[1]!], 3);
    const started = Date.now();
    await post(`${repo.url}/changesets/${changeset}/commit`, undefined); // no body: commit everything staged
    const answered = await waiting;
    expect(answered.status).toBe(200);
    expect(answered.body.key).toBe(3);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  test("abort and expiry leave nothing visible; conflicts and unknown objects are refused with a reason", async () => {
    const a = await stage(["Keys/Aborted/One"], 4);
    const aborted = await post(`${repo.url}/changesets/${a.changeset}/abort`, undefined);
    expect(aborted.status).toBe(200);
    expect(aborted.body).toMatchObject({ state: "aborted", reason: "aborted by request" });
    expect((await json(`${repo.url}/changesets/${a.changeset}`)).body).toMatchObject({ state: "aborted", objects: [] });
    expect((await post(`${repo.url}/changesets/${a.changeset}/abort`, undefined)).status).toBe(409);
    // The changeset resources serve only their own methods (GET /changesets is no object path).
    for (const [method, url] of [["GET", "/changesets"], ["GET", `/changesets/${a.changeset}/commit`], ["DELETE", `/changesets/${a.changeset}`]] as const) {
      const r = await request(`${repo.url}${url}`, { method });
      await r.body.dump();
      expect([method, url, r.statusCode]).toEqual([method, url, 405]);
      expect(r.headers.allow).toBe(url === "/changesets" ? "POST" : url.endsWith("/commit") ? "POST" : "GET");
    }
    // JSON bodies are not coerced: a number is no keytable name, a string no list of paths.
    expect((await post(`${repo.url}/changesets`, { keytable: 123 })).status).toBe(400);
    const c = await post(`${repo.url}/changesets`, { keytable: "online" });
    expect((await post(`${repo.url}/changesets/${c.body.id}/commit`, { removedPaths: "Keys/A" })).status).toBe(400);
    expect((await request(`${repo.url}/changesets/${c.body.id}/commit`, { method: "POST", headers: { "content-type": "application/json" }, body: "null" })).statusCode).toBe(400);
    expect((await post(`${repo.url}/changesets/${c.body.id}/abort`, undefined)).status).toBe(200);
    // A cache checks the id before it redirects a changeset request.
    expect((await json(`${caches[0]!.url}/changesets/not-a-uuid`)).status).toBe(400);
    expect((await post(`${repo.url}/changesets/${a.changeset}/commit`, {})).status).toBe(409);
    for (const c of caches) await eventually(async () => ((await json(`${c.url}/status`)).body.counters.changesetsAborted >= 1 ? true : undefined), 5000, "abort heard");

    // Two open changesets may not stage the same path; a commit naming an object never uploaded fails.
    const b = await stage(["Keys/Conflict/Path"], 5);
    const other = (await post(`${repo.url}/changesets`, { keytable: "online" })).body.id as string;
    const clash = await uploadInto(repo.url, other, `/Keys/Conflict/Path/${validity}`, randomPayload(100, 1));
    expect(clash.status).toBe(409);
    expect(clash.text).toContain(b.changeset);
    const wrong = await post(`${repo.url}/changesets/${b.changeset}/commit`, { objects: [...b.ids, "00000000-0000-4000-8000-000000000000"] });
    expect(wrong.status).toBe(409);
    expect(wrong.body.message).toMatch(/never uploaded/);
    expect((await json(`${repo.url}/keys/online`)).body.key).toBe(3);
    expect((await post(`${repo.url}/changesets/${b.changeset}/commit`, { objects: b.ids })).body.key).toBe(4);

    // An expired changeset is aborted by the repository.
    const short = (await post(`${repo.url}/changesets`, { keytable: "online", ttlMs: 1000 })).body.id as string;
    await uploadInto(repo.url, short, `/Keys/Expired/One/${validity}`, randomPayload(100, 2));
    await eventually(async () => ((await json(`${repo.url}/changesets/${short}`)).body.state === "aborted" ? true : undefined), 5000, "expired");
    expect((await json(`${repo.url}/changesets/${short}`)).body.reason).toBe("expired");
    expect((await get(`${repo.url}/Keys/Expired/One/${T}`)).status).toBe(404);
    expect((await post(`${repo.url}/changesets`, { keytable: "bad/name" })).status).toBe(400);
    expect((await upload(repo.url, `/Keys/Plain/${validity}`, randomPayload(10, 3))).status).toBe(201);
  });

  test("a cache that missed the commit datagram flips after the next heartbeat, fetching only what it lacks", async () => {
    // A cache started now, with no multicast: it learns the current key at start...
    const late = await startCache([repo.url], undefined);
    try {
      await eventually(async () => ((await json(`${late.url}/keys/online`)).body?.key === 4 ? true : undefined), 5000, "current key at start");
      const held = (await json(`${late.url}/keys/online`)).body.entries.length;
      expect((await json(`${late.url}/status`)).body.objects).toBe(held);
      // ...and a later key from a heartbeat alone (fed in-process, as the multicast path would).
      const { changeset } = await stage(["Keys/Heartbeat/Only"], 6);
      await post(`${repo.url}/changesets/${changeset}/commit`, {});
      const { encodeHeartbeat } = await import("../../src/wire/control.js");
      const senderId = (await json(`${repo.url}/status`)).body.senderId as string;
      late.server.cache!.receiver.handleDatagram(encodeHeartbeat({ senderId, lastSequence: 0, sentAt: Date.now(), intervalMs: 100, senderName: "", keys: [{ keytable: "online", key: 5 }] }), Date.now());
      await eventually(async () => ((await json(`${late.url}/keys/online`)).body?.key === 5 ? true : undefined), 5000, "flipped after the heartbeat");
      expect((await json(`${late.url}/status`)).body.counters.fetched).toBe(held + 1);
    } finally {
      await late.server.close();
    }
  });

  test("a read that a cache must fetch, answered upstream under a newer key, is answered after the cache flipped to it", async () => {
    // No multicast: this cache hears neither the objects nor the Commit; it knows the key from its start.
    const lagging = await startCache([repo.url], undefined);
    try {
      const before = await eventually(async () => {
        const k = (await json(`${lagging.url}/keys/online`)).body?.key as number | undefined;
        return k !== undefined && k >= 1 ? k : undefined;
      }, 5000, "a key at start");
      const { changeset } = await stage(["Keys/Lagging/A", "Keys/Lagging/B"], 40);
      const committed = await post(`${repo.url}/changesets/${changeset}/commit`, {});
      expect(committed.body.key).toBeGreaterThan(before);
      // The miss's object is part of the new key: the answer must be under that key, not the old one.
      const read = await get(`${lagging.url}/Keys/Lagging/A/${T}`);
      expect(read.status).toBe(200);
      expect(read.headers.gen).toBe("40");
      expect(read.headers["condcast-key"]).toBe(`online/${committed.body.key}`);
      expect((await json(`${lagging.url}/keys/online`)).body.key).toBe(committed.body.key);
      // The other object of that changeset came with the flip: a hit now.
      const misses = (await json(`${lagging.url}/status`)).body.counters.misses as number;
      expect((await get(`${lagging.url}/Keys/Lagging/B/${T}`)).headers["condcast-key"]).toBe(`online/${committed.body.key}`);
      expect((await json(`${lagging.url}/status`)).body.counters.misses).toBe(misses);
    } finally {
      await lagging.server.close();
    }
  });

  test("the CLI: changeset open, upload, commit; keys list, show, diff, wait", async () => {
    const lines: string[] = [];
    const out = new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(...chunk.toString().trim().split("\n")), done()) });
    const last = (): any => JSON.parse(lines.at(-1)!);
    // CONDCAST_TTL (the multicast TTL, set for every command) is not the changeset's lifetime.
    expect(await runChangeset(["open", "--url", repo.url, "--keytable", "cli", "--lifetime", "600000"], { CONDCAST_TTL: "1" }, out)).toBe(0);
    expect(last().expiresAt - last().openedAt).toBe(600_000);
    const id = last().id as string;
    const file = join(tmp.dir, "cli-object.bin");
    writeFileSync(file, randomPayload(5000, 9));
    expect(await runChangeset(["upload", "--url", repo.url, "--id", id, "--path", "Keys/Cli/One", "--valid-from", String(T - 10), "--valid-until", String(T + 3_600_000), "--meta", "run=1", file], {}, out)).toBe(0);
    const object = last().id as string;
    expect(await runChangeset(["commit", "--url", repo.url, "--id", id], {}, out)).toBe(0);
    expect(last()).toMatchObject({ keytable: "cli", key: 1, entries: [{ path: "Keys/Cli/One", id: object }] });
    expect(await runKeys(["list", "--url", repo.url], {}, out)).toBe(0);
    expect(last().keytables.map((k: { keytable: string }) => k.keytable)).toContain("cli");
    expect(await runKeys(["show", "--url", repo.url, "--keytable", "cli", "--key", "1"], {}, out)).toBe(0);
    expect(last().key).toBe(1);
    expect(await runKeys(["wait", "--url", caches[0]!.url, "--keytable", "cli", "--after", "0", "--wait", "5000"], {}, out)).toBe(0);
    expect(await runKeys(["wait", "--url", repo.url, "--keytable", "cli", "--after", "1", "--wait", "100"], {}, out)).toBe(3);
    await expect(runChangeset(["commit", "--url", repo.url, "--id", id], {}, out)).rejects.toThrow(/409: changeset .* is committed/);
  });

  test("the repository's keys, changesets and staged objects survive a restart", async () => {
    const open = await stage(["Keys/Restart/Staged"], 7);
    const before = (await json(`${repo.url}/keys/online`)).body;
    await repo.server.close();
    repo = await startRepository(tmp.dir, MC, { fecParity: 0, port: Number(new URL(repo.url).port) });
    // The pooled connections to the old process are gone: the first request may meet a closed one.
    const reopened = await eventually(async () => json(`${repo.url}/keys/online`).catch(() => undefined), 5000, "the restarted repository");
    expect(reopened.body).toEqual(before);
    expect((await get(`${repo.url}/Keys/Restart/Staged/${T}`)).status).toBe(404);
    const after = await post(`${repo.url}/changesets/${open.changeset}/commit`, {});
    expect(after.body.key).toBe(before.key + 1);
    expect((await get(`${repo.url}/Keys/Restart/Staged/${T}`)).status).toBe(200);
  });
});
