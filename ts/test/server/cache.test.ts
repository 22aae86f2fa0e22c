// The cache role against a real repository on a real port, with real multicast on loopback.
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { encodeHeartbeat } from "../../src/wire/control.js";
import { DatagramDecoder } from "../../src/wire/decode.js";
import { bytesToUuid } from "../../src/wire/ids.js";
import {
  captureDatagrams,
  eventually,
  freePort,
  get,
  randomPayload,
  rawExchange,
  startCache,
  startRepository,
  tempDir,
  upload,
  type Running,
} from "./helpers.js";

const json = async (url: string): Promise<Record<string, any>> => JSON.parse((await get(url)).body.toString()) as Record<string, any>;
const now = (): number => Date.now();

describe("cache: objects arrive by multicast", () => {
  const MC = { group: "239.255.40.2", port: 40551 };
  const tmp = tempDir();
  let repo: Running;
  let cache: Running;
  beforeAll(async () => {
    repo = await startRepository(tmp.dir, MC);
    cache = await startCache([repo.url], MC);
  });
  afterAll(async () => {
    await cache.server.close();
    await repo.server.close();
    tmp.cleanup();
  });

  test("an uploaded object is served from memory with the repository's headers; updates and deletions follow", async () => {
    const t = now();
    const payload = randomPayload(300_000, 7);
    const u = await upload(repo.url, `/MC/Calib/Gain/${t - 1000}/${t + 3_600_000}/runNumber=7`, payload, "gain.root");
    const url = `${cache.url}/MC/Calib/Gain/${t}/`;
    await eventually(async () => ((await json(`${cache.url}/status`)).objects === 1 ? true : undefined), 10_000, "object on the cache");
    const r = await get(url);
    expect(r.headers["condcast-source"]).toBe("multicast");
    expect(r.body.equals(payload)).toBe(true);
    const fromRepo = await get(`${repo.url}/MC/Calib/Gain/${t}/`);
    for (const h of ["etag", "valid-from", "valid-until", "created", "content-md5", "content-type", "content-length", "content-disposition", "runnumber", "cache-valid-until", "last-modified"]) {
      expect([h, r.headers[h]]).toEqual([h, fromRepo.headers[h]]);
    }
    // the O2 client: its ETag plus a timestamp as a second If-None-Match
    expect((await get(url, { "If-None-Match": [`"${u.id}"`, String(t)] })).status).toBe(304);
    expect((await get(url, { "If-None-Match": [String(t), `"${u.id}"`] })).status).toBe(200);
    const status = await json(`${cache.url}/status`);
    expect(status.counters.multicastCompleted).toBeGreaterThanOrEqual(1);
    expect(status.counters.misses).toBe(0);
    // The socket thread's ring: its size in the multicast info, its overflows in the counters and metrics.
    expect(status.multicast.ringBytes).toBe(64 * 1024 * 1024);
    expect(status.receiver.ringOverflows).toBe(0);
    expect((await get(`${cache.url}/metrics`)).body.toString()).toMatch(/^condcast_ring_overflows_total 0$/m);

    const put = await request(`${repo.url}/MC/Calib/Gain/${t}/${t + 1000}?quality=good`, { method: "PUT" });
    expect(put.statusCode).toBe(204);
    await put.body.dump();
    const updated = await eventually(async () => {
      const x = await get(url, {}, "HEAD");
      return x.headers.quality === "good" ? x : undefined;
    }, 5000, "update on the cache");
    expect(updated.headers["valid-until"]).toBe(String(t + 1000));
    const del = await request(`${repo.url}/MC/Calib/Gain/${t}`, { method: "DELETE" });
    expect(del.statusCode).toBe(204);
    await del.body.dump();
    await eventually(async () => ((await get(`${cache.url}/download/${u.id}`, {}, "HEAD")).status === 404 ? true : undefined), 5000, "deletion on the cache");
  });

  test("writes to a cache are redirected upstream with 307", async () => {
    const r = await request(`${cache.url}/MC/Write/1/2/a=b`, { method: "POST", body: "ignored", headers: { "content-type": "multipart/form-data; boundary=x" } });
    expect(r.statusCode).toBe(307);
    expect(r.headers.location).toBe(`${repo.url}/MC/Write/1/2/a=b`);
    await r.body.dump();
    for (const method of ["PUT", "DELETE"] as const) {
      const w = await request(`${cache.url}/MC/Write/1?x=y`, { method });
      expect(w.statusCode).toBe(307);
      expect(w.headers.location).toBe(`${repo.url}/MC/Write/1?x=y`);
      await w.body.dump();
    }
    // following the redirect, the upload lands on the repository
    const u = await upload(String(r.headers.location).replace("/MC/Write/1/2/a=b", ""), "/MC/Write/1/2/a=b", Buffer.from("via redirect"));
    expect(u.status).toBe(201);
  });
});

describe("cache: misses go upstream", () => {
  const tmp = tempDir();
  let repo: Running;
  beforeAll(async () => {
    repo = await startRepository(tmp.dir, undefined);
  });
  afterAll(async () => {
    await repo.server.close();
    tmp.cleanup();
  });

  test("a miss is fetched from upstream, kept, and the next request is a hit; concurrent misses share one fetch", async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const cache = await startCache([dead, repo.url], undefined); // tried in order: the first is down
    try {
      const t = now();
      const payload = randomPayload(4_000_000, 11); // large, so the one upstream fetch takes a while
      const u = await upload(repo.url, `/Miss/Obj/${t - 10}/${t + 3_600_000}/k=v`, payload, "m.bin");
      const before = (await json(`${repo.url}/status`)).counters.hits as number;
      const replies = await Promise.all(Array.from({ length: 8 }, () => get(`${cache.url}/Miss/Obj/${t}/k=v/`)));
      for (const r of replies) {
        expect(r.status).toBe(200);
        expect(r.body.equals(payload)).toBe(true);
        expect(r.headers.etag).toBe(`"${u.id}"`);
        expect(r.headers.k).toBe("v");
      }
      expect((await json(`${repo.url}/status`)).counters.hits - before).toBe(1);
      const again = await get(`${cache.url}/Miss/Obj/${t}`);
      expect(again.headers["condcast-source"]).toBe("upstream");
      const status = await json(`${cache.url}/status`);
      // requests that arrived while the fetch was under way shared it; later ones were hits
      expect(status.counters.misses).toBeGreaterThanOrEqual(2);
      expect(status.counters.hits + status.counters.misses).toBe(9);
      expect(status.counters.fetched).toBe(1);
      const missesSoFar = status.counters.misses as number;
      expect((await get(`${cache.url}/Miss/Nothing/${t}`)).status).toBe(404);
      // by id
      const other = await upload(repo.url, `/Miss/ById/${t - 10}/${t + 3_600_000}`, Buffer.from("by id"));
      const byId = await get(`${cache.url}/download/${other.id}`);
      expect(byId.status).toBe(200);
      expect(byId.body.toString()).toBe("by id");
      expect((await json(`${cache.url}/status`)).upstream.errors).toBeGreaterThanOrEqual(1); // the dead one was tried
      const metrics = (await get(`${cache.url}/metrics`)).body.toString();
      expect(metrics).toMatch(new RegExp(`^condcast_cache_misses_total ${missesSoFar + 2}$`, "m"));
      expect(metrics).toMatch(/^condcast_objects_fetched_total 2$/m);
    } finally {
      await cache.server.close();
    }
  });

  test("a hit is answered from prepared headers byte for byte as the generic path answers (miss, HEAD, If-None-Match, /download)", async () => {
    const cache = await startCache([repo.url], undefined);
    try {
      const t = now();
      // metadata names that fastify folds (case, Set-Cookie, integer-like names go first) and UTF-8 values
      const meta = ["runNumber=7", "X-Dup=a", "x-dup=b", "42=n", "Set-Cookie=c1", `Comment=${encodeURIComponent("Größe ≥ 10 µm")}`].join("/");
      const payload = randomPayload(2000, 5);
      const u = await upload(repo.url, `/Hot/Obj/${t - 10}/${t + 3_600_000}/${meta}`, payload, "Größe \"x\".root");
      const path = `/Hot/Obj/${t}`;
      const first = await rawExchange(cache.url, `GET ${path} HTTP/1.1`); // a miss: the generic path
      const second = await rawExchange(cache.url, `GET ${path} HTTP/1.1`); // a hit: prepared headers
      const third = await rawExchange(cache.url, `GET ${path}/?x=y HTTP/1.1`, "If-None-Match: \"00000000-0000-0000-0000-000000000000\"");
      const head = await rawExchange(cache.url, `HEAD ${path} HTTP/1.1`);
      expect(first.head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
      expect(first.head).toContain("42: n\r\nrunnumber: 7\r\nx-dup: b\r\n");
      expect(second.head).toBe(first.head);
      expect(third.head).toBe(first.head);
      expect(head.head).toBe(first.head);
      expect(second.body.equals(payload)).toBe(true);
      const download = await rawExchange(cache.url, `GET /download/${u.id} HTTP/1.1`);
      expect(download.head).toBe((await rawExchange(cache.url, `HEAD /download/${u.id} HTTP/1.1`)).head);
      expect(download.head).toBe(first.head.replace(/cache-valid-until: \d+\r\n/, ""));
      expect(download.body.equals(payload)).toBe(true);
      const notModified = await rawExchange(cache.url, `GET ${path} HTTP/1.1`, `If-None-Match: "${u.id}"`);
      expect(notModified.head).toBe(`HTTP/1.1 304 Not Modified\r\netag: "${u.id}"\r\nvalid-from: ${t - 10}\r\nvalid-until: ${t + 3_600_000}\r\ncache-valid-until: ${t + 3_600_000}\r\nDate: D\r\nConnection: close\r\n\r\n`);
      const status = await json(`${cache.url}/status`);
      expect(status.counters.hits).toBe(6);
      expect(status.counters.notModified).toBe(1);
      expect(status.counters.downloadBytes).toBe(4 * payload.length);
    } finally {
      await cache.server.close();
    }
  });

  test("an upstream answering 303 is followed to /download/<uuid>", async () => {
    const tmp303 = tempDir();
    const redirecting = await startRepository(tmp303.dir, undefined, { redirectReads: true });
    const cache = await startCache([redirecting.url], undefined);
    try {
      const t = now();
      const payload = randomPayload(5000, 12);
      await upload(redirecting.url, `/Redirected/Obj/${t - 10}/${t + 60_000}`, payload);
      expect((await get(`${redirecting.url}/Redirected/Obj/${t}`)).status).toBe(303);
      const r = await get(`${cache.url}/Redirected/Obj/${t}`);
      expect(r.status).toBe(200);
      expect(r.body.equals(payload)).toBe(true);
      expect(r.headers["condcast-path"]).toBe("Redirected/Obj");
    } finally {
      await cache.server.close();
      await redirecting.server.close();
      tmp303.cleanup();
    }
  });

  test("memory budget: least recently used objects go first; an object larger than the budget is served but refused and counted", async () => {
    const cache = await startCache([repo.url], undefined, { budgetBytes: 100_000 });
    try {
      const t = now();
      const ids: string[] = [];
      for (const name of ["A", "B", "C", "Huge"]) {
        const u = await upload(repo.url, `/Budget/${name}/${t - 10}/${t + 3_600_000}`, randomPayload(name === "Huge" ? 150_000 : 40_000, name.charCodeAt(0)));
        ids.push(u.id);
      }
      expect((await get(`${cache.url}/Budget/A/${t}`)).status).toBe(200);
      expect((await get(`${cache.url}/Budget/B/${t}`)).status).toBe(200);
      expect((await get(`${cache.url}/Budget/A/${t}`)).headers["condcast-source"]).toBe("upstream"); // a hit: A is now the most recent
      expect((await get(`${cache.url}/Budget/C/${t}`)).status).toBe(200); // evicts B
      let status = await json(`${cache.url}/status`);
      expect(status.objects).toBe(2);
      expect(status.bytes).toBe(80_000);
      expect(status.evictions.evictedLru).toBe(1);
      const hitsBefore = status.counters.hits as number;
      await get(`${cache.url}/Budget/A/${t}`);
      await get(`${cache.url}/Budget/C/${t}`);
      expect((await json(`${cache.url}/status`)).counters.hits).toBe(hitsBefore + 2);
      const huge = await get(`${cache.url}/Budget/Huge/${t}`);
      expect(huge.status).toBe(200);
      expect(huge.body.length).toBe(150_000);
      status = await json(`${cache.url}/status`);
      expect(status.counters.tooLarge).toBe(1);
      expect(status.bytes).toBeLessThanOrEqual(100_000);
      expect((await get(`${cache.url}/metrics`)).body.toString()).toMatch(/^condcast_objects_too_large_total 1$/m);
    } finally {
      await cache.server.close();
    }
  });

  test("objects whose validity ended, and objects superseded for the same validity, are dropped after the grace period", async () => {
    const cache = await startCache([repo.url], undefined, { graceMs: 1000 });
    try {
      const t = now();
      const shortLived = await upload(repo.url, `/Grace/Short/${t - 10}/${t + 2500}`, Buffer.from("short"));
      const old = await upload(repo.url, `/Grace/Same/${t - 10}/${t + 3_600_000}`, Buffer.from("old"));
      expect((await get(`${cache.url}/Grace/Short/${t}`)).status).toBe(200);
      expect((await get(`${cache.url}/Grace/Same/${t}`)).headers.etag).toBe(`"${old.id}"`);
      const newer = await upload(repo.url, `/Grace/Same/${t - 10}/${t + 3_600_000}`, Buffer.from("new"));
      expect((await get(`${cache.url}/download/${newer.id}`)).status).toBe(200);
      const held = (): Promise<string[]> => json(`${cache.url}/browse/Grace/.*?Accept=application/json`).then((l) => (l.objects as { id: string }[]).map((o) => o.id));
      expect((await held()).sort()).toEqual([shortLived.id, old.id, newer.id].sort());
      await eventually(async () => ((await held()).length === 1 ? true : undefined), 15_000, "expired and superseded objects to go");
      expect(await held()).toEqual([newer.id]);
      const status = await json(`${cache.url}/status`);
      expect(status.evictions.evictedExpired).toBe(1);
      expect(status.evictions.evictedSuperseded).toBe(1);
    } finally {
      await cache.server.close();
    }
  });
});

describe("cache: warm start and upstream down", () => {
  test("warm start loads what is valid now under the prefixes, so the first request is a hit", async () => {
    const tmp = tempDir();
    const repo = await startRepository(tmp.dir, undefined);
    const t = now();
    const a = await upload(repo.url, `/Warm/A/${t - 100}/${t + 3_600_000}`, Buffer.from("a"));
    await upload(repo.url, `/Warm/A/${t - 100}/${t - 50}`, Buffer.from("a, expired"));
    const c = await upload(repo.url, `/Warm/B/C/${t - 100}/${t + 3_600_000}`, Buffer.from("c"));
    await upload(repo.url, `/Warm/Future/${t + 3_600_000}/${t + 7_200_000}`, Buffer.from("future"));
    await upload(repo.url, `/Other/X/${t - 100}/${t + 3_600_000}`, Buffer.from("x"));
    await upload(repo.url, `/WarmNot/Y/${t - 100}/${t + 3_600_000}`, Buffer.from("y"));
    const cache = await startCache([repo.url], undefined, { warm: ["Warm"] });
    try {
      const status = await json(`${cache.url}/status`);
      expect(status.warmStartDone).toBe(true);
      expect(status.objects).toBe(2);
      const r = await get(`${cache.url}/Warm/A/${t}`);
      expect(r.status).toBe(200);
      expect(r.headers.etag).toBe(`"${a.id}"`);
      expect(r.headers["condcast-source"]).toBe("warm");
      expect((await get(`${cache.url}/Warm/B/C/${t}`)).headers.etag).toBe(`"${c.id}"`);
      const after = await json(`${cache.url}/status`);
      expect(after.counters.misses).toBe(0);
      expect(after.counters.hits).toBe(2);
    } finally {
      await cache.server.close();
      await repo.server.close();
      tmp.cleanup();
    }
  });

  test("with the upstream down the cache serves what it holds, answers misses 503, and retries with backoff", async () => {
    const tmp = tempDir();
    const port = await freePort();
    let repo = await startRepository(tmp.dir, undefined, { port });
    const t = now();
    const held = await upload(repo.url, `/Down/Held/${t - 10}/${t + 3_600_000}`, Buffer.from("held"));
    const warm = await upload(repo.url, `/Down/Warm/${t - 10}/${t + 3_600_000}`, Buffer.from("warm"));
    const cache = await startCache([repo.url], undefined, { retryBaseMs: 50 });
    try {
      expect((await get(`${cache.url}/Down/Held/${t}`)).status).toBe(200);
      await repo.server.close();
      const r = await get(`${cache.url}/Down/Held/${t}`);
      expect(r.status).toBe(200);
      expect(r.body.toString()).toBe("held");
      const miss = await get(`${cache.url}/Down/Warm/${t}`);
      expect(miss.status).toBe(503);
      expect(JSON.parse(miss.body.toString()).message).toMatch(/upstream unavailable/);
      expect((await json(`${cache.url}/status`)).counters.upstreamErrors).toBeGreaterThan(0);
    } finally {
      await cache.server.close();
    }
    // a cache started while its upstream is down keeps retrying its warm start until the upstream is back
    const late = await startCache([`http://127.0.0.1:${port}`], undefined, { warm: ["Down"], retryBaseMs: 50 });
    try {
      const first = await json(`${late.url}/status`);
      expect(first.warmStartDone).toBe(false);
      expect(first.pendingUpstreamWork).toEqual(["start"]);
      expect((await get(`${late.url}/Down/Warm/${t}`)).status).toBe(503);
      repo = await startRepository(tmp.dir, undefined, { port });
      await eventually(async () => ((await json(`${late.url}/status`)).warmStartDone === true ? true : undefined), 10_000, "warm start after the upstream returns");
      const hits = (await json(`${late.url}/status`)).counters.hits as number;
      const r = await get(`${late.url}/Down/Warm/${t}`);
      expect(r.status).toBe(200);
      expect(r.headers.etag).toBe(`"${warm.id}"`);
      expect((await json(`${late.url}/status`)).counters.hits).toBe(hits + 1);
      expect(held.id).not.toBe(warm.id);
    } finally {
      await late.server.close();
      await repo.server.close();
      tmp.cleanup();
    }
  });
});

describe("cache: repair and gaps (datagrams fed in-process, some dropped)", () => {
  const MC = { group: "239.255.40.3", port: 40561 };
  const tmp = tempDir();
  let repo: Running;
  let capture: Awaited<ReturnType<typeof captureDatagrams>>;
  beforeAll(async () => {
    capture = await captureDatagrams(MC);
    // No parity: these tests drop chosen fragments and check what HTTP repair fetches.
    repo = await startRepository(tmp.dir, MC, { fecParity: 0 });
  });
  afterAll(async () => {
    await capture.close();
    await repo.server.close();
    tmp.cleanup();
  });

  interface Frag {
    datagram: Buffer;
    id: string;
    index: number;
    chunkLength: number;
    metadataLength: number;
    fragmentSize: number;
    /** Source and parity fragments of the object. */
    total: number;
  }
  const fragmentsOf = (id: string, from: { datagrams: Buffer[] } = capture): Frag[] => {
    const decoder = new DatagramDecoder();
    const out: Frag[] = [];
    for (const d of from.datagrams) {
      const x = decoder.decode(d);
      if (x.kind !== "fragment") continue;
      const f = x.fragment;
      if (bytesToUuid(f.buf, f.objectIdOffset) !== id) continue;
      const total = f.fecScheme === 0 ? f.sourceCount : f.sourceCount + Math.ceil(f.sourceCount / f.fecBlockLength) * f.fecParityCount;
      out.push({ datagram: d, id, index: f.index, chunkLength: f.chunkLength, metadataLength: f.metadataLength, fragmentSize: f.fragmentSize, total });
    }
    return out.sort((a, b) => a.index - b.index);
  };
  const uploadAndCapture = async (path: string, payload: Buffer, to: { repo: Running; capture: { datagrams: Buffer[] } } = { repo, capture }): Promise<{ id: string; frags: Frag[] }> => {
    const u = await upload(to.repo.url, path, payload);
    const frags = await eventually(() => {
      const f = fragmentsOf(u.id, to.capture);
      return f.length > 0 && f.length === f[0]!.total && new Set(f.map((x) => x.index)).size === f[0]!.total ? f : undefined;
    }, 5000, "all fragments captured");
    return { id: u.id, frags };
  };

  describe("with FEC (the default parity ratio 0.05)", () => {
    const FEC_MC = { group: "239.255.40.5", port: 40581 };
    const fecTmp = tempDir();
    let fec: { repo: Running; capture: Awaited<ReturnType<typeof captureDatagrams>> };
    beforeAll(async () => {
      const fecCapture = await captureDatagrams(FEC_MC);
      fec = { capture: fecCapture, repo: await startRepository(fecTmp.dir, FEC_MC, { fecParity: 0.05 }) };
    });
    afterAll(async () => {
      await fec.capture.close();
      await fec.repo.server.close();
      fecTmp.cleanup();
    });

    test("lost fragments within the parity, the metadata's among them, are rebuilt: not one HTTP request", async () => {
      const cache = await startCache([fec.repo.url], undefined, { repairQuietMs: 100, repairJitterMs: 50 });
      try {
        const t = now();
        const payload = randomPayload(150_000, 23);
        const { id, frags } = await uploadAndCapture(`/Fec/Within/${t - 10}/${t + 3_600_000}`, payload, fec);
        const first = frags.find((f) => f.index === 0)!;
        const sourceCount = Math.ceil((first.metadataLength + payload.length) / first.fragmentSize);
        const parityCount = frags.length - sourceCount;
        expect(parityCount).toBe(Math.ceil(sourceCount * 0.05)); // one block: m = ceil(k · 0.05)
        const lost = new Set([0, 7, 8, 50, sourceCount - 1].slice(0, parityCount));
        expect(lost.size).toBe(5);
        const upstreamBefore = (await json(`${fec.repo.url}/status`)).counters.downloadBytes as number;
        for (const f of frags) if (!lost.has(f.index)) cache.server.cache!.receiver.handleDatagram(f.datagram, Date.now());
        const r = await get(`${cache.url}/download/${id}`);
        expect(r.headers["condcast-source"]).toBe("multicast");
        expect(r.body.equals(payload)).toBe(true);
        const status = await json(`${cache.url}/status`);
        expect(status.receiver.fec).toEqual({ blocksDecoded: 1, parityUsed: lost.size, fragmentsRecovered: lost.size });
        expect([status.counters.repaired, status.counters.repairBytes, status.counters.fecBlocksRepaired, status.counters.misses]).toEqual([0, 0, 0, 0]);
        expect((await json(`${fec.repo.url}/status`)).counters.downloadBytes).toBe(upstreamBefore);
      } finally {
        await cache.server.close();
      }
    });

    test("beyond the parity a block is repaired with only the fragments decoding lacks, the metadata by HEAD", async () => {
      const cache = await startCache([fec.repo.url], undefined, { repairQuietMs: 100, repairJitterMs: 50 });
      try {
        const t = now();
        const payload = randomPayload(150_000, 24);
        const { id, frags } = await uploadAndCapture(`/Fec/Beyond/${t - 10}/${t + 3_600_000}/run=3`, payload, fec);
        const first = frags.find((f) => f.index === 0)!;
        const sourceCount = Math.ceil((first.metadataLength + payload.length) / first.fragmentSize);
        const parityCount = frags.length - sourceCount;
        // m + 2 sources lost, fragment 0 (metadata) first: decoding lacks 2, fragments 0 and 10.
        const lost = new Set([0, ...Array.from({ length: parityCount + 1 }, (_, i) => 10 + 2 * i)]);
        for (const f of frags) if (!lost.has(f.index)) cache.server.cache!.receiver.handleDatagram(f.datagram, Date.now());
        await eventually(async () => ((await json(`${cache.url}/status`)).objects === 1 ? true : undefined), 10_000, "repaired object");
        const r = await get(`${cache.url}/download/${id}`);
        expect(r.headers["condcast-source"]).toBe("repair");
        expect(r.body.equals(payload)).toBe(true);
        expect(r.headers.run).toBe("3");
        const status = await json(`${cache.url}/status`);
        expect(status.counters.fecBlocksRepaired).toBe(1);
        expect(status.counters.repairBytes).toBe(first.chunkLength - first.metadataLength + first.fragmentSize);
        // The m fragments parity rebuilt after the repair count under the repair, not as multicast decodes.
        expect(status.receiver.fec.fragmentsRecovered).toBe(0);
      } finally {
        await cache.server.close();
      }
    });

    // With a quiet time of a minute, only knowing that the object ended can start its repair in time.
    const QUIET_FOREVER = { repairQuietMs: 60_000, repairJitterMs: 0 };
    /** m + 1 sources of the object's one block: more than its parity rebuilds, so it needs repair. */
    const beyondParity = (frags: Frag[], payloadLength: number): Set<number> => {
      const first = frags.find((f) => f.index === 0)!;
      const parityCount = frags.length - Math.ceil((first.metadataLength + payloadLength) / first.fragmentSize);
      return new Set(Array.from({ length: parityCount + 1 }, (_, i) => 5 + 3 * i));
    };

    test("an incomplete object whose last fragment came is repaired at once, not after the quiet time", async () => {
      const cache = await startCache([fec.repo.url], undefined, QUIET_FOREVER);
      try {
        const t = now();
        const payload = randomPayload(150_000, 25);
        const { id, frags } = await uploadAndCapture(`/Fec/Ended/${t - 10}/${t + 3_600_000}`, payload, fec);
        const lost = beyondParity(frags, payload.length);
        expect(lost.has(frags.at(-1)!.index)).toBe(false);
        const fedAt = Date.now();
        for (const f of frags) if (!lost.has(f.index)) cache.server.cache!.receiver.handleDatagram(f.datagram, Date.now());
        await eventually(async () => ((await json(`${cache.url}/status`)).objects === 1 ? true : undefined), 5000, "repaired object");
        expect(Date.now() - fedAt).toBeLessThan(5000);
        const r = await get(`${cache.url}/download/${id}`);
        expect(r.headers["condcast-source"]).toBe("repair");
        expect(r.body.equals(payload)).toBe(true);
      } finally {
        await cache.server.close();
      }
    });

    test("with its last fragment lost too, the repair waits for its sender's heartbeat to say it was sent", async () => {
      const cache = await startCache([fec.repo.url], undefined, QUIET_FOREVER);
      try {
        const t = now();
        const payload = randomPayload(150_000, 26);
        const { id, frags } = await uploadAndCapture(`/Fec/EndLost/${t - 10}/${t + 3_600_000}`, payload, fec);
        const lost = beyondParity(frags, payload.length).add(frags.at(-1)!.index);
        const receiver = cache.server.cache!.receiver;
        for (const f of frags) if (!lost.has(f.index)) receiver.handleDatagram(f.datagram, Date.now());
        await new Promise((r) => setTimeout(r, 300));
        expect((await json(`${cache.url}/status`)).objects).toBe(0); // in flight as far as the cache knows
        const view = new DatagramDecoder().decode(frags[0]!.datagram);
        if (view.kind !== "fragment") throw new Error("not a fragment");
        receiver.handleDatagram(encodeHeartbeat({ senderId: view.fragment.senderIdHex(), lastSequence: view.fragment.sequence, sentAt: Date.now(), intervalMs: 1000, senderName: "repository" }), Date.now());
        await eventually(async () => ((await json(`${cache.url}/status`)).objects === 1 ? true : undefined), 5000, "repaired object");
        expect((await get(`${cache.url}/download/${id}`)).body.equals(payload)).toBe(true);
      } finally {
        await cache.server.close();
      }
    });

    test("a cache sizes its repair jitter by the caches the repository says report to it", async () => {
      const caches = [
        await startCache([fec.repo.url], undefined, { repairJitterMs: 150 }, { intervalMs: 100, name: "jitter-a" }),
        await startCache([fec.repo.url], undefined, { repairJitterMs: 150 }, { intervalMs: 100, name: "jitter-b" }),
      ];
      try {
        expect(caches.every((c) => c.server.cache!.repairJitterRangeMs() <= 150)).toBe(true);
        // Two caches here, plus any other test's left in the farm view: 0.1 ms each, under the cap.
        const farm = await eventually(async () => {
          const f = await json(`${fec.repo.url}/caches`);
          return f.total >= 2 && caches.every((c) => Math.abs(c.server.cache!.repairJitterRangeMs() - f.total * 0.1) < 1e-9) ? f : undefined;
        }, 5000, "both caches' reports answered with the farm's size");
        expect(farm.total * 0.1).toBeLessThan(150);
      } finally {
        for (const c of caches) await c.server.close();
      }
    });
  });

  test("dropped payload fragments are repaired with Range requests for exactly the missing bytes", async () => {
    const cache = await startCache([repo.url], undefined, { repairQuietMs: 100, repairJitterMs: 50 });
    try {
      const t = now();
      const payload = randomPayload(150_000, 21);
      const { id, frags } = await uploadAndCapture(`/Repair/Payload/${t - 10}/${t + 3_600_000}/run=1`, payload);
      const dropped = new Set([3, 4, 40, frags.length - 1]);
      const before = (await json(`${repo.url}/status`)).counters.downloadBytes as number;
      const receiver = cache.server.cache!.receiver;
      for (const f of frags) if (!dropped.has(f.index)) receiver.handleDatagram(f.datagram, Date.now());
      const missingBytes = frags.filter((f) => dropped.has(f.index)).reduce((n, f) => n + f.chunkLength, 0);
      await eventually(async () => ((await json(`${cache.url}/status`)).objects === 1 ? true : undefined), 10_000, "repaired object");
      const r = await get(`${cache.url}/download/${id}`);
      expect(r.headers["condcast-source"]).toBe("repair");
      expect(r.body.equals(payload)).toBe(true);
      expect(r.headers["content-md5"]).toBe((await get(`${repo.url}/download/${id}`, {}, "HEAD")).headers["content-md5"]);
      const status = await json(`${cache.url}/status`);
      expect(status.counters.repaired).toBe(1);
      expect(status.repairLatencyMs.count).toBe(1);
      expect(status.repairLatencyMs.max).toBeGreaterThanOrEqual(100); // at least the quiet time
      expect(status.counters.repairBytes).toBe(missingBytes);
      expect(status.counters.fetched).toBe(0);
      const served = ((await json(`${repo.url}/status`)).counters.downloadBytes as number) - before;
      expect(served).toBe(missingBytes);
    } finally {
      await cache.server.close();
    }
  });

  test("a lost first fragment (metadata) is rebuilt from HEAD, its payload bytes by Range", async () => {
    const cache = await startCache([repo.url], undefined, { repairQuietMs: 100, repairJitterMs: 50 });
    try {
      const t = now();
      const payload = randomPayload(20_000, 22);
      const { id, frags } = await uploadAndCapture(`/Repair/Meta/${t - 10}/${t + 3_600_000}/run=2/Comment=gr%C3%BC%C3%9F`, payload);
      const receiver = cache.server.cache!.receiver;
      for (const f of frags) if (f.index !== 0) receiver.handleDatagram(f.datagram, Date.now());
      const first = frags[0]!;
      const missingPayload = first.chunkLength - first.metadataLength;
      await eventually(async () => ((await json(`${cache.url}/status`)).objects === 1 ? true : undefined), 10_000, "repaired object");
      const r = await get(`${cache.url}/Repair/Meta/${t}`);
      expect(r.headers.etag).toBe(`"${id}"`);
      expect(r.body.equals(payload)).toBe(true);
      expect(r.headers.run).toBe("2");
      expect(Buffer.from(String(r.headers.comment), "latin1").toString()).toBe("grüß");
      expect(r.headers["condcast-source"]).toBe("repair");
      const status = await json(`${cache.url}/status`);
      expect(status.counters.repairBytes).toBe(missingPayload);
      expect(status.counters.misses).toBe(0);
    } finally {
      await cache.server.close();
    }
  });

  test("after a (re)start the cache knows the repository's sequence: an upload missed while only heartbeats arrive is fetched", async () => {
    const cache = await startCache([repo.url], undefined); // reads /changes at start: the sequence so far
    try {
      const t = now();
      const missed = await uploadAndCapture(`/Restart/Missed/${t - 10}/${t + 3_600_000}`, randomPayload(4000, 40));
      const log = JSON.parse((await get(`${repo.url}/changes?since=0&limit=0`)).body.toString()) as { lastSequence: number };
      // feed nothing but a heartbeat announcing the upload's sequence
      const decoder = new DatagramDecoder();
      const heartbeat = await eventually(() => capture.datagrams.find((d) => {
        const x = decoder.decode(d);
        return x.kind === "heartbeat" && x.heartbeat.lastSequence >= log.lastSequence;
      }), 5000, "a heartbeat announcing the upload");
      cache.server.cache!.receiver.handleDatagram(heartbeat, Date.now());
      await eventually(async () => ((await json(`${cache.url}/status`)).objects === 1 ? true : undefined), 5000, "missed object fetched");
      const r = await get(`${cache.url}/download/${missed.id}`, {}, "HEAD");
      expect(r.headers["condcast-source"]).toBe("changes");
      expect((await json(`${cache.url}/status`)).counters.gaps).toBe(1);
    } finally {
      await cache.server.close();
    }
  });

  test("a sequence gap reads the change log: missed uploads are fetched and missed updates applied", async () => {
    const cache = await startCache([repo.url], undefined);
    try {
      const t = now();
      const receiver = cache.server.cache!.receiver;
      // an object the cache holds, by multicast
      const held = await uploadAndCapture(`/Gap/Held/${t - 10}/${t + 3_600_000}`, randomPayload(5000, 30));
      for (const f of held.frags) receiver.handleDatagram(f.datagram, Date.now());
      await eventually(async () => ((await get(`${cache.url}/download/${held.id}`, {}, "HEAD")).headers["condcast-source"] === "multicast" ? true : undefined), 5000, "held");
      // missed: an upload and an update
      const missed = await uploadAndCapture(`/Gap/Missed/${t - 10}/${t + 3_600_000}`, randomPayload(7000, 31));
      const put = await request(`${repo.url}/Gap/Held/${t}?flag=set`, { method: "PUT" });
      expect(put.statusCode).toBe(204);
      await put.body.dump();
      // seen: a later object, which reveals the gap
      const seen = await uploadAndCapture(`/Gap/Seen/${t - 10}/${t + 3_600_000}`, randomPayload(3000, 32));
      for (const f of seen.frags) receiver.handleDatagram(f.datagram, Date.now());
      await eventually(async () => ((await json(`${cache.url}/status`)).objects === 3 ? true : undefined), 5000, "missed object fetched from the change log");
      const r = await get(`${cache.url}/download/${missed.id}`, {}, "HEAD");
      expect(r.status).toBe(200);
      expect(r.headers["condcast-source"]).toBe("changes");
      expect((await get(`${cache.url}/download/${held.id}`, {}, "HEAD")).headers.flag).toBe("set");
      const status = await json(`${cache.url}/status`);
      expect(status.counters.gaps).toBe(1);
      expect(status.counters.misses).toBe(0);
    } finally {
      await cache.server.close();
    }
  });
});
