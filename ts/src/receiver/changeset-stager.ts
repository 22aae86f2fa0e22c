// Receiver-side staging of changesets (SPEC 11, spec/CLI.md "Changesets"): a complete object whose head
// names a changeset is held until its Commit has arrived and every one of the changeset's objects is
// held; then the changeset is delivered as one unit, its objects in ascending id order. Aborted,
// timed-out and stale changesets are dropped ("uncommitted"). Bounded in objects, changesets and bytes
// (staged payload bytes share the partial-bytes cap with incomplete objects).
import type { CommitInfo } from "../wire/control.js";
import type { ReceivedObject } from "../wire/object.js";
import type { ReceiverCounters } from "./counters.js";

/** SPEC 11's staged timeout. */
export const DEFAULT_STAGED_TIMEOUT_MS = 15 * 60_000;

export interface ChangesetStagerOptions {
  /**
   * SPEC 11.4: a changeset neither delivered nor aborted this long after its most recently staged object
   * (or its Commit, when that came later) is dropped whole (default 15 min).
   */
  readonly stagedTimeoutMs?: number | undefined;
  /** Most staged objects held at once; over it the oldest changeset is dropped (default 10000). */
  readonly maxStagedObjects?: number | undefined;
  /** Most changesets held at once, staged or committed and waiting for objects (default 1024). */
  readonly maxStagedChangesets?: number | undefined;
}

/** A changeset delivered as one unit: its Commit and its objects in ascending id order. */
export interface ChangesetDelivery {
  readonly commit: CommitInfo;
  readonly objects: readonly ReceivedObject[];
}

/** A Commit whose key is not above the key delivered for its sender and keytable. */
export interface CommitIgnored {
  readonly senderId: string;
  readonly keytable: string;
  readonly key: number;
  readonly heldKey: number;
  readonly changeset: string;
}

export interface ChangesetStagerEvents {
  onChangeset(delivery: ChangesetDelivery): void;
  /** A staged object dropped: its changeset aborted, timed out, stale or pushed out by the bounds. */
  onUncommitted(object: ReceivedObject): void;
  onCommitIgnored(ignored: CommitIgnored): void;
}

/** The partial-bytes cap staged bytes share with incomplete objects (counters.partialBytes). */
export interface StagerCapacity {
  readonly maxBytes: number;
}

interface StagedEntry {
  readonly object: ReceivedObject;
}

/** One changeset of one sender: its staged objects (by id, in staging order) and its Commit once known. */
interface StagedChangeset {
  readonly key: string;
  readonly entries: Map<string, StagedEntry>;
  commit: CommitInfo | null;
  /** Its most recently staged object or its Commit, whichever came last: the staged timeout runs from it. */
  lastActivity: number;
}

/** How many finished changesets (delivered, aborted, dropped) are remembered to drop their late objects. */
const FINISHED_MEMORY = 1024;
/** How many (sender, keytable) delivered keys are remembered. */
const KEY_MEMORY = 4096;

export class ChangesetStager {
  /** By sender and changeset id, oldest first (Map order). */
  private readonly changesets = new Map<string, StagedChangeset>();
  /** Changesets finished recently: an object of one arriving late is dropped at once. */
  private readonly finished = new Set<string>();
  /** The key delivered last per sender and keytable: it only moves forward. */
  private readonly deliveredKeys = new Map<string, number>();
  private readonly timeoutMs: number;
  private readonly maxObjects: number;
  private readonly maxChangesets: number;

  constructor(
    private readonly counters: ReceiverCounters,
    private readonly events: ChangesetStagerEvents,
    private readonly capacity: StagerCapacity,
    options: ChangesetStagerOptions = {},
  ) {
    this.timeoutMs = options.stagedTimeoutMs ?? DEFAULT_STAGED_TIMEOUT_MS;
    this.maxObjects = options.maxStagedObjects ?? 10_000;
    this.maxChangesets = options.maxStagedChangesets ?? 1024;
  }

  /** Holds a complete object whose meta names a changeset; may deliver its changeset. */
  stage(object: ReceivedObject, now: number): void {
    const changeset = object.meta.changeset;
    if (changeset === undefined) throw new TypeError("stage() takes an object of a changeset");
    const key = changesetKey(object.senderId, changeset);
    if (this.finished.has(key)) {
      this.dropObject(object);
      return;
    }
    let record = this.changesets.get(key);
    if (record?.entries.has(object.id)) return; // already held (a repeat after the completed-id memory forgot it)
    if (record === undefined) record = this.open(key, now);
    record.entries.set(object.id, { object });
    record.lastActivity = now;
    this.counters.stagedObjects++;
    this.counters.stagedBytes += object.payload.length;
    this.enforceBounds();
    if (this.changesets.get(key) === record) this.tryDeliver(record);
  }

  /** Takes a Commit datagram (the receiver has logged it already). */
  commit(commit: CommitInfo, now: number): void {
    const key = changesetKey(commit.senderId, commit.changeset);
    if (commit.aborted) {
      this.finish(key);
      return;
    }
    const heldKey = this.heldKey(commit.senderId, commit.keytable);
    if (isResendOfHeld(commit, heldKey)) {
      this.discardResend(key);
      return;
    }
    if (commit.key <= heldKey) {
      this.ignore(commit, heldKey, key);
      return;
    }
    let record = this.changesets.get(key);
    if (record?.commit) return; // a repeated Commit: the first one counts
    if (record === undefined) {
      if (this.finished.has(key)) return; // its objects were dropped: nothing left to deliver
      record = this.open(key, now);
    }
    record.commit = commit;
    record.lastActivity = now;
    this.tryDeliver(record);
  }

  /**
   * SPEC 11.4: drops, whole, every changeset neither delivered nor aborted a staged timeout after its
   * most recently staged object (or its Commit, when that came later).
   */
  expire(now: number): void {
    for (const record of [...this.changesets.values()]) {
      if (now - record.lastActivity >= this.timeoutMs) this.finish(record.key);
    }
  }

  /**
   * Frees room for `bytes` more partial bytes by dropping the oldest staged changesets; returns whether
   * they fit now. Called by reassembly when a new object would exceed the cap.
   */
  makeRoom(bytes: number): boolean {
    while (this.overCap(bytes)) {
      const oldest = this.oldestWithObjects();
      if (oldest === undefined) return false;
      this.finish(oldest.key);
    }
    return true;
  }

  /** Changesets held (staged objects or a Commit waiting for them). */
  get size(): number {
    return this.changesets.size;
  }

  private open(key: string, now: number): StagedChangeset {
    while (this.changesets.size >= this.maxChangesets) {
      const oldest = this.changesets.values().next().value;
      if (oldest === undefined) break;
      this.finish(oldest.key);
    }
    const record: StagedChangeset = { key, entries: new Map(), commit: null, lastActivity: now };
    this.changesets.set(key, record);
    return record;
  }

  /** Over the object bound or the byte cap: drop the oldest changesets (possibly the one just staged). */
  private enforceBounds(): void {
    while (this.counters.stagedObjects > this.maxObjects || this.overCap(0)) {
      const oldest = this.oldestWithObjects();
      if (oldest === undefined) return;
      this.finish(oldest.key);
    }
  }

  private overCap(extra: number): boolean {
    return this.counters.partialBytes + this.counters.stagedBytes + extra > this.capacity.maxBytes;
  }

  private oldestWithObjects(): StagedChangeset | undefined {
    for (const record of this.changesets.values()) if (record.entries.size > 0) return record;
    return undefined;
  }

  /** Delivers a committed changeset once it holds every one of its objects. */
  private tryDeliver(record: StagedChangeset): void {
    const commit = record.commit;
    if (commit === null) return;
    const chosen = commit.objectIds.length > 0 ? this.listed(record, commit.objectIds) : this.counted(record, commit.objectCount);
    if (chosen === null) return;
    // Another changeset of the keytable may have been delivered since this Commit arrived.
    const heldKey = this.heldKey(commit.senderId, commit.keytable);
    if (isResendOfHeld(commit, heldKey)) {
      this.discardResend(record.key);
      return;
    }
    if (commit.key <= heldKey) {
      this.ignore(commit, heldKey, record.key);
      return;
    }
    const delivered = new Set(chosen.map((o) => o.id));
    for (const [id, entry] of [...record.entries]) {
      this.removeEntry(record, id, entry);
      if (!delivered.has(id)) this.dropObject(entry.object); // staged with the changeset's id but not named by its Commit
    }
    this.changesets.delete(record.key);
    this.remember(record.key);
    this.setHeldKey(commit.senderId, commit.keytable, commit.key);
    this.counters.changesetsDelivered++;
    chosen.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)); // canonical lowercase UUIDs: text order is byte order
    this.events.onChangeset({ commit, objects: chosen });
  }

  /** The objects the Commit names, or null while one is missing. */
  private listed(record: StagedChangeset, ids: readonly string[]): ReceivedObject[] | null {
    const out: ReceivedObject[] = [];
    for (const id of ids) {
      const entry = record.entries.get(id);
      if (entry === undefined) return null;
      out.push(entry.object);
    }
    return out;
  }

  /** Without ids: the first `count` objects staged with the changeset's id, or null while fewer are held. */
  private counted(record: StagedChangeset, count: number): ReceivedObject[] | null {
    if (record.entries.size < count) return null;
    const out: ReceivedObject[] = [];
    for (const entry of record.entries.values()) {
      if (out.length === count) break;
      out.push(entry.object);
    }
    return out;
  }

  private ignore(commit: CommitInfo, heldKey: number, key: string): void {
    this.counters.commitsIgnored++;
    this.events.onCommitIgnored({ senderId: commit.senderId, keytable: commit.keytable, key: commit.key, heldKey, changeset: commit.changeset });
    this.finish(key);
  }

  /** SPEC 11.6: a re-send of the key held; its staged copies go quietly (no drop: they are held). */
  private discardResend(key: string): void {
    const record = this.changesets.get(key);
    this.remember(key);
    this.counters.resendsDiscarded++;
    if (record === undefined) return;
    this.changesets.delete(key);
    for (const [id, entry] of [...record.entries]) this.removeEntry(record, id, entry);
  }

  /** Ends a changeset: drops whatever it holds as uncommitted and drops its late objects too. */
  private finish(key: string): void {
    const record = this.changesets.get(key);
    this.remember(key);
    if (record === undefined) return;
    this.changesets.delete(key);
    for (const [id, entry] of [...record.entries]) {
      this.removeEntry(record, id, entry);
      this.dropObject(entry.object);
    }
  }

  private removeEntry(record: StagedChangeset, id: string, entry: StagedEntry): void {
    record.entries.delete(id);
    this.counters.stagedObjects--;
    this.counters.stagedBytes -= entry.object.payload.length;
  }

  private dropObject(object: ReceivedObject): void {
    this.counters.objectsDropped.uncommitted++;
    this.events.onUncommitted(object);
  }

  private remember(key: string): void {
    this.finished.delete(key);
    this.finished.add(key);
    if (this.finished.size > FINISHED_MEMORY) {
      const oldest = this.finished.values().next().value;
      if (oldest !== undefined) this.finished.delete(oldest);
    }
  }

  private heldKey(senderId: string, keytable: string): number {
    return this.deliveredKeys.get(`${senderId}/${keytable}`) ?? 0;
  }

  private setHeldKey(senderId: string, keytable: string, key: number): void {
    const name = `${senderId}/${keytable}`;
    this.deliveredKeys.delete(name); // re-inserted: the map's order is least recently delivered first
    this.deliveredKeys.set(name, key);
    if (this.deliveredKeys.size > KEY_MEMORY) {
      const oldest = this.deliveredKeys.keys().next().value;
      if (oldest !== undefined) this.deliveredKeys.delete(oldest);
    }
  }
}

/** SPEC 11.6: a Commit naming a whole key (parent 0) that is the key held is a re-send of it. */
function isResendOfHeld(commit: CommitInfo, heldKey: number): boolean {
  return commit.parentKey === 0 && commit.key === heldKey;
}

/** Changesets are per sender: two senders may use one id. */
function changesetKey(senderId: string, changeset: string): string {
  return `${senderId}/${changeset}`;
}
