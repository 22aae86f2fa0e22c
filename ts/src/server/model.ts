// The server's object model and the CCDB request grammar: /<path>/<ts>[/<end>][/<uuid>][/k=v...].
import { isUuid } from "../wire/ids.js";
import type { ObjectMetadata } from "../wire/object.js";

/** How an object came to be held (shown in /status, logs and the Condcast-Source header). */
export type ObjectSource = "upload" | "multicast" | "repair" | "upstream" | "warm" | "changes";

/** One stored object's description; the payload is kept by the storage. */
export interface ObjectRecord {
  readonly id: string;
  readonly meta: ObjectMetadata;
  readonly size: number;
  /** The end of validity at upload time (CCDB InitialValidityLimit). */
  readonly initialValidity: number;
  /** Epoch ms of the last change (upload or PUT). */
  readonly lastModified: number;
  readonly source: ObjectSource;
}

/** What a GET/HEAD/PUT/DELETE on /<path>/<ts>... selects. */
export interface ObjectQuery {
  readonly path: string;
  /** Validity moment; absent = any (only for /browse and /latest). */
  readonly timestamp?: number | undefined;
  readonly metadata: Readonly<Record<string, string>>;
  readonly id?: string | undefined;
  /** If-Not-After: created <= notAfter. */
  readonly notAfter?: number | undefined;
  /** If-Not-Before: created >= notBefore. */
  readonly notBefore?: number | undefined;
}

/** A parsed request path. */
export interface ParsedRequest {
  readonly path: string;
  readonly timestamp?: number | undefined;
  readonly end?: number | undefined;
  readonly id?: string | undefined;
  readonly metadata: Readonly<Record<string, string>>;
}

export class BadRequest extends Error {}

const NUMERIC = /^\d+$/;

function decode(token: string): string {
  try {
    return decodeURIComponent(token);
  } catch {
    throw new BadRequest(`malformed percent-encoding in ${JSON.stringify(token)}`);
  }
}

/**
 * Parses the CCDB grammar (RequestParser): path elements up to the first all-numeric element, then an
 * optional end time, a UUID and k=v elements (k=v may also appear among the path elements). Empty
 * elements (a trailing or doubled slash) are skipped.
 */
export function parseRequestPath(rawPath: string): ParsedRequest {
  const tokens = rawPath.split("/").filter((t) => t.length > 0);
  const path: string[] = [];
  const metadata: Record<string, string> = Object.create(null) as Record<string, string>;
  let timestamp: number | undefined;
  let end: number | undefined;
  let id: string | undefined;
  for (const raw of tokens) {
    // Decoded before '=' is looked for, as the CCDB does: an '=' sent as %3D makes key=value too.
    const token = decode(raw);
    const eq = token.indexOf("=");
    if (eq > 0) {
      metadata[token.slice(0, eq)] = token.slice(eq + 1);
      continue;
    }
    if (eq === 0) throw new BadRequest(`empty metadata key in ${JSON.stringify(raw)}`);
    if (timestamp === undefined) {
      if (NUMERIC.test(token)) {
        timestamp = toTime(token);
        if (path.length === 0) throw new BadRequest("the path is missing before the timestamp");
      } else path.push(token);
      continue;
    }
    if (NUMERIC.test(token) && end === undefined && id === undefined) {
      end = toTime(token);
    } else if (isUuid(token) && id === undefined) {
      id = token.toLowerCase();
    } else {
      throw new BadRequest(`unexpected element ${JSON.stringify(token)} after the timestamp (expected an end time, a UUID or key=value)`);
    }
  }
  if (path.length === 0) throw new BadRequest("the path is missing");
  return { path: path.join("/"), timestamp, end, id, metadata };
}

function toTime(token: string): number {
  const value = Number(token);
  if (!Number.isSafeInteger(value)) throw new BadRequest(`time ${token} is out of range`);
  return value;
}

/** True when `record` satisfies every constraint of `query` but the path (checked by the caller). */
export function matchesConstraints(record: ObjectRecord, query: Omit<ObjectQuery, "path">): boolean {
  const meta = record.meta;
  if (query.id !== undefined && record.id !== query.id) return false;
  if (query.timestamp !== undefined && !(meta.validFrom <= query.timestamp && query.timestamp < meta.validUntil)) return false;
  if (query.notAfter !== undefined && meta.created > query.notAfter) return false;
  if (query.notBefore !== undefined && meta.created < query.notBefore) return false;
  const wanted = query.metadata;
  for (const key in wanted) {
    if (Object.hasOwn(wanted, key) && meta.metadata[key] !== wanted[key]) return false;
  }
  return true;
}

/** Newest created first; ties broken by id so the order is total. */
export function newestFirst(a: ObjectRecord, b: ObjectRecord): number {
  return b.meta.created - a.meta.created || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/**
 * A /browse or /latest path pattern: with % it is an SQL LIKE pattern (whole path), else with * a
 * regular expression anchored at the start (as the CCDB's `~ '^pattern'`), else an exact path whose
 * immediate subfolders are listed too.
 */
export interface PathPattern {
  readonly text: string;
  readonly kind: "exact" | "like" | "regex";
  matches(path: string): boolean;
}

export function pathPattern(text: string): PathPattern {
  if (text.includes("%")) {
    const source = text
      .split("")
      .map((c) => (c === "%" ? ".*" : c === "_" ? "." : c.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
      .join("");
    const re = new RegExp(`^${source}$`, "s");
    return { text, kind: "like", matches: (p) => re.test(p) };
  }
  if (text.includes("*")) {
    let re: RegExp;
    try {
      re = new RegExp(`^${text}`);
    } catch (error) {
      throw new BadRequest(`invalid pattern ${JSON.stringify(text)}: ${(error as Error).message}`);
    }
    return { text, kind: "regex", matches: (p) => re.test(p) };
  }
  return { text, kind: "exact", matches: (p) => p === text };
}

/** Parses /browse and /latest paths: a pattern (possibly empty), an optional time, k=v elements. */
export function parseBrowsePath(rawPath: string): { pattern: PathPattern; timestamp?: number | undefined; metadata: Record<string, string> } {
  const tokens = rawPath.split("/").filter((t) => t.length > 0);
  const path: string[] = [];
  const metadata: Record<string, string> = Object.create(null) as Record<string, string>;
  let timestamp: number | undefined;
  for (const raw of tokens) {
    const eq = raw.indexOf("=");
    if (eq > 0) {
      metadata[decode(raw.slice(0, eq))] = decode(raw.slice(eq + 1));
      continue;
    }
    const token = decode(raw);
    if (timestamp === undefined && NUMERIC.test(token)) timestamp = toTime(token);
    else if (timestamp !== undefined) throw new BadRequest(`unexpected element ${JSON.stringify(token)} after the timestamp`);
    else path.push(token);
  }
  return { pattern: pathPattern(path.join("/")), timestamp, metadata };
}

/** Immediate subfolders of `folder` ("" = root) among `paths`. */
export function subfolders(folder: string, paths: Iterable<string>): string[] {
  const prefix = folder === "" ? "" : `${folder}/`;
  const out = new Set<string>();
  for (const p of paths) {
    if (!p.startsWith(prefix) || p === folder) continue;
    const rest = p.slice(prefix.length);
    const slash = rest.indexOf("/");
    out.add(prefix + (slash < 0 ? rest : rest.slice(0, slash)));
  }
  return [...out].sort();
}

/** The objects /browse (all, newest first) or /latest (newest per path) lists. */
export function selectListing(records: Iterable<ObjectRecord>, pattern: PathPattern, query: Omit<ObjectQuery, "path">, latest: boolean, limit?: number): ObjectRecord[] {
  const matching = [...records].filter((r) => pattern.matches(r.meta.path) && matchesConstraints(r, query)).sort(newestFirst);
  let out = matching;
  if (latest) {
    const seen = new Set<string>();
    out = matching.filter((r) => (seen.has(r.meta.path) ? false : (seen.add(r.meta.path), true)));
  }
  return limit !== undefined ? out.slice(0, limit) : out;
}

/**
 * Until when the answer to `query` stays `winner` as far as the objects held show (Cache-Valid-Until):
 * the end of its validity, or earlier when a newer object starts to be valid before that.
 */
export function cacheValidUntil(winner: ObjectRecord, candidates: Iterable<ObjectRecord>, timestamp: number): number {
  let until = winner.meta.validUntil;
  for (const r of candidates) {
    if (r.id === winner.id || r.meta.created <= winner.meta.created) continue;
    if (r.meta.validFrom > timestamp && r.meta.validFrom < until && r.meta.validUntil > r.meta.validFrom) until = r.meta.validFrom;
  }
  return until;
}
