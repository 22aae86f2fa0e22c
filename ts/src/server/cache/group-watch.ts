// Is the multicast group still speaking to this cache? Every sender announces its heartbeat interval
// (SPEC 4.3), so a cache can tell silence from quiet: no heartbeat of a sender it knows for a few of
// that sender's intervals, or none at all within a start-up grace time, is a fault of the path
// (a lost membership at a switch, a firewall, a dead socket) that the cache must handle itself.
// This module only keeps the state; the cache acts on its transitions.

export interface SilenceOptions {
  /** Heartbeat intervals of a known sender without a heartbeat before the group counts as silent. */
  readonly intervals: number;
  /** The least silence reported, whatever a sender's interval (100 ms heartbeats must not flap). */
  readonly minMs: number;
  /** From start: how long to wait for the first heartbeat before the group counts as silent. */
  readonly startupGraceMs: number;
  /** While silent: how often the repository's change log is read instead. */
  readonly pollMs: number;
  /** While silent: how often the group is left and joined again. */
  readonly rejoinMs: number;
  /** A sender that is not the upstream and stayed silent this long is forgotten (it went away). */
  readonly forgetMs: number;
}

export const DEFAULT_SILENCE: SilenceOptions = { intervals: 3, minMs: 1000, startupGraceMs: 10_000, pollMs: 1000, rejoinMs: 10_000, forgetMs: 300_000 };

interface HeardSender {
  /** When its last heartbeat arrived (local clock), undefined when never heard (an upstream known from its change log). */
  at: number | undefined;
  intervalMs: number;
  name: string;
}

export interface SilenceEpisode {
  /** When the silence began: the last heartbeat (or the start), not when it was noticed. */
  readonly since: number;
  readonly noticedAt: number;
  readonly reason: string;
}

export type Transition = { readonly kind: "silent"; readonly episode: SilenceEpisode } | { readonly kind: "heard"; readonly episode: SilenceEpisode; readonly lastedMs: number };

export class GroupWatch {
  private readonly senders = new Map<string, HeardSender>();
  /** Senders whose silence always counts (the upstream repositories, learned from their change logs). */
  private readonly pinned = new Set<string>();
  private episodeNow: SilenceEpisode | null = null;
  /** Silence episodes so far. */
  episodes = 0;
  /** Milliseconds spent silent in ended episodes. */
  silentMs = 0;

  constructor(
    private readonly options: SilenceOptions,
    private readonly startedAt: number,
  ) {}

  get episode(): SilenceEpisode | null {
    return this.episodeNow;
  }

  /** Marks a sender as one whose silence always counts, heard or not yet. */
  pin(senderId: string): void {
    this.pinned.add(senderId);
    if (!this.senders.has(senderId)) this.senders.set(senderId, { at: undefined, intervalMs: 0, name: senderId });
  }

  /** A heartbeat arrived; returns the end of a silent episode when this ends one. */
  heartbeat(senderId: string, intervalMs: number, name: string, now: number): Transition | null {
    this.senders.set(senderId, { at: now, intervalMs, name: name === "" ? senderId : name });
    return this.check(now);
  }

  /** Re-evaluates the state at `now`; returns the transition, if any. */
  check(now: number): Transition | null {
    const reason = this.silence(now);
    const episode = this.episodeNow;
    if (reason !== null && episode === null) {
      this.episodeNow = { since: reason.since, noticedAt: now, reason: reason.text };
      this.episodes++;
      return { kind: "silent", episode: this.episodeNow };
    }
    if (reason === null && episode !== null) {
      this.episodeNow = null;
      const lastedMs = now - episode.since;
      this.silentMs += lastedMs;
      return { kind: "heard", episode, lastedMs };
    }
    return null;
  }

  /** What /status shows. */
  toJSON(now: number): Record<string, unknown> {
    return {
      state: this.episodeNow !== null ? "silent" : [...this.senders.values()].some((s) => s.at !== undefined) ? "hearing" : "starting",
      episode: this.episodeNow,
      episodes: this.episodes,
      silentMs: this.silentMs + (this.episodeNow === null ? 0 : now - this.episodeNow.since),
      senders: Object.fromEntries([...this.senders].map(([id, s]) => [id, { name: s.name, intervalMs: s.intervalMs, lastHeartbeatAgoMs: s.at === undefined ? null : now - s.at }])),
    };
  }

  private silence(now: number): { since: number; text: string } | null {
    let heardAny = false;
    for (const [id, s] of this.senders) {
      if (s.at === undefined) {
        if (now - this.startedAt > this.options.startupGraceMs) return { since: this.startedAt, text: `no heartbeat from the upstream's sender ${id} since start (${now - this.startedAt} ms)` };
        continue;
      }
      heardAny = true;
      const quiet = now - s.at;
      if (!this.pinned.has(id) && quiet > this.options.forgetMs) {
        this.senders.delete(id);
        continue;
      }
      const limit = Math.max(this.options.minMs, this.options.intervals * s.intervalMs);
      if (s.intervalMs > 0 && quiet > limit) return { since: s.at, text: `no heartbeat from ${s.name} for ${quiet} ms (interval ${s.intervalMs} ms)` };
    }
    if (!heardAny && this.senders.size === 0 && now - this.startedAt > this.options.startupGraceMs) {
      return { since: this.startedAt, text: `no heartbeat heard in ${now - this.startedAt} ms since start` };
    }
    return null;
  }
}
