// A cache's keys (SPEC 11): per keytable the key it has flipped to and the snapshots of the most
// recent keys it keeps (so reads pinned to them are answered, and their objects are not evicted).
// Keys only move forward.
import { EventEmitter } from "node:events";
import type { KeyReader } from "./routes.js";
import type { KeySnapshot, KeytableSummary } from "./model.js";
import { waitForKey } from "./wait.js";

interface Table {
  current: number;
  /** Retained snapshots, oldest first. */
  readonly snapshots: Map<number, KeySnapshot>;
}

export class KeyState implements KeyReader {
  private readonly tables = new Map<string, Table>();
  private readonly events = new EventEmitter<{ key: [keytable: string, key: number] }>();
  /** How many times each object id is referenced by a retained snapshot. */
  private readonly references = new Map<string, number>();
  /** "online/42, calib/3": the current keys, as unpinned reads announce them. */
  private header = "";

  constructor(private readonly retain: number) {
    this.events.setMaxListeners(0);
  }

  keytables(): KeytableSummary[] {
    return [...this.tables]
      .filter(([, t]) => t.current > 0)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([keytable, t]) => {
        const s = t.snapshots.get(t.current)!;
        return { keytable, key: t.current, committedAt: s.committedAt, objects: s.entries.length };
      });
  }

  currentKey(keytable: string): number {
    return this.tables.get(keytable)?.current ?? 0;
  }

  snapshot(keytable: string, key: number): KeySnapshot | undefined {
    return this.tables.get(keytable)?.snapshots.get(key);
  }

  waitForKey(keytable: string, after: number, ms: number): Promise<boolean> {
    return waitForKey(this.events, () => this.currentKey(keytable), keytable, after, ms);
  }

  /** Whether a retained key uses the object (the memory store keeps it then). */
  pinned(id: string): boolean {
    return this.references.has(id);
  }

  /** The current keys as a response header value, "" when there are none. */
  currentHeader(): string {
    return this.header;
  }

  /**
   * Makes `snapshot` the keytable's current key when it is newer than the current one; false (and
   * nothing changes) otherwise.
   */
  flip(snapshot: KeySnapshot): boolean {
    let table = this.tables.get(snapshot.keytable);
    if (table === undefined) this.tables.set(snapshot.keytable, (table = { current: 0, snapshots: new Map() }));
    if (snapshot.key <= table.current) return false;
    table.snapshots.set(snapshot.key, snapshot);
    for (const e of snapshot.entries) this.references.set(e.id, (this.references.get(e.id) ?? 0) + 1);
    table.current = snapshot.key;
    while (table.snapshots.size > this.retain) {
      const oldest = table.snapshots.keys().next().value!;
      for (const e of table.snapshots.get(oldest)!.entries) {
        const n = (this.references.get(e.id) ?? 1) - 1;
        if (n <= 0) this.references.delete(e.id);
        else this.references.set(e.id, n);
      }
      table.snapshots.delete(oldest);
    }
    this.header = this.keytables().map((k) => `${k.keytable}/${k.key}`).join(", ");
    this.events.emit("key", snapshot.keytable, snapshot.key);
    return true;
  }

  close(): void {
    this.events.removeAllListeners();
  }
}
