// An HTTP client setup for talking to another condcast server (a cache to its upstream, an instance
// to a peer): an undici dispatcher that trusts a CA file for https, and a bearer token read from a
// file and read again when the file changes (a token refreshed by an external agent is picked up).
import { readFileSync, statSync } from "node:fs";
import { Agent } from "undici";

export interface ClientOptions {
  /** PEM CA certificate(s) trusted for https instead of the system's; undefined = the system's. */
  readonly caFile?: string | undefined;
  readonly connectTimeoutMs?: number | undefined;
  readonly headersTimeoutMs?: number | undefined;
  readonly bodyTimeoutMs?: number | undefined;
  /** Most connections per origin (undici default: unbounded). */
  readonly connections?: number | undefined;
}

/** An undici Agent for ClientOptions; the CA file is read once, here (throws naming it). */
export function clientAgent(options: ClientOptions = {}): Agent {
  let ca: Buffer | undefined;
  if (options.caFile !== undefined) {
    try {
      ca = readFileSync(options.caFile);
    } catch (error) {
      throw new Error(`CA file ${options.caFile}: ${(error as Error).message}`);
    }
  }
  const agent: Agent.Options = {};
  if (options.connectTimeoutMs !== undefined) agent.connectTimeout = options.connectTimeoutMs;
  if (options.headersTimeoutMs !== undefined) agent.headersTimeout = options.headersTimeoutMs;
  if (options.bodyTimeoutMs !== undefined) agent.bodyTimeout = options.bodyTimeoutMs;
  if (options.connections !== undefined) agent.connections = options.connections;
  if (ca !== undefined) agent.connect = { ca };
  return new Agent(agent);
}

/** Where a bearer token comes from: `token()` is the current one, or undefined for none. */
export interface TokenSource {
  token(): string | undefined;
}

/** A token held in a file (whitespace trimmed), read again when its mtime or size changes. */
export class FileTokenSource implements TokenSource {
  private cached: { mtimeMs: number; size: number; token: string | undefined } | undefined;
  private checkedAt = 0;

  /** `recheckMs`: the file's stat is looked at most this often (every request would stat otherwise). */
  constructor(readonly file: string, private readonly recheckMs = 1000) {}

  token(): string | undefined {
    const now = Date.now();
    if (this.cached !== undefined && now - this.checkedAt < this.recheckMs) return this.cached.token;
    this.checkedAt = now;
    try {
      const stat = statSync(this.file);
      if (this.cached === undefined || stat.mtimeMs !== this.cached.mtimeMs || stat.size !== this.cached.size) {
        const text = readFileSync(this.file, "utf8").trim();
        this.cached = { mtimeMs: stat.mtimeMs, size: stat.size, token: text.length > 0 ? text : undefined };
      }
    } catch {
      // Missing or unreadable now: keep the last token (a refresh that replaces the file by rename).
      if (this.cached === undefined) return undefined;
    }
    return this.cached.token;
  }
}

/** A fixed token (or none). */
export function staticToken(token: string | undefined): TokenSource {
  return { token: () => token };
}

/** The Authorization header of a token source, to spread into request headers. */
export function authorization(source: TokenSource | undefined): Record<string, string> {
  const token = source?.token();
  return token === undefined ? {} : { authorization: `Bearer ${token}` };
}
