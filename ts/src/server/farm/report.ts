// A cache's readiness report (POST /caches/report, docs/KEYS.md "Readiness and farm commits"): what it
// holds, how its multicast input fares, and how much of each staged changeset it holds. Small and
// bounded: the repository keeps the last one of every cache it hears from.
import { isUuid } from "../../wire/ids.js";
import type { CacheService } from "../cache/cache-service.js";
import type { ServerCounters } from "../ops/metrics.js";

/** The report's answer header: how many caches the repository's farm view holds (docs/DEPLOYMENT.md). */
export const FARM_SIZE_HEADER = "condcast-farm-caches";

/** Bounds of one report (the schema refuses more), so the repository's table stays bounded too. */
export const REPORT_LIMITS = { nameLength: 128, keytables: 32, changesets: 64, consumerPaths: 128, consumerPatterns: 64, pathLength: 256, consumerBytes: 40 * 1024, bodyBytes: 64 * 1024 } as const;

export interface ReportedKey {
  readonly keytable: string;
  readonly key: number;
}

export interface ReportedChangeset {
  readonly changeset: string;
  /** Objects of the changeset this cache holds staged (complete, MD5 checked), and their bytes. */
  readonly objects: number;
  readonly bytes: number;
}

/**
 * The union of the cache's consumer declarations (consumers/) and whether it holds it: in name order,
 * the patterns and then the paths that fit in consumerBytes of JSON (at most consumerPatterns and
 * consumerPaths; patternsTotal and pathsTotal count all), so that a report stays within bodyBytes.
 */
export interface ReportedConsumers {
  readonly declarations: number;
  readonly paths: readonly { readonly path: string; readonly held: boolean }[];
  readonly pathsTotal: number;
  readonly pathsHeld: number;
  readonly patterns: readonly { readonly pattern: string; readonly held: boolean }[];
  readonly patternsTotal: number;
  /** Every declared path and pattern held. */
  readonly allHeld: boolean;
}

/** Receive, FEC and repair counters since the cache started. */
export interface ReportedCounters {
  readonly datagrams: number;
  readonly datagramsDropped: number;
  readonly objectsCompleted: number;
  readonly fecBlocksDecoded: number;
  readonly fecFragmentsRecovered: number;
  readonly repaired: number;
  readonly repairBytes: number;
  readonly repairFailures: number;
  readonly fetched: number;
  readonly gaps: number;
}

export interface CacheReport {
  /** Unique in the farm: the host name and port by default (--name). */
  readonly name: string;
  /** The cache's report period: it counts as stale after 3 of them without a report. */
  readonly intervalMs: number;
  readonly keys: readonly ReportedKey[];
  readonly objects: number;
  readonly bytes: number;
  readonly counters: ReportedCounters;
  /** Milliseconds since the cache last heard a heartbeat; null when it never did. */
  readonly heartbeatAgeMs: number | null;
  readonly staged: readonly ReportedChangeset[];
  /** Absent from a cache that predates declarations. */
  readonly consumers?: ReportedConsumers | undefined;
  /** Whether its multicast group counts as silent now (GroupWatch); absent from older caches. */
  readonly silent?: boolean | undefined;
}

const count = { type: "integer", minimum: 0 } as const;
const counterNames = ["datagrams", "datagramsDropped", "objectsCompleted", "fecBlocksDecoded", "fecFragmentsRecovered", "repaired", "repairBytes", "repairFailures", "fetched", "gaps"] as const;

/** The report's JSON schema (the route validates with it, without coercion). */
export const reportSchema = {
  type: "object",
  properties: {
    name: { type: "string", minLength: 1, maxLength: REPORT_LIMITS.nameLength, pattern: "^[!-~]+$" },
    intervalMs: { type: "integer", minimum: 100, maximum: 3_600_000 },
    keys: {
      type: "array",
      maxItems: REPORT_LIMITS.keytables,
      items: { type: "object", properties: { keytable: { type: "string", pattern: "^[A-Za-z0-9._-]{1,64}$" }, key: count }, required: ["keytable", "key"] },
    },
    objects: count,
    bytes: count,
    counters: { type: "object", properties: Object.fromEntries(counterNames.map((n) => [n, count])), required: [...counterNames] },
    heartbeatAgeMs: { type: ["integer", "null"], minimum: 0 },
    staged: {
      type: "array",
      maxItems: REPORT_LIMITS.changesets,
      items: {
        type: "object",
        properties: { changeset: { type: "string", pattern: "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$" }, objects: count, bytes: count },
        required: ["changeset", "objects", "bytes"],
      },
    },
    consumers: {
      type: "object",
      properties: {
        declarations: count,
        paths: {
          type: "array",
          maxItems: REPORT_LIMITS.consumerPaths,
          items: { type: "object", properties: { path: { type: "string", minLength: 1, maxLength: REPORT_LIMITS.pathLength }, held: { type: "boolean" } }, required: ["path", "held"] },
        },
        pathsTotal: count,
        pathsHeld: count,
        patterns: {
          type: "array",
          maxItems: REPORT_LIMITS.consumerPatterns,
          items: { type: "object", properties: { pattern: { type: "string", minLength: 1, maxLength: REPORT_LIMITS.pathLength + 2 }, held: { type: "boolean" } }, required: ["pattern", "held"] },
        },
        patternsTotal: count,
        allHeld: { type: "boolean" },
      },
      required: ["declarations", "paths", "pathsTotal", "pathsHeld", "patterns", "patternsTotal", "allHeld"],
    },
    silent: { type: "boolean" },
  },
  required: ["name", "intervalMs", "keys", "objects", "bytes", "counters", "heartbeatAgeMs", "staged"],
} as const;

/** A validated report copied field by field: what a sender added beyond the schema is not kept. */
export function copyReport(r: CacheReport): CacheReport {
  const c = r.counters;
  return {
    name: r.name,
    intervalMs: r.intervalMs,
    keys: r.keys.map((k) => ({ keytable: k.keytable, key: k.key })),
    objects: r.objects,
    bytes: r.bytes,
    counters: Object.fromEntries(counterNames.map((n) => [n, c[n]])) as unknown as ReportedCounters,
    heartbeatAgeMs: r.heartbeatAgeMs,
    staged: r.staged.map((s) => ({ changeset: s.changeset.toLowerCase(), objects: s.objects, bytes: s.bytes })),
    ...(r.consumers === undefined ? {} : { consumers: copyConsumers(r.consumers) }),
    ...(r.silent === undefined ? {} : { silent: r.silent }),
  };
}

function copyConsumers(c: ReportedConsumers): ReportedConsumers {
  return {
    declarations: c.declarations,
    paths: c.paths.map((p) => ({ path: p.path, held: p.held })),
    pathsTotal: c.pathsTotal,
    pathsHeld: c.pathsHeld,
    patterns: c.patterns.map((p) => ({ pattern: p.pattern, held: p.held })),
    patternsTotal: c.patternsTotal,
    allHeld: c.allHeld,
  };
}

/** The union of a cache's declarations and what of it the cache holds now, bounded as the schema says. */
export function reportConsumers(cache: CacheService, now: number): ReportedConsumers {
  const paths = [...cache.consumers.paths().keys()].sort().map((path) => ({ path, held: cache.holdsPath(path, now) }));
  const patterns = [...cache.consumers.patterns().keys()].sort().map((pattern) => ({ pattern, held: cache.holdsPattern(pattern, now) }));
  const pathsHeld = paths.filter((p) => p.held).length;
  let bytes = 0;
  const fits = (entry: object): boolean => (bytes += Buffer.byteLength(JSON.stringify(entry)) + 1) <= REPORT_LIMITS.consumerBytes;
  const shownPatterns = patterns.slice(0, REPORT_LIMITS.consumerPatterns).filter(fits);
  const shownPaths = paths.slice(0, REPORT_LIMITS.consumerPaths).filter(fits);
  return {
    declarations: cache.consumers.size,
    paths: shownPaths,
    pathsTotal: paths.length,
    pathsHeld,
    patterns: shownPatterns,
    patternsTotal: patterns.length,
    allHeld: pathsHeld === paths.length && patterns.every((p) => p.held),
  };
}

/** What a cache reports now. */
export function buildReport(name: string, intervalMs: number, cache: CacheService, counters: ServerCounters, now: number): CacheReport {
  const rc = cache.receiver.counters;
  const held = cache.store.stats();
  const heard = cache.lastHeartbeatAt;
  let dropped = 0;
  for (const n of Object.values(rc.drops)) dropped += n;
  return {
    name,
    intervalMs,
    keys: cache.keys.keytables().slice(0, REPORT_LIMITS.keytables).map((k) => ({ keytable: k.keytable, key: k.key })),
    objects: held.objects,
    bytes: held.bytes,
    counters: {
      datagrams: rc.datagrams,
      datagramsDropped: dropped,
      objectsCompleted: counters.multicastCompleted,
      fecBlocksDecoded: rc.fec.blocksDecoded,
      fecFragmentsRecovered: rc.fec.fragmentsRecovered,
      repaired: counters.repaired,
      repairBytes: counters.repairBytes,
      repairFailures: counters.repairFailures,
      fetched: counters.fetched,
      gaps: counters.gaps,
    },
    heartbeatAgeMs: heard === undefined ? null : Math.max(0, now - heard),
    // Only real changesets (a key fetched whole stages under a pseudo name), the newest last.
    staged: cache.staging
      .changesets()
      .filter((s) => isUuid(s.changeset))
      .slice(-REPORT_LIMITS.changesets),
    consumers: reportConsumers(cache, now),
    silent: cache.groupWatch.episode !== null,
  };
}
