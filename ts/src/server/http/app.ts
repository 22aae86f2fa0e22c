// buildServer(): the fastify app of one role, with its storage and background services.
import multipart from "@fastify/multipart";
import type { IncomingMessage, ServerResponse } from "node:http";
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { SenderOptions } from "../../sender/sender.js";
import { CacheService, type CacheOptions } from "../cache/cache-service.js";
import type { Role, ServerContext } from "../context.js";
import { DurableStore } from "../store/sqlite/durable-store.js";
import { buildRegistry, newCounters } from "../ops/metrics.js";
import { BadRequest } from "../model.js";
import { RepositoryService } from "../repository/repository-service.js";
import { listingRoutes } from "../ccdb/listing.js";
import { hotRead, objectRoutes } from "../ccdb/objects.js";
import { opsRoutes } from "../ops/routes.js";
import { changeLogRoutes } from "../repository/routes.js";
import { keyRoutes } from "../keys/routes.js";
import { runRoutes } from "../runs/routes.js";
import { consumerRoutes } from "../consumers/routes.js";
import { farmRoutes } from "../farm/routes.js";
import { FarmView, type FarmOptions } from "../farm/farm-view.js";
import { CacheReporter, type ReporterOptions } from "../farm/reporter.js";
import { buildReport } from "../farm/report.js";
import { hostname } from "node:os";
import { DeriveCoordinator } from "../derive/coordinator.js";
import { DerivationSet } from "../derive/config.js";
import { deriveRoutes } from "../derive/routes.js";
import { MethodTable, methodNotAllowed } from "./methods.js";
import { errorBody } from "./schemas.js";
import { writeRoutes } from "../ccdb/writes.js";
import { StorageFull, StoreUnavailable, type Storage } from "../store/storage.js";
import { PgStore, type PgStoreOptions } from "../store/postgres/pg-store.js";
import type { RepositoryStore } from "../store/repository-store.js";
import type { InstanceConfig } from "../sync/config.js";
import { SyncService } from "../sync/service.js";
import { syncRoutes } from "../sync/routes.js";
import type { Server as HttpsServer } from "node:https";
import type { AuthConfig } from "../auth/config.js";
import { Authoriser } from "../auth/guard.js";
import { installAuthorisation } from "../auth/policy.js";
import { readTls, reloadTls, type TlsFiles } from "./tls.js";
import { statfsSync } from "node:fs";
import { AlertEvaluator } from "../alerts/evaluator.js";
import { DEFAULT_ALERTS, type AlertsConfig } from "../alerts/config.js";
import type { RepositoryProbe } from "../alerts/rules.js";
import { alertRoutes } from "../alerts/routes.js";
import { uiRoutes } from "../ui/routes.js";

export interface ServerOptions {
  readonly role: Role;
  readonly host: string;
  readonly port: number;
  /** pino options, or false for no logs. */
  readonly logger: boolean | Record<string, unknown>;
  /** Repository: where metadata and payloads live. */
  readonly dataDir?: string | undefined;
  /** The repository on PostgreSQL + an S3 bucket instead of the embedded store in dataDir (store/postgres/). */
  readonly pg?: PgStoreOptions | undefined;
  /** Repository: multicast settings for the sender; undefined = do not multicast. */
  readonly sender?: SenderOptions | undefined;
  /** Repository: answer object requests with 303 to /download/<uuid>. */
  readonly redirectReads?: boolean | undefined;
  /** Repository: the largest upload accepted. */
  readonly maxUploadBytes?: number | undefined;
  /** Repository: bytes accepted but not yet multicast beyond which acknowledgements wait. */
  readonly maxMulticastBacklog?: number | undefined;
  /** Repository: how long a changeset may stay open before it is aborted (default 10 min). */
  readonly changesetTtlMs?: number | undefined;
  /** Repository: derived objects rebuilt by formatters inside a commit (derive/); none when undefined. */
  readonly derivations?: DerivationSet | undefined;
  /** Repository: the longest a change stream stays open, whatever ?maxMs asks (default 10 min). */
  readonly streamMaxMs?: number | undefined;
  /** Repository: the farm view's bounds (farm/). */
  readonly farm?: FarmOptions | undefined;
  /** Repository: this instance's ownership, peers and mirrors (sync/, `--instance FILE`). */
  readonly instance?: InstanceConfig | undefined;
  /** Cache settings (role cache). */
  readonly cache?: CacheOptions | undefined;
  /** Cache: readiness reports to the upstream (farm/); undefined or interval 0 = none. */
  readonly report?: ReporterOptions | undefined;
  /** Bearer-token authorisation (auth/, --auth FILE); undefined = off (everyone may write). */
  readonly auth?: AuthConfig | undefined;
  /** Serve HTTPS with this certificate and key (--tls-cert, --tls-key); undefined = plain HTTP. */
  readonly tls?: TlsFiles | undefined;
  /** Repository: alert thresholds and webhooks (alerts/, serve --alerts); the defaults without webhooks when undefined. */
  readonly alerts?: AlertsConfig | undefined;
  /** The status page's update period (ui/), default 1000 ms. */
  readonly uiPeriodMs?: number | undefined;
}

export interface Server {
  readonly app: FastifyInstance;
  readonly ctx: ServerContext;
  readonly cache?: CacheService | undefined;
  readonly repository?: RepositoryService | undefined;
  /** Repository: the caches that report to it. */
  readonly farm?: FarmView | undefined;
  /** Repository: the derivations and the build tasks of commits. */
  readonly derive?: DeriveCoordinator | undefined;
  /** Repository with an instance configuration: its mirrors and peers. */
  readonly sync?: SyncService | undefined;
  /** Cache: what sends its readiness reports, when it reports. */
  readonly reporter?: CacheReporter | undefined;
  /** Repository: the alert evaluator (alerts/). */
  readonly alerts?: AlertEvaluator | undefined;
  /** Every route registered (method and URL pattern), for the OpenAPI drift test. */
  readonly routes: readonly { method: string; url: string }[];
  /** Reads the TLS certificate and key files again and uses them for new connections (SIGHUP). */
  reloadTls(): void;
  /** Starts the background services and listens; returns the base URL. */
  start(): Promise<string>;
  close(): Promise<void>;
}

/**
 * fastify's two info lines per request ("incoming request", "request completed") for every write,
 * but for reads (GET and HEAD, which a farm sends by the thousand per second and /metrics counts)
 * and caches' readiness reports (one per cache every 2 s; condcast_farm_reports_total counts them)
 * only when the answer is an error: both lines then, when the request completes.
 */
class QuietReadsLogController extends LogController {
  override incomingRequest(request: FastifyRequest, reply: FastifyReply): void {
    if (!isQuiet(request)) super.incomingRequest(request, reply);
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (!isQuiet(request)) return super.requestCompleted(error, request, reply);
    if (error == null && reply.statusCode < 400) return;
    super.incomingRequest(request, reply);
    super.requestCompleted(error, request, reply);
  }
}

/**
 * Node answers 417 to an Expect header other than 100-continue unless the server handles
 * "checkExpectation". An empty Expect (libcurl drops the header then; nothing requires a client to)
 * is no expectation: the request is served. Any other expectation stays 417, with a reason.
 */
function acceptEmptyExpectations(app: FastifyInstance): void {
  app.server.on("checkExpectation", (request: IncomingMessage, response: ServerResponse) => {
    const expect = request.headers.expect ?? "";
    if (expect.trim() === "") {
      app.server.emit("request", request, response);
      return;
    }
    const body = JSON.stringify(errorBody(417, `unsupported expectation ${JSON.stringify(expect)} (only 100-continue is)`));
    response.writeHead(417, { "Content-Type": "application/json; charset=utf-8", "Content-Length": Buffer.byteLength(body), Connection: "close" });
    response.end(body);
  });
}

function isQuiet(request: FastifyRequest): boolean {
  return request.method === "GET" || request.method === "HEAD" || (request.method === "POST" && request.routeOptions.url === "/caches/report");
}

/** Whether a listen address is reachable from this host only. */
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export async function buildServer(options: ServerOptions): Promise<Server> {
  // A JSON body's "__proto__" or "constructor" member is dropped, not refused: valid JSON (a newer
  // client's field), harmless once removed, and what the spec's open request schemas allow.
  const app = Fastify({ ...(options.tls !== undefined ? { https: readTls(options.tls) } : {}), logger: options.logger, logController: new QuietReadsLogController(), exposeHeadRoutes: false, bodyLimit: 1024 * 1024, onProtoPoisoning: "remove", onConstructorPoisoning: "remove" });
  const counters = newCounters();
  const routes: { method: string; url: string }[] = [];
  app.decorate("methodTable", new MethodTable());
  app.addHook("onRoute", (route) => {
    for (const method of [route.method].flat()) {
      routes.push({ method, url: route.url });
      app.methodTable.add(method, route.url);
    }
  });
  let store: Storage;
  let cache: CacheService | undefined;
  let repository: RepositoryService | undefined;
  let farm: FarmView | undefined;
  let derive: DeriveCoordinator | undefined;
  let durableStore: RepositoryStore | undefined;
  let reporter: CacheReporter | undefined;
  let sync: SyncService | undefined;
  let alerts: AlertEvaluator | undefined;
  let probe: RepositoryProbe | undefined;
  let serverErrors = 0;
  // A callback hook, not an async one: it runs for every request, and an async hook costs a promise each.
  app.addHook("onResponse", (_request, reply, done) => {
    if (reply.statusCode >= 500) serverErrors++;
    done();
  });
  if (options.role === "repository") {
    farm = new FarmView(options.farm);
    let durable: RepositoryStore;
    if (options.pg !== undefined) {
      const shared = new PgStore(options.pg);
      await shared.open();
      durable = durableStore = shared;
    } else {
      if (options.dataDir === undefined) throw new Error("the repository role needs a data directory (--data-dir)");
      durable = durableStore = new DurableStore(options.dataDir);
    }
    store = durable;
    repository = new RepositoryService(durable, counters, options.sender, app.log, options.maxMulticastBacklog);
    if (options.changesetTtlMs !== undefined) repository.changesetTtlMs = options.changesetTtlMs;
    derive = new DeriveCoordinator(options.derivations ?? DerivationSet.empty(), durable, repository.keys);
    if (options.instance !== undefined) sync = new SyncService(options.instance, repository, app.log);
    const repo = repository;
    const dataDir = options.dataDir;
    const backlogMax = options.maxMulticastBacklog ?? 64 * 1024 * 1024;
    probe = {
      keytables: () => repo.keys.keytables(),
      backlog: () => ({ bytes: repo.multicastBacklogBytes, max: options.sender === undefined ? 0 : backlogMax }),
      disk: () => {
        if (dataDir === undefined) return undefined; // PostgreSQL + S3: no local disk to watch
        try {
          const fs = statfsSync(dataDir);
          return { freeBytes: fs.bavail * fs.bsize, totalBytes: fs.blocks * fs.bsize };
        } catch {
          return undefined;
        }
      },
      serverErrors: () => serverErrors,
      storeProblem: () => {
        try {
          durable.stats();
          return undefined;
        } catch (error) {
          return (error as Error).message;
        }
      },
      runs: () => repo.runs(10),
    };
    alerts = new AlertEvaluator(options.alerts ?? DEFAULT_ALERTS, farm, probe, app.log);
  } else {
    if (options.cache === undefined) throw new Error("the cache role needs cache options");
    const service = (cache = new CacheService(options.cache, counters, app.log));
    store = cache.store;
    const report = options.report;
    if (report !== undefined && report.intervalMs > 0 && options.cache.upstream.length > 0) {
      reporter = new CacheReporter(report.intervalMs, options.cache.upstream, (name, intervalMs) => buildReport(name, intervalMs, service, counters, Date.now()), app.log, options.cache.upstreamSecurity, (caches) => service.setFarmSize(caches));
    }
  }
  const registry = buildRegistry(counters, () => store.stats(), () => cache?.receiver.counters, () => (cache === undefined ? undefined : cache.groupWatch.episode !== null));
  const authoriser = options.auth === undefined ? undefined : new Authoriser(options.auth);
  const ctx: ServerContext = {
    role: options.role,
    store,
    counters,
    registry,
    redirectReads: options.redirectReads ?? false,
    repository,
    cache,
    farm,
    derive,
    sync,
    readFilter: async (request) => authoriser?.readFilter(request),
    health: () => cache?.health() ?? { status: "ok", reasons: [] },
    keys: repository !== undefined ? repository.keys : cache!.keys,
    status: () => ({
      role: options.role,
      ...store.stats(),
      ...(cache !== undefined ? { budgetBytes: options.cache!.budgetBytes } : {}),
      ...(repository !== undefined ? { senderId: repository.store.senderId, lastSequence: repository.store.lastSequence, multicastBacklogBytes: repository.multicastBacklogBytes } : {}),
      ...(repository?.logSender != null ? { sharedLog: { leads: repository.logSender.isLeader, orphanPayloadsRemoved: repository.logSender.orphansRemoved, eventsPruned: repository.logSender.eventsPruned, reloads: repository.logSender.storeReloads } } : {}),
      counters: { ...counters },
      ...(cache?.status() ?? {}),
    }),
  };

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof BadRequest || error.validation !== undefined) return reply.code(400).send(errorBody(400, error.message));
    if (error instanceof StoreUnavailable) {
      request.log.warn({ err: error }, "request refused: a store is unavailable");
      return reply.code(503).header("retry-after", "1").send(errorBody(503, error.message));
    }
    if (error instanceof StorageFull) {
      request.log.warn({ err: error }, "write refused: storage full");
      return reply.code(507).send(errorBody(507, error.message));
    }
    const status = error.statusCode ?? 500;
    if (status < 500) return reply.code(status).send(errorBody(status, error.message));
    request.log.error({ err: error }, "request failed");
    return reply.code(status).send(errorBody(status, "internal error"));
  });
  // Every URL routes GET, HEAD, POST, PUT and DELETE (the object routes catch all paths), so what no
  // route serves is a method: 405 with Allow, answered before fastify looks at a body it would refuse.
  await app.register(async (scope) => {
    const notAllowed = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => methodNotAllowed(request, reply);
    scope.addHook("onRequest", notAllowed); // runs for this scope's not-found handler only
    scope.setNotFoundHandler(notAllowed);
  });
  acceptEmptyExpectations(app);

  if (repository !== undefined) {
    await app.register(multipart, { limits: { fileSize: options.maxUploadBytes ?? 2 ** 31 - 1, parts: 16, files: 16 } });
  }
  // Before every route: a refused request is answered before its body is read (auth/policy.ts).
  if (authoriser !== undefined) installAuthorisation(app, ctx, authoriser);
  // Bodies this server does not parse (any write to a cache) are left unread: the answer is a redirect.
  app.addContentTypeParser("*", (_request, _payload, done) => done(null, undefined));
  await app.register(opsRoutes, { ctx });
  await app.register(changeLogRoutes, { ctx });
  await app.register(keyRoutes, { ctx, keys: ctx.keys });
  await app.register(runRoutes, { ctx });
  await app.register(farmRoutes, { ctx, farm });
  await app.register(consumerRoutes, { ctx });
  await app.register(deriveRoutes, { ctx, derive, store: durableStore, streamMaxMs: options.streamMaxMs });
  await app.register(syncRoutes, { ctx });
  await app.register(alertRoutes, { ctx, alerts, probe });
  await app.register(uiRoutes, { ctx, alerts, probe, streamMaxMs: options.streamMaxMs, periodMs: options.uiPeriodMs });
  await app.register(listingRoutes, { ctx });
  await app.register(objectRoutes, { ctx });
  await app.register(writeRoutes, { ctx });
  // Plain GETs of held objects are answered before fastify (ccdb/objects.ts hotRead) when reads need no
  // token; not while closing, when fastify answers new requests 503.
  if (options.auth === undefined || options.auth.reads === "open") {
    const hot = hotRead(ctx, (url) => app.methodTable.isObjectPath(url));
    let closing = false;
    app.addHook("preClose", (done) => {
      closing = true;
      done();
    });
    const [fastifyHandler] = app.server.listeners("request") as ((req: IncomingMessage, res: ServerResponse) => void)[];
    if (fastifyHandler !== undefined) {
      app.server.removeListener("request", fastifyHandler);
      app.server.on("request", (req: IncomingMessage, res: ServerResponse) => {
        if (closing || !hot(req, res)) fastifyHandler(req, res);
      });
    }
  }

  return {
    app,
    ctx,
    cache,
    repository,
    farm,
    derive,
    sync,
    reporter,
    alerts,
    routes,
    reloadTls() {
      if (options.tls === undefined) throw new Error("this server has no TLS certificate to reload (--tls-cert, --tls-key)");
      reloadTls(app.server as unknown as HttpsServer, options.tls);
    },
    async start() {
      await repository?.start();
      await cache?.start();
      if (options.role === "repository" && options.auth === undefined && !isLoopback(options.host)) {
        app.log.warn(`AUTHORISATION IS OFF on a repository listening on ${options.host}, beyond loopback: anyone who reaches it can upload, change validity and delete (condcast serve --auth FILE, docs/INSTANCES.md)`);
      }
      const address = await app.listen({ host: options.host, port: options.port });
      if (alerts !== undefined) {
        alerts.source = `repository ${address.replace("[::1]", "127.0.0.1")}`;
        alerts.start();
      }
      reporter?.start(options.report?.name ?? `${hostname()}:${new URL(address).port}`);
      sync?.start();
      return address.replace("[::1]", "127.0.0.1");
    },
    async close() {
      await reporter?.close();
      await sync?.close();
      alerts?.close();
      farm?.close();
      derive?.close();
      await app.close();
      await repository?.close();
      await cache?.close();
      await store.close();
    },
  };
}
