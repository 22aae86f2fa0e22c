// Bearer-token authorisation (auth/): real repository and cache over HTTP, a real JWKS served by the
// local issuer (auth/issuer.ts) on loopback, tokens minted by it or forged by hand.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { FormData, request } from "undici";
import { SignJWT, importJWK, base64url } from "jose";
import { buildServer, type Server } from "../../src/server/http/app.js";
import { parseAuthConfig, type AuthConfig } from "../../src/server/auth/config.js";
import { addIssuerKey, signIssuerToken, startIssuer, type RunningIssuer, type TokenRequest } from "../../src/server/auth/issuer.js";
import { grants, parseCapabilities } from "../../src/server/auth/scopes.js";
import { tempDir } from "./helpers.js";

const AUD = "https://repository.test";
const T0 = 1_700_000_000_000;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

async function send(url: string, method: "GET" | "POST" | "PUT" | "DELETE", token: string | undefined, body?: FormData | string, extra: Record<string, string> = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...extra };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  if (typeof body === "string") headers["content-type"] = "application/json";
  const response = await request(url, { method, headers, body: body ?? null });
  return { status: response.statusCode, headers: response.headers, text: await response.body.text() };
}

function form(bytes = "payload"): FormData {
  const f = new FormData();
  f.append("send", new Blob([Buffer.from(bytes)]), "o.root");
  return f;
}

async function repository(dataDir: string, auth: AuthConfig): Promise<{ server: Server; url: string }> {
  const server = await buildServer({ role: "repository", host: "127.0.0.1", port: 0, logger: false, dataDir, auth });
  return { server, url: await server.start() };
}

describe("scopes", () => {
  it("are path-hierarchical and component-exact, under the issuer's prefix", () => {
    const caps = parseCapabilities("openid storage.create:/TPC storage.read:/ storage.modify storage.modify:/a/../b", "/");
    expect(grants(caps, "create", "TPC/Calib/Gain")).toBe(true);
    expect(grants(caps, "create", "TPC")).toBe(true);
    expect(grants(caps, "create", "TPCX/Calib")).toBe(false);
    expect(grants(caps, "modify", "TPC/Calib")).toBe(false);
    expect(grants(caps, "read", "TRD/x")).toBe(true);
    const under = parseCapabilities("storage.modify:/ storage.create:/Calib", "/TRD");
    expect(grants(under, "modify", "TRD/x")).toBe(true);
    expect(grants(under, "create", "TPC/x")).toBe(false);
    expect(grants(under, "read", "TRD/x")).toBe(false);
  });
});

describe("authorisation with bearer tokens", () => {
  const tmp = tempDir();
  const issuerDir = join(tmp.dir, "issuer");
  const otherDir = join(tmp.dir, "other");
  let issuer: RunningIssuer;
  let other: RunningIssuer;
  let repo: { server: Server; url: string };
  let repoReadsToken: { server: Server; url: string };
  const mint = (request: Partial<TokenRequest> = {}): Promise<string> => signIssuerToken(issuerDir, { issuer: issuer.issuer, audience: AUD, scope: "storage.modify:/TPC storage.read:/", ...request });
  let modifyTpc: string;
  let createTpc: string;

  beforeAll(async () => {
    issuer = await startIssuer({ dir: issuerDir, host: "127.0.0.1", port: 0 });
    other = await startIssuer({ dir: otherDir, host: "127.0.0.1", port: 0 });
    const config = (reads: string): AuthConfig =>
      parseAuthConfig(JSON.stringify({ reads, jwksCooldownMs: 100, issuers: [{ issuer: issuer.issuer, jwksUri: issuer.jwksUri, audience: AUD, prefix: "/" }] }));
    repo = await repository(join(tmp.dir, "repo"), config("open"));
    repoReadsToken = await repository(join(tmp.dir, "repo-token"), config("token"));
    modifyTpc = await mint({ scope: "storage.modify:/TPC storage.read:/" });
    createTpc = await mint({ scope: "storage.create:/TPC" });
  });

  afterAll(async () => {
    await repo?.server.close();
    await repoReadsToken?.server.close();
    await issuer?.close();
    await other?.close();
    tmp.cleanup();
  });

  const objectCount = (): number => repo.server.ctx.store.stats().objects as number;

  it("stores an upload with a token granting storage.create on its path", async () => {
    const answer = await send(`${repo.url}/TPC/Calib/Good/${T0}/${T0 + 1000}`, "POST", createTpc, form());
    expect(answer.status, answer.text).toBe(201);
    expect((await send(`${repo.url}/TPC/Calib/Good/${T0 + 1}`, "GET", undefined)).status).toBe(200);
  });

  const refusals: [string, () => Promise<string | undefined>, RegExp][] = [
    ["missing", async () => undefined, /needs a bearer token/],
    ["expired", () => mint({ ttlS: -120 }), /expired \(exp\)/],
    ["not yet valid", () => mint({ notBeforeS: 600 }), /not yet valid \(nbf\)/],
    ["wrong audience", () => mint({ audience: "https://elsewhere.test" }), /audience \(aud\)/],
    ["wrong issuer", () => signIssuerToken(otherDir, { issuer: other.issuer, audience: AUD, scope: "storage.modify:/" }), /is not trusted here/],
    ["signed by another key under the trusted issuer's name", () => signIssuerToken(otherDir, { issuer: issuer.issuer, audience: AUD, scope: "storage.modify:/" }), /no key of the issuer's JWKS matches/],
    [
      "forged signature (claims altered after signing)",
      async () => {
        const [h, , s] = (await mint({ scope: "storage.read:/" })).split(".");
        const claims = { iss: issuer.issuer, aud: AUD, exp: Math.floor(Date.now() / 1000) + 600, scope: "storage.modify:/" };
        return `${h}.${base64url.encode(JSON.stringify(claims))}.${s}`;
      },
      /signature does not verify/,
    ],
    [
      "HMAC-signed",
      () => new SignJWT({ scope: "storage.modify:/" }).setProtectedHeader({ alg: "HS256" }).setIssuer(issuer.issuer).setAudience(AUD).setExpirationTime("10m").sign(new TextEncoder().encode("a shared secret of thirty-two bytes!")),
      /HMAC-signed tokens \(HS256\) are refused/,
    ],
    ["not a JWT", async () => "not-a-jwt", /not a JWT/],
  ];

  for (const [name, token, reason] of refusals) {
    it(`refuses a ${name} token with 401 and its reason, writing nothing`, async () => {
      const before = objectCount();
      const t = await token();
      for (const [method, path] of [["POST", `/TPC/Calib/Bad/${T0}/${T0 + 1000}`], ["PUT", `/TPC/Calib/Good/${T0 + 1}/${T0 + 500}`], ["DELETE", `/TPC/Calib/Good/${T0 + 1}`]] as const) {
        const answer = await send(`${repo.url}${path}`, method, t, method === "POST" ? form() : undefined);
        expect(answer.status, `${method} ${answer.text}`).toBe(401);
        const body = JSON.parse(answer.text) as { statusCode: number; message: string };
        expect(body.statusCode).toBe(401);
        expect(body.message).toMatch(reason);
        const challenge = String(answer.headers["www-authenticate"]);
        expect(challenge).toMatch(/^Bearer realm="condcast"/);
        if (t !== undefined) expect(challenge).toContain('error="invalid_token"');
      }
      expect(objectCount()).toBe(before);
      const kept = await send(`${repo.url}/TPC/Calib/Good/${T0 + 1}`, "GET", undefined);
      expect(kept.status).toBe(200);
      expect(kept.headers["valid-until"]).toBe(String(T0 + 1000));
    });
  }

  it("refuses writes outside the granted path with 403 naming the scope", async () => {
    const before = objectCount();
    for (const path of ["TPCX/Calib", "TRD/Calib"]) {
      const answer = await send(`${repo.url}/${path}/${T0}/${T0 + 1000}`, "POST", modifyTpc, form());
      expect(answer.status).toBe(403);
      expect(JSON.parse(answer.text).message).toContain(`storage.create:/${path}`);
      expect(String(answer.headers["www-authenticate"])).toContain(`error="insufficient_scope", scope="storage.create:/${path}"`);
    }
    expect(objectCount()).toBe(before);
  });

  it("lets storage.create upload but not delete or change validity", async () => {
    const put = await send(`${repo.url}/TPC/Calib/Good/${T0 + 1}/${T0 + 500}`, "PUT", createTpc);
    expect(put.status).toBe(403);
    expect(JSON.parse(put.text).message).toContain("storage.modify:/TPC/Calib/Good");
    const del = await send(`${repo.url}/TPC/Calib/Good/${T0 + 1}`, "DELETE", createTpc);
    expect(del.status).toBe(403);
    expect((await send(`${repo.url}/TPC/Calib/Good/${T0 + 1}`, "GET", undefined)).headers["valid-until"]).toBe(String(T0 + 1000));
    // storage.modify does both.
    expect((await send(`${repo.url}/TPC/Calib/Good/${T0 + 1}/${T0 + 500}`, "PUT", modifyTpc)).status).toBe(204);
    expect((await send(`${repo.url}/TPC/Calib/Good/${T0 + 1}`, "GET", undefined)).headers["valid-until"]).toBe(String(T0 + 500));
  });

  it("needs a write scope to open a changeset and storage.modify for each path a commit removes", async () => {
    expect((await send(`${repo.url}/changesets`, "POST", undefined, JSON.stringify({ keytable: "k" }))).status).toBe(401);
    expect((await send(`${repo.url}/changesets`, "POST", await mint({ scope: "storage.read:/" }), JSON.stringify({ keytable: "k" }))).status).toBe(403);
    const opened = await send(`${repo.url}/changesets`, "POST", createTpc, JSON.stringify({ keytable: "k" }));
    expect(opened.status, opened.text).toBe(201);
    const id = (JSON.parse(opened.text) as { id: string }).id;
    const staged = await send(`${repo.url}/TPC/Calib/Staged/${T0}/${T0 + 1000}`, "POST", createTpc, form("staged"), { "condcast-changeset": id });
    expect(staged.status, staged.text).toBe(201);
    const removing = await send(`${repo.url}/changesets/${id}/commit`, "POST", createTpc, JSON.stringify({ removedPaths: ["TPC/Calib/Good"] }));
    expect(removing.status).toBe(403);
    expect(JSON.parse(removing.text).message).toContain("storage.modify:/TPC/Calib/Good");
    expect((await send(`${repo.url}/TPC/Calib/Good/${T0 + 1}`, "GET", undefined)).status).toBe(200);
    const committed = await send(`${repo.url}/changesets/${id}/commit`, "POST", createTpc, JSON.stringify({}));
    expect(committed.status, committed.text).toBe(200);
    expect((await send(`${repo.url}/runs/1`, "POST", undefined, JSON.stringify({ keytable: "k" }))).status).toBe(401);
    expect((await send(`${repo.url}/runs/1`, "POST", createTpc, JSON.stringify({ keytable: "k" }))).status).toBeLessThan(300);
  });

  it("leaves reads open or requires storage.read, as configured", async () => {
    expect((await send(`${repoReadsToken.url}/TPC/Calib/New/${T0}/${T0 + 1000}`, "POST", createTpc, form())).status).toBe(201);
    expect((await send(`${repoReadsToken.url}/TPC/Calib/New/${T0 + 1}`, "GET", undefined)).status).toBe(401);
    expect((await send(`${repoReadsToken.url}/latest/TPC/Calib/New`, "GET", undefined)).status).toBe(401);
    // storage.create does not imply read.
    expect((await send(`${repoReadsToken.url}/TPC/Calib/New/${T0 + 1}`, "GET", createTpc)).status).toBe(403);
    const readTrd = await mint({ scope: "storage.read:/TRD" });
    expect((await send(`${repoReadsToken.url}/TPC/Calib/New/${T0 + 1}`, "GET", readTrd)).status).toBe(403);
    const readTpc = await mint({ scope: "storage.read:/TPC" });
    const got = await send(`${repoReadsToken.url}/TPC/Calib/New/${T0 + 1}`, "GET", readTpc);
    expect(got.status).toBe(200);
    expect((await send(`${repoReadsToken.url}/download/${String(got.headers.etag).replaceAll('"', "")}`, "GET", readTrd)).status).toBe(403);
    expect((await send(`${repoReadsToken.url}/download/${String(got.headers.etag).replaceAll('"', "")}`, "GET", readTpc)).status).toBe(200);
    expect((await send(`${repoReadsToken.url}/browse/TPC/Calib`, "GET", readTpc)).status).toBe(200);
    expect((await send(`${repoReadsToken.url}/health`, "GET", undefined)).status).toBe(200);
    expect((await send(`${repoReadsToken.url}/keys`, "GET", undefined)).status).toBe(401);
    expect((await send(`${repoReadsToken.url}/keys`, "GET", readTrd)).status).toBe(200);
    expect((await send(`${repo.url}/TPC/Calib/Good/${T0 + 1}`, "GET", undefined)).status).toBe(200);
  });

  it("refetches the JWKS for a token signed with a new key (rotation)", async () => {
    const firstKid = readdirSync(issuerDir).filter((f) => f.startsWith("key-"));
    expect(firstKid).toHaveLength(1);
    const kid = await addIssuerKey(issuerDir);
    const rotated = await mint({ scope: "storage.create:/TPC" });
    expect(JSON.parse(Buffer.from(rotated.split(".")[0]!, "base64url").toString()).kid).toBe(kid);
    await new Promise((r) => setTimeout(r, 150)); // past the 100 ms cooldown since the last fetch
    const answer = await send(`${repo.url}/TPC/Calib/Rotated/${T0}/${T0 + 1000}`, "POST", rotated, form());
    expect(answer.status, answer.text).toBe(201);
    // The old key is still published, so its tokens still verify.
    expect((await send(`${repo.url}/TPC/Calib/Rotated2/${T0}/${T0 + 1000}`, "POST", createTpc, form())).status).toBe(201);
  });

  it("lets a cache's 307 carry the token to the repository", async () => {
    const cache = await buildServer({
      role: "cache",
      host: "127.0.0.1",
      port: 0,
      logger: false,
      cache: { upstream: [repo.url], budgetBytes: 1 << 24, graceMs: 1000, warm: [], multicast: undefined, repairQuietMs: 50, repairJitterMs: 0, retryBaseMs: 100, upstreamTimeoutMs: 2000, keepKeys: 4, silence: { intervals: 3, startupGraceMs: 0, pollMs: 1000 } },
    });
    const cacheUrl = await cache.start();
    try {
      const path = `/TPC/Calib/ViaCache/${T0}/${T0 + 1000}`;
      const first = await send(`${cacheUrl}${path}`, "POST", createTpc, form());
      expect(first.status).toBe(307);
      const location = String(first.headers.location);
      expect(location).toBe(`${repo.url}${path}`);
      // The client sends the same request, Authorization included, to the Location (curl --location-trusted).
      expect((await send(location, "POST", undefined, form())).status).toBe(401);
      expect((await send(location, "POST", createTpc, form())).status).toBe(201);
    } finally {
      await cache.close();
    }
  });
});
