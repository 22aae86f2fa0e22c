// The repository's change log, GET /changes?since=N: what a cache reads after a sequence gap or at
// start, and what a mirror or formatter will follow. A cache answers 404 (it has no log of its own).
import type { FastifyPluginAsync } from "fastify";
import type { ServerContext } from "../context.js";
import { errorBody, errorSchema } from "../http/schemas.js";
import { underPrefix } from "../paths.js";

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
          properties: {
            since: { type: "integer", minimum: 0, default: 0 },
            limit: { type: "integer", minimum: 0, maximum: 10000, default: 1000 },
            prefix: { type: "string", description: "Only changes under this path prefix (whole components); needs storage.read on it when reads want tokens" },
          },
        },
        response: {
          200: {
            type: "object",
            properties: { senderId: { type: "string" }, lastSequence: { type: "integer" }, through: { type: "integer" }, changes: { type: "array", items: changeSchema } },
            required: ["senderId", "lastSequence", "changes"],
          },
          404: errorSchema,
        },
      },
    },
    async (request, reply) => {
      if (ctx.repository === undefined) return reply.code(404).send(errorBody(404, "only a repository has a change log"));
      const { since, limit, prefix } = request.query as { since: number; limit: number; prefix?: string };
      const answer = ctx.repository.changes(since, limit);
      // Where the next request may start: past every change looked at, shown or not.
      // (limit=0 looks at nothing: through is since.)
      const through = answer.changes.length < limit ? answer.lastSequence : (answer.changes.at(-1)?.sequence ?? since);
      const scoped = await ctx.readFilter(request);
      const readable = prefix === undefined || prefix === "" ? scoped : (path: string): boolean => underPrefix(path, prefix) && (scoped?.(path) ?? true);
      if (readable === undefined) return { ...answer, through };
      // A token that reads part of the namespace (or a ?prefix=) sees the changes of that part: a change
      // with a path outside it is left out; a commit names only the objects under it (by their records
      // here; a commit is kept whatever it names, since it may remove paths under the prefix from a key).
      const changes = [];
      for (const c of answer.changes) {
        if (c.path !== "") {
          if (readable(c.path)) changes.push(c);
          continue;
        }
        const objects = c.objects?.filter((id) => {
          const path = ctx.store.get(id)?.meta.path; // deleted since, or an abort's: not shown
          return path !== undefined && readable(path);
        });
        changes.push(objects === undefined ? c : { ...c, objects });
      }
      return { ...answer, changes, through };
    },
  );
};
