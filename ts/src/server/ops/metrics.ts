// Counters of one server, kept as plain numbers (for /status) and exposed in Prometheus format
// (/metrics, prom-client) by collect callbacks, so both always agree.
import { Counter, Gauge, Registry } from "prom-client";
import type { ReceiverCounters } from "../../receiver/counters.js";

export interface ServerCounters {
  hits: number;
  misses: number;
  notFound: number;
  notModified: number;
  /** Objects stored from a completed multicast reassembly. */
  multicastCompleted: number;
  /** Objects completed by HTTP repair, and the payload bytes those repairs fetched. */
  repaired: number;
  repairBytes: number;
  repairFailures: number;
  /** FEC blocks that could not be decoded from multicast and went to HTTP repair. */
  fecBlocksRepaired: number;
  /** Objects fetched whole from upstream (miss, warm start, change log). */
  fetched: number;
  upstreamErrors: number;
  tooLarge: number;
  evicted: number;
  uploads: number;
  updates: number;
  deletes: number;
  /** Bytes of payload served by /download (repository: the caches' repairs show here). */
  downloadBytes: number;
  gaps: number;
  lifecyclesApplied: number;
  /** Objects announced by multicast but dropped unfinished (or unrepairable), then fetched whole. */
  refetches: number;
  /** Silent-group episodes (no heartbeat for a few intervals), times the group was joined again, and change-log reads made because of them. */
  silentEpisodes: number;
  rejoins: number;
  changeLogPolls: number;
  /** Keys flipped to (SPEC 11), and changesets aborted before their commit. */
  keyFlips: number;
  changesetsAborted: number;
}

/** The most recent `size` durations (ms), summarised as p50 / p99 / max for /status. */
export class LatencyWindow {
  private readonly values: number[] = [];
  private total = 0;

  constructor(private readonly size: number) {}

  record(ms: number): void {
    this.total++;
    this.values.push(ms);
    if (this.values.length > this.size) this.values.shift();
  }

  summary(): { count: number; p50: number; p99: number; max: number } {
    const sorted = [...this.values].sort((a, b) => a - b);
    const at = (q: number): number => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!);
    return { count: this.total, p50: at(0.5), p99: at(0.99), max: sorted.at(-1) ?? 0 };
  }
}

export function newCounters(): ServerCounters {
  return {
    hits: 0, misses: 0, notFound: 0, notModified: 0, multicastCompleted: 0, repaired: 0, repairBytes: 0, repairFailures: 0, fecBlocksRepaired: 0,
    fetched: 0, upstreamErrors: 0, tooLarge: 0, evicted: 0, uploads: 0, updates: 0, deletes: 0, downloadBytes: 0, gaps: 0,
    lifecyclesApplied: 0, refetches: 0, silentEpisodes: 0, rejoins: 0, changeLogPolls: 0, keyFlips: 0, changesetsAborted: 0,
  };
}

export function buildRegistry(
  counters: ServerCounters,
  held: () => { objects: number; bytes: number },
  receiver: () => ReceiverCounters | undefined,
  multicastSilent: () => boolean | undefined = () => undefined,
): Registry {
  const registry = new Registry();
  const counter = (name: string, help: string, read: () => number): void => {
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  };
  counter("condcast_cache_hits_total", "Object requests answered from storage", () => counters.hits);
  counter("condcast_cache_misses_total", "Object requests not found in storage", () => counters.misses);
  counter("condcast_objects_completed_total", "Objects completed from multicast", () => counters.multicastCompleted);
  counter("condcast_objects_repaired_total", "Objects completed by HTTP range repair", () => counters.repaired);
  counter("condcast_repair_bytes_total", "Payload bytes fetched by HTTP range repair", () => counters.repairBytes);
  counter("condcast_objects_fetched_total", "Objects fetched whole from upstream", () => counters.fetched);
  counter("condcast_upstream_errors_total", "Failed upstream requests", () => counters.upstreamErrors);
  counter("condcast_objects_too_large_total", "Objects refused as larger than the memory budget", () => counters.tooLarge);
  counter("condcast_objects_evicted_total", "Objects dropped (LRU, expired, superseded)", () => counters.evicted);
  counter("condcast_uploads_total", "Objects accepted by POST", () => counters.uploads);
  counter("condcast_sequence_gaps_total", "Sequence gaps seen on multicast", () => counters.gaps);
  counter("condcast_datagrams_total", "Datagrams received", () => receiver()?.datagrams ?? 0);
  counter("condcast_ring_overflows_total", "Datagrams dropped because the ring between the socket thread and the decoder was full", () => receiver()?.ringOverflows ?? 0);
  counter("condcast_fec_blocks_decoded_total", "FEC blocks rebuilt from parity (SPEC 10.5)", () => receiver()?.fec.blocksDecoded ?? 0);
  counter("condcast_fec_parity_used_total", "Parity fragments used to rebuild blocks", () => receiver()?.fec.parityUsed ?? 0);
  counter("condcast_fec_fragments_recovered_total", "Source fragments rebuilt from parity", () => receiver()?.fec.fragmentsRecovered ?? 0);
  counter("condcast_fec_blocks_repaired_total", "FEC blocks completed by HTTP repair", () => counters.fecBlocksRepaired);
  counter("condcast_objects_refetched_total", "Objects announced by multicast but dropped unfinished or unrepairable, fetched whole", () => counters.refetches);
  counter("condcast_multicast_silent_episodes_total", "Episodes of a silent multicast group (no heartbeat of a known sender for a few intervals)", () => counters.silentEpisodes);
  counter("condcast_multicast_rejoins_total", "Times the group was left and joined again because it was silent", () => counters.rejoins);
  counter("condcast_key_flips_total", "Keys this cache flipped to (a changeset's objects all visible at once)", () => counters.keyFlips);
  counter("condcast_changesets_aborted_total", "Changesets aborted before their commit (their staged objects dropped)", () => counters.changesetsAborted);
  counter("condcast_change_log_polls_total", "Reads of the upstream change log made because the group was silent", () => counters.changeLogPolls);
  new Gauge({
    name: "condcast_multicast_silent",
    help: "1 while the multicast group is silent (the cache reads the change log instead), else 0",
    registers: [registry],
    collect() {
      const silent = multicastSilent();
      if (silent !== undefined) this.set(silent ? 1 : 0);
    },
  });
  new Counter({
    name: "condcast_datagram_drops_total",
    help: "Datagrams dropped, by reason",
    labelNames: ["reason"],
    registers: [registry],
    collect() {
      this.reset();
      const c = receiver();
      if (c !== undefined) for (const [reason, n] of Object.entries(c.drops)) this.inc({ reason }, n);
    },
  });
  new Counter({
    name: "condcast_objects_dropped_total",
    help: "Incomplete or invalid objects dropped by the receiver, by reason",
    labelNames: ["reason"],
    registers: [registry],
    collect() {
      this.reset();
      const c = receiver();
      if (c !== undefined) for (const [reason, n] of Object.entries(c.objectsDropped)) this.inc({ reason }, n);
    },
  });
  new Gauge({
    name: "condcast_bytes_held",
    help: "Payload bytes held",
    registers: [registry],
    collect() {
      this.set(held().bytes);
    },
  });
  new Gauge({
    name: "condcast_objects_held",
    help: "Objects held",
    registers: [registry],
    collect() {
      this.set(held().objects);
    },
  });
  return registry;
}
