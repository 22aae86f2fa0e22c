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
import { objectRoutes } from "../ccdb/objects.js";
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
  /** Cache settings (role cache). */
  readonly cache?: CacheOptions | undefined;
  /** Cache: readiness reports to the upstream (farm/); undefined or interval 0 = none. */
  readonly report?: ReporterOptions | undefined;
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
  /** Cache: what sends its readiness reports, when it reports. */
  readonly reporter?: CacheReporter | undefined;
  /** Every route registered (method and URL pattern), for the OpenAPI drift test. */
  readonly routes: readonly { method: string; url: string }[];
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

export async function buildServer(options: ServerOptions): Promise<Server> {
  // A JSON body's "__proto__" or "constructor" member is dropped, not refused: valid JSON (a newer
  // client's field), harmless once removed, and what the spec's open request schemas allow.
  const app = Fastify({ logger: options.logger, logController: new QuietReadsLogController(), exposeHeadRoutes: false, bodyLimit: 1024 * 1024, onProtoPoisoning: "remove", onConstructorPoisoning: "remove" });
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
  } else {
    if (options.cache === undefined) throw new Error("the cache role needs cache options");
    const service = (cache = new CacheService(options.cache, counters, app.log));
    store = cache.store;
    const report = options.report;
    if (report !== undefined && report.intervalMs > 0 && options.cache.upstream.length > 0) {
      reporter = new CacheReporter(report.intervalMs, options.cache.upstream, (name, intervalMs) => buildReport(name, intervalMs, service, counters, Date.now()), app.log);
    }
  }
  const registry = buildRegistry(counters, () => store.stats(), () => cache?.receiver.counters, () => (cache === undefined ? undefined : cache.groupWatch.episode !== null));
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
    health: () => cache?.health() ?? { status: "ok", reasons: [] },
    keys: repository !== undefined ? repository.keys : cache!.keys,
    status: () => ({
      role: options.role,
      ...store.stats(),
      ...(cache !== undefined ? { budgetBytes: options.cache!.budgetBytes } : {}),
      ...(repository !== undefined ? { senderId: repository.store.senderId, lastSequence: repository.store.lastSequence, multicastBacklogBytes: repository.multicastBacklogBytes } : {}),
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
  // Bodies this server does not parse (any write to a cache) are left unread: the answer is a redirect.
  app.addContentTypeParser("*", (_request, _payload, done) => done(null, undefined));
  await app.register(opsRoutes, { ctx });
  await app.register(changeLogRoutes, { ctx });
  await app.register(keyRoutes, { ctx, keys: ctx.keys });
  await app.register(runRoutes, { ctx });
  await app.register(farmRoutes, { ctx, farm });
  await app.register(consumerRoutes, { ctx });
  await app.register(deriveRoutes, { ctx, derive, store: durableStore, streamMaxMs: options.streamMaxMs });
  await app.register(listingRoutes, { ctx });
  await app.register(objectRoutes, { ctx });
  await app.register(writeRoutes, { ctx });

  return {
    app,
    ctx,
    cache,
    repository,
    farm,
    derive,
    reporter,
    routes,
    async start() {
      await repository?.start();
      await cache?.start();
      const address = await app.listen({ host: options.host, port: options.port });
      reporter?.start(options.report?.name ?? `${hostname()}:${new URL(address).port}`);
      return address.replace("[::1]", "127.0.0.1");
    },
    async close() {
      await reporter?.close();
      farm?.close();
      derive?.close();
      await app.close();
      await repository?.close();
      await cache?.close();
      await store.close();
    },
  };
}
