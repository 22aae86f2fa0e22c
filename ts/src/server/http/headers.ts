// CCDB object headers: written on every object answer, and read back by a cache from an upstream's
// answer (an object fetched on a miss, or metadata for a repair from HEAD /download/<uuid>).
import { validateHeaderName, validateHeaderValue, type IncomingHttpHeaders } from "node:http";
import { isUuid } from "../../wire/ids.js";
import type { ObjectMetadata } from "../../wire/object.js";
import { BadRequest, type ObjectRecord, type ObjectSource } from "../model.js";

/**
 * An epoch-ms request header (If-Not-After, If-Not-Before): undefined when absent, BadRequest unless
 * digits. A time beyond 2^53 - 1 selects what 2^53 - 1 does (no object is created that late), so it is
 * taken as that: the value stays exact, and a cache forwards it upstream as the same digits.
 */
export function epochHeader(headers: IncomingHttpHeaders, name: string): number | undefined {
  const value = headers[name];
  if (value === undefined) return undefined;
  const text = (Array.isArray(value) ? value[0]! : value).trim();
  if (!/^\d+$/.test(text)) throw new BadRequest(`${name} must be epoch milliseconds, got ${JSON.stringify(text)}`);
  return Math.min(Number(text), Number.MAX_SAFE_INTEGER);
}

/** The Range request header; an empty one is no Range (RFC 9110 lets a server ignore a Range it cannot use). */
export function rangeHeader(headers: IncomingHttpHeaders): string | undefined {
  const range = headers.range;
  return range === undefined || range.trim() === "" ? undefined : range;
}

/** Extension header: the object's CCDB path (not among the CCDB's own headers, which omit it). */
export const PATH_HEADER = "Condcast-Path";
/** Extension header: how the answering server came to hold the object. */
export const SOURCE_HEADER = "Condcast-Source";

/** Response headers that are never metadata. */
const RESERVED = new Set([
  "accept-ranges", "age", "allow", "cache-control", "cache-valid-until", "condcast-changeset", "condcast-key", "condcast-path", "condcast-source", "connection",
  "content-disposition", "content-encoding", "content-length", "content-location", "content-md5", "content-range", "content-type",
  "created", "date", "etag", "expires", "initialvaliditylimit", "keep-alive", "last-modified", "location", "pragma", "server",
  "transfer-encoding", "valid-from", "valid-until", "vary",
]);

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f]/;

/** A header value as bytes on the wire: UTF-8, carried through Node's latin1 header encoding. */
export function headerValue(text: string): string | undefined {
  if (CONTROL.test(text)) return undefined;
  return Buffer.from(text, "utf8").toString("latin1");
}

function quoteFileName(name: string): string {
  return name.replace(/["\\]/g, "_");
}

/** The headers of an object answer (SQLBacked.setHeaders and SQLDownload). */
export function objectHeaders(record: ObjectRecord, extra: { cacheValidUntil?: number | undefined } = {}): Record<string, string> {
  const m = record.meta;
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(m.metadata)) {
    if (!TOKEN.test(key) || RESERVED.has(key.toLowerCase())) continue;
    const v = headerValue(value);
    if (v !== undefined) headers[key] = v;
  }
  Object.assign(headers, {
    ETag: `"${record.id}"`,
    "Valid-From": String(m.validFrom),
    "Valid-Until": String(m.validUntil),
    Created: String(m.created),
    "Last-Modified": new Date(record.lastModified).toUTCString(),
    "Content-MD5": m.md5,
    "Content-Type": m.contentType || "application/octet-stream",
    "Content-Disposition": `inline;filename="${headerValue(quoteFileName(m.fileName || record.id)) ?? record.id}"`,
    "Cache-Control": "no-cache",
    "Accept-Ranges": "bytes",
    [PATH_HEADER]: headerValue(m.path) ?? "",
    [SOURCE_HEADER]: record.source,
  });
  if (record.initialValidity !== m.validUntil) headers.InitialValidityLimit = String(record.initialValidity);
  if (extra.cacheValidUntil !== undefined) headers["Cache-Valid-Until"] = String(extra.cacheValidUntil);
  return headers;
}

/**
 * An object's answer headers, built once per record and reused by every request that answers with
 * it (records are immutable: a PUT makes a new one). `fields` is what fastify holds after
 * reply.headers(objectHeaders(record)): names lower-cased, a name repeated in another case keeping
 * its first place and its last value (Set-Cookie values collected), integer-like names first as in
 * any object. Per request only Cache-Valid-Until, Content-Length and Date differ.
 */
export class PreparedHeaders {
  readonly fields: Readonly<Record<string, string | string[]>>;
  private readonly contentLength: string;
  /** `fields` as name/value pairs for res.writeHead(), made on first use; null when node would refuse one. */
  private pairs: (string | string[])[] | null | undefined;
  private lastWhole: (string | string[])[] | undefined;
  private lastValidUntil: number | undefined;

  constructor(record: ObjectRecord) {
    const fields: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(objectHeaders(record))) mergeHeader(fields, name, value);
    this.fields = fields;
    this.contentLength = String(record.size);
  }

  /**
   * The headers of a 200 answer with the whole payload, as res.writeHead() takes them and in the
   * order fastify would send them (Cache-Valid-Until, then Content-Length, last); undefined when
   * the generic path must answer. The last list is kept: successive requests mostly share it.
   */
  whole(cacheValidUntil: number | undefined): readonly (string | string[])[] | undefined {
    this.pairs ??= validPairs(this.fields);
    if (this.pairs === null) return undefined;
    if (this.lastWhole === undefined || this.lastValidUntil !== cacheValidUntil) {
      const out = [...this.pairs];
      if (cacheValidUntil !== undefined) out.push("cache-valid-until", String(cacheValidUntil));
      out.push("content-length", this.contentLength);
      this.lastWhole = out;
      this.lastValidUntil = cacheValidUntil;
    }
    return this.lastWhole;
  }
}

/** Name/value pairs in the order node writes an object's headers; null when node would refuse one. */
function validPairs(fields: Readonly<Record<string, string | string[]>>): (string | string[])[] | null {
  const pairs: (string | string[])[] = [];
  try {
    for (const name of Object.keys(fields)) {
      const value = fields[name]!;
      validateHeaderName(name);
      for (const v of [value].flat()) validateHeaderValue(name, v);
      pairs.push(name, value);
    }
  } catch {
    return null;
  }
  return pairs;
}

/** reply.header() of fastify 5: lower-cased name; Set-Cookie values accumulate, others replace. */
function mergeHeader(fields: Record<string, string | string[]>, name: string, value: string): void {
  const key = name.toLowerCase();
  const existing = fields[key];
  if (key === "set-cookie" && existing) fields[key] = [existing, value].flat();
  else fields[key] = value;
}

const prepared = new WeakMap<ObjectRecord, PreparedHeaders>();

/** The record's prepared headers (built on first use; a memory store prepares them when storing). */
export function preparedHeaders(record: ObjectRecord): PreparedHeaders {
  let p = prepared.get(record);
  if (p === undefined) {
    p = new PreparedHeaders(record);
    prepared.set(record, p);
  }
  return p;
}

/** Headers as undici returns them with responseHeaders: "raw": name and value buffers alternating. */
export type RawHeaders = readonly (Buffer | string)[];

export function headerMap(raw: RawHeaders): Map<string, { name: string; value: string }> {
  const out = new Map<string, { name: string; value: string }>();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toString();
    const value = Buffer.isBuffer(raw[i + 1]) ? (raw[i + 1] as Buffer).toString("utf8") : Buffer.from(String(raw[i + 1]), "latin1").toString("utf8");
    if (!out.has(name.toLowerCase())) out.set(name.toLowerCase(), { name, value });
  }
  return out;
}

/**
 * Rebuilds an object's record from the headers of an upstream answer; undefined when a required
 * header is missing or malformed. `path` is used when the answer does not name it.
 */
export function recordFromHeaders(raw: RawHeaders, size: number, source: ObjectSource, path?: string): ObjectRecord | undefined {
  const h = headerMap(raw);
  const get = (name: string): string | undefined => h.get(name.toLowerCase())?.value;
  const id = get("ETag")?.replace(/^W\//, "").replaceAll('"', "").trim().toLowerCase();
  const validFrom = Number(get("Valid-From"));
  const validUntil = Number(get("Valid-Until"));
  const created = Number(get("Created"));
  const md5 = get("Content-MD5")?.toLowerCase();
  const objectPath = get(PATH_HEADER) ?? path;
  if (id === undefined || !isUuid(id) || objectPath === undefined || md5 === undefined || !/^[0-9a-f]{32}$/.test(md5)) return undefined;
  if (![validFrom, validUntil, created].every(Number.isSafeInteger)) return undefined;
  const metadata: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [lower, { name, value }] of h) if (!RESERVED.has(lower)) metadata[name] = value;
  const disposition = get("Content-Disposition") ?? "";
  const fileName = /filename="?([^";]*)"?/.exec(disposition)?.[1] ?? "";
  const lastModified = Date.parse(get("Last-Modified") ?? "");
  const initial = Number(get("InitialValidityLimit") ?? validUntil);
  const meta: ObjectMetadata = {
    path: objectPath,
    validFrom,
    validUntil,
    created,
    contentType: get("Content-Type") ?? "application/octet-stream",
    fileName,
    md5,
    metadata,
  };
  return {
    id,
    meta,
    size,
    initialValidity: Number.isSafeInteger(initial) ? initial : validUntil,
    lastModified: Number.isFinite(lastModified) ? lastModified : created,
    source,
  };
}

/**
 * The first If-None-Match header of a request (Node joins repeated headers; the CCDB reads only the
 * first), quotes stripped; undefined when absent or not a UUID.
 */
export function firstIfNoneMatch(rawHeaders: readonly string[]): string | undefined {
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() !== "if-none-match") continue;
    const first = rawHeaders[i + 1]!.split(",")[0]!.trim().replace(/^W\//, "").replaceAll('"', "").trim().toLowerCase();
    return isUuid(first) ? first : undefined;
  }
  return undefined;
}
