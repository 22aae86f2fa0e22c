// GET /instances: this instance's name and prefixes, its peers, and each mirror's lag (sync/).
import type { FastifyPluginAsync } from "fastify";
import type { ServerContext } from "../context.js";

const prefixes = { type: "array", items: { type: "string" } } as const;

export const instancesSchema = {
  type: "object",
  properties: {
    instance: { type: ["string", "null"] },
    owns: prefixes,
    peers: {
      type: "array",
      items: {
        type: "object",
        properties: { name: { type: "string" }, url: { type: "string" }, owns: prefixes, token: { type: "boolean" }, ca: { type: "boolean" } },
        required: ["name", "url", "owns", "token", "ca"],
      },
    },
    mirrors: {
      type: "array",
      items: {
        type: "object",
        properties: {
          prefix: { type: "string" },
          from: { type: "string" },
          appliedSequence: { type: "integer" },
          ownerSequence: { type: "integer" },
          lagChanges: { type: "integer" },
          lagSeconds: { type: "number" },
          ownerReachable: { type: "boolean" },
          pulling: { type: "boolean" },
          lastContactAt: { type: ["integer", "null"] },
          lastError: { type: ["string", "null"] },
          applied: {
            type: "object",
            properties: { objects: { type: "integer" }, updates: { type: "integer" }, deletes: { type: "integer" }, changesets: { type: "integer" }, md5Mismatches: { type: "integer" } },
            required: ["objects", "updates", "deletes", "changesets", "md5Mismatches"],
          },
        },
        required: ["prefix", "from", "appliedSequence", "ownerSequence", "lagChanges", "lagSeconds", "ownerReachable", "pulling", "lastContactAt", "lastError", "applied"],
      },
    },
  },
  required: ["instance", "owns", "peers", "mirrors"],
} as const;

export const syncRoutes: FastifyPluginAsync<{ ctx: ServerContext }> = async (app, { ctx }) => {
  app.get("/instances", { schema: { summary: "This instance, its peers, what it mirrors and the lag of each mirror", response: { 200: instancesSchema } } }, async () => {
    return ctx.sync?.view(Date.now()) ?? { instance: null, owns: [], peers: [], mirrors: [] };
  });
};
