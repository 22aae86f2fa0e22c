// The repository's change log, GET /changes?since=N: what a cache reads after a sequence gap or at
// start, and what a mirror or formatter will follow. A cache answers 404 (it has no log of its own).
import type { FastifyPluginAsync } from "fastify";
import type { ServerContext } from "../context.js";
import { errorBody, errorSchema } from "../http/schemas.js";

const changeSchema = {
  type: "object",
  properties: {
    sequence: { type: "integer" },
    action: { type: "string", enum: ["uploaded", "updated", "deleted", "committed", "resent"] },
    id: { type: "string" },
    path: { type: "string" },
    validFrom: { type: "integer" },
    validUntil: { type: "integer" },
    created: { type: "integer" },
    size: { type: "integer" },
    metadata: { type: "object", additionalProperties: { type: "string" } },
    changedAt: { type: "integer" },
    changeset: { type: "string" },
    keytable: { type: "string" },
    key: { type: "integer" },
    objects: { type: "array", items: { type: "string" } },
    run: { type: "integer" },
  },
  required: ["sequence", "action", "id", "path", "validFrom", "validUntil", "created", "size", "metadata", "changedAt"],
} as const;

export const changeLogRoutes: FastifyPluginAsync<{ ctx: ServerContext }> = async (app, { ctx }) => {
  app.get(
    "/changes",
    {
      schema: {
        summary: "The repository's changes with sequence > since, oldest first",
        querystring: {
          type: "object",
          properties: { since: { type: "integer", minimum: 0, default: 0 }, limit: { type: "integer", minimum: 0, maximum: 10000, default: 1000 } },
        },
        response: {
          200: {
            type: "object",
            properties: { senderId: { type: "string" }, lastSequence: { type: "integer" }, changes: { type: "array", items: changeSchema } },
            required: ["senderId", "lastSequence", "changes"],
          },
          404: errorSchema,
        },
      },
    },
    async (request, reply) => {
      if (ctx.repository === undefined) return reply.code(404).send(errorBody(404, "only a repository has a change log"));
      const { since, limit } = request.query as { since: number; limit: number };
      return ctx.repository.changes(since, limit);
    },
  );
};
