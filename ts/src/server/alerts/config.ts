// The alerts configuration (serve --alerts FILE, docs/MONITORING.md): when each rule fires, how often an
// active alert is repeated, and where alerts are sent. Every field has a default, so `{}` is valid.

export type WebhookFormat = "discord" | "mattermost" | "generic";

export interface WebhookConfig {
  readonly url: string;
  readonly format: WebhookFormat;
  /** How it is named in logs and in condcast_alert_webhook_deliveries_total (default: its host). */
  readonly name: string;
}

export interface AlertThresholds {
  /** A cache counts as stale after this long without a report; 0 = the farm view's 3 report periods. */
  readonly staleMs: number;
  /** A cache behind a keytable's current key for longer than this. */
  readonly behindMs: number;
  /** A cache's multicast group silent for longer than this (as its reports say). */
  readonly silentMs: number;
  /** HTTP repairs per second across the farm (all caches' reports). */
  readonly repairsPerSecond: number;
  /** A cache's failed repairs per second (it cannot reach its upstream). */
  readonly upstreamFailuresPerSecond: number;
  /** The repository's answers with a 5xx status per second (the store failing). */
  readonly storeErrorsPerSecond: number;
  /** Multicast backlog above this share of --multicast-backlog. */
  readonly backlogShare: number;
  /** The data directory's file system with less than this share free. */
  readonly diskFreeShare: number;
  /** A run whose start found fewer than this share of the ok caches holding its key. */
  readonly runReadyShare: number;
}

export interface RetryConfig {
  /** First retry after this, doubling up to maxMs. */
  readonly baseMs: number;
  readonly maxMs: number;
  /** Attempts in all, the first one included. */
  readonly attempts: number;
  /** One attempt's limit: a webhook that hangs is abandoned after it. */
  readonly timeoutMs: number;
}

export interface AlertsConfig {
  readonly evaluateMs: number;
  /** An active alert is sent again this often (0 = never repeated). */
  readonly repeatMs: number;
  readonly thresholds: AlertThresholds;
  readonly webhooks: readonly WebhookConfig[];
  readonly retry: RetryConfig;
  /** Messages waiting per webhook beyond which the oldest is dropped (counted). */
  readonly queueLimit: number;
}

export const DEFAULT_THRESHOLDS: AlertThresholds = {
  staleMs: 0,
  behindMs: 60_000,
  silentMs: 10_000,
  repairsPerSecond: 100,
  upstreamFailuresPerSecond: 0.5,
  storeErrorsPerSecond: 0.2,
  backlogShare: 0.8,
  diskFreeShare: 0.05,
  runReadyShare: 1,
};

export const DEFAULT_ALERTS: AlertsConfig = {
  evaluateMs: 1000,
  repeatMs: 3_600_000,
  thresholds: DEFAULT_THRESHOLDS,
  webhooks: [],
  retry: { baseMs: 1000, maxMs: 60_000, attempts: 6, timeoutMs: 5000 },
  queueLimit: 100,
};

export class AlertsConfigError extends Error {}

type Json = Record<string, unknown>;

function object(value: unknown, where: string): Json {
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new AlertsConfigError(`${where} must be a JSON object`);
  return value as Json;
}

function only(o: Json, allowed: readonly string[], where: string): void {
  for (const key of Object.keys(o)) if (!allowed.includes(key)) throw new AlertsConfigError(`${where}: unknown setting ${JSON.stringify(key)} (known: ${allowed.join(", ")})`);
}

function number(o: Json, key: string, fallback: number, min: number, max: number, where: string): number {
  const v = o[key];
  if (v === undefined) return fallback;
  if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max) throw new AlertsConfigError(`${where}.${key} must be a number from ${min} to ${max}, got ${JSON.stringify(v)}`);
  return v;
}

function webhook(value: unknown, i: number): WebhookConfig {
  const where = `webhooks[${i}]`;
  const o = object(value, where);
  only(o, ["url", "format", "name"], where);
  let url: URL;
  try {
    url = new URL(String(o.url));
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error("not http");
  } catch {
    throw new AlertsConfigError(`${where}.url must be an http(s) URL, got ${JSON.stringify(o.url)}`);
  }
  const format = o.format ?? "generic";
  if (format !== "discord" && format !== "mattermost" && format !== "generic") throw new AlertsConfigError(`${where}.format must be discord, mattermost or generic, got ${JSON.stringify(format)}`);
  const name = o.name ?? url.host;
  if (typeof name !== "string" || !/^[!-~]{1,64}$/.test(name)) throw new AlertsConfigError(`${where}.name must be 1 to 64 printable characters, got ${JSON.stringify(name)}`);
  return { url: url.toString(), format, name };
}

/** Parses and checks the JSON text of an alerts file; a mistake throws AlertsConfigError with its place. */
export function parseAlertsConfig(text: string): AlertsConfig {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new AlertsConfigError(`not JSON: ${(error as Error).message}`);
  }
  const o = object(parsed, "the alerts file");
  only(o, ["evaluateMs", "repeatMs", "thresholds", "webhooks", "retry", "queueLimit"], "the alerts file");
  const t = object(o.thresholds ?? {}, "thresholds");
  const d = DEFAULT_THRESHOLDS;
  only(t, Object.keys(d), "thresholds");
  const thresholds: AlertThresholds = {
    staleMs: number(t, "staleMs", d.staleMs, 0, 86_400_000, "thresholds"),
    behindMs: number(t, "behindMs", d.behindMs, 0, 86_400_000, "thresholds"),
    silentMs: number(t, "silentMs", d.silentMs, 0, 86_400_000, "thresholds"),
    repairsPerSecond: number(t, "repairsPerSecond", d.repairsPerSecond, 0, 1e9, "thresholds"),
    upstreamFailuresPerSecond: number(t, "upstreamFailuresPerSecond", d.upstreamFailuresPerSecond, 0, 1e9, "thresholds"),
    storeErrorsPerSecond: number(t, "storeErrorsPerSecond", d.storeErrorsPerSecond, 0, 1e9, "thresholds"),
    backlogShare: number(t, "backlogShare", d.backlogShare, 0, 1, "thresholds"),
    diskFreeShare: number(t, "diskFreeShare", d.diskFreeShare, 0, 1, "thresholds"),
    runReadyShare: number(t, "runReadyShare", d.runReadyShare, 0, 1, "thresholds"),
  };
  const r = object(o.retry ?? {}, "retry");
  const dr = DEFAULT_ALERTS.retry;
  only(r, Object.keys(dr), "retry");
  const webhooks = o.webhooks ?? [];
  if (!Array.isArray(webhooks) || webhooks.length > 16) throw new AlertsConfigError("webhooks must be an array of at most 16 webhooks");
  return {
    evaluateMs: number(o, "evaluateMs", DEFAULT_ALERTS.evaluateMs, 100, 600_000, "the alerts file"),
    repeatMs: number(o, "repeatMs", DEFAULT_ALERTS.repeatMs, 0, 7 * 86_400_000, "the alerts file"),
    queueLimit: number(o, "queueLimit", DEFAULT_ALERTS.queueLimit, 1, 100_000, "the alerts file"),
    thresholds,
    webhooks: webhooks.map(webhook),
    retry: {
      baseMs: number(r, "baseMs", dr.baseMs, 1, 3_600_000, "retry"),
      maxMs: number(r, "maxMs", dr.maxMs, 1, 86_400_000, "retry"),
      attempts: number(r, "attempts", dr.attempts, 1, 100, "retry"),
      timeoutMs: number(r, "timeoutMs", dr.timeoutMs, 10, 600_000, "retry"),
    },
  };
}
