// The repository on PostgreSQL + S3 under faults (issue 16), with real `condcast serve` processes,
// the real PostgreSQL and S3 gateway of scripts/with-pg-s3.sh (CONDCAST_TEST_STORE=pgs3), a real cache
// and a raw multicast listener:
//  - replicas SIGKILLed at random moments during uploads: every acknowledged upload is there, byte for
//    byte, on every replica and through the cache; nothing unacknowledged shows partially;
//  - two replicas on one database and bucket: read-your-writes on the other, the sender's failover
//    within a few heartbeat intervals, no object multicast under two sequence numbers;
//  - PostgreSQL restarted and the object store away: uploads answer 503 with a reason, then succeed
//    again; what is held keeps being served.
// It stops PostgreSQL: run it alone (make ts-test-pgs3 does), not beside other pgs3 files.
// Child process logs are written to a directory every failure message names.
// (Multicast groups 239.255.40.51-53, UDP ports 40797-40799.)
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FormData, request } from "undici";
import { afterAll, describe, expect, test } from "vitest";
import { DatagramDecoder } from "../../src/wire/decode.js";
import { ServeProcess, TEST_STORE, captureDatagrams, eventually, freePort, get, pgServeFlags, randomPayload, startCache, tempDir, type Multicast, type Running } from "./helpers.js";

const LOGS = mkdtempSync(join(tmpdir(), "condcast-pgs3-faults-logs-"));
const T = Date.now();
const VALIDITY = `${T - 1000}/${T + 3_600_000}`;
const md5 = (b: Uint8Array): string => createHash("md5").update(b).digest("hex");
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `condcast serve` replicas sharing one schema and key prefix (fresh per test). */
function replicas(tag: string, mc: Multicast, count: number, ports: number[]): ServeProcess[] {
  const store = pgServeFlags(`f_${tag}`);
  return Array.from({ length: count }, (_, i) => {
    const dir = mkdtempSync(join(tmpdir(), `condcast-pgs3-${tag}-${i}-`));
    return new ServeProcess(`replica-${tag}-${i}`, dir, ports[i]!, [
      ...store,
      "--group", mc.group, "--port", String(mc.port), "--interface", "127.0.0.1", "--heartbeat-interval", "100", "--log-level", "info",
    ]);
  });
}

function saveLogs(procs: ServeProcess[]): void {
  mkdirSync(LOGS, { recursive: true });
  for (const p of procs) writeFileSync(join(LOGS, `${p.name}.log`), p.log);
}

async function post(base: string, path: string, payload: Uint8Array): Promise<{ status: number; id: string; text: string }> {
  const form = new FormData();
  form.append("send", new Blob([payload]), "calib.root");
  const r = await request(`${base}/${path}/${VALIDITY}`, { method: "POST", body: form, headersTimeout: 20_000, bodyTimeout: 20_000 });
  const text = await r.body.text();
  return { status: r.statusCode, id: String(r.headers.etag ?? "").replaceAll('"', ""), text };
}

/** Object id (hex, no dashes) -> the sequence numbers it was multicast under, from raw fragments. */
function sequencesById(datagrams: Buffer[]): Map<string, Set<number>> {
  const decoder = new DatagramDecoder();
  const out = new Map<string, Set<number>>();
  for (const d of datagrams) {
    const r = decoder.decode(d);
    if (r.kind !== "fragment") continue;
    const f = r.fragment;
    const id = Buffer.from(f.buf.subarray(f.objectIdOffset, f.objectIdOffset + f.objectIdLength)).toString("hex");
    const set = out.get(id) ?? new Set<number>();
    set.add(f.sequence);
    out.set(id, set);
  }
  return out;
}

const hex = (uuid: string): string => uuid.replaceAll("-", "").toLowerCase();

describe.skipIf(TEST_STORE !== "pgs3")("repository on PostgreSQL + S3 under faults", () => {
  const procs: ServeProcess[] = [];
  const caches: Running[] = [];
  const tmp = tempDir();

  afterAll(async () => {
    saveLogs(procs);
    for (const c of caches) await c.server.close();
    for (const p of procs) await p.kill();
    tmp.cleanup();
  });

  test("replicas SIGKILLed at random moments during uploads: every acknowledged upload on every replica and the cache, byte for byte; nothing partial", async () => {
    const mc = { group: "239.255.40.51", port: 40797 };
    const rs = replicas("kill", mc, 2, [await freePort(), await freePort()]);
    procs.push(...rs);
    for (const r of rs) await r.start();
    const cache = await startCache(rs.map((r) => r.url), mc);
    caches.push(cache);

    const acked = new Map<string, { md5: string; id: string }>(); // path -> acknowledged upload
    const unknown = new Map<string, string>(); // path -> MD5 of an upload without a 201 (killed, refused)
    let stop = false;
    let n = 0;
    const worker = async (w: number): Promise<void> => {
      while (!stop) {
        const i = n++;
        const path = `Fault/Kill/Obj${i}`;
        const payload = randomPayload(1_000 + ((i * 7919) % 300_000), i + 1);
        const target = rs[(i + w) % rs.length]!;
        try {
          const r = await post(target.url, path, payload);
          if (r.status === 201) acked.set(path, { md5: md5(payload), id: r.id });
          else unknown.set(path, md5(payload));
        } catch {
          unknown.set(path, md5(payload));
          await sleep(50);
        }
        await sleep(250); // bounds the volume to check afterwards (about 500 uploads)
      }
    };
    const workers = [0, 1, 2, 3].map(worker);

    // 14 kills at random moments, about 45 s in all; the killed replica comes back at once.
    let seed = 12345;
    const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const kills = 14;
    for (let k = 0; k < kills; k++) {
      await sleep(800 + rand() * 2200);
      const victim = rs[Math.floor(rand() * rs.length)]!;
      await victim.kill("SIGKILL");
      await victim.start();
    }
    await sleep(1000);
    stop = true;
    await Promise.all(workers);
    const where = `(child logs: ${LOGS}; ${acked.size} acknowledged, ${unknown.size} unacknowledged)`;
    console.log(`pgs3 kills: ${kills} kills, ${acked.size} uploads acknowledged, ${unknown.size} not ${where}`);
    expect(acked.size, where).toBeGreaterThan(40);

    // Every acknowledged upload on every replica and through the cache, byte for byte (8 reads at a time).
    const checks = [...acked].flatMap(([path, a]) => [...rs.map((r) => r.url), cache.url].map((base) => ({ path, a, base })));
    for (let c = 0; c < checks.length; c += 8) {
      await Promise.all(checks.slice(c, c + 8).map(async ({ path, a, base }) => {
        const r = await eventually(async () => {
          const g = await get(`${base}/${path}/${T}`);
          return g.status === 200 && md5(g.body) === a.md5 ? g : undefined;
        }, 5000, `${path} at ${base} ${where}`).catch(() => undefined);
        expect(r === undefined ? "missing or different" : md5(r.body), `${path} at ${base} ${where}`).toBe(a.md5);
      }));
    }
    // An upload without a 201 is absent, or whole (the kill came after the commit, before the answer).
    for (const [path, sum] of unknown) {
      const g = await get(`${rs[0]!.url}/${path}/${T}`);
      expect([404, 200], `${path} ${where}`).toContain(g.status);
      if (g.status === 200) expect(md5(g.body), `${path} shows partial ${where}`).toBe(sum);
    }
  }, 180_000);

  test("two replicas: either takes writes, the other reads them within its poll; the sender SIGKILLed: the other takes over, sends the rest, no object under two sequences", async () => {
    const mc = { group: "239.255.40.52", port: 40798 };
    const rs = replicas("failover", mc, 2, [await freePort(), await freePort()]);
    procs.push(...rs);
    const capture = await captureDatagrams(mc);
    for (const r of rs) await r.start();
    const cache = await startCache(rs.map((r) => r.url), mc);
    caches.push(cache);
    const where = `(child logs: ${LOGS})`;
    const uploads = new Map<string, { md5: string; id: string }>();

    // Read-your-writes across replicas: written on one, read on the other within its poll (250 ms).
    let worstLagMs = 0;
    for (let i = 0; i < 20; i++) {
      const path = `Fault/Failover/Obj${i}`;
      const payload = randomPayload(5_000 + i * 3_000, 1000 + i);
      const [writer, reader] = i % 2 === 0 ? [rs[0]!, rs[1]!] : [rs[1]!, rs[0]!];
      const r = await post(writer.url, path, payload);
      expect(r.status, `${r.text} ${where}`).toBe(201);
      uploads.set(path, { md5: md5(payload), id: r.id });
      const t0 = Date.now();
      await eventually(async () => ((await get(`${reader.url}/${path}/${T}`)).status === 200 ? true : undefined), 3000, `${path} on the other replica ${where}`);
      worstLagMs = Math.max(worstLagMs, Date.now() - t0);
    }

    // A key committed on one replica: the other names it in its keys and in its answers' Condcast-Key,
    // and wakes the long-poll waiting there for it (not at the end of its wait).
    const longPollStarted = Date.now();
    const longPoll = request(`${rs[1]!.url}/keys/online?after=0&wait=20000`).then(async (r) => ({ status: r.statusCode, body: await r.body.text(), ms: Date.now() - longPollStarted }));
    const opened = await request(`${rs[0]!.url}/changesets`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ keytable: "online" }) });
    const changeset = ((await opened.body.json()) as { id: string }).id;
    const keyed = randomPayload(4_000, 999);
    const form = new FormData();
    form.append("send", new Blob([keyed]), "calib.root");
    const staged = await request(`${rs[0]!.url}/Fault/Failover/Keyed/${VALIDITY}`, { method: "POST", body: form, headers: { "condcast-changeset": changeset } });
    await staged.body.dump();
    expect(staged.statusCode, where).toBe(201);
    const committed = await request(`${rs[0]!.url}/changesets/${changeset}/commit`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(((await committed.body.json()) as { key: number }).key, where).toBe(1);
    await eventually(async () => {
      const g = await get(`${rs[1]!.url}/Fault/Failover/Keyed/${T}`);
      return g.status === 200 && md5(g.body) === md5(keyed) && g.headers["condcast-key"] === "online/1" ? true : undefined;
    }, 3000, `key online/1 named by the other replica's answers ${where}`);
    expect(JSON.parse((await get(`${rs[1]!.url}/keys/online`)).body.toString()).key, where).toBe(1);
    const woken = await longPoll;
    expect(woken.status, `${woken.body} ${where}`).toBe(200);
    expect(JSON.parse(woken.body).key, where).toBe(1);
    expect(woken.ms, `the long-poll on the other replica answered after ${woken.ms} ms ${where}`).toBeLessThan(10_000);

    // The sender SIGKILLed while uploads go on at the other replica.
    const leader = await eventually(() => rs.find((r) => r.log.includes("this replica leads")), 5000, `a leader ${where}`);
    const other = rs.find((r) => r !== leader)!;
    const before = other.log.length;
    const writes = (async () => {
      for (let i = 20; i < 60; i++) {
        const path = `Fault/Failover/Obj${i}`;
        const payload = randomPayload(5_000 + i * 3_000, 1000 + i);
        const r = await post(other.url, path, payload);
        expect(r.status, `${r.text} ${where}`).toBe(201);
        uploads.set(path, { md5: md5(payload), id: r.id });
      }
    })();
    await sleep(150);
    const killedAt = Date.now();
    await leader.kill("SIGKILL");
    await eventually(() => (other.log.slice(before).includes("this replica leads") ? true : undefined), 5000, `takeover by ${other.name} ${where}`);
    const takeoverMs = Date.now() - killedAt;
    await writes;
    console.log(`pgs3 failover: takeover ${takeoverMs} ms after the SIGKILL (heartbeat 100 ms), read-your-writes worst ${worstLagMs} ms ${where}`);
    expect(takeoverMs, where).toBeLessThan(3000);

    // Every upload multicast (the survivor sent what the dead sender had not), each under one sequence.
    const seqs = await eventually(() => {
      const m = sequencesById(capture.datagrams);
      return [...uploads.values()].every((u) => m.has(hex(u.id))) ? m : undefined;
    }, 10_000, `every upload multicast ${where}`);
    for (const [path, u] of uploads) expect([...seqs.get(hex(u.id))!], `${path} sequences ${where}`).toHaveLength(1);
    const allSeqs = [...seqs.values()].map((s) => [...s][0]!);
    expect(new Set(allSeqs).size, `two objects under one sequence ${where}`).toBe(allSeqs.length);
    await capture.close();

    // The cache ends holding every object, byte for byte.
    for (const [path, u] of uploads) {
      const g = await get(`${cache.url}/${path}/${T}`);
      expect([g.status, md5(g.body)], `${path} at the cache ${where}`).toEqual([200, u.md5]);
    }
  }, 120_000);

  test("PostgreSQL restarted, the object store away: uploads 503 with a reason, then 201 again; held objects keep being read", async () => {
    const dir = process.env.CONDCAST_PGS3_DIR!;
    const mc = { group: "239.255.40.53", port: 40799 };
    const [repo] = replicas("outage", mc, 1, [await freePort()]);
    procs.push(repo!);
    await repo!.start();
    const where = `(child logs: ${LOGS})`;
    const held = randomPayload(50_000, 7);
    expect((await post(repo!.url, "Fault/Outage/Held", held)).status, where).toBe(201);
    expect(md5((await get(`${repo!.url}/Fault/Outage/Held/${T}`)).body), where).toBe(md5(held));

    // The object store away.
    execFileSync(join(dir, "s3-stop"));
    try {
      const r = await post(repo!.url, "Fault/Outage/DuringS3", randomPayload(10_000, 8));
      expect(r.status, `${r.text} ${where}`).toBe(503);
      expect(JSON.parse(r.text).message ?? r.text, where).toMatch(/unavailable|object store|payload/i);
      const g = await get(`${repo!.url}/Fault/Outage/Held/${T}`);
      expect([g.status, md5(g.body)], where).toEqual([200, md5(held)]);
      expect((await get(`${repo!.url}/Fault/Outage/DuringS3/${T}`)).status, where).toBe(404);
    } finally {
      execFileSync(join(dir, "s3-start"));
    }
    const afterS3 = randomPayload(10_000, 9);
    await eventually(async () => ((await post(repo!.url, "Fault/Outage/AfterS3", afterS3)).status === 201 ? true : undefined), 10_000, `an upload after the object store is back ${where}`);

    // PostgreSQL down, then up again (pg-ctl stop + start: a restart with a window to look into).
    execFileSync(join(dir, "pg-ctl"), ["stop", "-m", "fast"], { stdio: "ignore" });
    try {
      const r = await post(repo!.url, "Fault/Outage/DuringPg", randomPayload(10_000, 10));
      expect(r.status, `${r.text} ${where}`).toBe(503);
      expect(r.text, where).toMatch(/database is unavailable/);
      const g = await get(`${repo!.url}/Fault/Outage/Held/${T}`);
      expect([g.status, md5(g.body)], where).toEqual([200, md5(held)]);
    } finally {
      execFileSync(join(dir, "pg-ctl"), ["start"], { stdio: "ignore" });
    }
    const afterPg = randomPayload(10_000, 11);
    await eventually(async () => ((await post(repo!.url, "Fault/Outage/AfterPg", afterPg)).status === 201 ? true : undefined), 15_000, `an upload after PostgreSQL is back ${where}`);
    for (const [path, p] of [["AfterS3", afterS3], ["AfterPg", afterPg], ["Held", held]] as const) {
      const g = await get(`${repo!.url}/Fault/Outage/${path}/${T}`);
      expect([g.status, md5(g.body)], `${path} ${where}`).toEqual([200, md5(p)]);
    }
  }, 120_000);
});
