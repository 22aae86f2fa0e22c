// Operations: /health, /status, /metrics.
import type { FastifyPluginAsync } from "fastify";
import type { ServerContext } from "../context.js";

export const opsRoutes: FastifyPluginAsync<{ ctx: ServerContext }> = async (app, { ctx }) => {
  app.get("/health", { schema: { summary: "Liveness", response: { 200: { type: "object", properties: { status: { type: "string" }, role: { type: "string" } } } } } }, async () => ({
    status: "ok",
    role: ctx.role,
  }));

  app.get("/status", { schema: { summary: "Objects, bytes, senders and counters", response: { 200: { type: "object", additionalProperties: true } } } }, async () => ctx.status());

  app.get("/metrics", { schema: { summary: "Prometheus metrics", response: { 200: { type: "string" } } } }, async (_request, reply) => {
    const text = await ctx.registry.metrics();
    return reply.header("Content-Type", ctx.registry.contentType).send(text);
  });
};
