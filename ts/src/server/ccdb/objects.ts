// Reading objects: GET/HEAD /<path>/<ts>[/<end>][/<uuid>][/k=v...] and GET/HEAD /download/<uuid>.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import type { IncomingMessage, ServerResponse } from "node:http";
import { isUuid } from "../../wire/ids.js";
import type { HeldObject, ServerContext } from "../context.js";
import { epochHeader, firstIfNoneMatch, objectHeaders, preparedHeaders, rangeHeader } from "../http/headers.js";
import { refusedMethod } from "../http/methods.js";
import { BadRequest, cacheValidUntil, parseRequestPath, type ObjectQuery, type ObjectRecord, type ParsedRequest } from "../model.js";
import { boundaryFor, multipartByteranges, parseRange } from "../http/ranges.js";
import { UpstreamUnavailable } from "../cache/upstream.js";
import { KEY_HEADER, parseKeyPin } from "../keys/model.js";
import { errorBody, errorResponses, timeHeaders } from "../http/schemas.js";

export const objectRoutes: FastifyPluginAsync<{ ctx: ServerContext }> = async (app, { ctx }) => {
  app.route({
    method: ["GET", "HEAD"],
    url: "/download/:id",
    exposeHeadRoute: false,
    schema: {
      summary: "An object's payload by id, with Range support",
      params: { type: "object", properties: { id: { type: "string" } }, required: ["id"] },
      headers: timeHeaders,
      response: errorResponses,
    },
    handler: async (request, reply) => {
      const id = (request.params as { id: string }).id.toLowerCase();
      if (!isUuid(id)) return reply.code(400).send(errorBody(400, `${JSON.stringify(id)} is not a UUID`));
      let held: HeldObject | "not-found" | undefined;
      let record = ctx.store.get(id);
      const storing = record === undefined ? ctx.repository?.whenStored(id) : undefined;
      if (storing !== undefined) {
        // Multicast while the store works: a cache's repair can ask before the put returns.
        await storing;
        record = ctx.store.get(id);
      }
      if (record !== undefined) {
        ctx.counters.hits++;
        if (answeredFromMemory(request, reply, ctx, record, undefined)) return reply;
        held = { record };
      } else if (ctx.cache !== undefined) {
        ctx.counters.misses++;
        held = await missOr503(reply, () => ctx.cache!.missById(id));
        if (held === undefined) return reply;
      } else held = "not-found";
      if (held === "not-found") {
        ctx.counters.notFound++;
        return reply.code(404).send(errorBody(404, `no object with id ${id}`));
      }
      if (firstIfNoneMatch(request.raw.rawHeaders) === held.record.id) return notModified(reply, ctx, held);
      return sendObject(request, reply, ctx, held, undefined);
    },
  });

  app.route({
    method: ["GET", "HEAD"],
    url: "/*",
    exposeHeadRoute: false,
    schema: {
      summary: "The newest-created object valid at the timestamp and matching the metadata",
      params: { type: "object", properties: { "*": { type: "string" } } },
      headers: timeHeaders,
      response: errorResponses,
    },
    handler: (request, reply) => {
      // GET /changesets (only POST is served there) lands here too: a 405, not an object path.
      if (refusedMethod(request, reply)) return reply;
      const parsed = parseUrl(request.raw.url!);
      if (parsed.timestamp === undefined) throw new BadRequest("a timestamp (epoch ms) must follow the path: /<path>/<timestamp>[/<end>][/<uuid>][/key=value...]");
      const query: ObjectQuery = {
        path: parsed.path,
        timestamp: parsed.timestamp,
        metadata: parsed.metadata,
        id: parsed.id,
        notAfter: epochHeader(request.headers, "if-not-after"),
        notBefore: epochHeader(request.headers, "if-not-before"),
      };
      const pin = request.headers["condcast-key"];
      if (pin !== undefined) return pinnedRead(request, reply, ctx, parsed, typeof pin === "string" ? pin : pin.join(","));
      const record = ctx.store.find(query);
      if (record === undefined) return miss(request, reply, ctx, parsed, query);
      ctx.counters.hits++;
      // The common case is answered here, without waiting (the handler is not async for it).
      const validUntil = cacheValidUntil(record, ctx.store.atPath(record.meta.path), parsed.timestamp);
      if (!(ctx.redirectReads && parsed.id === undefined) && answeredFromMemory(request, reply, ctx, record, validUntil)) return undefined;
      return answer(request, reply, ctx, parsed, { record }, validUntil);
    },
  });
};

/** Parsed request paths by URL: clients ask for the same few URLs over and over. Bounded. */
const parsedUrls = new Map<string, ParsedRequest>();
const MAX_CACHED_URLS = 4096;
const MAX_CACHED_URL = 512;

function parseUrl(url: string): ParsedRequest {
  let parsed = parsedUrls.get(url);
  if (parsed === undefined) {
    const q = url.indexOf("?");
    parsed = parseRequestPath(q < 0 ? url : url.slice(0, q));
    if (url.length <= MAX_CACHED_URL) {
      if (parsedUrls.size >= MAX_CACHED_URLS) parsedUrls.clear();
      parsedUrls.set(url, parsed);
    }
  }
  return parsed;
}

/** Request headers that make a GET something other than a plain hit (fastify's route answers those). */
const NOT_PLAIN = new Set(["range", "if-none-match", "if-not-after", "if-not-before", "condcast-key", "expect", "content-length", "transfer-encoding", "authorization"]);

/**
 * The hot read, before fastify: a plain `GET /<path>/<ts>...` (no Range, no conditional or pinning
 * header, no body) of an object held in memory is answered straight on node's request and response,
 * exactly as the `/*` route's answeredFromMemory would answer it. Fastify's routing, request and reply
 * objects, hooks and header validation cost about a fifth of such a hit (bench/README.md, "REST hit").
 * Returns false, having written nothing, for everything else: fastify then serves the request as
 * always (errors, 404s, misses, redirects, HEAD, every other route). Only installed when reads need
 * no token (buildServer), and `url` must be one no other route matches (`isObjectPath`).
 */
export function hotRead(ctx: ServerContext, isObjectPath: (url: string) => boolean): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    if (req.method !== "GET" || ctx.store.payloadNow === undefined) return false;
    const url = req.url!;
    // A %-escape is decoded by fastify's router before matching: leave such URLs to it.
    if (url.includes("%") || !isObjectPath(url)) return false;
    const raw = req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) if (NOT_PLAIN.has(raw[i]!.toLowerCase())) return false;
    let parsed: ParsedRequest;
    try {
      parsed = parseUrl(url);
    } catch {
      return false; // fastify's route answers the 400
    }
    if (parsed.timestamp === undefined || (ctx.redirectReads && parsed.id === undefined)) return false;
    const record = ctx.store.find({ path: parsed.path, timestamp: parsed.timestamp, metadata: parsed.metadata, id: parsed.id, notAfter: undefined, notBefore: undefined });
    if (record === undefined) return false;
    const validUntil = cacheValidUntil(record, ctx.store.atPath(record.meta.path), parsed.timestamp);
    if (!writeWhole(res, ctx, record, validUntil)) return false;
    ctx.counters.hits++;
    return true;
  };
}

/**
 * Answers a GET without a Range for an object whose payload is in memory: 304 when If-None-Match
 * names it, else 200 with its prepared headers and the payload, handed to node's response in one
 * writeHead and one end (one writev), past fastify's reply. False when the generic path must answer.
 */
function answeredFromMemory(request: FastifyRequest, reply: FastifyReply, ctx: ServerContext, record: ObjectRecord, validUntil: number | undefined): boolean {
  if (request.method !== "GET" || rangeHeader(request.headers) !== undefined || ctx.store.payloadNow === undefined) return false;
  if (request.headers["if-none-match"] !== undefined && firstIfNoneMatch(request.raw.rawHeaders) === record.id) {
    notModified(reply, ctx, { record }, validUntil);
    return true;
  }
  let headers = preparedHeaders(record).whole(validUntil);
  const payload = headers === undefined ? undefined : ctx.store.payloadNow!(record.id);
  if (payload === undefined) return false;
  reply.hijack();
  return writeWhole(reply.raw, ctx, record, validUntil, headers, payload);
}

/**
 * Writes a 200 with the object's prepared headers and its in-memory payload in one writeHead and one
 * end (one writev). False, having written nothing, when the generic path must answer.
 */
function writeWhole(
  res: ServerResponse,
  ctx: ServerContext,
  record: ObjectRecord,
  validUntil: number | undefined,
  prepared = preparedHeaders(record).whole(validUntil),
  payload = prepared === undefined ? undefined : ctx.store.payloadNow?.(record.id),
): boolean {
  if (prepared === undefined || payload === undefined) return false;
  ctx.counters.downloadBytes += payload.length;
  const keys = ctx.keys.currentHeader();
  const headers = keys === "" ? prepared : [...prepared, KEY_HEADER, keys];
  res.writeHead(200, headers as (string | string[])[]);
  res.end(payload);
  return true;
}

/**
 * A read pinned to a key (Condcast-Key: <keytable>[/<key>], SPEC 11): exactly the object that key
 * names for the path, if it is valid at the timestamp, whatever was committed since.
 */
async function pinnedRead(request: FastifyRequest, reply: FastifyReply, ctx: ServerContext, parsed: ParsedRequest, header: string): Promise<FastifyReply> {
  const pin = parseKeyPin(header);
  if (typeof pin === "string" || pin === undefined) return reply.code(400).send(errorBody(400, pin ?? "empty Condcast-Key"));
  const key = pin.key ?? ctx.keys.currentKey(pin.keytable);
  const snapshot = key === 0 ? undefined : ctx.keys.snapshot(pin.keytable, key);
  if (snapshot === undefined) return reply.code(404).send(errorBody(404, key === 0 ? `keytable ${pin.keytable} has no key` : `key ${pin.keytable}/${key} is not known${ctx.role === "cache" ? " to this cache (not kept any more, or not reached yet)" : ""}`));
  const name = `${pin.keytable}/${key}`;
  const entry = snapshot.entries.find((e) => e.path === parsed.path);
  if (entry === undefined) return reply.code(404).send(errorBody(404, `${parsed.path} is not in key ${name}`));
  const at = parsed.timestamp!;
  if (!(entry.validFrom <= at && at < entry.validUntil)) return reply.code(404).send(errorBody(404, `in key ${name} the object at ${parsed.path} is valid from ${entry.validFrom} until ${entry.validUntil}, not at ${at}`));
  if (parsed.id !== undefined && parsed.id !== entry.id) return reply.code(404).send(errorBody(404, `key ${name} holds ${entry.id} at ${parsed.path}, not ${parsed.id}`));
  let held: HeldObject | "not-found" | undefined;
  const record = ctx.store.get(entry.id);
  if (record !== undefined) {
    ctx.counters.hits++;
    held = { record };
  } else if (ctx.cache !== undefined) {
    ctx.counters.misses++;
    held = await missOr503(reply, () => ctx.cache!.missById(entry.id));
    if (held === undefined) return reply;
  } else held = "not-found";
  if (held === "not-found") return reply.code(404).send(errorBody(404, `the object ${entry.id} of key ${name} is gone`));
  if (Object.entries(parsed.metadata).some(([k, v]) => held.record.meta.metadata[k] !== v)) return reply.code(404).send(errorBody(404, `the object of key ${name} at ${parsed.path} does not match the metadata asked for`));
  reply.header(KEY_HEADER, name);
  return answer(request, reply, ctx, parsed, held, entry.validUntil);
}

/** A cache miss: the object comes from upstream (or a 404 / 503). */
async function miss(request: FastifyRequest, reply: FastifyReply, ctx: ServerContext, parsed: ParsedRequest, query: ObjectQuery): Promise<FastifyReply> {
  let held: HeldObject | "not-found" | undefined;
  if (ctx.cache !== undefined) {
    ctx.counters.misses++;
    const forward: Record<string, string> = {};
    if (query.notAfter !== undefined) forward["If-Not-After"] = String(query.notAfter);
    if (query.notBefore !== undefined) forward["If-Not-Before"] = String(query.notBefore);
    held = await missOr503(reply, () => ctx.cache!.miss(request.raw.url!, query, forward));
    if (held === undefined) return reply;
    // The upstream answered under the key current when it was asked; the cache may have flipped to a
    // newer key while the answer travelled (another read's catch-up, a multicast Commit). Resolve
    // again here, in the turn that also writes the Condcast-Key header, so that the object agrees
    // with the key it is answered under. A fetched object too large to keep yields only to a newer one.
    if (held !== "not-found") {
      const now = ctx.store.find(query);
      if (now !== undefined && now.id !== held.record.id && (ctx.store.get(held.record.id) !== undefined || now.meta.created >= held.record.meta.created)) held = { record: now };
    }
  } else held = "not-found";
  if (held === "not-found") {
    ctx.counters.notFound++;
    return reply.code(404).send(errorBody(404, "No matching objects found"));
  }
  return answer(request, reply, ctx, parsed, held);
}

/** Answers GET/HEAD /<path>/<ts>... with an object: 304, 303 (repository redirects) or the payload. */
async function answer(
  request: FastifyRequest,
  reply: FastifyReply,
  ctx: ServerContext,
  parsed: ParsedRequest,
  held: HeldObject,
  validUntil = cacheValidUntil(held.record, ctx.store.atPath(held.record.meta.path), parsed.timestamp!),
): Promise<FastifyReply> {
  if (firstIfNoneMatch(request.raw.rawHeaders) === held.record.id) return notModified(reply, ctx, held, validUntil);
  if (ctx.redirectReads && parsed.id === undefined) {
    const location = `/download/${held.record.id}`;
    reply.headers(objectHeaders(held.record, { cacheValidUntil: validUntil }));
    reply.header("Content-Location", location).header("Location", location);
    return reply.code(303).send();
  }
  return sendObject(request, reply, ctx, held, validUntil);
}

/** Runs a cache miss; answers 503 (and returns undefined) when no upstream could be reached. */
async function missOr503(reply: FastifyReply, fetch: () => Promise<HeldObject | "not-found">): Promise<HeldObject | "not-found" | undefined> {
  try {
    return await fetch();
  } catch (error) {
    if (!(error instanceof UpstreamUnavailable)) throw error;
    reply.code(503).header("Retry-After", "1").send(errorBody(503, `not held here and ${error.message}`));
    return undefined;
  }
}

function notModified(reply: FastifyReply, ctx: ServerContext, held: HeldObject, validUntil?: number): FastifyReply {
  ctx.counters.notModified++;
  const r = held.record;
  reply.header("ETag", `"${r.id}"`).header("Valid-From", String(r.meta.validFrom)).header("Valid-Until", String(r.meta.validUntil));
  if (validUntil !== undefined) reply.header("Cache-Valid-Until", String(validUntil));
  return reply.code(304).send();
}

async function sendObject(request: FastifyRequest, reply: FastifyReply, ctx: ServerContext, held: HeldObject, validUntil: number | undefined): Promise<FastifyReply> {
  const r = held.record;
  reply.headers(preparedHeaders(r).fields);
  if (!reply.hasHeader(KEY_HEADER)) {
    const keys = ctx.keys.currentHeader();
    if (keys !== "") reply.header(KEY_HEADER, keys);
  }
  if (validUntil !== undefined) reply.header("Cache-Valid-Until", String(validUntil));
  const head = request.method === "HEAD";
  const range = rangeHeader(request.headers);
  let payload: Uint8Array | undefined;
  if (!head || range !== undefined) {
    payload = held.payload ?? (await ctx.store.readPayload(r.id));
    if (payload === undefined) return reply.code(404).send(errorBody(404, `object ${r.id} disappeared`));
  }
  if (range !== undefined) {
    const ranges = parseRange(range, r.size);
    if (ranges === "invalid") {
      reply.removeHeader("Content-Type");
      return reply.code(416).header("Content-Range", `bytes */${r.size}`).send(errorBody(416, `range ${JSON.stringify(range)} is not satisfiable within ${r.size} bytes`));
    }
    const bytes = payload!;
    if (ranges.length === 1) {
      const { first, last } = ranges[0]!;
      reply.code(206).header("Content-Range", `bytes ${first}-${last}/${r.size}`).header("Content-Length", String(last - first + 1));
      if (head) return reply.send();
      ctx.counters.downloadBytes += last - first + 1;
      return reply.send(Buffer.from(bytes.buffer, bytes.byteOffset + first, last - first + 1));
    }
    const boundary = boundaryFor(r.id);
    const body = multipartByteranges(bytes, ranges, r.meta.contentType || "application/octet-stream", boundary);
    reply.code(206).header("Content-Type", `multipart/byteranges; boundary=${boundary}`).header("Content-Length", String(body.length));
    if (head) return reply.send();
    ctx.counters.downloadBytes += ranges.reduce((n, x) => n + x.last - x.first + 1, 0);
    return reply.send(body);
  }
  reply.code(200).header("Content-Length", String(r.size));
  if (head) return reply.send();
  ctx.counters.downloadBytes += r.size;
  return reply.send(Buffer.from(payload!.buffer, payload!.byteOffset, payload!.length));
}
