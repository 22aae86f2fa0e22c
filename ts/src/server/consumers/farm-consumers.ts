// The repository's view of the farm's consumer declarations, from the caches' readiness reports
// (farm/report.ts "consumers"): which paths and patterns are declared, by how many caches that are ok,
// and how many of those hold them; and what a run started with only "declared" multicasts.
import type { FarmView } from "../farm/farm-view.js";
import { patternPrefix } from "./registry.js";

export interface DeclaredDemand {
  /** Caches (ok) whose declarations name it. */
  readonly caches: number;
  /** Of those, the caches that hold it. */
  readonly held: number;
}

export interface FarmConsumers {
  /** Caches (ok) that report at least one declaration. */
  readonly caches: number;
  /** Of those, caches whose report lists only part of their declared paths or patterns (REPORT_LIMITS). */
  readonly truncated: number;
  /** Caches (ok) that hold every path and pattern they declared. */
  readonly allHeld: number;
  readonly paths: readonly ({ readonly path: string } & DeclaredDemand)[];
  readonly patterns: readonly ({ readonly pattern: string } & DeclaredDemand)[];
}

/** Aggregates the declarations of the caches that are ok; sorted by path and pattern. */
export function farmConsumers(farm: FarmView, now: number): FarmConsumers {
  const paths = new Map<string, { caches: number; held: number }>();
  const patterns = new Map<string, { caches: number; held: number }>();
  let caches = 0;
  let truncated = 0;
  let allHeld = 0;
  const add = (table: Map<string, { caches: number; held: number }>, name: string, held: boolean): void => {
    let d = table.get(name);
    if (d === undefined) table.set(name, (d = { caches: 0, held: 0 }));
    d.caches++;
    if (held) d.held++;
  };
  for (const e of farm.entries(now)) {
    const c = e.report.consumers;
    if (farm.state(e, now) !== "ok" || c === undefined || c.declarations === 0) continue;
    caches++;
    if (c.pathsTotal > c.paths.length || c.patternsTotal > c.patterns.length) truncated++;
    if (c.allHeld) allHeld++;
    for (const p of c.paths) add(paths, p.path, p.held);
    for (const p of c.patterns) add(patterns, p.pattern, p.held);
  }
  const sorted = <T>(table: Map<string, T>): [string, T][] => [...table].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return {
    caches,
    truncated,
    allHeld,
    paths: sorted(paths).map(([path, d]) => ({ path, ...d })),
    patterns: sorted(patterns).map(([pattern, d]) => ({ pattern, ...d })),
  };
}

/** Whether an object path is declared by a cache of the farm (a path named, or under a pattern). */
export function declaredByFarm(farm: FarmView, now: number): (path: string) => boolean {
  const view = farmConsumers(farm, now);
  const paths = new Set(view.paths.map((p) => p.path));
  const prefixes = view.patterns.map((p) => patternPrefix(p.pattern));
  return (path) => paths.has(path) || prefixes.some((prefix) => path.startsWith(prefix));
}
