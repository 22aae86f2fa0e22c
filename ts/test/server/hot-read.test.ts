// The hot read (ccdb/objects.ts hotRead): a plain GET of an object held in memory is answered before
// fastify. Its answers must be the route's answers byte for byte: each URL is asked plainly (the hot
// path, when it applies) and with an If-Not-After that constrains nothing (which only the fastify
// route reads), and status, headers (but Date) and body must agree. No multicast: the cache fills by
// its misses from a real repository.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { eventually, get, randomPayload, startCache, startRepository, tempDir, upload, type Fetched, type Running } from "./helpers.js";

const FAR_FUTURE = "99999999999999";

function comparable(f: Fetched): { status: number; headers: Record<string, unknown>; body: string } {
  const { date: _d, "keep-alive": _k, connection: _c, ...headers } = f.headers;
  return { status: f.status, headers, body: f.body.toString("base64") };
}

describe("hot read: a plain GET of a held object answers as the fastify route does", () => {
  const dir = tempDir();
  let repository: Running;
  let cache: Running;
  const ids: string[] = [];

  beforeAll(async () => {
    repository = await startRepository(dir.dir, undefined);
    cache = await startCache([repository.url], undefined);
    for (const [path, seed] of [["Hot/A/1000/2000/run=1", 1], ["Hot/A/1500/3000/run=2", 2], ["Hot/B/1000/9000", 3]] as const) {
      const r = await upload(repository.url, `/${path}`, randomPayload(1024 * seed, seed), `file ${seed}.root`);
      expect(r.status, r.text).toBe(201);
      ids.push(r.id);
    }
  });
  afterAll(async () => {
    await cache?.server.close();
    await repository?.server.close();
    dir.cleanup();
  });

  const urls = (): string[] => [
    "/Hot/A/1600",
    "/Hot/A/1200",
    `/Hot/A/1200/${ids[0]}`,
    "/Hot/A/1200/run=1",
    "/Hot/A/1600/run=2",
    "/Hot/A/1600/run=9",
    "/Hot/A/1600?extra=1",
    "/Hot/B/5000",
    "/Hot/%42/5000",
    "/Hot/A/99999",
    "/Hot/A",
    `/download/${ids[2]}`,
  ];

  test("every URL, on the cache (payloads in memory) and on the repository", async () => {
    // Fill the cache: a first read of each is a miss from upstream.
    for (const url of urls()) await get(`${cache.url}${url}`);
    await eventually(async () => ((await get(`${cache.url}/Hot/B/5000`)).status === 200 ? true : undefined), 5000, "the cache holds Hot/B");
    for (const base of [cache.url, repository.url]) {
      for (const url of urls()) {
        const plain = await get(`${base}${url}`);
        const routed = await get(`${base}${url}`, { "If-Not-After": FAR_FUTURE });
        expect(comparable(plain), `${base}${url}`).toEqual(comparable(routed));
      }
    }
    // The held answers are the objects' bytes.
    const held = await get(`${cache.url}/Hot/A/1600`);
    expect(held.status).toBe(200);
    expect(held.headers.etag).toBe(`"${ids[1]}"`);
    expect(held.body).toEqual(randomPayload(2048, 2));
  });

  test("a HEAD, a Range and an If-None-Match go to the route and answer as before", async () => {
    const head = await get(`${cache.url}/Hot/A/1600`, {}, "HEAD");
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    const range = await get(`${cache.url}/Hot/A/1600`, { Range: "bytes=0-9" });
    expect(range.status).toBe(206);
    expect(range.body).toEqual(randomPayload(2048, 2).subarray(0, 10));
    const same = await get(`${cache.url}/Hot/A/1600`, { "If-None-Match": `"${ids[1]}"` });
    expect(same.status).toBe(304);
  });
});
