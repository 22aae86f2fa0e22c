// The client of one peer instance: its base URL, the bearer token read from the peer's token file at
// every request (so a renewed token is used at once), and the CA file trusted for its https URL.
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { Agent, request, type Dispatcher } from "undici";
import type { PeerConfig } from "./config.js";

export interface PeerResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

export class PeerClient {
  private readonly agent: Agent;

  constructor(readonly config: PeerConfig, timeoutMs = 10_000) {
    const ca = config.caFile === undefined ? undefined : readFileSync(config.caFile);
    this.agent = new Agent({ connectTimeout: Math.min(timeoutMs, 5000), headersTimeout: timeoutMs, bodyTimeout: timeoutMs, ...(ca === undefined ? {} : { connect: { ca } }) });
  }

  get name(): string {
    return this.config.name;
  }

  /** GET `pathAndQuery` on the peer; throws on a network error (the caller retries). */
  async get(pathAndQuery: string, headers: Record<string, string> = {}): Promise<PeerResponse> {
    const token = this.config.tokenFile === undefined ? undefined : (await readFile(this.config.tokenFile, "utf8")).trim();
    const response = await request(`${this.config.url}/${pathAndQuery.replace(/^\/+/, "")}`, {
      method: "GET",
      headers: { ...headers, ...(token === undefined || token === "" ? {} : { authorization: `Bearer ${token}` }) },
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
