// What the status page shows, as one JSON document per update: the repository's is the farm's (every
// cache a compact row), a cache's is its own node. Built on demand; the stream sends one per period.
import type { ServerContext } from "../context.js";
import type { ActiveAlert, AlertEvaluator } from "../alerts/evaluator.js";
import { alertJson } from "../alerts/routes.js";
import type { RepositoryProbe } from "../alerts/rules.js";

/** The columns of a cache row, in order (the page reads them by these names). */
export const CACHE_COLUMNS = ["name", "state", "keys", "lag", "lost", "fec", "repaired", "repairFailures", "objects", "bytes", "ageMs", "silent", "address", "alerts"] as const;

const round = (x: number): number => Math.round(x * 100) / 100;

export function repositorySnapshot(ctx: ServerContext, alerts: AlertEvaluator, probe: RepositoryProbe, now: number): Record<string, unknown> {
  const farm = ctx.farm!;
  const keytables = probe.keytables();
  const alertCount = new Map<string, number>();
  const active = alerts.activeAlerts();
  for (const a of active) {
    const cache = a.subject.includes("/") ? a.subject.slice(a.subject.indexOf("/") + 1) : a.subject;
    alertCount.set(cache, (alertCount.get(cache) ?? 0) + 1);
  }
  const rows: unknown[][] = [];
  let stale = 0;
  let silent = 0;
  let behind = 0;
  for (const e of farm.entries(now)) {
    const state = farm.state(e, now);
    const r = e.report;
    // Lag: keys behind the repository's current one, summed over its keytables.
    let lag = 0;
    for (const { keytable, key } of keytables) lag += Math.max(0, key - (r.keys.find((k) => k.keytable === keytable)?.key ?? 0));
    const rates = alerts.rates.of(e.name);
    const isSilent = r.silent ?? false;
    if (state === "stale") stale++;
    else {
      if (isSilent) silent++;
      if (lag > 0) behind++;
    }
    rows.push([e.name, state, r.keys.map((k) => `${k.keytable}/${k.key}`).join(" "), lag, round(rates.lost), round(rates.fec), round(rates.repaired), round(rates.repairFailures), r.objects, r.bytes, now - e.lastReportAt, isSilent, e.address, alertCount.get(e.name) ?? 0]);
  }
  const last = ctx.repository!.changes(0, 0).lastSequence;
  const changes = ctx.repository!.changes(Math.max(0, last - 15), 15).changes.reverse();
  const backlog = probe.backlog();
  const disk = probe.disk();
  return {
    role: "repository",
    at: now,
    summary: { caches: rows.length, ok: rows.length - stale, stale, silent, behind, alerts: active.length },
    columns: CACHE_COLUMNS,
    caches: rows,
    keytables: farm.keyReadiness(keytables, now).map((k) => ({ keytable: k.keytable, key: k.key, caches: k.caches, keys: k.keys, laggingCount: k.laggingCount })),
    runs: probe
      .runs()
      .slice(0, 10)
      .map((r) => {
        const h = farm.keyHolders(r.keytable, r.key, now, 0);
        return { run: r.run, keytable: r.keytable, key: r.key, startedAt: r.startedAt, distribution: r.distribution, held: h.held, caches: h.caches };
      }),
    changes: changes.map((c) => ({ sequence: c.sequence, action: c.action, path: c.path, changedAt: c.changedAt, ...(c.keytable !== undefined ? { keytable: c.keytable, key: c.key } : {}) })),
    health: {
      store: probe.storeProblem() ?? "ok",
      objects: ctx.store.stats().objects,
      bytes: ctx.store.stats().bytes,
      backlogBytes: backlog.bytes,
      backlogMaxBytes: backlog.max,
      diskFreeBytes: disk?.freeBytes ?? null,
      diskSizeBytes: disk?.totalBytes ?? null,
      serverErrors: probe.serverErrors(),
    },
    // At most 20 per rule (a farm-wide outage makes thousands); alertCounts has them all.
    alerts: firstPerRule(active, 20).map(alertJson),
    alertCounts: countPerRule(active),
    recent: alerts
      .recentEvents()
      .slice(-20)
      .reverse()
      .map((e) => ({ status: e.status, at: e.at, alert: alertJson(e.alert) })),
    rates: alerts.rates.history().map((p) => [p.at, round(p.datagrams), round(p.lost), round(p.fec), round(p.repaired)]),
  };
}

function firstPerRule(alerts: readonly ActiveAlert[], n: number): ActiveAlert[] {
  const taken = new Map<string, number>();
  return alerts.filter((a) => {
    const k = taken.get(a.rule) ?? 0;
    taken.set(a.rule, k + 1);
    return k < n;
  });
}

function countPerRule(alerts: readonly ActiveAlert[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const a of alerts) counts[a.rule] = (counts[a.rule] ?? 0) + 1;
  return counts;
}

export function cacheSnapshot(ctx: ServerContext, now: number): Record<string, unknown> {
  const status = ctx.status();
  const c = ctx.counters;
  const receiver = (status.receiver ?? {}) as { datagrams?: number; drops?: Record<string, number>; fec?: { fragmentsRecovered?: number } };
  let lost = 0;
  for (const n of Object.values(receiver.drops ?? {})) lost += n;
  return {
    role: "cache",
    at: now,
    health: ctx.health(),
    objects: status.objects,
    bytes: status.bytes,
    budgetBytes: status.budgetBytes,
    keys: status.keys,
    multicastGroup: status.multicastGroup,
    upstream: status.upstream,
    // Counters since start: the page turns two of them into a rate.
    counters: { datagrams: receiver.datagrams ?? 0, lost, fec: receiver.fec?.fragmentsRecovered ?? 0, repaired: c.repaired, repairFailures: c.repairFailures, fetched: c.fetched, hits: c.hits, misses: c.misses, upstreamErrors: c.upstreamErrors },
  };
}
