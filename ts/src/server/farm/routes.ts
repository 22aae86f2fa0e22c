// The farm over HTTP (spec/openapi.yaml tag "farm"): caches report to the repository, the repository
// answers the farm view. A cache serves neither (404): the view is its upstream's.
import type { FastifyPluginAsync, FastifyReply } from "fastify";
import { Counter, Gauge } from "prom-client";
import type { ServerContext } from "../context.js";
import { strictJsonValidator } from "../http/json-body.js";
import { errorBody, errorSchema } from "../http/schemas.js";
import { isKeytableName } from "../../wire/object.js";
import type { FarmView } from "./farm-view.js";
import { FARM_SIZE_HEADER, REPORT_LIMITS, reportSchema, type CacheReport } from "./report.js";

const keySchema = { type: "object", properties: { keytable: { type: "string" }, key: { type: "integer" } }, required: ["keytable", "key"] } as const;
const cacheSchema = {
  type: "object",
  properties: {
    name: { type: "string" },
    state: { type: "string", enum: ["ok", "stale"] },
    address: { type: "string" },
    firstReportAt: { type: "integer" },
    lastReportAt: { type: "integer" },
    ageMs: { type: "integer" },
    reports: { type: "integer" },
    intervalMs: { type: "integer" },
    keys: { type: "array", items: keySchema },
    objects: { type: "integer" },
    bytes: { type: "integer" },
    counters: { type: "object", additionalProperties: { type: "integer" } },
    heartbeatAgeMs: { type: ["integer", "null"] },
    staged: { type: "array", items: { type: "object", properties: { changeset: { type: "string" }, objects: { type: "integer" }, bytes: { type: "integer" } }, required: ["changeset", "objects", "bytes"] } },
    consumers: {
      type: "object",
      properties: {
        declarations: { type: "integer" },
        paths: { type: "array", items: { type: "object", properties: { path: { type: "string" }, held: { type: "boolean" } }, required: ["path", "held"] } },
        pathsTotal: { type: "integer" },
        pathsHeld: { type: "integer" },
        patterns: { type: "array", items: { type: "object", properties: { pattern: { type: "string" }, held: { type: "boolean" } }, required: ["pattern", "held"] } },
        patternsTotal: { type: "integer" },
        allHeld: { type: "boolean" },
      },
      required: ["declarations", "paths", "pathsTotal", "pathsHeld", "patterns", "patternsTotal", "allHeld"],
    },
    silent: { type: "boolean" },
  },
  required: ["name", "state", "address", "firstReportAt", "lastReportAt", "ageMs", "reports", "intervalMs", "keys", "objects", "bytes", "counters", "heartbeatAgeMs", "staged"],
} as const;
const keyReadinessSchema = {
  type: "object",
  properties: {
    keytable: { type: "string" },
    key: { type: "integer" },
    caches: { type: "integer" },
    keys: { type: "array", items: { type: "object", properties: { key: { type: "integer" }, held: { type: "integer" } }, required: ["key", "held"] } },
    laggingCount: { type: "integer" },
    lagging: { type: "array", items: { type: "object", properties: { name: { type: "string" }, key: { type: "integer" } }, required: ["name", "key"] } },
  },
  required: ["keytable", "key", "caches", "keys", "laggingCount", "lagging"],
} as const;

function notHere(reply: FastifyReply): FastifyReply {
  return reply.code(404).send(errorBody(404, "this is a cache: the farm view is on the repository it reports to"));
}

export const farmRoutes: FastifyPluginAsync<{ ctx: ServerContext; farm: FarmView | undefined }> = async (app, { ctx, farm }) => {
  if (farm !== undefined) registerMetrics(ctx, farm);
  // Reports are parsed with plain JSON.parse: fastify's parser refuses a "__proto__" key, which is
  // valid JSON a newer cache might send among fields this repository does not know. Nothing of a
  // report is merged into another object: copyReport takes the known fields one by one.
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (_request, text, done) => {
    try {
      done(null, JSON.parse(text as string));
    } catch (error) {
      done(Object.assign(new Error(`the body is not valid JSON: ${(error as Error).message}`), { statusCode: 400 }), undefined);
    }
  });

  app.post(
    "/caches/report",
    {
      bodyLimit: REPORT_LIMITS.bodyBytes,
      attachValidation: true,
      validatorCompiler: strictJsonValidator,
      schema: {
        summary: "A cache's readiness report (repository): what it holds, its counters, its staged changesets",
        body: reportSchema,
        response: {
          204: {
            type: "null",
            description: `${FARM_SIZE_HEADER}: how many caches report to this repository (a cache sizes its repair jitter by it)`,
          },
          400: errorSchema,
          404: errorSchema,
          413: errorSchema,
        },
      },
    },
    async (request, reply) => {
      if (farm === undefined) return notHere(reply);
      if (request.validationError !== undefined) {
        farm.counters.rejected++;
        return reply.code(400).send(errorBody(400, `malformed report: ${request.validationError.message}`));
      }
      farm.record(request.body as CacheReport, request.ip, Date.now());
      return reply.code(204).header(FARM_SIZE_HEADER, String(farm.size)).send();
    },
  );

  app.get(
    "/caches",
    {
      schema: {
        summary: "The farm view (repository): every cache that reports, its last report, its age and state",
        querystring: { type: "object", properties: { state: { type: "string", enum: ["ok", "stale"] }, limit: { type: "integer", minimum: 1, maximum: 10_000, default: 1000 } } },
        response: {
          200: {
            type: "object",
            properties: {
              caches: { type: "array", items: cacheSchema },
              counts: { type: "object", properties: { ok: { type: "integer" }, stale: { type: "integer" } }, required: ["ok", "stale"] },
              total: { type: "integer" },
              forgetAfterMs: { type: "integer" },
              maxCaches: { type: "integer" },
            },
            required: ["caches", "counts", "total", "forgetAfterMs", "maxCaches"],
          },
          400: errorSchema,
          404: errorSchema,
        },
      },
    },
    async (request, reply) => {
      if (farm === undefined) return notHere(reply);
      const { state, limit } = request.query as { state?: "ok" | "stale"; limit: number };
      const now = Date.now();
      const counts = { ok: 0, stale: 0 };
      const caches: unknown[] = [];
      // Newest report first.
      for (const e of farm.entries(now).reverse()) {
        const s = farm.state(e, now);
        counts[s]++;
        if ((state !== undefined && s !== state) || caches.length >= limit) continue;
        const { name: _name, ...report } = e.report;
        caches.push({ name: e.name, state: s, address: e.address, firstReportAt: e.firstReportAt, lastReportAt: e.lastReportAt, ageMs: now - e.lastReportAt, reports: e.reports, ...report });
      }
      return { caches, counts, total: counts.ok + counts.stale, forgetAfterMs: farm.forgetAfterMs, maxCaches: farm.maxCaches };
    },
  );

  app.get(
    "/caches/keys",
    {
      schema: {
        summary: "Per keytable (repository): its recent keys, how many caches hold each, and which caches lag",
        querystring: { type: "object", properties: { keytable: { type: "string" } } },
        response: { 200: { type: "object", properties: { keytables: { type: "array", items: keyReadinessSchema } }, required: ["keytables"] }, 400: errorSchema, 404: errorSchema },
      },
    },
    async (request, reply) => {
      if (farm === undefined) return notHere(reply);
      const { keytable } = request.query as { keytable?: string };
      if (keytable !== undefined && !isKeytableName(keytable)) return reply.code(400).send(errorBody(400, `${JSON.stringify(keytable)} is not a keytable name (1 to 64 of [A-Za-z0-9._-])`));
      const tables = ctx.keys.keytables().filter((k) => keytable === undefined || k.keytable === keytable);
      if (keytable !== undefined && tables.length === 0) return reply.code(404).send(errorBody(404, `keytable ${keytable} has no key`));
      return { keytables: farm.keyReadiness(tables, Date.now()) };
    },
  );
};

function registerMetrics(ctx: ServerContext, farm: FarmView): void {
  new Gauge({
    name: "condcast_farm_caches",
    help: "Caches reporting to this repository, by state (ok: reported within 3 of its periods; stale: not)",
    labelNames: ["state"],
    registers: [ctx.registry],
    collect() {
      const counts = farm.countByState(Date.now());
      this.set({ state: "ok" }, counts.ok);
      this.set({ state: "stale" }, counts.stale);
    },
  });
  const counter = (name: string, help: string, read: () => number): void => {
    new Counter({
      name,
      help,
      registers: [ctx.registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  };
  counter("condcast_farm_reports_total", "Cache readiness reports accepted", () => farm.counters.reports);
  counter("condcast_farm_reports_rejected_total", "Cache readiness reports refused as malformed (400)", () => farm.counters.rejected);
  counter("condcast_farm_caches_forgotten_total", "Caches forgotten: silent past --farm-forget, or the oldest when the table was full", () => farm.counters.forgotten);
  new Counter({
    name: "condcast_farm_commits_total",
    help: "Farm-wide commits, by why the Commit went out (all, share, timeout)",
    labelNames: ["reason"],
    registers: [ctx.registry],
    collect() {
      this.reset();
      for (const [reason, n] of Object.entries(farm.commits)) this.inc({ reason }, n);
    },
  });
}
