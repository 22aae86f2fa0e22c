// Webhook delivery: each webhook has its own bounded queue and sends one message at a time, each
// attempt limited by a timeout, retried with doubling back-off. Nothing here is awaited by the
// repository: the evaluator only enqueues, so a webhook that is down or hangs costs a timer.
import type { FastifyBaseLogger } from "fastify";
import { Agent, request } from "undici";
import type { RetryConfig, WebhookConfig } from "./config.js";
import type { AlertEvent } from "./evaluator.js";

export interface DeliveryCounters {
  delivered: number;
  /** Attempts that failed and were tried again later. */
  retried: number;
  /** Messages given up after their last attempt, or refused with a 4xx. */
  failed: number;
  /** Messages dropped because the queue was full. */
  dropped: number;
}

const MAX_LISTED = 20;

function line(e: AlertEvent): string {
  const mark = e.status === "resolved" ? "RESOLVED" : e.status === "repeat" ? "STILL FIRING" : "FIRING";
  return `[${mark}] ${e.alert.severity} ${e.alert.rule} ${e.alert.subject}: ${e.alert.summary}`;
}

/** The text a chat channel shows: one line per alert, at most 20 (then how many more). */
export function chatText(source: string, events: readonly AlertEvent[]): string {
  const lines = events.slice(0, MAX_LISTED).map(line);
  if (events.length > MAX_LISTED) lines.push(`... and ${events.length - MAX_LISTED} more (see the status page)`);
  return `condcast ${source}\n${lines.join("\n")}`.slice(0, 1990);
}

/** The body a webhook of this format accepts. */
export function webhookBody(format: WebhookConfig["format"], source: string, events: readonly AlertEvent[]): unknown {
  if (format === "discord") return { username: "condcast", content: chatText(source, events) };
  if (format === "mattermost") return { username: "condcast", text: chatText(source, events) };
  return {
    source: "condcast",
    repository: source,
    alerts: events.slice(0, 500).map((e) => ({
      status: e.status,
      rule: e.alert.rule,
      subject: e.alert.subject,
      severity: e.alert.severity,
      summary: e.alert.summary,
      startsAt: new Date(e.alert.since).toISOString(),
      ...(e.status === "resolved" ? { endsAt: new Date(e.at).toISOString() } : {}),
    })),
    truncated: Math.max(0, events.length - 500),
  };
}

export class WebhookSender {
  readonly counters: DeliveryCounters = { delivered: 0, retried: 0, failed: 0, dropped: 0 };
  private readonly queue: string[] = [];
  private sending = false;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private abort: AbortController | undefined;
  /** Its own connections: a webhook that hangs holds nothing the repository's other clients use. */
  private readonly agent = new Agent({ connections: 2 });

  constructor(
    readonly webhook: WebhookConfig,
    private readonly retry: RetryConfig,
    private readonly queueLimit: number,
    private readonly log: FastifyBaseLogger,
  ) {}

  get queued(): number {
    return this.queue.length;
  }

  send(source: string, events: readonly AlertEvent[]): void {
    if (this.closed || events.length === 0) return;
    this.queue.push(JSON.stringify(webhookBody(this.webhook.format, source, events)));
    while (this.queue.length > this.queueLimit) {
      this.queue.shift();
      this.counters.dropped++;
    }
    if (!this.sending) void this.drain();
  }

  private async drain(): Promise<void> {
    this.sending = true;
    while (!this.closed && this.queue.length > 0) {
      const body = this.queue[0]!;
      let delivered = false;
      for (let attempt = 1; !this.closed && attempt <= this.retry.attempts; attempt++) {
        const outcome = await this.attempt(body);
        if (outcome === "ok") {
          delivered = true;
          break;
        }
        if (outcome === "refused") break;
        if (attempt === this.retry.attempts) break;
        this.counters.retried++;
        await this.sleep(Math.min(this.retry.maxMs, this.retry.baseMs * 2 ** (attempt - 1)));
      }
      if (this.closed) break;
      this.queue.shift();
      if (delivered) this.counters.delivered++;
      else {
        this.counters.failed++;
        this.log.warn({ webhook: this.webhook.name }, "alert webhook: message given up");
      }
    }
    this.sending = false;
  }

  /** One POST: "ok" on 2xx, "refused" on a 4xx other than 408 and 429 (retrying will not help), else "retry". */
  private async attempt(body: string): Promise<"ok" | "refused" | "retry"> {
    this.abort = new AbortController();
    const timeout = setTimeout(() => this.abort?.abort(), this.retry.timeoutMs);
    try {
      const response = await request(this.webhook.url, { method: "POST", headers: { "content-type": "application/json" }, body, signal: this.abort.signal, dispatcher: this.agent });
      await response.body.dump().catch(() => undefined);
      const status = response.statusCode;
      if (status >= 200 && status < 300) return "ok";
      this.log.warn({ webhook: this.webhook.name, status }, "alert webhook answered an error");
      return status >= 400 && status < 500 && status !== 408 && status !== 429 ? "refused" : "retry";
    } catch (error) {
      this.log.warn({ webhook: this.webhook.name, err: (error as Error).message }, "alert webhook unreachable");
      return "retry";
    } finally {
      clearTimeout(timeout);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.timer = setTimeout(resolve, ms);
    });
  }

  close(): void {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.abort?.abort();
    void this.agent.destroy().catch(() => undefined);
  }
}
