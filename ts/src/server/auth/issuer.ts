// A local token issuer (for tests, demos and `make cluster`, not a production identity provider): an
// ES256 key pair kept in a directory, its public keys served as a JWKS with an OpenID discovery
// document, and WLCG-profile access tokens signed with the newest key.
import { randomUUID } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync, renameSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from "jose";

export const ISSUER_ALG = "ES256";

interface StoredKey {
  readonly kid: string;
  readonly createdMs: number;
  readonly privateJwk: JWK;
}

const KEY_FILE = /^key-([A-Za-z0-9_-]+)\.jwk\.json$/;

function readKeys(dir: string): StoredKey[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => KEY_FILE.test(name))
    .map((name) => JSON.parse(readFileSync(join(dir, name), "utf8")) as StoredKey)
    .sort((a, b) => a.createdMs - b.createdMs || a.kid.localeCompare(b.kid));
}

/** Generates a new signing key in `dir` (it becomes the one tokens are signed with); returns its kid. */
export async function addIssuerKey(dir: string): Promise<string> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { privateKey } = await generateKeyPair(ISSUER_ALG, { extractable: true });
  const privateJwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(privateJwk);
  const newest = readKeys(dir).at(-1)?.createdMs ?? 0;
  const stored: StoredKey = { kid, createdMs: Math.max(Date.now(), newest + 1), privateJwk: { ...privateJwk, kid, alg: ISSUER_ALG, use: "sig" } };
  const file = join(dir, `key-${kid}.jwk.json`);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(stored)}\n`, { mode: 0o600 });
  chmodSync(`${file}.tmp`, 0o600);
  renameSync(`${file}.tmp`, file);
  return kid;
}

/** Makes sure `dir` holds a key pair (generated when absent). */
export async function ensureIssuerKey(dir: string): Promise<void> {
  if (readKeys(dir).length === 0) await addIssuerKey(dir);
}

/** Drops every key but the newest: tokens signed with the others stop verifying once the JWKS is refetched. */
export function retireOldIssuerKeys(dir: string): void {
  const keys = readKeys(dir);
  for (const key of keys.slice(0, -1)) renameSync(join(dir, `key-${key.kid}.jwk.json`), join(dir, `retired-${key.kid}`));
}

/** The public JWKS of every key in `dir`. */
export function issuerJwks(dir: string): { keys: JWK[] } {
  return {
    keys: readKeys(dir).map(({ privateJwk }) => {
      const { d: _d, ...pub } = privateJwk;
      return pub;
    }),
  };
}

export interface TokenRequest {
  readonly issuer: string;
  readonly audience: string | readonly string[];
  /** Space-separated scopes, e.g. "storage.create:/TPC storage.read:/". */
  readonly scope: string;
  readonly subject?: string | undefined;
  /** Lifetime in seconds (default 3600, the WLCG default access-token lifetime). */
  readonly ttlS?: number | undefined;
  /** Seconds from now before which the token is not valid (default 0: valid at once). */
  readonly notBeforeS?: number | undefined;
}

/** A compact JWS signed with the newest key of `dir`, with the WLCG profile's claims. */
export async function signIssuerToken(dir: string, request: TokenRequest): Promise<string> {
  const key = readKeys(dir).at(-1);
  if (key === undefined) throw new Error(`no issuer key in ${dir} (run condcast issuer --dir ${dir} first)`);
  const now = Math.floor(Date.now() / 1000);
  const ttl = request.ttlS ?? 3600;
  return new SignJWT({ scope: request.scope, "wlcg.ver": "1.0" })
    .setProtectedHeader({ alg: ISSUER_ALG, kid: key.kid, typ: "JWT" })
    .setIssuer(request.issuer)
    .setAudience(typeof request.audience === "string" ? request.audience : [...request.audience])
    .setSubject(request.subject ?? "condcast-local")
    .setIssuedAt(now)
    .setNotBefore(now + (request.notBeforeS ?? 0))
    .setExpirationTime(now + ttl)
    .setJti(randomUUID())
    .sign(await importJWK(key.privateJwk, ISSUER_ALG));
}

export interface RunningIssuer {
  readonly server: Server;
  /** The issuer URL (the `iss` of its tokens) and where its JWKS is. */
  readonly issuer: string;
  readonly jwksUri: string;
  close(): Promise<void>;
}

/**
 * Serves GET /.well-known/openid-configuration and GET /jwks for the keys in `dir`, read again on
 * every request so a key added by another process is published at once.
 */
export async function startIssuer(options: { dir: string; host: string; port: number; issuer?: string | undefined }): Promise<RunningIssuer> {
  await ensureIssuerKey(options.dir);
  let issuer = options.issuer ?? "";
  const server = createServer((request, response) => {
    const path = (request.url ?? "/").split("?")[0];
    const send = (status: number, body: unknown): void => {
      const text = JSON.stringify(body);
      response.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text), "Cache-Control": "max-age=60" });
      response.end(request.method === "HEAD" ? undefined : text);
    };
    if (request.method !== "GET" && request.method !== "HEAD") return send(405, { statusCode: 405, error: "Method Not Allowed", message: "GET only" });
    if (path === "/.well-known/openid-configuration") return send(200, { issuer, jwks_uri: `${issuer}/jwks`, id_token_signing_alg_values_supported: [ISSUER_ALG], scopes_supported: ["storage.read", "storage.create", "storage.modify"] });
    if (path === "/jwks") return send(200, issuerJwks(options.dir));
    return send(404, { statusCode: 404, error: "Not Found", message: `no ${path} here (/.well-known/openid-configuration, /jwks)` });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : options.port;
  if (issuer === "") issuer = `http://${options.host.includes(":") ? `[${options.host}]` : options.host}:${port}`;
  return { server, issuer, jwksUri: `${issuer}/jwks`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
