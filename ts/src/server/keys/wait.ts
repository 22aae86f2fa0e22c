// Waiting for a keytable's next key without a polling loop: the long-poll of GET /keys/<table>?after=K.
import type { EventEmitter } from "node:events";

/** Resolves true once `current()` is above `after` (checked on each "key" event for `keytable`), false after `ms`. */
export function waitForKey(events: EventEmitter<{ key: [keytable: string, key: number] }>, current: () => number, keytable: string, after: number, ms: number): Promise<boolean> {
  if (current() > after) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onKey = (table: string): void => {
      if (table !== keytable || current() <= after) return;
      done(true);
    };
    const timer = setTimeout(() => done(false), ms);
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      events.off("key", onKey);
      resolve(ok);
    };
    events.on("key", onKey);
  });
}
