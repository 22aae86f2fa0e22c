// The repository's alert evaluator: every evaluateMs it samples the farm's rates, runs the rules and
// compares with the alerts already active. A new condition fires (once), one still there is repeated
// every repeatMs, one gone is resolved. Each evaluation's events go to the webhooks in one message.
import type { FastifyBaseLogger } from "fastify";
import type { FarmView } from "../farm/farm-view.js";
import type { AlertsConfig } from "./config.js";
import { FarmRates } from "./rates.js";
import { ALERT_RULES, AlertRules, type AlertRule, type Condition, type RepositoryProbe } from "./rules.js";
import { WebhookSender } from "./webhooks.js";

export interface ActiveAlert extends Condition {
  /** rule and subject: one alert per thing and rule. */
  readonly id: string;
  readonly since: number;
  lastSentAt: number;
}

export interface AlertEvent {
  readonly status: "firing" | "repeat" | "resolved";
  readonly at: number;
  readonly alert: ActiveAlert;
}

type PerRule = Record<AlertRule, number>;
const perRule = (): PerRule => Object.fromEntries(ALERT_RULES.map((r) => [r, 0])) as PerRule;

export class AlertEvaluator {
  readonly rates = new FarmRates();
  readonly fired = perRule();
  readonly resolved = perRule();
  readonly webhooks: WebhookSender[];
  private readonly rules: AlertRules;
  private readonly active = new Map<string, ActiveAlert>();
  private readonly recent: AlertEvent[] = [];
  private readonly listeners = new Set<() => void>();
  private timer: NodeJS.Timeout | undefined;
  /** Who sends: the repository's URL once it listens. */
  source = "repository";

  constructor(
    readonly config: AlertsConfig,
    private readonly farm: FarmView,
    private readonly repo: RepositoryProbe,
    private readonly log: FastifyBaseLogger,
    now = Date.now(),
  ) {
    this.rules = new AlertRules(config.thresholds, now);
    this.webhooks = config.webhooks.map((w) => new WebhookSender(w, config.retry, config.queueLimit, log));
  }

  start(): void {
    this.timer = setInterval(() => {
      try {
        this.evaluate(Date.now());
      } catch (error) {
        this.log.error({ err: error }, "alert evaluation failed");
      }
    }, this.config.evaluateMs);
    this.timer.unref();
  }

  /** One evaluation; returns its events (tests call it directly). */
  evaluate(now: number): AlertEvent[] {
    this.rates.sample(this.farm.entries(now), now);
    const conditions = this.rules.evaluate(this.farm, this.rates, this.repo, now);
    const events: AlertEvent[] = [];
    const seen = new Set<string>();
    for (const c of conditions) {
      const id = `${c.rule}:${c.subject}`;
      if (seen.has(id)) continue;
      seen.add(id);
      const before = this.active.get(id);
      if (before === undefined) {
        const alert: ActiveAlert = { ...c, id, since: now, lastSentAt: now };
        this.active.set(id, alert);
        this.fired[c.rule]++;
        events.push({ status: "firing", at: now, alert });
        continue;
      }
      // The summary follows what the rule sees now (ages, rates); the episode stays the same.
      const alert: ActiveAlert = { ...c, id, since: before.since, lastSentAt: before.lastSentAt };
      this.active.set(id, alert);
      if (this.config.repeatMs > 0 && now - alert.lastSentAt >= this.config.repeatMs) {
        alert.lastSentAt = now;
        events.push({ status: "repeat", at: now, alert });
      }
    }
    for (const [id, alert] of this.active) {
      if (seen.has(id)) continue;
      this.active.delete(id);
      this.resolved[alert.rule]++;
      events.push({ status: "resolved", at: now, alert });
    }
    for (const e of events) if (e.status !== "repeat") this.remember(e);
    if (events.length > 0) {
      const firing = events.filter((e) => e.status === "firing").length;
      this.log.info({ firing, resolved: events.length - firing - events.filter((e) => e.status === "repeat").length, active: this.active.size }, "alerts changed");
      for (const w of this.webhooks) w.send(this.source, events);
    }
    for (const listener of this.listeners) listener();
    return events;
  }

  private remember(e: AlertEvent): void {
    this.recent.push(e);
    if (this.recent.length > 100) this.recent.shift();
  }

  /** Active alerts, critical first, then the oldest first. */
  activeAlerts(): ActiveAlert[] {
    return [...this.active.values()].sort((a, b) => (a.severity === b.severity ? a.since - b.since : a.severity === "critical" ? -1 : 1));
  }

  /** The last 100 firings and resolutions, the newest last. */
  recentEvents(): readonly AlertEvent[] {
    return this.recent;
  }

  activeByRule(): PerRule {
    const counts = perRule();
    for (const a of this.active.values()) counts[a.rule]++;
    return counts;
  }

  /** Called after every evaluation (the status page's stream). */
  onEvaluate(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    for (const w of this.webhooks) w.close();
    this.listeners.clear();
  }
}
