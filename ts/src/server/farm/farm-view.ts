// The repository's view of its farm: the last report of every cache that reports to it, whether it is
// still reporting (ok) or has missed 3 of its periods (stale), and what that says about keys and
// staged changesets. Bounded: at most `maxCaches` entries (the longest silent forgotten first), each
// bounded by the report schema; a cache silent for `forgetAfterMs` is forgotten.
import type { KeytableSummary } from "../keys/model.js";
import type { FarmReason } from "./farm-commit.js";
import { copyReport, type CacheReport } from "./report.js";

export type CacheState = "ok" | "stale";

export interface FarmOptions {
  /** Most caches kept (default 10000); past it the one whose last report is oldest is forgotten. */
  readonly maxCaches?: number | undefined;
  /** A cache silent this long is forgotten (default 10 min). */
  readonly forgetAfterMs?: number | undefined;
}

export interface CacheEntry {
  readonly name: string;
  /** Where its last report came from (the remote address). */
  readonly address: string;
  readonly firstReportAt: number;
  readonly lastReportAt: number;
  readonly reports: number;
  readonly report: CacheReport;
}

/** Missed report periods after which a cache counts as stale. */
export const STALE_PERIODS = 3;

export interface FarmCounters {
  reports: number;
  rejected: number;
  /** Caches forgotten: silent too long, or the oldest when the table was full. */
  forgotten: number;
}

/** How far the farm holds a changeset: caches holding all of it, of the caches that are ok. */
export interface ChangesetReadiness {
  readonly held: number;
  readonly total: number;
}

export class FarmView {
  readonly counters: FarmCounters = { reports: 0, rejected: 0, forgotten: 0 };
  /** Farm-wide commits by why their Commit went out. */
  readonly commits: Record<FarmReason, number> = { all: 0, share: 0, timeout: 0 };
  readonly maxCaches: number;
  readonly forgetAfterMs: number;
  /** By name, in order of last report (a report moves its cache to the end): the oldest is first. */
  private readonly caches = new Map<string, CacheEntry>();
  private readonly listeners = new Set<() => void>();

  constructor(options: FarmOptions = {}) {
    this.maxCaches = options.maxCaches ?? 10_000;
    this.forgetAfterMs = options.forgetAfterMs ?? 600_000;
  }

  /** Records a validated report; false when the name is new (a new cache). */
  record(report: CacheReport, address: string, now: number): boolean {
    this.counters.reports++;
    const before = this.caches.get(report.name);
    if (before !== undefined) this.caches.delete(report.name);
    this.caches.set(report.name, {
      name: report.name,
      address,
      firstReportAt: before?.firstReportAt ?? now,
      lastReportAt: now,
      reports: (before?.reports ?? 0) + 1,
      report: copyReport(report),
    });
    this.forget(now);
    for (const listener of this.listeners) listener();
    return before !== undefined;
  }

  /** Forgets caches silent past forgetAfterMs, then the oldest beyond maxCaches. */
  forget(now: number): void {
    for (const [name, e] of this.caches) {
      if (now - e.lastReportAt <= this.forgetAfterMs && this.caches.size <= this.maxCaches) break;
      this.caches.delete(name);
      this.counters.forgotten++;
    }
  }

  get size(): number {
    return this.caches.size;
  }

  state(e: CacheEntry, now: number): CacheState {
    return now - e.lastReportAt > STALE_PERIODS * e.report.intervalMs ? "stale" : "ok";
  }

  entries(now: number): CacheEntry[] {
    this.forget(now);
    return [...this.caches.values()];
  }

  countByState(now: number): Record<CacheState, number> {
    const counts = { ok: 0, stale: 0 };
    for (const e of this.entries(now)) counts[this.state(e, now)]++;
    return counts;
  }

  /** Of the caches that are ok, how many hold all `objects` objects of the changeset staged. */
  changesetReadiness(changeset: string, objects: number, now: number): ChangesetReadiness {
    let held = 0;
    let total = 0;
    const id = changeset.toLowerCase();
    for (const e of this.entries(now)) {
      if (this.state(e, now) !== "ok") continue;
      total++;
      if (objects === 0 || (e.report.staged.find((s) => s.changeset === id)?.objects ?? 0) >= objects) held++;
    }
    return { held, total };
  }

  /**
   * Per keytable of the repository, its recent keys (the current one and up to `recent - 1` before it)
   * with how many ok caches hold each (flipped to it or beyond), and the ok caches behind the current
   * key (at most `maxLagging` named).
   */
  keyReadiness(keytables: readonly KeytableSummary[], now: number, recent = 5, maxLagging = 100): KeyReadiness[] {
    const ok = this.entries(now).filter((e) => this.state(e, now) === "ok");
    return keytables.map(({ keytable, key: current }) => {
      const at = ok.map((e) => ({ name: e.name, key: e.report.keys.find((k) => k.keytable === keytable)?.key ?? 0 }));
      const keys: { key: number; held: number }[] = [];
      for (let key = current; key >= 1 && key > current - recent; key--) keys.push({ key, held: at.filter((c) => c.key >= key).length });
      const behind = at.filter((c) => c.key < current).sort((a, b) => a.key - b.key || (a.name < b.name ? -1 : 1));
      return { keytable, key: current, caches: ok.length, keys, laggingCount: behind.length, lagging: behind.slice(0, maxLagging) };
    });
  }

  /**
   * Of the caches that are ok, how many hold a keytable's `key` (flipped to it or beyond), and the ones
   * behind it (at most `maxLagging` named): what a run's record shows about the key it started with.
   */
  keyHolders(keytable: string, key: number, now: number, maxLagging = 20): KeyHolders {
    const at = this.entries(now)
      .filter((e) => this.state(e, now) === "ok")
      .map((e) => ({ name: e.name, key: e.report.keys.find((k) => k.keytable === keytable)?.key ?? 0 }));
    const behind = at.filter((c) => c.key < key).sort((a, b) => a.key - b.key || (a.name < b.name ? -1 : 1));
    return { caches: at.length, held: at.length - behind.length, laggingCount: behind.length, lagging: behind.slice(0, maxLagging) };
  }

  /** Called after every report (what a farm commit waits on). */
  onReport(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.listeners.clear();
  }
}

export interface KeyHolders {
  /** Caches that are ok. */
  readonly caches: number;
  readonly held: number;
  readonly laggingCount: number;
  readonly lagging: readonly { name: string; key: number }[];
}

export interface KeyReadiness {
  readonly keytable: string;
  /** The repository's current key. */
  readonly key: number;
  /** Caches that are ok. */
  readonly caches: number;
  readonly keys: readonly { key: number; held: number }[];
  readonly laggingCount: number;
  readonly lagging: readonly { name: string; key: number }[];
}
