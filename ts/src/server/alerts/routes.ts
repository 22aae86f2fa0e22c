// Alerts over HTTP (spec/openapi.yaml tag "monitoring"): the active alerts and the recent events, and
// the condcast_alert* and condcast_farm_* rate metrics. A cache answers 404: the repository evaluates.
import type { FastifyPluginAsync } from "fastify";
import { Counter, Gauge } from "prom-client";
import type { ServerContext } from "../context.js";
import { errorBody, errorSchema } from "../http/schemas.js";
import type { ActiveAlert, AlertEvaluator } from "./evaluator.js";
import { ALERT_RULES, type RepositoryProbe } from "./rules.js";

const alertSchema = {
  type: "object",
  properties: {
    id: { type: "string" },
    rule: { type: "string", enum: [...ALERT_RULES] },
    subject: { type: "string" },
    severity: { type: "string", enum: ["warning", "critical"] },
    summary: { type: "string" },
    since: { type: "integer" },
  },
  required: ["id", "rule", "subject", "severity", "summary", "since"],
} as const;

export function alertJson(a: ActiveAlert): Record<string, unknown> {
  return { id: a.id, rule: a.rule, subject: a.subject, severity: a.severity, summary: a.summary, since: a.since };
}

export const alertRoutes: FastifyPluginAsync<{ ctx: ServerContext; alerts: AlertEvaluator | undefined; probe: RepositoryProbe | undefined }> = async (app, { ctx, alerts, probe }) => {
  if (alerts !== undefined && probe !== undefined) registerMetrics(ctx, alerts, probe);
  app.get(
    "/alerts",
    {
      schema: {
        summary: "The active alerts and the last 100 firings and resolutions (repository)",
        response: {
          200: {
            type: "object",
            properties: {
              active: { type: "array", items: alertSchema },
              recent: { type: "array", items: { type: "object", properties: { status: { type: "string", enum: ["firing", "resolved"] }, at: { type: "integer" }, alert: alertSchema }, required: ["status", "at", "alert"] } },
              webhooks: { type: "array", items: { type: "object", properties: { name: { type: "string" }, format: { type: "string" }, queued: { type: "integer" }, delivered: { type: "integer" }, retried: { type: "integer" }, failed: { type: "integer" }, dropped: { type: "integer" } }, required: ["name", "format", "queued", "delivered", "retried", "failed", "dropped"] } },
            },
            required: ["active", "recent", "webhooks"],
          },
          404: errorSchema,
        },
      },
    },
    async (_request, reply) => {
      if (alerts === undefined) return reply.code(404).send(errorBody(404, "this is a cache: alerts are evaluated by the repository it reports to"));
      return {
        active: alerts.activeAlerts().map(alertJson),
        recent: alerts.recentEvents().map((e) => ({ status: e.status, at: e.at, alert: alertJson(e.alert) })),
        webhooks: alerts.webhooks.map((w) => ({ name: w.webhook.name, format: w.webhook.format, queued: w.queued, ...w.counters })),
      };
    },
  );
};

function registerMetrics(ctx: ServerContext, alerts: AlertEvaluator, probe: RepositoryProbe): void {
  const registers = [ctx.registry];
  new Gauge({
    name: "condcast_alerts_active",
    help: "Alerts active now, by rule (docs/MONITORING.md)",
    labelNames: ["rule"],
    registers,
    collect() {
      for (const [rule, n] of Object.entries(alerts.activeByRule())) this.set({ rule }, n);
    },
  });
  for (const [name, help, read] of [
    ["condcast_alerts_fired_total", "Alert episodes begun, by rule", () => alerts.fired],
    ["condcast_alerts_resolved_total", "Alert episodes ended, by rule", () => alerts.resolved],
  ] as const) {
    new Counter({
      name,
      help,
      labelNames: ["rule"],
      registers,
      collect() {
        this.reset();
        for (const [rule, n] of Object.entries(read())) this.inc({ rule }, n);
      },
    });
  }
  new Counter({
    name: "condcast_alert_webhook_deliveries_total",
    help: "Alert webhook messages by outcome: delivered, retried (an attempt failed), failed (given up), dropped (queue full)",
    labelNames: ["webhook", "result"],
    registers,
    collect() {
      this.reset();
      for (const w of alerts.webhooks) for (const [result, n] of Object.entries(w.counters)) this.inc({ webhook: w.webhook.name, result }, n);
    },
  });
  new Gauge({
    name: "condcast_farm_rate",
    help: "The farm's rates per second from the caches' reports, by kind: datagrams, lost (datagrams dropped), fec (fragments rebuilt), repaired (objects), repair_failures",
    labelNames: ["kind"],
    registers,
    collect() {
      const r = alerts.rates.latest();
      this.set({ kind: "datagrams" }, r.datagrams);
      this.set({ kind: "lost" }, r.lost);
      this.set({ kind: "fec" }, r.fec);
      this.set({ kind: "repaired" }, r.repaired);
      this.set({ kind: "repair_failures" }, r.repairFailures);
    },
  });
  const gauge = (name: string, help: string, read: () => number | undefined): void => {
    new Gauge({
      name,
      help,
      registers,
      collect() {
        const v = read();
        if (v !== undefined) this.set(v);
      },
    });
  };
  gauge("condcast_multicast_backlog_bytes", "Bytes accepted but not yet multicast", () => probe.backlog().bytes);
  gauge("condcast_multicast_backlog_limit_bytes", "--multicast-backlog: beyond it upload acknowledgements wait", () => probe.backlog().max);
  gauge("condcast_store_disk_free_bytes", "Free bytes on the data directory's file system", () => probe.disk()?.freeBytes);
  gauge("condcast_store_disk_size_bytes", "Size of the data directory's file system", () => probe.disk()?.totalBytes);
  new Counter({
    name: "condcast_http_server_errors_total",
    help: "Answers with a 5xx status",
    registers,
    collect() {
      this.reset();
      this.inc(probe.serverErrors());
    },
  });
}
