// Derived objects over HTTP (spec/openapi.yaml tag "derive", docs/KEYS.md "Derived objects and
// formatters"), repository only (a cache answers 404): the change stream a formatter follows, its
// answers, the changeset-scoped read of a task's inputs, and the configuration.
import type { FastifyPluginAsync, FastifyReply } from "fastify";
import { Gauge } from "prom-client";
import { isUuid } from "../../wire/ids.js";
import type { ServerContext } from "../context.js";
import { strictJsonValidator } from "../http/json-body.js";
import { errorBody, errorSchema } from "../http/schemas.js";
import type { RepositoryStore } from "../store/repository-store.js";
import type { DeriveCoordinator, DeriveTask } from "./coordinator.js";

/** Bounds of the change stream. */
export const STREAM_LIMITS = { maxStreams: 256, defaultHeartbeatMs: 15_000, defaultMaxMs: 600_000, maxMs: 3_600_000, maxBufferedBytes: 4 * 1024 * 1024 } as const;

const FORMATTER_NAME = "^[A-Za-z0-9._-]{1,64}$";

function notHere(reply: FastifyReply): FastifyReply {
  return reply.code(404).send(errorBody(404, "this is a cache: derivations and formatters are the repository's"));
}

/** One task as an SSE event: `id` is its sequence, what a restarted formatter passes as ?since. */
export function taskEvent(task: DeriveTask): string {
  return `id: ${task.sequence}\nevent: derive\ndata: ${JSON.stringify(task)}\n\n`;
}

export const deriveRoutes: FastifyPluginAsync<{ ctx: ServerContext; derive: DeriveCoordinator | undefined; store: RepositoryStore | undefined; streamMaxMs?: number | undefined }> = async (app, { ctx, derive, store, streamMaxMs }) => {
  let streams = 0;
  /** The open streams' end functions: ended before the server closes (it waits for open connections). */
  const enders = new Set<() => void>();
  app.addHook("preClose", async () => {
    for (const end of [...enders]) end();
  });
  if (derive !== undefined) {
    const counts = derive.counts;
    new Gauge({
        name: "condcast_derive_tasks",
        help: "Build tasks announced to formatters since start, by outcome (announced = every task)",
        labelNames: ["outcome"],
        registers: [ctx.registry],
        collect() {
          this.set({ outcome: "announced" }, counts.tasks);
          for (const outcome of ["built", "failed", "garbage", "timeout"] as const) this.set({ outcome }, counts[outcome]);
        },
      });
    new Gauge({
        name: "condcast_derive_streams",
        help: "Change streams open (formatters following)",
        registers: [ctx.registry],
        collect() {
          this.set(streams);
        },
      });
  }

  app.get(
    "/changes/stream",
    {
      schema: {
        summary: "The change stream of one formatter (Server-Sent Events): its build tasks, from ?since on",
        querystring: {
          type: "object",
          properties: {
            formatter: { type: "string", pattern: FORMATTER_NAME },
            since: { type: "integer", minimum: 0, default: 0 },
            heartbeatMs: { type: "integer", minimum: 100, maximum: 60_000, default: STREAM_LIMITS.defaultHeartbeatMs },
            maxMs: { type: "integer", minimum: 0, maximum: STREAM_LIMITS.maxMs, default: STREAM_LIMITS.defaultMaxMs },
          },
          required: ["formatter"],
        },
        response: { 200: { type: "string" }, 400: errorSchema, 404: errorSchema, 503: errorSchema },
      },
    },
    async (request, reply) => {
      if (derive === undefined) return notHere(reply);
      if (streams >= STREAM_LIMITS.maxStreams) return reply.code(503).send(errorBody(503, `${streams} change streams are open, the most this repository serves`));
      const { formatter, since, heartbeatMs, maxMs } = request.query as { formatter: string; since: number; heartbeatMs: number; maxMs: number };
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store", connection: "keep-alive", "x-accel-buffering": "no" });
      streams++;
      let open = true;
      let heartbeat: NodeJS.Timeout | undefined;
      let lifetime: NodeJS.Timeout | undefined;
      let unfollow: (() => void) | undefined;
      const end = (): void => {
        if (!open) return;
        open = false;
        streams--;
        enders.delete(end);
        clearInterval(heartbeat);
        clearTimeout(lifetime);
        unfollow?.();
        res.end();
      };
      enders.add(end);
      // A reader that does not keep up is cut off rather than buffered without bound; it resumes with ?since.
      const write = (text: string): void => {
        if (!open) return;
        if (res.writableLength > STREAM_LIMITS.maxBufferedBytes) {
          request.log.warn({ formatter, buffered: res.writableLength }, "change stream reader too slow: closed");
          end();
          return;
        }
        res.write(text);
      };
      write(`retry: 1000\n: condcast change stream for formatter ${formatter}, tasks above ${since}\n\n`);
      unfollow = derive.follow(formatter, since, (task) => write(taskEvent(task)));
      if (!open) {
        unfollow();
        return;
      }
      heartbeat = setInterval(() => write(": heartbeat\n\n"), heartbeatMs);
      // Each connection is bounded in time too: the formatter reconnects with the last sequence it saw.
      lifetime = setTimeout(end, Math.min(maxMs, streamMaxMs ?? STREAM_LIMITS.maxMs));
      request.raw.on("close", end);
      res.on("error", end);
    },
  );

  app.get(
    "/derivations",
    {
      schema: {
        summary: "The derivations in the order a commit runs them, the formatters following, the tasks pending",
        response: { 200: { type: "object", additionalProperties: true, properties: { derivations: { type: "array" }, formatters: { type: "array" }, pending: { type: "array" } }, required: ["derivations", "formatters", "pending"] }, 404: errorSchema },
      },
    },
    async (_request, reply) => {
      if (derive === undefined) return notHere(reply);
      return { derivations: derive.derivations.inOrder(), formatters: derive.connected(), pending: derive.pendingTasks(), counts: derive.counts };
    },
  );

  app.post(
    "/derive/tasks/:sequence",
    {
      validatorCompiler: strictJsonValidator,
      schema: {
        summary: "A formatter's answer to a build task: the id of the object it uploaded into the changeset, or why it failed",
        params: { type: "object", properties: { sequence: { type: "integer", minimum: 1 } }, required: ["sequence"] },
        body: {
          type: "object",
          properties: { formatter: { type: "string", pattern: FORMATTER_NAME }, objectId: { type: "string" }, error: { type: "string", maxLength: 65_536 } },
          required: ["formatter"],
          oneOf: [{ required: ["objectId"] }, { required: ["error"] }],
        },
        response: { 204: { type: "null" }, 400: errorSchema, 404: errorSchema, 409: errorSchema },
      },
    },
    async (request, reply) => {
      if (derive === undefined) return notHere(reply);
      const { sequence } = request.params as { sequence: number };
      const body = request.body as { formatter: string; objectId?: string; error?: string };
      if ((body.objectId === undefined) === (body.error === undefined)) return reply.code(400).send(errorBody(400, "the answer names either objectId (built) or error (failed)"));
      if (body.objectId !== undefined && !isUuid(body.objectId)) return reply.code(400).send(errorBody(400, `objectId ${JSON.stringify(body.objectId)} is not an object id (a UUID)`));
      const result = derive.answer(sequence, body.formatter, body.objectId !== undefined ? { objectId: body.objectId.toLowerCase() } : { error: body.error! });
      if (result === "unknown") return reply.code(404).send(errorBody(404, `no pending task ${sequence} (answered already, timed out, or never announced)`));
      if (result === "wrong-formatter") return reply.code(409).send(errorBody(409, `task ${sequence} is not formatter ${body.formatter}'s`));
      return reply.code(204).send();
    },
  );

  app.get(
    "/changesets/:id/objects/:objectId",
    {
      schema: {
        summary: "An object's payload as the changeset sees it: staged in it (else invisible), or visible",
        params: { type: "object", properties: { id: { type: "string" }, objectId: { type: "string" } }, required: ["id", "objectId"] },
        response: { 200: { description: "the payload (bytes)", type: "null" }, 400: errorSchema, 404: errorSchema },
      },
    },
    async (request, reply) => {
      if (store === undefined) return notHere(reply);
      const { id, objectId } = request.params as { id: string; objectId: string };
      if (!isUuid(id)) return reply.code(400).send(errorBody(400, `${JSON.stringify(id)} is not a changeset id`));
      if (!isUuid(objectId)) return reply.code(400).send(errorBody(400, `${JSON.stringify(objectId)} is not an object id`));
      const oid = objectId.toLowerCase();
      const staged = store.stagedObject(oid);
      const record = staged !== undefined && staged.changeset === id.toLowerCase() ? staged.record : store.get(oid);
      const payload = record === undefined ? undefined : staged !== undefined && record === staged.record ? await store.readStagedPayload(oid) : await store.readPayload(oid);
      if (record === undefined || payload === undefined) return reply.code(404).send(errorBody(404, `changeset ${id} sees no object ${objectId}`));
      return reply
        .header("content-type", record.meta.contentType)
        .header("etag", `"${record.id}"`)
        .header("condcast-path", encodeURI(record.meta.path))
        .header("content-md5", record.meta.md5)
        .send(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength));
    },
  );
};
