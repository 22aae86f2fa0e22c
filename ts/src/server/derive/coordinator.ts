// The commit with derivations (docs/KEYS.md "Derived objects and formatters"). Before a changeset of
// a keytable with derivations is committed, each derivation whose inputs the changeset touches — in
// dependency order, so an output can feed a later derivation — becomes a build task: announced on
// the change stream to the formatter named in its configuration, answered by that formatter with the
// id of the object it uploaded into the same changeset (or a failure). The commit goes on only when
// every affected derivation has an acceptable answer; a failure, garbage or a timeout stops it with
// a DeriveFailure naming the derivation and the formatter.
import type { RepositoryStore } from "../store/repository-store.js";
import type { KeyReader } from "../keys/routes.js";
import type { ObjectRecord } from "../model.js";
import { inputCovers, type Derivation, type DerivationSet } from "./config.js";

export interface TaskInput {
  readonly id: string;
  readonly path: string;
  readonly md5: string;
  readonly size: number;
  readonly validFrom: number;
  readonly validUntil: number;
  /** Uploaded into this changeset (else: the keytable's current key holds it). */
  readonly staged: boolean;
}

/** What a formatter is asked to build: one derivation for one changeset. */
export interface DeriveTask {
  readonly sequence: number;
  readonly changeset: string;
  readonly keytable: string;
  readonly derivation: string;
  readonly formatter: string;
  /** The path the derived object must be uploaded at, into `changeset`. */
  readonly output: string;
  readonly inputs: readonly TaskInput[];
  /** The validity the derived object should get: where every input is valid (see validityOf). */
  readonly validFrom: number;
  readonly validUntil: number;
  /** Epoch ms after which the answer no longer counts (the commit fails). */
  readonly deadline: number;
}

export type TaskAnswer = { readonly objectId: string } | { readonly error: string };

export interface DerivedObject {
  readonly derivation: string;
  readonly formatter: string;
  readonly sequence: number;
  readonly objectId: string;
  readonly path: string;
}

export interface DeriveOutcome {
  /** The changeset's objects before any derivation ran (what the commit must hold besides `derived`). */
  readonly stagedBefore: readonly string[];
  readonly derived: readonly DerivedObject[];
}

/**
 * Why the derivations stopped a commit. `abort`: the changeset is aborted (the formatter failed, wrote
 * garbage or timed out); otherwise the request was refused and the changeset stays as it was.
 */
export class DeriveFailure extends Error {
  constructor(
    readonly statusCode: 409 | 413 | 502 | 504,
    message: string,
    readonly abort: boolean,
  ) {
    super(message);
  }
}

export type AnswerResult = "accepted" | "unknown" | "wrong-formatter";

/** Most inputs one task lists (a prefix input may cover many paths). */
const MAX_TASK_INPUTS = 10_000;

interface Pending {
  readonly task: DeriveTask;
  readonly settle: (answer: TaskAnswer | "timeout" | "closed") => void;
}

export type TaskListener = (task: DeriveTask) => void;

export class DeriveCoordinator {
  private readonly pending = new Map<number, Pending>();
  private readonly deriving = new Set<string>();
  private readonly listeners = new Map<string, Set<TaskListener>>();
  /** Outcomes of build tasks since start, for /metrics and GET /derivations. */
  readonly counts = { tasks: 0, built: 0, failed: 0, garbage: 0, timeout: 0 };

  constructor(
    readonly derivations: DerivationSet,
    private readonly store: RepositoryStore,
    private readonly keys: KeyReader,
  ) {}

  /** Does a commit of this keytable wait for derivations? */
  appliesTo(keytable: string | undefined): boolean {
    return keytable !== undefined && this.derivations.forKeytable(keytable).length > 0;
  }

  /** Formatters with a stream open, and how many streams each. */
  connected(): { name: string; streams: number }[] {
    return [...this.listeners].map(([name, set]) => ({ name, streams: set.size }));
  }

  pendingTasks(): DeriveTask[] {
    return [...this.pending.values()].map((p) => p.task);
  }

  /**
   * Follows the tasks of one formatter: at once every pending task of it above `since` (a restarted
   * formatter gets what it has not answered), then each new one. Returns the unsubscribe.
   */
  follow(formatter: string, since: number, listener: TaskListener): () => void {
    const set = this.listeners.get(formatter) ?? new Set();
    this.listeners.set(formatter, set);
    set.add(listener);
    for (const p of [...this.pending.values()].sort((a, b) => a.task.sequence - b.task.sequence)) {
      if (p.task.formatter === formatter && p.task.sequence > since) listener(p.task);
    }
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(formatter) === set) this.listeners.delete(formatter);
    };
  }

  /** A formatter's answer to a pending task. */
  answer(sequence: number, formatter: string, answer: TaskAnswer): AnswerResult {
    const p = this.pending.get(sequence);
    if (p === undefined) return "unknown";
    if (p.task.formatter !== formatter) return "wrong-formatter";
    p.settle(answer);
    return "accepted";
  }

  /**
   * Runs the changeset's affected derivations in dependency order; resolves once each has an object
   * in the changeset at its output path. Throws DeriveFailure otherwise. `removedPaths` (the commit's)
   * are not offered as inputs from the current key.
   */
  async derive(changeset: string, removedPaths: readonly string[]): Promise<DeriveOutcome> {
    const state = this.store.changeset(changeset);
    if (state === undefined || state.keytable === undefined) throw new DeriveFailure(409, `no open changeset ${changeset}`, false);
    const keytable = state.keytable;
    if (this.deriving.has(changeset)) throw new DeriveFailure(409, `changeset ${changeset} is being committed already (its derivations are running)`, false);
    this.deriving.add(changeset);
    try {
      const staged = new Map<string, ObjectRecord>();
      for (const o of state.objects) {
        const s = this.store.stagedObject(o.id);
        if (s !== undefined) staged.set(s.record.meta.path, s.record);
      }
      const stagedBefore = state.objects.map((o) => o.id);
      const removed = new Set(removedPaths);
      const current = this.keys.currentKey(keytable);
      const keyEntries = current === 0 ? [] : (this.keys.snapshot(keytable, current)?.entries ?? []).filter((e) => !removed.has(e.path));
      const derived: DerivedObject[] = [];
      for (const d of this.derivations.forKeytable(keytable)) {
        if (![...staged.keys()].some((path) => d.inputs.some((i) => inputCovers(i, path)))) continue;
        if (staged.has(d.output)) throw new DeriveFailure(409, `changeset ${changeset} holds an object at ${d.output}, which derivation ${JSON.stringify(d.name)} builds (formatter ${JSON.stringify(d.formatter)}): upload its inputs only`, false);
        const inputs = inputsOf(d, staged, keyEntries);
        if (inputs.length > MAX_TASK_INPUTS) throw new DeriveFailure(413, `derivation ${JSON.stringify(d.name)} would read ${inputs.length} inputs, more than ${MAX_TASK_INPUTS}`, false);
        const made = await this.build(d, changeset, inputs);
        staged.set(d.output, made.record);
        derived.push({ derivation: d.name, formatter: d.formatter, sequence: made.sequence, objectId: made.record.id, path: d.output });
      }
      return { stagedBefore, derived };
    } finally {
      this.deriving.delete(changeset);
    }
  }

  /** Announces one task and waits for its answer; checks what the formatter uploaded. */
  private async build(d: Derivation, changeset: string, inputs: TaskInput[]): Promise<{ sequence: number; record: ObjectRecord }> {
    const who = `derivation ${JSON.stringify(d.name)} (formatter ${JSON.stringify(d.formatter)})`;
    const { validFrom, validUntil } = validityOf(inputs);
    const task: DeriveTask = {
      sequence: this.store.nextCounter("derive-task"),
      changeset,
      keytable: d.keytable,
      derivation: d.name,
      formatter: d.formatter,
      output: d.output,
      inputs,
      validFrom,
      validUntil,
      deadline: Date.now() + d.timeoutMs,
    };
    this.counts.tasks++;
    const answer = await new Promise<TaskAnswer | "timeout" | "closed">((resolve) => {
      const timer = setTimeout(() => settle("timeout"), d.timeoutMs);
      const settle = (a: TaskAnswer | "timeout" | "closed"): void => {
        clearTimeout(timer);
        this.pending.delete(task.sequence);
        resolve(a);
      };
      this.pending.set(task.sequence, { task, settle });
      for (const listener of this.listeners.get(d.formatter) ?? []) listener(task);
    });
    if (answer === "timeout") {
      this.counts.timeout++;
      const streams = this.listeners.get(d.formatter)?.size ?? 0;
      throw new DeriveFailure(504, `${who} did not answer within ${d.timeoutMs} ms (${streams === 0 ? "no formatter of that name follows the change stream" : `${streams} stream(s) of it open`})`, true);
    }
    if (answer === "closed") throw new DeriveFailure(502, `${who}: the repository is closing`, true);
    if ("error" in answer) {
      this.counts.failed++;
      throw new DeriveFailure(502, `${who} failed: ${answer.error.slice(0, 2000)}`, true);
    }
    // Garbage: the answer names nothing this changeset holds at the output path, or an empty object.
    const made = this.store.stagedObject(answer.objectId);
    const garbage =
      made === undefined
        ? `object ${answer.objectId} is not staged (nothing uploaded under that id)`
        : made.changeset !== changeset
          ? `object ${answer.objectId} is in changeset ${made.changeset}, not ${changeset}`
          : made.record.meta.path !== d.output
            ? `object ${answer.objectId} is at ${made.record.meta.path}, not at the output path ${d.output}`
            : made.record.size === 0
              ? `object ${answer.objectId} is empty`
              : undefined;
    if (garbage !== undefined || made === undefined) {
      this.counts.garbage++;
      throw new DeriveFailure(502, `${who} wrote garbage: ${garbage ?? "nothing"}`, true);
    }
    this.counts.built++;
    return { sequence: task.sequence, record: made.record };
  }

  /** Ends every pending task (the commits waiting on them fail). */
  close(): void {
    for (const p of [...this.pending.values()]) p.settle("closed");
    this.listeners.clear();
  }
}

/** The inputs of a derivation: the changeset's objects where it holds one, else the current key's. */
function inputsOf(d: Derivation, staged: ReadonlyMap<string, ObjectRecord>, keyEntries: readonly { path: string; id: string; md5: string; size: number; validFrom: number; validUntil: number }[]): TaskInput[] {
  const byPath = new Map<string, TaskInput>();
  for (const e of keyEntries) {
    if (d.inputs.some((i) => inputCovers(i, e.path))) byPath.set(e.path, { id: e.id, path: e.path, md5: e.md5, size: e.size, validFrom: e.validFrom, validUntil: e.validUntil, staged: false });
  }
  for (const [path, r] of staged) {
    if (d.inputs.some((i) => inputCovers(i, path))) byPath.set(path, { id: r.id, path, md5: r.meta.md5, size: r.size, validFrom: r.meta.validFrom, validUntil: r.meta.validUntil, staged: true });
  }
  return [...byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * Where every input is valid (the intersection); when the inputs do not overlap, the span of the
 * changeset's own inputs (what the update is about).
 */
function validityOf(inputs: readonly TaskInput[]): { validFrom: number; validUntil: number } {
  const from = Math.max(...inputs.map((i) => i.validFrom));
  const until = Math.min(...inputs.map((i) => i.validUntil));
  if (from < until) return { validFrom: from, validUntil: until };
  const own = inputs.filter((i) => i.staged);
  return { validFrom: Math.min(...own.map((i) => i.validFrom)), validUntil: Math.max(...own.map((i) => i.validUntil)) };
}
