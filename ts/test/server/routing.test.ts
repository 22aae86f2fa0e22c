// Pure routing and parsing: the CCDB request grammar, patterns, ranges, header round trips, and the
// fastify app through inject() (no sockets).
import { describe, expect, test } from "vitest";
import { buildServer } from "../../src/server/http/app.js";
import { objectHeaders, recordFromHeaders } from "../../src/server/http/headers.js";
import { BadRequest, cacheValidUntil, parseBrowsePath, parseRequestPath, pathPattern, type ObjectRecord } from "../../src/server/model.js";
import { multipartByteranges, parseRange, parseRangeResponse } from "../../src/server/http/ranges.js";

const record = (id: string, created: number, validFrom: number, validUntil: number, metadata: Record<string, string> = {}): ObjectRecord => ({
  id,
  meta: { path: "A/B", validFrom, validUntil, created, contentType: "application/octet-stream", fileName: "f.root", md5: "0".repeat(32), metadata },
  size: 10,
  initialValidity: validUntil,
  lastModified: created,
  source: "upload",
});

describe("the CCDB request grammar", () => {
  test("path up to the first all-numeric element, then end, UUID and k=v in any order", () => {
    expect(parseRequestPath("/TPC/Calib/Gain/1700000000000/")).toEqual({ path: "TPC/Calib/Gain", timestamp: 1700000000000, end: undefined, id: undefined, metadata: {} });
    const p = parseRequestPath("/TPC/Calib/Gain/100/200/runNumber=5/3F2504E0-4F89-11D3-9A0C-0305E82C3301/a%20b=c%2Fd");
    expect(p).toEqual({ path: "TPC/Calib/Gain", timestamp: 100, end: 200, id: "3f2504e0-4f89-11d3-9a0c-0305e82c3301", metadata: { runNumber: "5", "a b": "c/d" } });
    expect(parseRequestPath("/A/k=v/B/5").metadata).toEqual({ k: "v" });
    expect(parseRequestPath("/A/B").timestamp).toBeUndefined();
    expect(() => parseRequestPath("/A/5/6/7")).toThrow(BadRequest);
    expect(() => parseRequestPath("/A/5/junk")).toThrow(/after the timestamp/);
    expect(() => parseRequestPath("/5")).toThrow(/path/);
    expect(() => parseRequestPath("/A/%zz/5")).toThrow(/percent/);
    // decoded before '=' is looked for, as the CCDB does
    expect(parseRequestPath("/A/k%3Dv/5")).toMatchObject({ path: "A", timestamp: 5, metadata: { k: "v" } });
    expect(() => parseRequestPath("/%3D/5")).toThrow(/empty metadata key/);
  });

  test("patterns: % as SQL LIKE, * as a regular expression anchored at the start, else exact", () => {
    expect(pathPattern("TPC/%/Gain").matches("TPC/Calib/Gain")).toBe(true);
    expect(pathPattern("TPC/%/Gain").matches("TPC/Calib/GainX")).toBe(false);
    expect(pathPattern("TPC/%/G_in").matches("TPC/Calib/Gain")).toBe(true);
    expect(pathPattern("TPC/Calib/G_in").matches("TPC/Calib/Gain")).toBe(false); // no %: exact
    expect(pathPattern("TPC/.*").matches("TPC/Calib/Gain")).toBe(true);
    expect(pathPattern("TPC/.*").matches("XTPC/Calib")).toBe(false);
    expect(pathPattern("TPC/Calib").matches("TPC/Calib/Gain")).toBe(false);
    expect(parseBrowsePath("/TPC/.*/123/k=v")).toMatchObject({ timestamp: 123, metadata: { k: "v" } });
    expect(() => pathPattern("TPC/(*")).toThrow(BadRequest);
  });

  test("Cache-Valid-Until ends where a newer object starts to be valid", () => {
    const winner = record("00000000-0000-0000-0000-000000000001", 10, 0, 1000);
    const newerLater = record("00000000-0000-0000-0000-000000000002", 20, 600, 2000);
    const olderLater = record("00000000-0000-0000-0000-000000000003", 5, 300, 2000);
    expect(cacheValidUntil(winner, [winner, newerLater, olderLater], 100)).toBe(600);
    expect(cacheValidUntil(winner, [winner, olderLater], 100)).toBe(1000);
  });
});

describe("byte ranges", () => {
  test("parse single, suffix, open and multiple ranges; refuse unsatisfiable and malformed ones", () => {
    expect(parseRange("bytes=0-9", 100)).toEqual([{ first: 0, last: 9 }]);
    expect(parseRange("bytes=-10", 100)).toEqual([{ first: 90, last: 99 }]);
    expect(parseRange("bytes=95-", 100)).toEqual([{ first: 95, last: 99 }]);
    expect(parseRange("bytes=90-200", 100)).toEqual([{ first: 90, last: 99 }]);
    expect(parseRange("bytes=0-1, 5-6", 100)).toEqual([{ first: 0, last: 1 }, { first: 5, last: 6 }]);
    for (const bad of ["bytes=100-", "bytes=5-4", "bytes=-0", "bytes=", "items=0-1", "bytes=a-b", "bytes=0-1,"]) expect([bad, parseRange(bad, 100)]).toEqual([bad, "invalid"]);
  });

  test("multipart/byteranges round trip", () => {
    const payload = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const body = multipartByteranges(payload, [{ first: 0, last: 3 }, { first: 250, last: 255 }], "application/octet-stream", "B");
    const parts = parseRangeResponse("multipart/byteranges; boundary=B", undefined, body);
    expect(parts.map((p) => [p.first, [...p.bytes]])).toEqual([[0, [0, 1, 2, 3]], [250, [250, 251, 252, 253, 254, 255]]]);
    expect(() => parseRangeResponse("application/octet-stream", "bytes 0-9/100", Buffer.alloc(5))).toThrow(/length/);
  });
});

describe("object headers", () => {
  test("metadata survives a round trip through headers, UTF-8 included; reserved names are not metadata", () => {
    const r = record("3f2504e0-4f89-11d3-9a0c-0305e82c3301", 1700000000123, 1, 2, { runNumber: "7", Comment: "Größe ≥ 10 µm", "Content-Type": "evil" });
    const headers = objectHeaders(r, { cacheValidUntil: 2 });
    expect(headers["Content-Type"]).toBe("application/octet-stream");
    const raw = Object.entries(headers).flatMap(([k, v]) => [Buffer.from(k), Buffer.from(v, "latin1")]);
    const back = recordFromHeaders(raw, 10, "upstream");
    expect(back?.meta).toEqual({ ...r.meta, metadata: { runNumber: "7", Comment: "Größe ≥ 10 µm" } });
    expect(back?.id).toBe(r.id);
  });
});

describe("the app through inject()", () => {
  test("routes, schemas and errors as data", async () => {
    const server = await buildServer({
      role: "cache",
      host: "127.0.0.1",
      port: 0,
      logger: false,
      cache: { upstream: [], budgetBytes: 1000, graceMs: 1000, warm: [], multicast: undefined, repairQuietMs: 100, repairJitterMs: 0, retryBaseMs: 100, upstreamTimeoutMs: 1000 },
    });
    try {
      const app = server.app;
      expect((await app.inject({ method: "GET", url: "/health" })).json()).toEqual({ status: "ok", role: "cache", reasons: [] });
      const noTime = await app.inject({ method: "GET", url: "/A/B" });
      expect(noTime.statusCode).toBe(400);
      expect(noTime.json()).toMatchObject({ statusCode: 400, error: "Bad Request" });
      const down = await app.inject({ method: "GET", url: "/A/B/5" });
      expect(down.statusCode).toBe(503);
      expect(down.json().message).toMatch(/no upstream configured/);
      expect((await app.inject({ method: "GET", url: "/A/B/5", headers: { "if-not-after": "soon" } })).statusCode).toBe(400);
      // a time beyond 2^53 - 1 selects what 2^53 - 1 does
      expect((await app.inject({ method: "GET", url: "/latest/A", headers: { "if-not-before": "123456789012345678901234567890" } })).statusCode).toBe(200);
      expect((await app.inject({ method: "GET", url: "/A/B/5", headers: { range: "" } })).statusCode).toBe(503); // an empty Range is no Range
      expect((await app.inject({ method: "GET", url: "/latest/A?Accept=application/json" })).json()).toEqual({ objects: [], subfolders: [] });
      expect((await app.inject({ method: "GET", url: "/browse/" })).body).toBe("Subfolders:\n");
      expect((await app.inject({ method: "GET", url: "/changes" })).statusCode).toBe(404);
      expect((await app.inject({ method: "POST", url: "/A/B/1/2", headers: { "content-type": "multipart/form-data; boundary=b" } })).statusCode).toBe(503); // no upstream to redirect to
      expect((await app.inject({ method: "POST", url: "/A/B/1/2" })).statusCode).toBe(400); // checked before any redirect: no multipart body
      expect((await app.inject({ method: "DELETE", url: "/A/B" })).statusCode).toBe(400); // no timestamp
      const put = await app.inject({ method: "PUT", url: "/health" });
      expect([put.statusCode, put.headers.allow, put.json().error]).toEqual([405, "GET", "Method Not Allowed"]);
      const options = await app.inject({ method: "OPTIONS", url: "/download/3f2504e0-4f89-11d3-9a0c-0305e82c3301" });
      expect([options.statusCode, options.headers.allow]).toEqual([405, "GET, HEAD"]);
      expect((await app.inject({ method: "PATCH", url: "/A/B/1" })).headers.allow).toBe("GET, HEAD, POST, PUT, DELETE");
      expect((await app.inject({ method: "HEAD", url: "/latest/A" })).statusCode).toBe(405);
      const metrics = await app.inject({ method: "GET", url: "/metrics" });
      expect(metrics.headers["content-type"]).toMatch(/text\/plain/);
      expect(metrics.body).toMatch(/^condcast_datagram_drops_total\{reason="bad_magic"\} 0$/m);
    } finally {
      await server.close();
    }
  });
});

describe("bad requests to a repository are 4xx with a reason, never 500 (found by fuzz/rest)", () => {
  test("malformed multipart bodies, an empty metadata key, an end of validity past 2^53 - 1, a listing of an object valid until then", async () => {
    const tmp = (await import("./helpers.js")).tempDir();
    const server = await buildServer({ role: "repository", host: "127.0.0.1", port: 0, logger: false, dataDir: tmp.dir });
    try {
      const app = server.app;
      const form = (body: string, boundary = "b"): { headers: Record<string, string>; payload: string } => ({ headers: { "content-type": `multipart/form-data; boundary=${boundary}` }, payload: body });
      const noBoundary = await app.inject({ method: "POST", url: "/A/1", headers: { "content-type": "multipart/form-data" }, payload: "x" });
      expect([noBoundary.statusCode, noBoundary.json().message]).toEqual([400, "malformed multipart/form-data body: Multipart: Boundary not found"]);
      expect((await app.inject({ method: "POST", url: "/A/1", ...form("--b\r\n-1--b--\r\n") })).statusCode).toBe(400);
      expect((await app.inject({ method: "POST", url: "/A/1", ...form("--b--\r\n") })).json().message).toBe("the POST request doesn't contain the data");
      expect((await app.inject({ method: "POST", url: "/A/9007199254740991", ...form("") })).json().message).toMatch(/out of range/);
      const part = '--b\r\nContent-Disposition: form-data; name="send"; filename="f"\r\n\r\npayload\r\n--b--\r\n';
      expect((await app.inject({ method: "POST", url: "/A/1/9007199254740991", ...form(part) })).statusCode).toBe(201);
      const listing = await app.inject({ method: "GET", url: "/browse/A" });
      expect(listing.statusCode).toBe(200);
      expect(listing.body).toContain("Validity: 1 - 9007199254740991 (1970-01-01T00:00:00.001Z - beyond the year 275760)");
      const put = await app.inject({ method: "PUT", url: "/A/1?=x" });
      expect([put.statusCode, put.json().message]).toEqual([400, "empty metadata key in the query (?=value)"]);
      expect((await app.inject({ method: "POST", url: "/latest/A/1", ...form(part) })).headers.allow).toBe("GET");
    } finally {
      await server.close();
      tmp.cleanup();
    }
  });
});

describe("JSON bodies", () => {
  test('a "__proto__" or "constructor" member where the schema allows extra members is accepted and dropped', async () => {
    const server = await buildServer({
      role: "cache",
      host: "127.0.0.1",
      port: 0,
      logger: false,
      cache: { upstream: ["http://127.0.0.1:9/"], budgetBytes: 1000, graceMs: 1000, warm: [], multicast: undefined, repairQuietMs: 100, repairJitterMs: 0, retryBaseMs: 100, upstreamTimeoutMs: 1000 },
    });
    try {
      const body = '{"keytable":"online","x":{"__proto__":{"polluted":true}},"y":{"constructor":{"prototype":{"polluted":true}}}}';
      const answer = await server.app.inject({ method: "POST", url: "/changesets", headers: { "content-type": "application/json" }, payload: body });
      expect(answer.statusCode, answer.body).toBe(307);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    } finally {
      await server.close();
    }
  });
});

describe("request logs", () => {
  test("at info, reads log their two lines only when they fail; writes always do", async () => {
    const lines: { msg: string; req?: { method: string; url: string }; res?: { statusCode: number } }[] = [];
    const server = await buildServer({
      role: "cache",
      host: "127.0.0.1",
      port: 0,
      logger: { level: "info", stream: { write: (line: string) => void lines.push(JSON.parse(line) as (typeof lines)[number]) } },
      cache: { upstream: [], budgetBytes: 1000, graceMs: 1000, warm: [], multicast: undefined, repairQuietMs: 100, repairJitterMs: 0, retryBaseMs: 100, upstreamTimeoutMs: 1000 },
    });
    try {
      const requestLines = (): string[] =>
        lines.filter((l) => l.msg === "incoming request" || l.msg === "request completed").map((l) => (l.req ? `${l.msg} ${l.req.method} ${l.req.url}` : `${l.msg} ${l.res?.statusCode}`));
      expect((await server.app.inject({ method: "GET", url: "/health" })).statusCode).toBe(200);
      expect((await server.app.inject({ method: "HEAD", url: "/A/B/5/x=y" })).statusCode).toBe(503);
      expect((await server.app.inject({ method: "GET", url: "/A/B" })).statusCode).toBe(400);
      expect((await server.app.inject({ method: "PUT", url: "/A/B/5" })).statusCode).toBe(503);
      expect(requestLines()).toEqual([
        "incoming request HEAD /A/B/5/x=y",
        "request completed 503",
        "incoming request GET /A/B",
        "request completed 400",
        "incoming request PUT /A/B/5",
        "request completed 503",
      ]);
    } finally {
      await server.close();
    }
  });
});

describe("spec/openapi.yaml", () => {
  test("documents every route of both roles, and nothing that is not served", async () => {
    const { readFileSync } = await import("node:fs");
    const text = readFileSync(new URL("../../../spec/openapi.yaml", import.meta.url), "utf8");
    expect(text.startsWith("openapi: 3.1.0\n")).toBe(true);
    const documented = new Map<string, Set<string>>();
    let current: string | undefined;
    for (const line of text.split("\n")) {
      const path = /^ {2}(\/\S*):$/.exec(line);
      if (path !== null) documented.set((current = path[1]!), new Set());
      else if (/^\S/.test(line)) current = undefined;
      const method = /^ {4}(get|head|post|put|delete):$/.exec(line);
      if (method !== null && current !== undefined) documented.get(current)!.add(method[1]!.toUpperCase());
    }
    const toSpec = (url: string): string =>
      url === "/*" ? "/{path}/{timestamp}" : url === "/download/:id" ? "/download/{uuid}" : url.startsWith("/latest") ? "/latest/{pattern}" : url.startsWith("/browse") ? "/browse/{pattern}" : url.replace(/:(\w+)/g, "{$1}");
    const served = new Map<string, Set<string>>();
    const tmp = (await import("./helpers.js")).tempDir();
    try {
      for (const role of ["cache", "repository"] as const) {
        const server = await buildServer({
          role,
          host: "127.0.0.1",
          port: 0,
          logger: false,
          dataDir: tmp.dir,
          cache: { upstream: [], budgetBytes: 1000, graceMs: 1000, warm: [], multicast: undefined, repairQuietMs: 100, repairJitterMs: 0, retryBaseMs: 100, upstreamTimeoutMs: 1000 },
        });
        for (const r of server.routes) {
          const key = toSpec(r.url);
          if (!served.has(key)) served.set(key, new Set());
          served.get(key)!.add(r.method);
        }
        await server.close();
      }
    } finally {
      tmp.cleanup();
    }
    const sorted = (m: Map<string, Set<string>>): [string, string[]][] => [...m].map(([k, v]) => [k, [...v].sort()] as [string, string[]]).sort();
    expect(sorted(documented)).toEqual(sorted(served));
  });
});
