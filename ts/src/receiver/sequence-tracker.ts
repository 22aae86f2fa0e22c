// Per-sender sequence numbers (SPEC 5.3): reports gaps, i.e. objects or changes missed entirely.

export interface SequenceGap {
  readonly senderId: string;
  /** First and last missing sequence, inclusive. */
  readonly from: number;
  readonly to: number;
}

export class SequenceTracker {
  private readonly highest = new Map<string, number>();

  constructor(private readonly maxSenders = 1024) {}

  /** Records that `sequence` arrived from `senderId`; returns the gap before it, or null. */
  observe(senderId: string, sequence: number): SequenceGap | null {
    return this.advance(senderId, sequence, sequence - 1);
  }

  /**
   * Records a heartbeat's last_sequence: every sequence up to it has been sent, so those not seen,
   * `last` included, are missing.
   */
  observeLast(senderId: string, last: number): SequenceGap | null {
    return this.advance(senderId, last, last);
  }

  private advance(senderId: string, sequence: number, gapEnd: number): SequenceGap | null {
    const highest = this.highest.get(senderId);
    if (highest === undefined) {
      if (this.highest.size >= this.maxSenders) {
        const oldest = this.highest.keys().next().value;
        if (oldest !== undefined) this.highest.delete(oldest);
      }
      this.highest.set(senderId, sequence);
      return null;
    }
    if (sequence <= highest) return null;
    this.highest.set(senderId, sequence);
    return gapEnd > highest ? { senderId, from: highest + 1, to: gapEnd } : null;
  }

  /** The highest sequence seen from `senderId`, undefined before its first. */
  highestOf(senderId: string): number | undefined {
    return this.highest.get(senderId);
  }

  /** Highest sequence seen per sender. */
  snapshot(): Record<string, number> {
    return Object.fromEntries(this.highest);
  }
}
