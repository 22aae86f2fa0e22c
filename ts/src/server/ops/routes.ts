// Operations: /health, /status, /metrics.
import type { FastifyPluginAsync } from "fastify";
import type { ServerContext } from "../context.js";

export const opsRoutes: FastifyPluginAsync<{ ctx: ServerContext }> = async (app, { ctx }) => {
  // 200 while the process serves, "degraded" with the reasons when it serves but something is wrong
  // (a silent multicast group, an upstream failing): a load balancer keeps it, a shifter sees why.
  app.get(
    "/health",
    {
      schema: {
        summary: "Liveness, and what is wrong while the server still serves",
        response: {
          200: {
            type: "object",
            properties: { status: { type: "string", enum: ["ok", "degraded"] }, role: { type: "string" }, reasons: { type: "array", items: { type: "string" } } },
            required: ["status", "role", "reasons"],
          },
        },
      },
    },
    async () => ({ ...ctx.health(), role: ctx.role }),
  );

  app.get("/status", { schema: { summary: "Objects, bytes, senders and counters", response: { 200: { type: "object", additionalProperties: true } } } }, async () => ctx.status());

  app.get("/metrics", { schema: { summary: "Prometheus metrics", response: { 200: { type: "string" } } } }, async (_request, reply) => {
    const text = await ctx.registry.metrics();
    return reply.header("Content-Type", ctx.registry.contentType).send(text);
  });
};
