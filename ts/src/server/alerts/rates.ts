// Rates from the caches' counters: each report carries counters since the cache started, so a rate is
// the difference between two reports of one cache over the time between them. Sampled at every
// evaluation; the farm's sums are kept for the last minutes (the status page's chart).
import { STALE_PERIODS, type CacheEntry } from "../farm/farm-view.js";

export interface CacheRates {
  /** Datagrams dropped, FEC source fragments rebuilt, objects repaired over HTTP, failed repairs: per second. */
  readonly lost: number;
  readonly fec: number;
  readonly repaired: number;
  readonly repairFailures: number;
  readonly datagrams: number;
}

export interface RatePoint extends CacheRates {
  readonly at: number;
}

const ZERO: CacheRates = { lost: 0, fec: 0, repaired: 0, repairFailures: 0, datagrams: 0 };

interface Seen {
  readonly at: number;
  readonly reports: number;
  readonly counters: CacheEntry["report"]["counters"];
  rates: CacheRates;
}

export class FarmRates {
  private readonly seen = new Map<string, Seen>();
  private readonly points: RatePoint[] = [];

  /** @param keepMs how much history the chart shows */
  constructor(private readonly keepMs = 600_000) {}

  /** Takes the caches' latest reports; a cache whose report is unchanged keeps its last rates. */
  sample(entries: readonly CacheEntry[], now: number): void {
    const names = new Set<string>();
    const sum = { lost: 0, fec: 0, repaired: 0, repairFailures: 0, datagrams: 0 };
    for (const e of entries) {
      names.add(e.name);
      const before = this.seen.get(e.name);
      let rates = before?.rates ?? ZERO;
      if (before !== undefined && before.reports !== e.reports) {
        const seconds = Math.max(0.001, (e.lastReportAt - before.at) / 1000);
        const c = e.report.counters;
        const b = before.counters;
        // A restarted cache starts its counters again: no negative rates.
        const per = (now: number, then: number): number => Math.max(0, now - then) / seconds;
        rates = { lost: per(c.datagramsDropped, b.datagramsDropped), fec: per(c.fecFragmentsRecovered, b.fecFragmentsRecovered), repaired: per(c.repaired, b.repaired), repairFailures: per(c.repairFailures, b.repairFailures), datagrams: per(c.datagrams, b.datagrams) };
      }
      if (before === undefined || before.reports !== e.reports) this.seen.set(e.name, { at: e.lastReportAt, reports: e.reports, counters: e.report.counters, rates });
      // A cache that stopped reporting adds nothing to the farm's rates (its own stay as last seen).
      if (now - e.lastReportAt > STALE_PERIODS * e.report.intervalMs) continue;
      sum.lost += rates.lost;
      sum.fec += rates.fec;
      sum.repaired += rates.repaired;
      sum.repairFailures += rates.repairFailures;
      sum.datagrams += rates.datagrams;
    }
    for (const name of this.seen.keys()) if (!names.has(name)) this.seen.delete(name);
    this.points.push({ at: now, ...sum });
    while (this.points.length > 0 && this.points[0]!.at < now - this.keepMs) this.points.shift();
  }

  of(name: string): CacheRates {
    return this.seen.get(name)?.rates ?? ZERO;
  }

  /** The farm's sums, oldest first. */
  history(): readonly RatePoint[] {
    return this.points;
  }

  latest(): CacheRates {
    return this.points.at(-1) ?? ZERO;
  }
}
