// A cache's readiness reports to its upstream: one small POST /caches/report every period. A report
// that fails (upstream down, slow, refusing) is logged at debug and the next period sends a fresh
// one; reports never overlap and never hold up anything else the cache does.
import type { FastifyBaseLogger } from "fastify";
import { request, type Agent, type Dispatcher } from "undici";
import { authorization, clientAgent } from "../http/client.js";
import type { UpstreamSecurity } from "../cache/upstream.js";
import { FARM_SIZE_HEADER, type CacheReport } from "./report.js";

export interface ReporterOptions {
  readonly intervalMs: number;
  /** The cache's name in the farm view; the host name and port when undefined. */
  readonly name?: string | undefined;
}

export interface ReporterCounters {
  sent: number;
  failed: number;
}

export class CacheReporter {
  readonly counters: ReporterCounters = { sent: 0, failed: 0 };
  private readonly agent: Agent;
  private timer: NodeJS.Timeout | null = null;
  private inFlight = false;
  private name = "";

  constructor(
    private readonly intervalMs: number,
    private readonly upstreams: readonly string[],
    private readonly build: (name: string, intervalMs: number) => CacheReport,
    private readonly log: FastifyBaseLogger,
    private readonly security: UpstreamSecurity = {},
    /** Told the farm's size whenever an upstream's answer carries it. */
    private readonly onFarmSize: (caches: number) => void = () => undefined,
  ) {
    // A report older than one period is worth nothing: bounded by the period (and 5 s).
    const timeout = Math.max(100, Math.min(intervalMs, 5000));
    this.agent = clientAgent({ caFile: security.caFile, connectTimeoutMs: timeout, headersTimeoutMs: timeout, bodyTimeoutMs: timeout, connections: 1 });
  }

  start(name: string): void {
    this.name = name;
    void this.report();
    this.timer = setInterval(() => void this.report(), this.intervalMs);
    this.timer.unref();
  }

  /** Sends one report now (unless one is under way); resolves when it is answered or failed. */
  async report(): Promise<void> {
    if (this.inFlight) return;
    this.inFlight = true;
    try {
      const body = JSON.stringify(this.build(this.name, this.intervalMs));
      const problems: string[] = [];
      for (const base of this.upstreams) {
        try {
          const response = await request(new URL("caches/report", base.endsWith("/") ? base : `${base}/`), {
            method: "POST",
            headers: { "content-type": "application/json", ...authorization(this.security.token) },
            body,
            dispatcher: this.agent as Dispatcher,
          });
          const text = await response.body.text();
          if (response.statusCode === 204 || response.statusCode === 200) {
            this.counters.sent++;
            const size = Number(response.headers[FARM_SIZE_HEADER]);
            if (Number.isSafeInteger(size) && size > 0) this.onFarmSize(size);
            return;
          }
          problems.push(`${base}: HTTP ${response.statusCode} ${text.slice(0, 200)}`);
          if (response.statusCode === 400 || response.statusCode === 413) break; // malformed: another upstream would refuse it too
        } catch (error) {
          problems.push(`${base}: ${(error as Error).message}`);
        }
      }
      this.counters.failed++;
      this.log.debug({ problems }, "readiness report not delivered; the next period sends a fresh one");
    } finally {
      this.inFlight = false;
    }
  }

  async close(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.agent.close();
  }
}
