// What a receiver counts (SPEC 6): datagrams, bytes, drops by reason, objects by outcome.
import { DATAGRAM_REASONS, OBJECT_REASONS, REASSEMBLY_REASONS, type DropReason, type ObjectReason } from "../wire/reasons.js";

export class ReceiverCounters {
  datagrams = 0;
  bytes = 0;
  fragments = 0;
  heartbeats = 0;
  lifecycles = 0;
  commits = 0;
  /** Copies of Commits taken already (SPEC 5.4): ignored, not drops. */
  commitCopies = 0;
  objectsCompleted = 0;
  readonly drops: Record<DropReason, number> = zeros([...DATAGRAM_REASONS, ...REASSEMBLY_REASONS]);
  readonly objectsDropped: Record<ObjectReason, number> = zeros(OBJECT_REASONS);
  /** Gauges: incomplete objects and the bytes they hold. */
  partialObjects = 0;
  partialBytes = 0;
  /** Gauges: complete objects of changesets held until their commit (SPEC 11), and their payload bytes. */
  stagedObjects = 0;
  stagedBytes = 0;
  /** Changesets delivered as one unit, and Commits ignored because their key was not above the one held. */
  changesetsDelivered = 0;
  commitsIgnored = 0;
  /** SPEC 11.6: re-sends of the key already held whose staged copies were let go (not drops). */
  resendsDiscarded = 0;
  /** Datagrams dropped because the ring between the socket thread and the decoder was full. */
  ringOverflows = 0;
  /** Gauge: the most bytes that ring held. */
  ringHighWater = 0;
  /** FEC (SPEC 10.5): blocks rebuilt with parity, parity fragments used, source fragments rebuilt. */
  readonly fec = { blocksDecoded: 0, parityUsed: 0, fragmentsRecovered: 0 };

  totalDrops(): number {
    return Object.values(this.drops).reduce((a, b) => a + b, 0);
  }

  toJSON(): Record<string, unknown> {
    return {
      datagrams: this.datagrams,
      bytes: this.bytes,
      fragments: this.fragments,
      heartbeats: this.heartbeats,
      lifecycles: this.lifecycles,
      commits: this.commits,
      commitCopies: this.commitCopies,
      objectsCompleted: this.objectsCompleted,
      drops: { ...this.drops },
      objectsDropped: { ...this.objectsDropped },
      partialObjects: this.partialObjects,
      partialBytes: this.partialBytes,
      stagedObjects: this.stagedObjects,
      stagedBytes: this.stagedBytes,
      changesetsDelivered: this.changesetsDelivered,
      commitsIgnored: this.commitsIgnored,
      resendsDiscarded: this.resendsDiscarded,
      ringOverflows: this.ringOverflows,
      ringHighWater: this.ringHighWater,
      fec: { ...this.fec },
    };
  }
}

function zeros<K extends string>(keys: readonly K[]): Record<K, number> {
  return Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;
}
