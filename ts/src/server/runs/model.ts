// Runs (issue 13 item 4, docs/KEYS.md "Start of run"): a run records the key it starts with, so the
// DAQ writes that key into its events; starting one multicasts every object of the key again.

/** A run as the repository records it (durable) and reports its distribution (this process only). */
export interface RunRecord {
  readonly run: number;
  readonly keytable: string;
  readonly key: number;
  readonly startedAt: number;
  /** "all": every object of the key; "declared": those at paths the farm's caches declared (consumers/). */
  readonly only: RunScope;
  /** Objects of the key multicast again, and their bytes. */
  readonly objects: number;
  readonly bytes: number;
}

export interface RunState extends RunRecord {
  /**
   * "sending" while this repository multicasts the key's objects, "sent" once every one went out;
   * "none" without multicast; "unknown" for a run started before this process (not tracked).
   */
  readonly distribution: "sending" | "sent" | "none" | "unknown";
  readonly sentObjects: number;
}

export type RunScope = "all" | "declared";

/** A run request that cannot be served as asked: answered with its status and the reason. */
export class RunRefused extends Error {
  constructor(
    readonly statusCode: 404 | 409,
    message: string,
  ) {
    super(message);
  }
}

/** Run numbers as the CCDB's runNumber metadata: positive integers (JavaScript-safe). */
export function isRunNumber(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 1;
}
