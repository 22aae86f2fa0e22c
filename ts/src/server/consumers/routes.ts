// Consumer declarations over HTTP (spec/openapi.yaml tag "consumers", docs/KEYS.md "Consumers"): on a
// cache a local process declares, renews and leaves; GET /consumers answers the cache's declarations,
// or on the repository the farm's, aggregated from the caches' readiness reports.
import type { FastifyPluginAsync } from "fastify";
import type { ServerContext } from "../context.js";
import { strictJsonValidator } from "../http/json-body.js";
import { errorBody, errorSchema } from "../http/schemas.js";
import { farmConsumers } from "./farm-consumers.js";
import { CONSUMER_LIMITS, DeclarationRefused, PATH_PATTERN, PREFIX_PATTERN, pathProblem, patternProblem, type Declaration } from "./registry.js";

const nameParams = { type: "object", properties: { name: { type: "string", pattern: "^[A-Za-z0-9._-]{1,64}$" } }, required: ["name"] } as const;
const declarationBody = {
  type: "object",
  properties: {
    paths: { type: "array", maxItems: CONSUMER_LIMITS.paths, items: { type: "string", minLength: 1, maxLength: CONSUMER_LIMITS.pathLength, pattern: PATH_PATTERN }, default: [] },
    patterns: { type: "array", maxItems: CONSUMER_LIMITS.patterns, items: { type: "string", minLength: 3, maxLength: CONSUMER_LIMITS.pathLength + 2, pattern: PREFIX_PATTERN }, default: [] },
    ttlMs: { type: "integer", minimum: CONSUMER_LIMITS.minTtlMs, maximum: CONSUMER_LIMITS.maxTtlMs },
  },
  required: ["ttlMs"],
  // At least one path or pattern: a declaration of nothing is a DELETE.
  anyOf: [
    { properties: { paths: { minItems: 1 } }, required: ["paths"] },
    { properties: { patterns: { minItems: 1 } }, required: ["patterns"] },
  ],
  additionalProperties: false,
} as const;

/** The reason a declaration's body is refused: the rule a path or pattern breaks, in words. */
function bodyProblem(body: unknown, message: string): string {
  const b = (typeof body === "object" && body !== null ? body : {}) as { paths?: unknown; patterns?: unknown };
  for (const p of Array.isArray(b.paths) ? b.paths : []) {
    const problem = typeof p === "string" ? pathProblem(p) : undefined;
    if (problem !== undefined) return problem;
  }
  for (const p of Array.isArray(b.patterns) ? b.patterns : []) {
    const problem = typeof p === "string" ? patternProblem(p) : undefined;
    if (problem !== undefined) return problem;
  }
  if (/anyOf/.test(message)) return "the declaration names no path and no pattern (DELETE /consumers/<name> leaves)";
  return `malformed declaration: ${message}`;
}
const declarationSchema = {
  type: "object",
  properties: {
    name: { type: "string" },
    paths: { type: "array", items: { type: "string" } },
    patterns: { type: "array", items: { type: "string" } },
    ttlMs: { type: "integer" },
    declaredAt: { type: "integer" },
    expiresAt: { type: "integer" },
    expiresInMs: { type: "integer" },
  },
  required: ["name", "paths", "patterns", "ttlMs", "declaredAt", "expiresAt", "expiresInMs"],
} as const;
const demand = (what: "path" | "pattern", count: "consumers" | "caches", held: "boolean" | "integer") =>
  ({ type: "array", items: { type: "object", properties: { [what]: { type: "string" }, [count]: { type: "integer" }, held: { type: held } }, required: [what, count, "held"] } }) as const;
const cacheView = {
  type: "object",
  properties: {
    role: { type: "string", enum: ["cache"] },
    consumers: { type: "array", items: declarationSchema },
    paths: demand("path", "consumers", "boolean"),
    patterns: demand("pattern", "consumers", "boolean"),
    allHeld: { type: "boolean" },
  },
  required: ["role", "consumers", "paths", "patterns", "allHeld"],
} as const;
const farmView = {
  type: "object",
  properties: {
    role: { type: "string", enum: ["repository"] },
    caches: { type: "integer" },
    truncated: { type: "integer" },
    allHeld: { type: "integer" },
    paths: demand("path", "caches", "integer"),
    patterns: demand("pattern", "caches", "integer"),
    pathsTotal: { type: "integer" },
    patternsTotal: { type: "integer" },
  },
  required: ["role", "caches", "truncated", "allHeld", "paths", "patterns", "pathsTotal", "patternsTotal"],
} as const;

function shown(d: Declaration, now: number): Declaration & { expiresInMs: number } {
  return { ...d, expiresInMs: Math.max(0, d.expiresAt - now) };
}

export const consumerRoutes: FastifyPluginAsync<{ ctx: ServerContext }> = async (app, { ctx }) => {
  const cache = ctx.cache;
  const onRepository = "this is the repository: a process declares what it consumes on the cache it reads from";

  app.put(
    "/consumers/:name",
    {
      bodyLimit: CONSUMER_LIMITS.bodyBytes,
      attachValidation: true,
      validatorCompiler: strictJsonValidator,
      schema: {
        summary: "Declare (or renew) what a local process consumes (cache): paths and <prefix>/* patterns, for ttlMs",
        params: nameParams,
        body: declarationBody,
        response: { 200: declarationSchema, 201: declarationSchema, 400: errorSchema, 404: errorSchema, 409: errorSchema, 413: errorSchema },
      },
    },
    async (request, reply) => {
      if (request.validationError !== undefined) {
        const where = (request.validationError as { validationContext?: string }).validationContext;
        return reply.code(400).send(errorBody(400, where === "body" ? bodyProblem(request.body, request.validationError.message) : request.validationError.message));
      }
      if (cache === undefined) return reply.code(404).send(errorBody(404, onRepository));
      const { name } = request.params as { name: string };
      const { paths, patterns, ttlMs } = request.body as { paths: string[]; patterns: string[]; ttlMs: number };
      const now = Date.now();
      try {
        const { declaration, created } = cache.consumers.declare(name, paths, patterns, ttlMs, now);
        cache.declarationsChanged();
        if (created) request.log.info({ consumer: name, paths: declaration.paths.length, patterns: declaration.patterns.length, ttlMs }, "consumer declared");
        return reply.code(created ? 201 : 200).send(shown(declaration, now));
      } catch (error) {
        if (error instanceof DeclarationRefused) return reply.code(error.statusCode).send(errorBody(error.statusCode, error.message));
        throw error;
      }
    },
  );

  app.delete(
    "/consumers/:name",
    { schema: { summary: "A local process leaves (cache): its declaration is dropped", params: nameParams, response: { 204: { type: "null" }, 400: errorSchema, 404: errorSchema } } },
    async (request, reply) => {
      if (cache === undefined) return reply.code(404).send(errorBody(404, onRepository));
      const { name } = request.params as { name: string };
      if (!cache.consumers.leave(name)) return reply.code(404).send(errorBody(404, `no consumer ${name} is declared`));
      return reply.code(204).send();
    },
  );

  app.get(
    "/consumers",
    {
      schema: {
        summary: "The declarations (cache: its own, with expiry and what is held; repository: the farm's, from the readiness reports)",
        querystring: { type: "object", properties: { limit: { type: "integer", minimum: 1, maximum: 10_000, default: 1000 } } },
        response: { 200: { anyOf: [cacheView, farmView] }, 400: errorSchema, 404: errorSchema },
      },
    },
    async (request, reply) => {
      const now = Date.now();
      if (cache !== undefined) {
        cache.consumers.expire(now);
        const paths = [...cache.consumers.paths()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([path, consumers]) => ({ path, consumers, held: cache.holdsPath(path, now) }));
        const patterns = [...cache.consumers.patterns()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([pattern, consumers]) => ({ pattern, consumers, held: cache.holdsPattern(pattern, now) }));
        return {
          role: "cache",
          consumers: cache.consumers.list().map((d) => shown(d, now)),
          paths,
          patterns,
          allHeld: paths.every((p) => p.held) && patterns.every((p) => p.held),
        };
      }
      if (ctx.farm === undefined) return reply.code(404).send(errorBody(404, "this server has no declarations and no farm view"));
      // Bounded: the first `limit` paths and patterns (by name); the totals count all.
      const { limit } = request.query as { limit: number };
      const view = farmConsumers(ctx.farm, now);
      return { role: "repository", ...view, paths: view.paths.slice(0, limit), patterns: view.patterns.slice(0, limit), pathsTotal: view.paths.length, patternsTotal: view.patterns.length };
    },
  );
};
