// The alert rules (docs/MONITORING.md "Alerts"): what is wrong now, as a list of conditions, each with
// the thing it is about (a cache, a keytable, a run, or the repository). Rules that need a condition
// to last (a cache behind its key, a silent group) remember since when they have seen it.
import { STALE_PERIODS, type CacheEntry, type FarmView } from "../farm/farm-view.js";
import type { KeytableSummary } from "../keys/model.js";
import type { RunState } from "../runs/model.js";
import type { AlertThresholds } from "./config.js";
import type { FarmRates } from "./rates.js";

export const ALERT_RULES = ["cache-stale", "cache-behind", "group-silent", "repair-storm", "upstream-failing", "store-failing", "multicast-backlog", "disk-full", "run-not-ready"] as const;
export type AlertRule = (typeof ALERT_RULES)[number];
export type Severity = "warning" | "critical";

export interface Condition {
  readonly rule: AlertRule;
  /** What it is about: a cache's name, "keytable/cache", "run N", or "repository". */
  readonly subject: string;
  readonly severity: Severity;
  readonly summary: string;
}

/** What the rules read about the repository itself. */
export interface RepositoryProbe {
  keytables(): readonly KeytableSummary[];
  backlog(): { bytes: number; max: number };
  /** The data directory's file system; undefined when it cannot be read. */
  disk(): { freeBytes: number; totalBytes: number } | undefined;
  /** Answers with a 5xx status since the start (a counter). */
  serverErrors(): number;
  /** undefined while the store answers, else why not. */
  storeProblem(): string | undefined;
  /** Recent runs, the newest first. */
  runs(): readonly RunState[];
}

const ms = (n: number): string => (n >= 10_000 ? `${Math.round(n / 1000)} s` : `${Math.round(n)} ms`);
const pct = (x: number): string => `${Math.round(x * 1000) / 10}%`;

export class AlertRules {
  private readonly behindSince = new Map<string, number>();
  private readonly silentSince = new Map<string, number>();
  private readonly errorSamples: { at: number; errors: number }[] = [];
  /** Runs this evaluator judged, and whether they are still short of ready caches. */
  private readonly runsJudged = new Map<number, boolean>();

  constructor(
    private readonly thresholds: AlertThresholds,
    private readonly startedAt: number,
  ) {}

  staleAfterMs(e: CacheEntry): number {
    return this.thresholds.staleMs > 0 ? this.thresholds.staleMs : STALE_PERIODS * e.report.intervalMs;
  }

  evaluate(farm: FarmView, rates: FarmRates, repo: RepositoryProbe, now: number): Condition[] {
    const t = this.thresholds;
    const out: Condition[] = [];
    const keytables = repo.keytables();
    const behindSeen = new Set<string>();
    const silentSeen = new Set<string>();
    for (const e of farm.entries(now)) {
      const age = now - e.lastReportAt;
      if (age > this.staleAfterMs(e)) {
        out.push({ rule: "cache-stale", subject: e.name, severity: "critical", summary: `cache ${e.name} (${e.address}) has not reported for ${ms(age)}` });
        continue; // what a silent cache reported last is no longer news
      }
      for (const { keytable, key } of keytables) {
        const held = e.report.keys.find((k) => k.keytable === keytable)?.key ?? 0;
        if (held >= key) continue;
        const id = `${keytable}/${e.name}`;
        behindSeen.add(id);
        const since = this.behindSince.get(id) ?? now;
        this.behindSince.set(id, since);
        if (now - since >= t.behindMs) out.push({ rule: "cache-behind", subject: id, severity: "warning", summary: `cache ${e.name} is on ${keytable} key ${held}, the repository on ${key}, for ${ms(now - since)}` });
      }
      const silent = e.report.silent ?? (e.report.heartbeatAgeMs !== null && e.report.heartbeatAgeMs > t.silentMs);
      if (silent) {
        silentSeen.add(e.name);
        const since = this.silentSince.get(e.name) ?? now;
        this.silentSince.set(e.name, since);
        if (now - since >= t.silentMs) out.push({ rule: "group-silent", subject: e.name, severity: "warning", summary: `cache ${e.name} hears no multicast heartbeat for ${ms(now - since)} (it reads the change log instead)` });
      }
      const failures = rates.of(e.name).repairFailures;
      if (failures > t.upstreamFailuresPerSecond) out.push({ rule: "upstream-failing", subject: e.name, severity: "critical", summary: `cache ${e.name}: ${failures.toFixed(1)} failed repairs/s from its upstream` });
    }
    for (const id of this.behindSince.keys()) if (!behindSeen.has(id)) this.behindSince.delete(id);
    for (const id of this.silentSince.keys()) if (!silentSeen.has(id)) this.silentSince.delete(id);

    const repairs = rates.latest().repaired;
    if (repairs > t.repairsPerSecond) out.push({ rule: "repair-storm", subject: "farm", severity: "warning", summary: `${repairs.toFixed(1)} HTTP repairs/s across the farm (threshold ${t.repairsPerSecond}/s)` });

    const problem = repo.storeProblem();
    const errorRate = this.errorRate(repo.serverErrors(), now);
    if (problem !== undefined) out.push({ rule: "store-failing", subject: "repository", severity: "critical", summary: `the store fails: ${problem}` });
    else if (errorRate > t.storeErrorsPerSecond) out.push({ rule: "store-failing", subject: "repository", severity: "critical", summary: `the repository answers ${errorRate.toFixed(2)} requests/s with a 5xx error` });

    const backlog = repo.backlog();
    if (backlog.max > 0 && backlog.bytes > t.backlogShare * backlog.max) out.push({ rule: "multicast-backlog", subject: "repository", severity: "warning", summary: `multicast backlog ${backlog.bytes} bytes, ${pct(backlog.bytes / backlog.max)} of ${backlog.max}: uploads will wait` });

    const disk = repo.disk();
    if (disk !== undefined && disk.totalBytes > 0 && disk.freeBytes < t.diskFreeShare * disk.totalBytes) out.push({ rule: "disk-full", subject: "repository", severity: "critical", summary: `the data directory's disk has ${pct(disk.freeBytes / disk.totalBytes)} free (${disk.freeBytes} bytes)` });

    out.push(...this.runConditions(farm, repo.runs(), now));
    return out;
  }

  /** 5xx answers per second over the last 10 s. */
  private errorRate(errors: number, now: number): number {
    this.errorSamples.push({ at: now, errors });
    while (this.errorSamples.length > 2 && this.errorSamples[0]!.at < now - 10_000) this.errorSamples.shift();
    const first = this.errorSamples[0]!;
    return now > first.at ? (errors - first.errors) / ((now - first.at) / 1000) : 0;
  }

  /** The newest run of each keytable, started since this evaluator runs, short of ready caches until they catch up. */
  private runConditions(farm: FarmView, runs: readonly RunState[], now: number): Condition[] {
    const out: Condition[] = [];
    const newest = new Set<string>();
    for (const run of runs) {
      if (newest.has(run.keytable)) continue;
      newest.add(run.keytable);
      if (run.startedAt < this.startedAt || this.runsJudged.get(run.run) === false) continue;
      const h = farm.keyHolders(run.keytable, run.key, now);
      const short = h.caches > 0 && h.held / h.caches < this.thresholds.runReadyShare;
      // Once the farm caught up with it, a run stays judged: it does not fire again.
      this.runsJudged.set(run.run, short);
      if (short) {
        const names = h.lagging.slice(0, 5).map((c) => c.name).join(", ");
        out.push({ rule: "run-not-ready", subject: `run ${run.run}`, severity: "critical", summary: `run ${run.run} started on ${run.keytable} key ${run.key} with ${h.laggingCount} of ${h.caches} caches not holding it (${names}${h.laggingCount > 5 ? ", ..." : ""})` });
      }
    }
    if (this.runsJudged.size > 1000) for (const run of [...this.runsJudged.keys()].slice(0, 500)) this.runsJudged.delete(run);
    return out;
  }
}
