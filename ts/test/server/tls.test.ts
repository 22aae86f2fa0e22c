// TLS (http/tls.ts, http/client.ts): a repository over HTTPS with certificates made by openssl, a
// cache that trusts its CA (or the wrong one), the certificate swapped by reloadTls (SIGHUP in
// condcast serve), and a cache sending its upstream token from a file to a reads-need-a-token repository.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync, spawn } from "node:child_process";
import { copyFileSync, writeFileSync } from "node:fs";
import { connect } from "node:tls";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { FormData, request } from "undici";
import { buildServer, type Server } from "../../src/server/http/app.js";
import { clientAgent, FileTokenSource } from "../../src/server/http/client.js";
import type { UpstreamSecurity } from "../../src/server/cache/upstream.js";
import { parseAuthConfig } from "../../src/server/auth/config.js";
import { signIssuerToken, startIssuer, type RunningIssuer } from "../../src/server/auth/issuer.js";
import { freePort, tempDir } from "./helpers.js";

const T0 = 1_700_000_000_000;
const CLI = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "dist", "cli", "main.js");

function openssl(...args: string[]): void {
  execFileSync("openssl", args, { stdio: "ignore" });
}

/** A CA, and a certificate for 127.0.0.1 signed by it; returns the file names. */
function makeCa(dir: string, name: string): { ca: string; caKey: string } {
  const ca = join(dir, `${name}-ca.pem`);
  const caKey = join(dir, `${name}-ca.key`);
  openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", caKey, "-out", ca, "-days", "2", "-subj", `/CN=${name} test CA`);
  return { ca, caKey };
}

function makeCert(dir: string, name: string, authority: { ca: string; caKey: string }): { cert: string; key: string } {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.pem`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, "subjectAltName=IP:127.0.0.1\n");
  openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", csr, "-subj", `/CN=${name}`);
  openssl("x509", "-req", "-in", csr, "-CA", authority.ca, "-CAkey", authority.caKey, "-CAcreateserial", "-out", cert, "-days", "1", "-extfile", ext);
  return { cert, key };
}

/** The CN of the certificate a new TLS connection to `port` is shown. */
function peerName(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, rejectUnauthorized: false }, () => {
      const cn = socket.getPeerCertificate().subject.CN;
      socket.end();
      resolve(String(cn));
    });
    socket.on("error", reject);
  });
}

function cacheOptions(upstream: string, upstreamSecurity: UpstreamSecurity) {
  return {
    role: "cache" as const,
    host: "127.0.0.1",
    port: 0,
    logger: false,
    cache: { upstream: [upstream], budgetBytes: 1 << 24, graceMs: 1000, warm: [], multicast: undefined, repairQuietMs: 50, repairJitterMs: 0, retryBaseMs: 100, upstreamTimeoutMs: 2000, keepKeys: 4, silence: { intervals: 3, startupGraceMs: 0, pollMs: 1000 }, upstreamSecurity },
  };
}

describe("TLS", () => {
  const tmp = tempDir();
  let good: { ca: string; caKey: string };
  let wrong: { ca: string; caKey: string };
  const live = { cert: join(tmp.dir, "live.pem"), key: join(tmp.dir, "live.key") };
  let repo: Server;
  let url: string;

  beforeAll(async () => {
    good = makeCa(tmp.dir, "good");
    wrong = makeCa(tmp.dir, "wrong");
    const first = makeCert(tmp.dir, "first", good);
    copyFileSync(first.cert, live.cert);
    copyFileSync(first.key, live.key);
    repo = await buildServer({ role: "repository", host: "127.0.0.1", port: 0, logger: false, dataDir: join(tmp.dir, "repo"), tls: { certFile: live.cert, keyFile: live.key } });
    url = (await repo.start()).replace("http://", "https://");
    const f = new FormData();
    f.append("send", new Blob([Buffer.from("over tls")]), "o.root");
    const answer = await request(`${url}/TPC/Calib/Tls/${T0}/${T0 + 1000}`, { method: "POST", body: f, dispatcher: clientAgent({ caFile: good.ca }) });
    expect(answer.statusCode).toBe(201);
    await answer.body.dump();
  });

  afterAll(async () => {
    await repo?.close();
    tmp.cleanup();
  });

  it("serves https that a client trusting the CA reaches and one trusting another CA refuses", async () => {
    expect(url).toMatch(/^https:/);
    const ok = await request(`${url}/TPC/Calib/Tls/${T0 + 1}`, { dispatcher: clientAgent({ caFile: good.ca }) });
    expect(ok.statusCode).toBe(200);
    expect(await ok.body.text()).toBe("over tls");
    await expect(request(`${url}/health`, { dispatcher: clientAgent({ caFile: wrong.ca }) })).rejects.toThrow(/certificate|self.signed|verify/i);
    await expect(request(`${url}/health`)).rejects.toThrow(/certificate|self.signed|verify/i);
  });

  it("lets a cache with --upstream-ca fetch from an https upstream; the wrong CA gives 503", async () => {
    const trusting = await buildServer(cacheOptions(url, { caFile: good.ca }));
    const wrongly = await buildServer(cacheOptions(url, { caFile: wrong.ca }));
    const [a, b] = [await trusting.start(), await wrongly.start()];
    try {
      const got = await request(`${a}/TPC/Calib/Tls/${T0 + 1}`);
      expect(got.statusCode).toBe(200);
      expect(await got.body.text()).toBe("over tls");
      const refused = await request(`${b}/TPC/Calib/Tls/${T0 + 1}`);
      expect(refused.statusCode).toBe(503);
      expect(await refused.body.text()).toMatch(/certificate|verify/i);
    } finally {
      await trusting.close();
      await wrongly.close();
    }
  });

  it("takes a new certificate on reloadTls for new connections; a bad pair leaves the old one", async () => {
    const port = Number(new URL(url).port);
    expect(await peerName(port)).toBe("first");
    const second = makeCert(tmp.dir, "second", good);
    copyFileSync(second.cert, live.cert);
    copyFileSync(second.key, live.key);
    repo.reloadTls();
    expect(await peerName(port)).toBe("second");
    writeFileSync(live.key, "not a key");
    expect(() => repo.reloadTls()).toThrow();
    expect(await peerName(port)).toBe("second");
  });

  it("condcast serve reloads its certificate on SIGHUP", async () => {
    const port = await freePort();
    const files = { cert: join(tmp.dir, "cli.pem"), key: join(tmp.dir, "cli.key") };
    const first = makeCert(tmp.dir, "cli-first", good);
    copyFileSync(first.cert, files.cert);
    copyFileSync(first.key, files.key);
    const child = spawn(process.execPath, [CLI, "serve", "--role", "repository", "--data-dir", join(tmp.dir, "cli-repo"), "--listen", `127.0.0.1:${port}`, "--heartbeat-interval", "0", "--tls-cert", files.cert, "--tls-key", files.key, "--log-level", "info"], { stdio: ["ignore", "pipe", "pipe"] });
    let log = "";
    child.stdout.on("data", (d: Buffer) => (log += d.toString()));
    try {
      for (let i = 0; i < 100 && !log.includes("Server listening"); i++) await new Promise((r) => setTimeout(r, 100));
      expect(await peerName(port)).toBe("cli-first");
      const next = makeCert(tmp.dir, "cli-second", good);
      copyFileSync(next.cert, files.cert);
      copyFileSync(next.key, files.key);
      child.kill("SIGHUP");
      for (let i = 0; i < 50 && !log.includes("TLS certificate reloaded"); i++) await new Promise((r) => setTimeout(r, 100));
      expect(await peerName(port)).toBe("cli-second");
    } finally {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
    }
  });
});

describe("a cache's upstream token", () => {
  const tmp = tempDir();
  let issuer: RunningIssuer;
  let repo: Server;
  let url: string;

  beforeAll(async () => {
    issuer = await startIssuer({ dir: join(tmp.dir, "issuer"), host: "127.0.0.1", port: 0 });
    const auth = parseAuthConfig(JSON.stringify({ reads: "token", issuers: [{ issuer: issuer.issuer, jwksUri: issuer.jwksUri, audience: "repo", prefix: "/" }] }));
    repo = await buildServer({ role: "repository", host: "127.0.0.1", port: 0, logger: false, dataDir: join(tmp.dir, "repo"), auth });
    url = await repo.start();
    const f = new FormData();
    f.append("send", new Blob([Buffer.from("secret")]), "o.root");
    const token = await signIssuerToken(join(tmp.dir, "issuer"), { issuer: issuer.issuer, audience: "repo", scope: "storage.create:/" });
    const answer = await request(`${url}/TPC/Calib/Read/${T0}/${T0 + 1000}`, { method: "POST", body: f, headers: { authorization: `Bearer ${token}` } });
    expect(answer.statusCode).toBe(201);
    await answer.body.dump();
  });

  afterAll(async () => {
    await repo?.close();
    await issuer?.close();
    tmp.cleanup();
  });

  it("reads a reads-need-a-token repository with the token file, read again when it changes", async () => {
    const tokenFile = join(tmp.dir, "token");
    writeFileSync(tokenFile, `${await signIssuerToken(join(tmp.dir, "issuer"), { issuer: issuer.issuer, audience: "repo", scope: "storage.read:/TRD" })}\n`);
    const cache = await buildServer(cacheOptions(url, { token: new FileTokenSource(tokenFile, 0) }));
    const bare = await buildServer(cacheOptions(url, {}));
    const [c, b] = [await cache.start(), await bare.start()];
    try {
      expect((await request(`${b}/TPC/Calib/Read/${T0 + 1}`)).statusCode).toBeGreaterThanOrEqual(400);
      // storage.read:/TRD does not cover TPC: the upstream refuses, the cache has nothing to answer.
      expect((await request(`${c}/TPC/Calib/Read/${T0 + 1}`)).statusCode).toBeGreaterThanOrEqual(400);
      writeFileSync(tokenFile, `${await signIssuerToken(join(tmp.dir, "issuer"), { issuer: issuer.issuer, audience: "repo", scope: "storage.read:/TPC" })}\n`);
      const got = await request(`${c}/TPC/Calib/Read/${T0 + 1}`);
      expect(got.statusCode).toBe(200);
      expect(await got.body.text()).toBe("secret");
    } finally {
      await cache.close();
      await bare.close();
    }
  });
});
