// The cache's client for its upstream repositories (undici): base URLs tried in order, like the O2
// client; redirects followed by hand (Location, then each Content-Location), as an upstream may answer
// 303 to /download/<uuid> or elsewhere.
import { request, type Agent, type Dispatcher } from "undici";
import { headerMap, type RawHeaders } from "../http/headers.js";
import { authorization, clientAgent, type TokenSource } from "../http/client.js";

export interface UpstreamResponse {
  readonly status: number;
  readonly headers: RawHeaders;
  readonly body: Buffer;
  /** The URL that finally answered. */
  readonly url: string;
}

export class UpstreamUnavailable extends Error {}

export interface UpstreamCounters {
  requests: number;
  errors: number;
  bytes: number;
}

const MAX_REDIRECTS = 5;

/** How a cache reaches its upstream beyond the URLs: the CA it trusts, the token it sends. */
export interface UpstreamSecurity {
  /** PEM CA file trusted for https upstreams (--upstream-ca). */
  readonly caFile?: string | undefined;
  /** The bearer token sent to the upstream (--upstream-token-file), for repositories whose reads need one. */
  readonly token?: TokenSource | undefined;
}

export class Upstream {
  readonly counters: UpstreamCounters = { requests: 0, errors: 0, bytes: 0 };
  private readonly agent: Agent;
  /** Bases that failed: skipped to the end of the order until `until` (the delay doubles per failure). */
  private readonly down = new Map<string, { until: number; delay: number }>();

  /** Origins of the configured bases: the token goes to these only, never to a redirect elsewhere. */
  private readonly origins: Set<string>;

  constructor(readonly bases: readonly string[], private readonly timeoutMs = 10_000, private readonly security: UpstreamSecurity = {}) {
    this.origins = new Set(bases.flatMap((b) => { try { return [new URL(b).origin]; } catch { return []; } }));
    // A repository answers the head of a response at once (an object's bytes follow under bodyTimeout):
    // one whose connection went dead (packets dropped, no RST) must turn into a 503 within seconds, not
    // after the whole timeout, or the reader behind the miss gives up first (chaos upstream-unreachable).
    const head = Math.min(timeoutMs, 5000);
    this.agent = clientAgent({ caFile: security.caFile, connectTimeoutMs: head, headersTimeoutMs: head, bodyTimeoutMs: timeoutMs });
  }

  get configured(): boolean {
    return this.bases.length > 0;
  }

  /**
   * Sends `pathAndQuery` to each base URL in turn until one answers with a status below 500;
   * throws UpstreamUnavailable with the reasons when none does.
   */
  async fetch(pathAndQuery: string, options: { method?: "GET" | "HEAD"; headers?: Record<string, string> } = {}): Promise<UpstreamResponse> {
    const problems: string[] = [];
    // In order, but a base that failed recently goes last until its backoff has passed.
    const now = Date.now();
    const ordered = [...this.bases.filter((b) => (this.down.get(b)?.until ?? 0) <= now), ...this.bases.filter((b) => (this.down.get(b)?.until ?? 0) > now)];
    for (const base of ordered) {
      try {
        const response = await this.follow(new URL(pathAndQuery.replace(/^\/+/, ""), base.endsWith("/") ? base : `${base}/`).toString(), options);
        if (response.status < 500) {
          this.down.delete(base);
          return response;
        }
        problems.push(`${base}: HTTP ${response.status}`);
      } catch (error) {
        problems.push(`${base}: ${(error as Error).message}`);
      }
      this.counters.errors++;
      const delay = Math.min((this.down.get(base)?.delay ?? 250) * 2, 30_000);
      this.down.set(base, { until: Date.now() + delay, delay });
    }
    throw new UpstreamUnavailable(this.bases.length === 0 ? "no upstream configured" : `upstream unavailable (${problems.join("; ")})`);
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  private async follow(url: string, options: { method?: "GET" | "HEAD"; headers?: Record<string, string> }): Promise<UpstreamResponse> {
    let current = url;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      this.counters.requests++;
      const response = await request(current, {
        method: options.method ?? "GET",
        headers: { ...(options.headers ?? {}), ...(this.origins.has(new URL(current).origin) ? authorization(this.security.token) : {}) },
        dispatcher: this.agent as Dispatcher,
        responseHeaders: "raw",
      });
      const raw = response.headers as unknown as Buffer[];
      if ([301, 302, 303, 307, 308].includes(response.statusCode)) {
        await response.body.dump();
        const targets = locations(raw, current);
        const next = targets[0];
        if (next === undefined) throw new Error(`redirect ${response.statusCode} without Location from ${current}`);
        current = next;
        continue;
      }
      const body = Buffer.from(await response.body.arrayBuffer());
      this.counters.bytes += body.length;
      return { status: response.statusCode, headers: raw, body, url: current };
    }
    throw new Error(`more than ${MAX_REDIRECTS} redirects from ${url}`);
  }
}

/** Location, then every distinct Content-Location, resolved against the request URL (http only). */
function locations(raw: readonly Buffer[], base: string): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toString().toLowerCase();
    if (name === "location") out.unshift(raw[i + 1]!.toString());
    else if (name === "content-location") out.push(raw[i + 1]!.toString());
  }
  const resolved: string[] = [];
  for (const target of out) {
    try {
      const u = new URL(target, base);
      if ((u.protocol === "http:" || u.protocol === "https:") && !resolved.includes(u.toString())) resolved.push(u.toString());
    } catch {
      // not a URL this client can follow (alien://, file://)
    }
  }
  return resolved;
}

/** A response header's value (first occurrence). */
export function header(response: UpstreamResponse, name: string): string | undefined {
  return headerMap(response.headers).get(name.toLowerCase())?.value;
}
