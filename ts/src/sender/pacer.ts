// Token-bucket pacing in bytes per second, so a sender does not overrun receivers' buffers.
import { setTimeout as sleep } from "node:timers/promises";

export class Pacer {
  /** When the bytes granted so far have been "spent" at the configured rate (ms, performance clock). */
  private nextFreeAt = 0;

  /** rate: bytes per second, 0 for unpaced. burstBytes: what may go out at once. */
  constructor(
    private readonly rate: number,
    private readonly burstBytes: number,
  ) {
    if (!(rate >= 0)) throw new RangeError(`rate must be >= 0, got ${rate}`);
  }

  /** Waits until `bytes` more may be sent. */
  async take(bytes: number): Promise<void> {
    if (this.rate === 0) return;
    const now = performance.now();
    const burstMs = (this.burstBytes / this.rate) * 1000;
    if (this.nextFreeAt < now - burstMs) this.nextFreeAt = now - burstMs;
    this.nextFreeAt += (bytes / this.rate) * 1000;
    const wait = this.nextFreeAt - now - burstMs;
    if (wait >= 1) await sleep(Math.floor(wait));
  }
}
