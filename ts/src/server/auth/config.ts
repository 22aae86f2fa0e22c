// The --auth FILE of `condcast serve`: the trusted issuers, each mapped to the path prefix it may
// grant, and whether reads need a token.
import { canonicalPath } from "./scopes.js";

export interface TrustedIssuer {
  /** The token's `iss`, exactly (WLCG: an HTTPS URL; http on loopback for tests and demos). */
  readonly issuer: string;
  /** Where the issuer's public keys are (JWKS); fetched, cached, refetched on an unknown `kid`. */
  readonly jwksUri: string;
  /** Accepted `aud` values (the token must name one). */
  readonly audience: readonly string[];
  /** The area it may grant: its scope paths are relative to this ("/" = the whole namespace). */
  readonly prefix: string;
}

export interface AuthConfig {
  readonly issuers: readonly TrustedIssuer[];
  /** "open": reads need nothing; "token": reads need storage.read on what they read. */
  readonly reads: "open" | "token";
  /** Accepted clock difference for exp and nbf, seconds (default 30). */
  readonly clockToleranceS: number;
  /** Least time between two JWKS fetches of one issuer, ms (jose's cooldown; default 30 000). */
  readonly jwksCooldownMs: number;
  /** Longest a fetched JWKS is used before it is fetched again, ms (default 600 000). */
  readonly jwksMaxAgeMs: number;
}

export class AuthConfigError extends Error {}

function httpUrl(value: unknown, what: string): string {
  if (typeof value !== "string") throw new AuthConfigError(`${what} must be a URL string`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new AuthConfigError(`${what} ${JSON.stringify(value)} is not a URL`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new AuthConfigError(`${what} ${JSON.stringify(value)} is not http(s)`);
  return value;
}

function nonNegative(value: unknown, fallback: number, what: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) throw new AuthConfigError(`${what} must be a non-negative integer`);
  return value;
}

/** Parses and checks the JSON text of an auth file; AuthConfigError names what is wrong. */
export function parseAuthConfig(text: string): AuthConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new AuthConfigError(`not JSON: ${(error as Error).message}`);
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw new AuthConfigError("expected a JSON object {issuers, reads}");
  const o = raw as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!["issuers", "reads", "clockToleranceS", "jwksCooldownMs", "jwksMaxAgeMs"].includes(key)) throw new AuthConfigError(`unknown setting ${JSON.stringify(key)}`);
  }
  const reads = o.reads ?? "open";
  if (reads !== "open" && reads !== "token") throw new AuthConfigError(`reads must be "open" or "token", got ${JSON.stringify(reads)}`);
  if (!Array.isArray(o.issuers) || o.issuers.length === 0) throw new AuthConfigError("issuers must be a non-empty array");
  const issuers = o.issuers.map((entry: unknown, i): TrustedIssuer => {
    const what = `issuers[${i}]`;
    if (entry === null || typeof entry !== "object" || Array.isArray(entry)) throw new AuthConfigError(`${what} must be an object {issuer, jwksUri, audience, prefix}`);
    const e = entry as Record<string, unknown>;
    const audience = typeof e.audience === "string" ? [e.audience] : e.audience;
    if (!Array.isArray(audience) || audience.length === 0 || !audience.every((a) => typeof a === "string" && a.length > 0)) throw new AuthConfigError(`${what}.audience must be a string or a non-empty array of strings`);
    const prefix = canonicalPath(typeof e.prefix === "string" ? e.prefix : "");
    if (typeof e.prefix !== "string" || !e.prefix.startsWith("/") || prefix === undefined) throw new AuthConfigError(`${what}.prefix must be an absolute path such as "/" or "/TPC"`);
    return { issuer: httpUrl(e.issuer, `${what}.issuer`), jwksUri: httpUrl(e.jwksUri, `${what}.jwksUri`), audience: audience as string[], prefix };
  });
  const seen = new Set<string>();
  for (const issuer of issuers) {
    if (seen.has(issuer.issuer)) throw new AuthConfigError(`issuer ${issuer.issuer} is listed twice`);
    seen.add(issuer.issuer);
  }
  return {
    issuers,
    reads,
    clockToleranceS: nonNegative(o.clockToleranceS, 30, "clockToleranceS"),
    jwksCooldownMs: nonNegative(o.jwksCooldownMs, 30_000, "jwksCooldownMs"),
    jwksMaxAgeMs: nonNegative(o.jwksMaxAgeMs, 600_000, "jwksMaxAgeMs"),
  };
}
