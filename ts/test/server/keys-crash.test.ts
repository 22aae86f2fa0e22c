// A repository SIGKILLed around a commit (issue 13): before the commit, right after its answer, and at
// random moments while the commit request is in flight. After each restart on the same data directory
// the state is the old one or the new one, never a mix: either the key did not move and nothing of the
// changeset is visible (it is still open, its staged objects kept), or the key moved and every object
// of the changeset is visible byte for byte. An acknowledged commit is never lost.
// (A real `condcast serve` process; multicast group 239.255.40.46, UDP port 40796.)
import { createHash } from "node:crypto";
import { FormData, request } from "undici";
import { afterAll, describe, expect, test } from "vitest";
import { ServeProcess, freePort, randomPayload, tempDir } from "./helpers.js";

const PATHS = Array.from({ length: 5 }, (_, i) => `Crash/Det${i}/Calib`);

async function call(url: string, method: "GET" | "POST" = "GET", body?: unknown): Promise<{ status: number; body: any }> {
  const r = await request(url, { method, headers: body === undefined ? {} : { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.body.text();
  return { status: r.statusCode, body: text.length > 0 && text.startsWith("{") ? JSON.parse(text) : text };
}

describe("a repository killed around a commit", () => {
  const tmp = tempDir();
  let repo: ServeProcess;
  const T = Date.now();
  const validity = `${T - 1000}/${T + 3_600_000}`;

  afterAll(async () => {
    await repo?.kill();
    tmp.cleanup();
  });

  /** A changeset of the five paths at generation `gen`; the MD5 of each object by path. */
  async function stage(gen: number): Promise<{ id: string; md5: Map<string, string> }> {
    const opened = await call(`${repo.url}/changesets`, "POST", { keytable: "online", ttlMs: 3_600_000 });
    expect(opened.status).toBe(201);
    const md5 = new Map<string, string>();
    for (const [i, path] of PATHS.entries()) {
      const payload = randomPayload(20_000 + i * 5_000, gen * 10 + i);
      const form = new FormData();
      form.append("send", new Blob([payload]), "calib.root");
      const r = await request(`${repo.url}/${path}/${validity}/gen=${gen}`, { method: "POST", body: form, headers: { "condcast-changeset": opened.body.id } });
      await r.body.dump();
      expect(r.statusCode).toBe(201);
      md5.set(path, createHash("md5").update(payload).digest("hex"));
    }
    return { id: opened.body.id, md5 };
  }

  /** What the restarted repository shows: its key, and the generation and MD5 each path answers. */
  async function state(): Promise<{ key: number; reads: { status: number; gen: string | undefined; md5: string }[] }> {
    const k = await call(`${repo.url}/keys/online`);
    const reads = [];
    for (const path of PATHS) {
      const r = await request(`${repo.url}/${path}/${T}`);
      const body = Buffer.from(await r.body.arrayBuffer());
      reads.push({ status: r.statusCode, gen: r.headers.gen as string | undefined, md5: createHash("md5").update(body).digest("hex") });
    }
    return { key: k.status === 200 ? k.body.key : 0, reads };
  }

  function expectWhole(s: Awaited<ReturnType<typeof state>>, gen: number, md5: Map<string, string>): void {
    expect(s.reads.map((r) => [r.status, r.gen])).toEqual(PATHS.map(() => [200, String(gen)]));
    expect(s.reads.map((r) => r.md5)).toEqual(PATHS.map((p) => md5.get(p)));
  }

  test("killed before the commit, right after its answer, and at random moments while it is in flight: old state or new, never a mix", async () => {
    repo = new ServeProcess("the repository", tmp.dir, await freePort(), ["--group", "239.255.40.46", "--port", "40796", "--interface", "127.0.0.1", "--log-level", "warn"]);
    await repo.start();
    let key = 0;
    let gen = 0;
    let committedGen = 0;
    const seen = { old: 0, new: 0 };

    // Before the commit: nothing visible after the restart, the changeset still open with its objects.
    {
      const c = await stage(++gen);
      await repo.kill();
      await repo.start();
      const s = await state();
      expect(s.key).toBe(0);
      expect(s.reads.map((r) => r.status)).toEqual(PATHS.map(() => 404));
      expect((await call(`${repo.url}/changesets/${c.id}`)).body).toMatchObject({ state: "open" });
      expect((await call(`${repo.url}/changesets/${c.id}`)).body.objects).toHaveLength(PATHS.length);
      const done = await call(`${repo.url}/changesets/${c.id}/commit`, "POST", {});
      expect(done.status).toBe(200);
      key = done.body.key;
      committedGen = gen;
      expectWhole(await state(), gen, c.md5);
    }

    // Right after the answer: the acknowledged key survives whole.
    {
      const c = await stage(++gen);
      const done = await call(`${repo.url}/changesets/${c.id}/commit`, "POST", {});
      expect(done.status).toBe(200);
      await repo.kill();
      await repo.start();
      const s = await state();
      expect(s.key).toBe(done.body.key);
      expectWhole(s, gen, c.md5);
      key = done.body.key;
      committedGen = gen;
    }

    // In flight: killed 0-12 ms after the commit request went out.
    let previous = new Map<string, string>();
    for (let round = 0; round < 8; round++) {
      const c = await stage(++gen);
      const answer = call(`${repo.url}/changesets/${c.id}/commit`, "POST", {}).catch(() => undefined);
      await new Promise((r) => setTimeout(r, (round * 7) % 13));
      await repo.kill();
      const acknowledged = await answer;
      await repo.start();
      const s = await state();
      if (s.key === key) {
        // Old: not one object of the new changeset visible; it is still open and can be committed.
        if (acknowledged?.status === 200) throw new Error(`round ${round}: the commit was acknowledged (key ${acknowledged.body.key}) but the restart shows key ${key}`);
        expect(s.reads.map((r) => r.gen)).toEqual(PATHS.map(() => String(committedGen)));
        if (previous.size > 0) expect(s.reads.map((r) => r.md5)).toEqual(PATHS.map((p) => previous.get(p)));
        expect((await call(`${repo.url}/changesets/${c.id}`)).body.state).toBe("open");
        seen.old++;
        const retried = await call(`${repo.url}/changesets/${c.id}/commit`, "POST", {});
        expect(retried.status).toBe(200);
        key = retried.body.key;
      } else {
        // New: the next key, with every object of the changeset.
        expect(s.key).toBe(key + 1);
        seen.new++;
        key = s.key;
      }
      expectWhole(await state(), gen, c.md5);
      committedGen = gen;
      previous = c.md5;
    }
    // Seen here: 2-4 of 8 old, the rest new. A kill 0 ms after the request always beats the commit's
    // fsync, so at least that round must come back old (the check of "old" ran); "new" depends on timing.
    console.log(`kill in flight: ${seen.old} old, ${seen.new} new`);
    expect(seen.old).toBeGreaterThanOrEqual(1);
    expect((await call(`${repo.url}/keys/online`)).body.key).toBe(key);
  }, 120_000);
});
