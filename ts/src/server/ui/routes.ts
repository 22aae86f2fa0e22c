// The read-only status page (docs/MONITORING.md): GET /ui is the page, /ui/app.js and /ui/app.css its
// script and style (files of assets/, read once at start), /ui/state one snapshot as JSON and
// /ui/stream the snapshots as Server-Sent Events, one per period. Nothing here changes anything.
import { readFileSync } from "node:fs";
import type { FastifyPluginAsync } from "fastify";
import type { ServerContext } from "../context.js";
import type { AlertEvaluator } from "../alerts/evaluator.js";
import type { RepositoryProbe } from "../alerts/rules.js";
import { errorBody, errorSchema } from "../http/schemas.js";
import { cacheSnapshot, repositorySnapshot } from "./snapshot.js";

export const UI_LIMITS = { maxStreams: 64, periodMs: 1000, maxMs: 600_000 } as const;

function asset(name: string): string {
  return readFileSync(new URL(`./assets/${name}`, import.meta.url), "utf8");
}

export const uiRoutes: FastifyPluginAsync<{ ctx: ServerContext; alerts: AlertEvaluator | undefined; probe: RepositoryProbe | undefined; streamMaxMs?: number | undefined; periodMs?: number | undefined }> = async (
  app,
  { ctx, alerts, probe, streamMaxMs, periodMs },
) => {
  const files = { html: asset("index.html"), js: asset("app.js"), css: asset("app.css") };
  const snapshot = (): Record<string, unknown> => (alerts !== undefined && probe !== undefined ? repositorySnapshot(ctx, alerts, probe, Date.now()) : cacheSnapshot(ctx, Date.now()));
  const period = periodMs ?? UI_LIMITS.periodMs;
  // Every open page gets the same text within a period: ten shifters cost one snapshot, not ten.
  let shared: { at: number; text: string } | undefined;
  const snapshotText = (): string => {
    const now = Date.now();
    if (shared === undefined || now - shared.at >= period / 2) shared = { at: now, text: JSON.stringify(snapshot()) };
    return shared.text;
  };
  let streams = 0;
  const open = new Set<() => void>();
  app.addHook("onClose", async () => {
    for (const end of [...open]) end();
  });

  const text = { 200: { type: "string" } } as const;
  app.get("/ui", { schema: { summary: "The status page (HTML)", response: text } }, async (_request, reply) =>
    reply.header("content-type", "text/html; charset=utf-8").header("cache-control", "no-store").send(files.html.replaceAll("{{role}}", ctx.role)),
  );
  app.get("/ui/app.js", { schema: { summary: "The status page's script", response: text } }, async (_request, reply) => reply.header("content-type", "text/javascript; charset=utf-8").send(files.js));
  app.get("/ui/app.css", { schema: { summary: "The status page's style sheet", response: text } }, async (_request, reply) => reply.header("content-type", "text/css; charset=utf-8").send(files.css));
  app.get("/ui/state", { schema: { summary: "What the status page shows, as one JSON document", response: { 200: { type: "object", additionalProperties: true } } } }, async () => snapshot());

  app.get(
    "/ui/stream",
    { schema: { summary: "The status page's snapshots as Server-Sent Events, one per second", response: { 200: { type: "string" }, 503: errorSchema } } },
    async (request, reply) => {
      if (streams >= UI_LIMITS.maxStreams) return reply.code(503).send(errorBody(503, `${streams} status streams are open, the most this server serves`));
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store", connection: "keep-alive", "x-accel-buffering": "no" });
      streams++;
      let ended = false;
      const end = (): void => {
        if (ended) return;
        ended = true;
        streams--;
        open.delete(end);
        clearInterval(timer);
        clearTimeout(lifetime);
        res.end();
      };
      open.add(end);
      const send = (): void => {
        // A reader that does not keep up gets no more snapshots queued behind the ones it has.
        if (res.writableLength > 4 * 1024 * 1024) return;
        try {
          res.write(`event: state\ndata: ${snapshotText()}\n\n`);
        } catch (error) {
          request.log.error({ err: error }, "status snapshot failed");
        }
      };
      res.write("retry: 1000\n\n");
      send();
      const timer = setInterval(send, period);
      // Ends after a while (the page reconnects): a fuzzer's or a proxy's request does not stay forever.
      const lifetime = setTimeout(end, Math.min(streamMaxMs ?? UI_LIMITS.maxMs, UI_LIMITS.maxMs));
      request.raw.on("close", end);
    },
  );
};
