// Which scope each route needs, in one table, installed by buildServer as two root hooks: onRequest
// (before the body is read) for everything a URL says, preHandler (body parsed, nothing written yet)
// for the paths a changeset commit removes. Routes this table does not name (added later by another
// capability) need a read scope for GET/HEAD and a write scope for anything else: unknown is not open.
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { ServerContext } from "../context.js";
import { BadRequest, parseBrowsePath, parseRequestPath } from "../model.js";
import type { Authoriser, Requirement } from "./guard.js";

/** Open whatever the settings: liveness and metrics carry no namespace data. */
const OPEN = new Set(["GET /health", "GET /metrics", "HEAD /health"]);

/** Writes that name no path: a storage.create or storage.modify scope anywhere. */
const PATHLESS_WRITES = new Set(["POST /changesets", "POST /changesets/:id/commit", "POST /changesets/:id/abort", "POST /runs/:run", "POST /derive/tasks/:sequence"]);

/** A cache's own consumer declarations are local bookkeeping, not the namespace (a repository has none). */
const LOCAL_WRITES = new Set(["PUT /consumers/:name", "DELETE /consumers/:name"]);

function urlPath(request: FastifyRequest): string {
  return request.raw.url!.split("?")[0]!;
}

/** The object path of a `/*` request, or undefined when the URL is malformed (the route answers 400). */
function objectPath(request: FastifyRequest): string | undefined {
  try {
    return parseRequestPath(urlPath(request)).path;
  } catch (error) {
    if (error instanceof BadRequest) return undefined;
    throw error;
  }
}

/** The literal leading components of a listing pattern: what a read of it needs at least. */
function listingPath(request: FastifyRequest, kind: "latest" | "browse"): string {
  try {
    const { pattern } = parseBrowsePath(urlPath(request).slice(kind.length + 1));
    if (pattern.kind === "exact") return pattern.text;
    const literal: string[] = [];
    for (const part of pattern.text.split("/")) {
      if (!/^[A-Za-z0-9_.-]+$/.test(part) || part === "." || part === "..") break;
      literal.push(part);
    }
    return literal.join("/");
  } catch {
    return "";
  }
}

/** What a request needs, or "open". */
export function requirement(request: FastifyRequest, ctx: ServerContext, reads: "open" | "token"): Requirement | "open" {
  const method = request.method === "HEAD" ? "GET" : request.method;
  // No route: the not-found handler answers 404 or 405 and writes nothing.
  if (request.routeOptions.url === undefined) return "open";
  const route = `${method} ${request.routeOptions.url}`;
  if (OPEN.has(route)) return "open";
  if (method === "GET") {
    if (reads === "open") return "open";
    if (route === "GET /*") return { action: "read", path: objectPath(request) };
    if (route === "GET /latest/*" || route === "GET /latest") return { action: "read", path: listingPath(request, "latest") };
    if (route === "GET /browse/*" || route === "GET /browse") return { action: "read", path: listingPath(request, "browse") };
    if (route === "GET /download/:id") {
      const id = (request.params as { id?: string }).id;
      const record = id === undefined ? undefined : ctx.store.get(id.toLowerCase());
      return { action: "read", path: record?.meta.path };
    }
    return { action: "read" };
  }
  // A cache redirects every write to its upstream (307), which checks the token it is sent again.
  if (ctx.role === "cache") return "open";
  if (route === "POST /caches/report") return reads === "open" ? "open" : { action: "read" };
  if (LOCAL_WRITES.has(route)) return "open";
  if (PATHLESS_WRITES.has(route)) return { action: "create", anyWrite: true };
  if (route === "POST /*") {
    const path = objectPath(request);
    return path === undefined ? { action: "create", anyWrite: true } : { action: "create", path };
  }
  if (route === "PUT /*" || route === "DELETE /*") {
    const path = objectPath(request);
    return path === undefined ? { action: "modify" } : { action: "modify", path };
  }
  return { action: "create", anyWrite: true };
}

/** Installs the checks on every route registered after it (call before registering the routes). */
export function installAuthorisation(app: FastifyInstance, ctx: ServerContext, auth: Authoriser): void {
  app.addHook("onRequest", async (request: FastifyRequest, reply: FastifyReply) => {
    const needed = requirement(request, ctx, auth.config.reads);
    if (needed === "open") return;
    return auth.check(request, reply, needed);
  });
  // A commit deletes the paths it lists in its body: storage.modify on each, checked before the commit.
  app.addHook("preHandler", async (request: FastifyRequest, reply: FastifyReply) => {
    if (ctx.role !== "repository" || request.method !== "POST" || request.routeOptions.url !== "/changesets/:id/commit") return;
    const removed = (request.body as { removedPaths?: unknown } | undefined)?.removedPaths;
    if (!Array.isArray(removed)) return;
    for (const path of removed) {
      if (typeof path !== "string") continue; // the route's schema answers 400
      const refused = await auth.check(request, reply, { action: "modify", path });
      if (refused !== undefined) return refused;
    }
  });
}
