// Shared helpers for the server tests: real servers on ephemeral HTTP ports, multicast on loopback
// (groups 239.255.40.x, UDP ports 40500-40999; each test file takes its own port range).
import { createHash, randomUUID } from "node:crypto";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { FormData, request } from "undici";
import { buildServer, type Server } from "../../src/server/http/app.js";
import type { CacheOptions } from "../../src/server/cache/cache-service.js";
import type { FarmOptions } from "../../src/server/farm/farm-view.js";
import type { ReporterOptions } from "../../src/server/farm/reporter.js";
import type { DerivationSet } from "../../src/server/derive/config.js";
import type { PgStoreOptions } from "../../src/server/store/postgres/pg-store.js";

/**
 * The repository backend the tests run against: "embedded" (SQLite + files, the default) or "pgs3"
 * (PostgreSQL + S3, when scripts/with-pg-s3.sh started them: CONDCAST_TEST_STORE=pgs3).
 */
export const TEST_STORE = process.env.CONDCAST_TEST_STORE === "pgs3" ? "pgs3" : "embedded";

/** The PostgreSQL + S3 options for a repository "in" dataDir: its own schema and key prefix, the same after a restart. */
export function pgOptions(dataDir: string, extra: Partial<PgStoreOptions> = {}): PgStoreOptions {
  const env = (name: string): string => {
    const v = process.env[name];
    if (v === undefined) throw new Error(`${name} is not set: run under scripts/with-pg-s3.sh`);
    return v;
  };
  const schema = `t_${createHash("sha1").update(dataDir).digest("hex").slice(0, 16)}`;
  return {
    url: env("CONDCAST_PG_URL"),
    schema,
    pollMs: 100,
    s3: { endpoint: env("CONDCAST_S3_ENDPOINT"), bucket: env("CONDCAST_S3_BUCKET"), accessKeyId: env("CONDCAST_S3_ACCESS_KEY"), secretAccessKey: env("CONDCAST_S3_SECRET_KEY"), prefix: `${schema}/` },
    ...extra,
  };
}
import type { AlertsConfig } from "../../src/server/alerts/config.js";

export interface Running {
  readonly server: Server;
  readonly url: string;
}

/**
 * `condcast serve` flags for a repository on a fresh PostgreSQL schema and S3 prefix named after `tag`
 * (scripts/with-pg-s3.sh's servers); processes given the same flags share one store (replicas).
 */
export function pgServeFlags(tag: string): string[] {
  const env = (n: string): string => process.env[n] ?? "";
  const schema = `${tag}_${randomUUID().replaceAll("-", "").slice(0, 10)}`;
  return ["--pg-url", env("CONDCAST_PG_URL"), "--pg-schema", schema, "--s3-endpoint", env("CONDCAST_S3_ENDPOINT"), "--s3-bucket", env("CONDCAST_S3_BUCKET"), "--s3-prefix", `${schema}/`];
}

export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "condcast-server-test-"));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface Multicast {
  readonly group: string;
  readonly port: number;
}

export async function startRepository(
  dataDir: string,
  multicast: Multicast | undefined,
  extra: { redirectReads?: boolean; port?: number; rate?: number; maxMulticastBacklog?: number; fecParity?: number; farm?: FarmOptions; derivations?: DerivationSet; streamMaxMs?: number; alerts?: AlertsConfig; uiPeriodMs?: number; store?: "embedded" | "pgs3" } = {},
): Promise<Running> {
  const server = await buildServer({
    role: "repository",
    host: "127.0.0.1",
    port: extra.port ?? 0,
    logger: false,
    dataDir,
    pg: (extra.store ?? TEST_STORE) === "pgs3" ? pgOptions(dataDir) : undefined,
    redirectReads: extra.redirectReads ?? false,
    maxMulticastBacklog: extra.maxMulticastBacklog,
    farm: extra.farm,
    derivations: extra.derivations,
    streamMaxMs: extra.streamMaxMs,
    alerts: extra.alerts,
    uiPeriodMs: extra.uiPeriodMs,
    sender: multicast === undefined ? undefined : { ...multicast, interface: "127.0.0.1", ttl: 1, rate: extra.rate ?? 0, heartbeatIntervalMs: 100, datagramSize: 1472, fecParity: extra.fecParity },
  });
  const url = await server.start();
  return { server, url };
}

/** A cache; with `report`, it sends readiness reports to its upstream (farm/). */
export async function startCache(upstream: string[], multicast: Multicast | undefined, overrides: Partial<CacheOptions> = {}, report?: ReporterOptions): Promise<Running> {
  const server = await buildServer({
    role: "cache",
    host: "127.0.0.1",
    port: 0,
    logger: process.env.CONDCAST_TEST_LOG === "1" ? { level: "info" } : false,
    report,
    cache: {
      upstream,
      budgetBytes: 64 * 1024 * 1024,
      graceMs: 60_000,
      warm: [],
      multicast: multicast === undefined ? undefined : { ...multicast, interface: "127.0.0.1", partialTimeoutMs: 10_000 },
      repairQuietMs: 100,
      repairJitterMs: 50,
      retryBaseMs: 50,
      upstreamTimeoutMs: 5000,
      ...overrides,
    },
  });
  const url = await server.start();
  return { server, url };
}

export interface UploadResult {
  readonly status: number;
  readonly location: string | undefined;
  readonly id: string;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
}

/** POSTs a multipart upload the way the O2 client does (one part named "send"). */
export async function upload(base: string, urlPath: string, payload: Uint8Array, fileName = "object.root", contentType = "application/octet-stream"): Promise<UploadResult> {
  const form = new FormData();
  form.append("send", new Blob([payload], { type: contentType }), fileName);
  const response = await request(`${base}${urlPath}`, { method: "POST", body: form, headers: {} });
  const text = await response.body.text();
  const location = response.headers.location as string | undefined;
  const etag = String(response.headers.etag ?? "").replaceAll('"', "");
  return { status: response.statusCode, location, id: etag, headers: response.headers, text };
}

export interface Fetched {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

export async function get(url: string, headers: Record<string, string | string[]> = {}, method: "GET" | "HEAD" = "GET"): Promise<Fetched> {
  const response = await request(url, { method, headers });
  const body = Buffer.from(await response.body.arrayBuffer());
  return { status: response.statusCode, headers: response.headers, body };
}

/** Polls `check` every 20 ms until it returns a value other than undefined, or fails after `ms`. */
export async function eventually<T>(check: () => T | undefined | Promise<T | undefined>, ms = 10_000, what = "condition"): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function randomPayload(size: number, seed: number): Buffer {
  const out = Buffer.alloc(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** A TCP port that was free a moment ago (for a server started later at a known address). */
export async function freePort(): Promise<number> {
  const { createServer } = await import("node:net");
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Every datagram sent to a group, captured raw (a second socket on the port, as SO_REUSEADDR allows). */
export async function captureDatagrams(multicast: Multicast): Promise<{ datagrams: Buffer[]; close: () => Promise<void> }> {
  const dgram = await import("node:dgram");
  const socket = dgram.createSocket({ type: "udp4", reuseAddr: true, recvBufferSize: 32 * 1024 * 1024 });
  const datagrams: Buffer[] = [];
  socket.on("message", (m) => datagrams.push(m));
  await new Promise<void>((resolve) => socket.bind(multicast.port, multicast.group, () => resolve()));
  socket.addMembership(multicast.group, "127.0.0.1");
  return { datagrams, close: () => new Promise<void>((resolve) => socket.close(() => resolve())) };
}

/** One request on its own connection, the answer's header block as sent (Date masked) and its body. */
export async function rawExchange(base: string, requestLine: string, ...headers: string[]): Promise<{ head: string; body: Buffer }> {
  const bytes = await rawRequest(base, requestLine, headers);
  const end = bytes.indexOf("\r\n\r\n") + 4;
  return { head: bytes.subarray(0, end).toString("latin1").replace(/^Date: [^\r]*/m, "Date: D"), body: bytes.subarray(end) };
}

/**
 * Sends a request over plain TCP exactly as written (an HTTP client would add, drop or fix headers):
 * the request line, Host and Connection: close, `headers`, then `body`; returns every byte of the
 * answer until the server closes.
 */
export async function rawRequest(base: string, requestLine: string, headers: readonly string[], body: Uint8Array = new Uint8Array()): Promise<Buffer> {
  const { connect } = await import("node:net");
  const url = new URL(base);
  return new Promise<Buffer>((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname);
    const chunks: Buffer[] = [];
    socket.on("data", (d: Buffer) => chunks.push(d));
    socket.on("end", () => resolve(Buffer.concat(chunks)));
    socket.on("error", reject);
    socket.write(`${requestLine}\r\nHost: x\r\nConnection: close\r\n${headers.map((h) => `${h}\r\n`).join("")}\r\n`);
    socket.write(body);
  });
}

/** The built command line (`make ts`): tests that need a process to SIGKILL run it. */
export const CLI = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "dist", "cli", "main.js");

/** Writes a ServeProcess's log to out/test-logs/<case>/<name>.log (from the repository root); returns the path. */
export function keepLog(testName: string, process: ServeProcess): string {
  const dir = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "out", "test-logs", testName.replace(/[^A-Za-z0-9._-]+/g, "_").slice(0, 100));
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${process.name}.log`);
  writeFileSync(file, process.log);
  return file;
}

/**
 * A repository as a real `condcast serve` process on 127.0.0.1:`port`, so that a test can SIGKILL it
 * and start it again on the same data directory. `args` are the flags after the listen address and
 * data directory; `extraArgs`, set between starts, come after them (an owner's --auth FILE).
 */
export class ServeProcess {
  private child: ChildProcess | null = null;
  /** Everything the process wrote to stdout and stderr, over all its starts. */
  log = "";
  extraArgs: string[] = [];

  constructor(
    readonly name: string,
    readonly dataDir: string,
    readonly port: number,
    private readonly args: readonly string[],
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts the process and resolves once its /health answers 200. */
  async start(): Promise<void> {
    // A repository on PostgreSQL (--pg-url in its flags) takes no --data-dir: serve refuses both.
    const store = this.args.includes("--pg-url") ? [] : ["--data-dir", this.dataDir];
    const child = spawn(process.execPath, [CLI, "serve", "--role", "repository", "--listen", `127.0.0.1:${this.port}`, ...store, ...this.args, ...this.extraArgs], { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout!.on("data", (d: Buffer) => (this.log += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (this.log += d.toString()));
    this.child = child;
    await eventually(async () => {
      const r = await request(`${this.url}/health`).catch(() => undefined);
      if (r === undefined) return undefined;
      await r.body.dump();
      return r.statusCode === 200 ? true : undefined;
    }, 15_000, `${this.name} up (log: ${this.log.slice(-500)})`);
  }

  /** Stops the process (SIGKILL unless told otherwise) and waits for its exit; nothing when it is not running. */
  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const child = this.child;
    if (child === null || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill(signal);
    await exited;
    this.child = null;
  }
}
