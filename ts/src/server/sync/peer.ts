// The client of one peer instance: its base URL, the bearer token of the peer's token file (read again
// when the file changes) and the CA file trusted for its https URL (http/client.ts).
import { request, type Agent, type Dispatcher } from "undici";
import { FileTokenSource, authorization, clientAgent, type TokenSource } from "../http/client.js";
import type { PeerConfig } from "./config.js";

export interface PeerResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

export class PeerClient {
  private readonly agent: Agent;
  private readonly tokens: TokenSource | undefined;

  constructor(readonly config: PeerConfig, timeoutMs = 10_000) {
    this.agent = clientAgent({ caFile: config.caFile, connectTimeoutMs: Math.min(timeoutMs, 5000), headersTimeoutMs: timeoutMs, bodyTimeoutMs: timeoutMs });
    // Looked at again at most every 200 ms: a renewed token file is used within a poll or two.
    this.tokens = config.tokenFile === undefined ? undefined : new FileTokenSource(config.tokenFile, 200);
  }

  get name(): string {
    return this.config.name;
  }

  /** GET `pathAndQuery` on the peer; throws on a network error (the caller retries). */
  async get(pathAndQuery: string, headers: Record<string, string> = {}): Promise<PeerResponse> {
    const response = await request(`${this.config.url}/${pathAndQuery.replace(/^\/+/, "")}`, {
      method: "GET",
      headers: { ...headers, ...authorization(this.tokens) },
      dispatcher: this.agent as Dispatcher,
    });
    const body = Buffer.from(await response.body.arrayBuffer());
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(response.headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(", ") : v;
    return { status: response.statusCode, headers: out, body };
  }

  /** GET and parse a JSON answer; throws with the status and reason unless 200. */
  async json<T>(pathAndQuery: string): Promise<T> {
    const r = await this.get(pathAndQuery, { accept: "application/json" });
    if (r.status !== 200) throw new PeerError(r.status, `${this.name} answered ${r.status} to ${pathAndQuery}: ${r.body.toString("utf8").slice(0, 200)}`);
    return JSON.parse(r.body.toString("utf8")) as T;
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

export class PeerError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}
