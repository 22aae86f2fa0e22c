// The farm-wide commit's wait (docs/KEYS.md "Farm commits"): before a changeset is committed and its
// Commit datagram sent, wait until the caches that report hold every object of it staged, or the
// stated share of them does, or the timeout passes. Checked after every report and on a short tick
// (a cache going stale leaves the count).
import type { FarmView } from "./farm-view.js";

export type FarmReason = "all" | "share" | "timeout";

export interface FarmOutcome {
  readonly reason: FarmReason;
  /** Caches holding the whole changeset, of the caches that were ok, when the wait ended. */
  readonly held: number;
  readonly total: number;
  readonly share: number;
  readonly waitedMs: number;
}

export const FARM_COMMIT_DEFAULTS = { share: 1, timeoutMs: 10_000, maxTimeoutMs: 120_000 } as const;

const TICK_MS = 50;

function decide(held: number, total: number, share: number): FarmReason | undefined {
  if (held >= total) return "all";
  if (held >= Math.ceil(share * total - 1e-9)) return "share";
  return undefined;
}

export function waitForFarm(view: FarmView, changeset: string, objects: number, share: number, timeoutMs: number): Promise<FarmOutcome> {
  const started = Date.now();
  return new Promise((resolve) => {
    let done = false;
    const check = (): void => {
      if (done) return;
      const now = Date.now();
      const { held, total } = view.changesetReadiness(changeset, objects, now);
      const reason = decide(held, total, share) ?? (now - started >= timeoutMs ? "timeout" : undefined);
      if (reason === undefined) return;
      done = true;
      clearInterval(tick);
      clearTimeout(deadline);
      stop();
      resolve({ reason, held, total, share, waitedMs: now - started });
    };
    // A burst of reports is checked once, on the next turn.
    let queued = false;
    const stop = view.onReport(() => {
      if (queued) return;
      queued = true;
      setImmediate(() => {
        queued = false;
        check();
      });
    });
    const tick = setInterval(check, TICK_MS);
    // A timer may fire a millisecond before Date.now() says the time is up: it re-arms for the rest.
    const atDeadline = (): void => {
      const left = timeoutMs - (Date.now() - started);
      if (left > 0) deadline = setTimeout(atDeadline, left).unref();
      else check();
    };
    let deadline = setTimeout(atDeadline, timeoutMs).unref();
    tick.unref();
    check();
  });
}
