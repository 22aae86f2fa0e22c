// `condcast serve`: the REST service in either role. Settings come from flags, then CONDCAST_*
// environment variables, then a JSON config file (--config), then defaults.
import { existsSync, readFileSync } from "node:fs";
import { networkOptions } from "./network-options.js";
import { FEC_FLAGS, fecOptions } from "./fec-options.js";
import { COMMON_FLAGS, UsageError, intFlag, parseFlags, stringFlag, type ParsedArgs } from "./options.js";
import { PG_STORE_FLAGS, pgStoreOptions } from "./store-options.js";
import type { ServerOptions } from "../server/http/app.js";
import { DerivationConfigError, DerivationSet } from "../server/derive/config.js";
import { InstanceConfigError, parseInstanceConfigText, type InstanceConfig } from "../server/sync/config.js";
import { AuthConfigError, parseAuthConfig, type AuthConfig } from "../server/auth/config.js";
import { FileTokenSource } from "../server/http/client.js";
import { DEFAULT_REPAIR_ENDED_QUIET_MS } from "../server/cache/cache-service.js";
import { AlertsConfigError, parseAlertsConfig, type AlertsConfig } from "../server/alerts/config.js";

export const SERVE_FLAGS = {
  ...COMMON_FLAGS,
  ...FEC_FLAGS,
  config: { type: "string" },
  role: { type: "string" },
  listen: { type: "string" },
  upstream: { type: "string" },
  "data-dir": { type: "string" },
  ...PG_STORE_FLAGS,
  memory: { type: "string" },
  warm: { type: "string" },
  "repair-quiet": { type: "string" },
  "repair-ended-quiet": { type: "string" },
  "repair-jitter": { type: "string" },
  grace: { type: "string" },
  "silent-intervals": { type: "string" },
  "startup-grace": { type: "string" },
  "silent-poll": { type: "string" },
  "keep-keys": { type: "string" },
  "changeset-ttl": { type: "string" },
  derivations: { type: "string" },
  instance: { type: "string" },
  alerts: { type: "string" },
  "stream-max-ms": { type: "string" },
  "report-interval": { type: "string" },
  name: { type: "string" },
  "farm-forget": { type: "string" },
  "farm-max-caches": { type: "string" },
  "redirect-reads": { type: "string" },
  "heartbeat-interval": { type: "string" },
  "max-upload": { type: "string" },
  "multicast-backlog": { type: "string" },
  "log-level": { type: "string" },
  auth: { type: "string" },
  "tls-cert": { type: "string" },
  "tls-key": { type: "string" },
  "upstream-ca": { type: "string" },
  "upstream-token-file": { type: "string" },
} as const;

export const SERVE_USAGE = `usage: condcast serve [options]

Serves the CCDB REST API. As a cache (default) it joins the multicast group, keeps objects in memory
and fetches what it misses from its upstream; as a repository it stores uploads on disk and
multicasts them.
  --role cache|repository     default cache
  --listen HOST:PORT          HTTP address, default 127.0.0.1:8080
  --upstream URL[,URL...]     cache: repositories to fall back to, tried in order
  --data-dir DIR              repository: where metadata (SQLite) and payloads live (required
                              unless --pg-url)
  --pg-url URL                repository: metadata in PostgreSQL (postgres://...) and payloads in
                              an S3 bucket instead; several replicas may share both, one multicasts
  --pg-schema NAME            repository: the schema of its tables, default public
  --s3-endpoint URL           repository with --pg-url: the S3 server (credentials from
                              CONDCAST_S3_ACCESS_KEY and CONDCAST_S3_SECRET_KEY)
  --s3-bucket NAME            repository with --pg-url: the bucket (created when missing)
  --s3-prefix PREFIX          repository with --pg-url: key prefix of its payloads, default none
  --memory BYTES              cache: byte budget (suffix k, M, G allowed), default 1G
  --warm PREFIX[,PREFIX...]   cache: paths whose objects valid now are loaded at start
  --repair-quiet MS           cache: quiet time after an incomplete object's last fragment before
                              its missing bytes are fetched over HTTP, default 50
  --repair-ended-quiet MS     cache: the quiet time instead once the sender is known to have sent
                              all of the object (its last fragment, a later sequence or a heartbeat
                              came), default 5
  --repair-jitter MS          cache: random extra delay of a repair (0..MS), default 150; less in a
                              small farm: 0.1 ms per cache the repository says report to it
                              (docs/DEPLOYMENT.md)
  --grace MS                  cache: how long expired or superseded objects are kept, default 60000
  --silent-intervals N        cache: heartbeat intervals of a known sender without a heartbeat (at
                              least 1 s) before the group counts as silent, default 3; the cache
                              then reports it, rejoins and reads the change log until they return
  --startup-grace MS          cache: time to hear a first heartbeat after start, default 10000
  --silent-poll MS            cache: change-log period while the group is silent, default 1000
  --keep-keys N               cache: keys kept per keytable for pinned reads (their objects are
                              never evicted), default 16
  --report-interval MS        cache: period of its readiness report to the upstream (POST
                              /caches/report: keys, objects, counters, staged changesets), default
                              2000; 0 = no reports
  --name NAME                 cache: its name in the farm view (GET /caches), default the host name
                              and port, e.g. node17:8080
  --farm-forget MS            repository: a cache that stopped reporting is forgotten after this,
                              default 600000 (it shows as stale after 3 of its report periods)
  --farm-max-caches N         repository: most caches in the farm view (the longest silent is
                              forgotten first), default 10000
  --changeset-ttl MS          repository: how long a changeset may stay open before it is aborted,
                              default 600000
  --derivations FILE          repository: derived objects rebuilt by formatters inside each commit that
                              touches their inputs, a JSON file {"derivations": [{"keytable", "output",
                              "inputs": [PATH or PREFIX/], "formatter", "name"?, "timeoutMs"?}]}; a cycle
                              is refused at start (docs/KEYS.md "Derived objects and formatters")
  --instance FILE             repository: this instance's ownership and sync, a JSON file {"name", "owns":
                              [PREFIX], "peers": [{"name", "url", "owns"?, "tokenFile"?, "caFile"?}],
                              "mirrors": [{"prefix", "from": PEER}], "pollMs"?, "maxBackoffMs"?}: writes
                              under a peer's prefix are redirected to it (307), mirrored prefixes are
                              pulled from their owner's change log (docs/INSTANCES.md)
  --alerts FILE               repository: alert thresholds, repeat interval and webhooks (Discord,
                              Mattermost or generic JSON), a JSON file {"thresholds": {...}, "repeatMs",
                              "webhooks": [{"url", "format"}]}; defaults without webhooks when absent
                              (docs/MONITORING.md)
  --stream-max-ms MS          repository: the longest a formatter's change stream stays open whatever its
                              ?maxMs (it reconnects from the last sequence it saw), default 3600000
  --redirect-reads true|false repository: answer object requests with 303 to /download/<uuid>, default false
  --heartbeat-interval MS     repository: multicast heartbeat period, default 1000; 0 = none
  --max-upload BYTES          repository: largest upload accepted, default 2G
  --multicast-backlog BYTES   repository: bytes accepted but not yet multicast beyond which upload
                              acknowledgements wait for multicast to catch up, default 64M
  --auth FILE                 bearer-token authorisation (WLCG JWT profile), a JSON file {"issuers": [{"issuer",
                              "jwksUri", "audience", "prefix"}], "reads": "open"|"token"}: writes then need
                              storage.create/storage.modify scopes, reads storage.read when "token"
                              (docs/INSTANCES.md "Authorisation and TLS"); default off
  --tls-cert FILE, --tls-key FILE  serve HTTPS with this PEM certificate (chain) and key; SIGHUP reads
                              them again
  --upstream-ca FILE          cache: PEM CA certificate(s) trusted for https upstreams
  --upstream-token-file FILE  cache: bearer token sent to the upstream (read again when the file changes)
  --log-level LEVEL           fatal, error, warn, info, debug, trace, silent; default info
  --config FILE               JSON object of the settings above by flag name, e.g. {"role":"cache","memory":"2G"}
  --group, --port, --interface, --ttl, --datagram-size, --rate, --key-file, --key-id: multicast, see spec/CLI.md
  --fec-parity, --fec-block, --fec-interleave: the repository's FEC (default parity 0.05), see spec/CLI.md
  --help                      this text
Precedence: command line, then CONDCAST_<FLAG> (e.g. CONDCAST_UPSTREAM), then --config, then defaults.`;

function withConfigFile(args: ParsedArgs): ParsedArgs {
  const file = stringFlag(args, "config");
  if (file === undefined) return args;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new UsageError(`--config ${file}: ${(error as Error).message}`);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new UsageError(`--config ${file}: expected a JSON object`);
  const values = { ...args.values };
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (!(key in SERVE_FLAGS) || key === "config" || key === "help") throw new UsageError(`--config ${file}: unknown setting ${JSON.stringify(key)}`);
    if (values[key] !== undefined) continue;
    values[key] = Array.isArray(value) ? value.map(String).join(",") : String(value);
  }
  return { values, positionals: args.positionals };
}

/**
 * Reads the configuration file a flag names and parses it: an unreadable file, or one that `parse`
 * refuses with its configuration error (`isConfigError`), stops the start with `--FLAG FILE: reason`.
 */
function loadConfigFile<T>(flag: string, file: string | undefined, parse: (text: string) => T, isConfigError: (error: unknown) => boolean): T | undefined {
  if (file === undefined) return undefined;
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new UsageError(`--${flag} ${file}: ${(error as Error).message}`);
  }
  try {
    return parse(text);
  } catch (error) {
    if (isConfigError(error)) throw new UsageError(`--${flag} ${file}: ${(error as Error).message}`);
    throw error;
  }
}

/** --derivations FILE: a malformed file or a cycle stops the start with its reason. */
export function loadDerivations(file: string | undefined): DerivationSet | undefined {
  return loadConfigFile("derivations", file, (text) => DerivationSet.parse(text), (e) => e instanceof DerivationConfigError);
}

/** --instance FILE (sync/). */
function loadInstance(file: string | undefined): InstanceConfig | undefined {
  return loadConfigFile("instance", file, parseInstanceConfigText, (e) => e instanceof InstanceConfigError);
}

/** --auth FILE (auth/). */
export function loadAuth(file: string | undefined): AuthConfig | undefined {
  return loadConfigFile("auth", file, parseAuthConfig, (e) => e instanceof AuthConfigError);
}

function upstreamSecurity(args: ParsedArgs): { caFile?: string; token?: FileTokenSource } {
  const caFile = stringFlag(args, "upstream-ca");
  const tokenFile = stringFlag(args, "upstream-token-file");
  if (caFile !== undefined && !existsSync(caFile)) throw new UsageError(`--upstream-ca ${caFile}: no such file`);
  return { ...(caFile !== undefined ? { caFile } : {}), ...(tokenFile !== undefined ? { token: new FileTokenSource(tokenFile) } : {}) };
}

/** --alerts FILE (alerts/). */
export function loadAlerts(file: string | undefined): AlertsConfig | undefined {
  return loadConfigFile("alerts", file, parseAlertsConfig, (e) => e instanceof AlertsConfigError);
}

export function parseBytes(text: string, name: string): number {
  const m = /^\s*(\d+)\s*([kKmMgG]?)i?[bB]?\s*$/.exec(text);
  if (m === null) throw new UsageError(`--${name} must be a byte count (suffix k, M or G allowed), got ${JSON.stringify(text)}`);
  const unit = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase() as "" | "k" | "m" | "g"];
  return Number(m[1]) * unit;
}

function list(text: string | undefined): string[] {
  return (text ?? "").split(/[,\n]/).map((s) => s.trim()).filter((s) => s.length > 0);
}

export function serveOptions(argv: string[], env: NodeJS.ProcessEnv): ServerOptions | "help" {
  const args = withConfigFile(parseFlags(argv, SERVE_FLAGS, env));
  if (args.values.help) return "help";
  if (args.positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(args.positionals[0])}`);
  const role = stringFlag(args, "role") ?? "cache";
  if (role !== "cache" && role !== "repository") throw new UsageError(`--role must be cache or repository, got ${JSON.stringify(role)}`);
  const listen = stringFlag(args, "listen") ?? "127.0.0.1:8080";
  const m = /^(.*):(\d+)$/.exec(listen);
  if (m === null || m[1] === "") throw new UsageError(`--listen must be host:port, got ${JSON.stringify(listen)}`);
  const port = Number(m[2]);
  if (port > 65535) throw new UsageError(`--listen port must be at most 65535, got ${port}`);
  const net = networkOptions(args);
  const upstream = list(stringFlag(args, "upstream"));
  for (const u of upstream) {
    try {
      const url = new URL(u);
      if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error("not http");
    } catch {
      throw new UsageError(`--upstream must be http(s) URLs, got ${JSON.stringify(u)}`);
    }
  }
  const logLevel = stringFlag(args, "log-level") ?? "info";
  if (!["fatal", "error", "warn", "info", "debug", "trace", "silent"].includes(logLevel)) throw new UsageError(`--log-level: unknown level ${JSON.stringify(logLevel)}`);
  const redirect = stringFlag(args, "redirect-reads") ?? "false";
  if (redirect !== "true" && redirect !== "false") throw new UsageError(`--redirect-reads must be true or false`);
  const tlsCert = stringFlag(args, "tls-cert");
  const tlsKey = stringFlag(args, "tls-key");
  if ((tlsCert === undefined) !== (tlsKey === undefined)) throw new UsageError("--tls-cert and --tls-key go together");
  const common = {
    host: m[1]!.replace(/^\[|\]$/g, ""),
    port,
    logger: { level: logLevel },
    auth: loadAuth(stringFlag(args, "auth")),
    tls: tlsCert !== undefined && tlsKey !== undefined ? { certFile: tlsCert, keyFile: tlsKey } : undefined,
  };
  if (role === "repository") {
    const dataDir = stringFlag(args, "data-dir");
    const pgUrl = stringFlag(args, "pg-url");
    if (dataDir === undefined && pgUrl === undefined) throw new UsageError("--role repository needs --data-dir (or --pg-url)");
    // Either may come from the environment (CONDCAST_DATA_DIR, CONDCAST_PG_URL): with both, which store
    // would be used is a guess, so neither is.
    if (dataDir !== undefined && pgUrl !== undefined) throw new UsageError("--data-dir and --pg-url name two different stores (either may come from CONDCAST_DATA_DIR / CONDCAST_PG_URL): give one");
    return {
      ...common,
      role,
      dataDir,
      pg: pgUrl === undefined ? undefined : pgStoreOptions(args, pgUrl, process.env),
      redirectReads: redirect === "true",
      maxUploadBytes: parseBytes(stringFlag(args, "max-upload") ?? "2G", "max-upload"),
      maxMulticastBacklog: parseBytes(stringFlag(args, "multicast-backlog") ?? "64M", "multicast-backlog"),
      changesetTtlMs: intFlag(args, "changeset-ttl", 600_000, 1000, 86_400_000),
      derivations: loadDerivations(stringFlag(args, "derivations")),
      instance: loadInstance(stringFlag(args, "instance")),
      alerts: loadAlerts(stringFlag(args, "alerts")),
      streamMaxMs: intFlag(args, "stream-max-ms", 3_600_000, 0, 3_600_000),
      farm: { forgetAfterMs: intFlag(args, "farm-forget", 600_000, 1000, 7 * 86_400_000), maxCaches: intFlag(args, "farm-max-caches", 10_000, 1, 100_000) },
      sender: {
        group: net.group,
        port: net.port,
        interface: net.interface,
        ttl: net.ttl,
        datagramSize: net.datagramSize,
        rate: net.rate,
        key: net.key,
        ...fecOptions(args),
        heartbeatIntervalMs: intFlag(args, "heartbeat-interval", 1000, 0, 3_600_000),
        senderName: `condcast repository http://${listen}`,
      },
    };
  }
  const name = stringFlag(args, "name");
  if (name !== undefined && !/^[!-~]{1,128}$/.test(name)) throw new UsageError(`--name must be 1 to 128 printable characters without spaces, got ${JSON.stringify(name)}`);
  const reportInterval = intFlag(args, "report-interval", 2000, 0, 3_600_000);
  if (reportInterval > 0 && reportInterval < 100) throw new UsageError(`--report-interval must be 0 (off) or at least 100 ms, got ${reportInterval}`);
  return {
    ...common,
    role,
    report: { intervalMs: reportInterval, name },
    cache: {
      upstream,
      budgetBytes: parseBytes(stringFlag(args, "memory") ?? "1G", "memory"),
      graceMs: intFlag(args, "grace", 60_000, 0, 86_400_000),
      warm: list(stringFlag(args, "warm")),
      multicast: { group: net.group, port: net.port, interface: net.interface, keys: net.key ? new Map([[net.key.id, net.key.key]]) : undefined },
      // Fragments of an object arrive microseconds apart, so 50 ms of silence means it stalled; the
      // jitter spreads the repairs of many caches over time (SPEC 8, docs/DEPLOYMENT.md).
      repairQuietMs: intFlag(args, "repair-quiet", 50, 1, 600_000),
      repairEndedQuietMs: intFlag(args, "repair-ended-quiet", DEFAULT_REPAIR_ENDED_QUIET_MS, 0, 600_000),
      repairJitterMs: intFlag(args, "repair-jitter", 150, 0, 600_000),
      retryBaseMs: 500,
      upstreamTimeoutMs: 30_000,
      upstreamSecurity: upstreamSecurity(args),
      keepKeys: intFlag(args, "keep-keys", 16, 1, 10_000),
      silence: {
        intervals: intFlag(args, "silent-intervals", 3, 1, 1000),
        startupGraceMs: intFlag(args, "startup-grace", 10_000, 0, 3_600_000),
        pollMs: intFlag(args, "silent-poll", 1000, 50, 600_000),
      },
    },
  };
}

export async function runServe(argv: string[], env: NodeJS.ProcessEnv, out: NodeJS.WritableStream): Promise<number> {
  const options = serveOptions(argv, env);
  if (options === "help") {
    out.write(`${SERVE_USAGE}\n`);
    return 0;
  }
  const { buildServer } = await import("../server/http/app.js"); // fastify and friends load only for `serve`
  const server = await buildServer(options);
  await server.start();
  // SIGHUP: the TLS certificate and key are read again (a renewed certificate without a restart).
  const onHangup = (): void => {
    if (options.tls === undefined) return;
    try {
      server.reloadTls();
      server.app.log.info({ cert: options.tls.certFile }, "TLS certificate reloaded");
    } catch (error) {
      server.app.log.error({ err: error }, "TLS certificate reload failed; the previous one stays");
    }
  };
  process.on("SIGHUP", onHangup);
  await new Promise<void>((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
  process.off("SIGHUP", onHangup);
  await server.close();
  return 0;
}
