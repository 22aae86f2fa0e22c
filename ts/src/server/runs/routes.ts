// Runs over HTTP (spec/openapi.yaml "runs"): the repository records a run with its key and multicasts
// the key's objects again; a cache redirects (307) to its upstream, which holds the run records.
import type { FastifyPluginAsync, FastifyReply } from "fastify";
import { redirectElsewhere } from "../http/redirect.js";
import { isKeytableName } from "../../wire/object.js";
import type { ServerContext } from "../context.js";
import { strictJsonValidator } from "../http/json-body.js";
import { errorBody, errorSchema } from "../http/schemas.js";
import type { KeyHolders } from "../farm/farm-view.js";
import { declaredByFarm } from "../consumers/farm-consumers.js";
import { isRunNumber, type RunScope, type RunState } from "./model.js";

const runSchema = {
  type: "object",
  properties: {
    run: { type: "integer" },
    keytable: { type: "string" },
    key: { type: "integer" },
    startedAt: { type: "integer" },
    only: { type: "string", enum: ["all", "declared"] },
    objects: { type: "integer" },
    bytes: { type: "integer" },
    distribution: { type: "string", enum: ["sending", "sent", "none", "unknown"] },
    sentObjects: { type: "integer" },
    caches: {
      type: "object",
      properties: {
        caches: { type: "integer" },
        held: { type: "integer" },
        laggingCount: { type: "integer" },
        lagging: { type: "array", items: { type: "object", properties: { name: { type: "string" }, key: { type: "integer" } }, required: ["name", "key"] } },
      },
      required: ["caches", "held", "laggingCount", "lagging"],
    },
  },
  required: ["run", "keytable", "key", "startedAt", "only", "objects", "bytes", "distribution", "sentObjects"],
} as const;
const runParams = { type: "object", properties: { run: { type: "integer", minimum: 1, maximum: Number.MAX_SAFE_INTEGER } }, required: ["run"] } as const;
const notHere = { 307: { type: "null" }, 503: errorSchema } as const;

export const runRoutes: FastifyPluginAsync<{ ctx: ServerContext }> = async (app, { ctx }) => {
  const repository = ctx.repository;
  // With the farm view: how many of the caches that report hold the run's key, and which lag.
  const withCaches = (run: RunState): RunState & { caches?: KeyHolders } => (ctx.farm === undefined ? run : { ...run, caches: ctx.farm.keyHolders(run.keytable, run.key, Date.now()) });
  const elsewhere = (reply: FastifyReply, url: string): FastifyReply => redirectElsewhere(reply, ctx.cache?.writeTarget(), url, "this cache has no upstream that holds the runs");

  app.post(
    "/runs/:run",
    {
      validatorCompiler: strictJsonValidator,
      schema: {
        summary: "Start a run: record it with the keytable's current key and multicast every object of that key again",
        params: runParams,
        body: { type: "object", properties: { keytable: { type: "string" }, only: { type: "string", enum: ["all", "declared"], default: "all" } }, required: ["keytable"] },
        response: { 201: runSchema, 400: errorSchema, 404: errorSchema, 409: errorSchema, ...notHere },
      },
    },
    async (request, reply) => {
      const { run } = request.params as { run: number };
      const { keytable, only } = request.body as { keytable: string; only: RunScope };
      if (!isRunNumber(run)) return reply.code(400).send(errorBody(400, `${run} is not a run number (1 to 2^53 - 1)`));
      if (!isKeytableName(keytable)) return reply.code(400).send(errorBody(400, `${JSON.stringify(keytable)} is not a keytable name (1 to 64 of [A-Za-z0-9._-])`));
      if (repository === undefined) return elsewhere(reply, request.raw.url!);
      // Only the objects at paths the caches that report declared (consumers/): none without a farm view.
      const declared = only === "declared" ? (ctx.farm === undefined ? () => false : declaredByFarm(ctx.farm, Date.now())) : undefined;
      const started = await repository.startRun(run, keytable, declared);
      return reply.code(201).header("Location", `/runs/${run}`).send(started);
    },
  );

  app.get(
    "/runs/:run",
    { schema: { summary: "A run: its key and how far its distribution got", params: runParams, response: { 200: runSchema, 400: errorSchema, 404: errorSchema, ...notHere } } },
    async (request, reply) => {
      const { run } = request.params as { run: number };
      if (repository === undefined) return elsewhere(reply, request.raw.url!);
      const found = repository.run(run);
      return found === undefined ? reply.code(404).send(errorBody(404, `no run ${run}`)) : withCaches(found);
    },
  );

  app.get(
    "/runs",
    {
      schema: {
        summary: "The most recent runs, newest first",
        querystring: { type: "object", properties: { limit: { type: "integer", minimum: 1, maximum: 1000, default: 100 } } },
        response: { 200: { type: "object", properties: { runs: { type: "array", items: runSchema } }, required: ["runs"] }, 400: errorSchema, ...notHere },
      },
    },
    async (request, reply) => {
      const { limit } = request.query as { limit: number };
      if (repository === undefined) return elsewhere(reply, request.raw.url!);
      return { runs: repository.runs(limit).map(withCaches) };
    },
  );
};
