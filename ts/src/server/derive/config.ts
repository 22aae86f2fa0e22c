// The derivations of a repository (docs/KEYS.md "Derived objects and formatters"): for a keytable,
// which object is built from which inputs by which formatter. Loaded once (serve --derivations FILE)
// and checked then: names, paths, one derivation per output, and no cycle — a derivation's output
// may feed another's inputs, but never, through any chain, its own. The order computed here is the
// order a commit runs them in: every derivation after those that build its inputs.
import { isKeytableName } from "../../wire/object.js";

/** One derivation as configured. An input ending in "/" is a prefix (every path under it), else a path. */
export interface Derivation {
  readonly name: string;
  readonly keytable: string;
  readonly output: string;
  readonly inputs: readonly string[];
  readonly formatter: string;
  /** How long the formatter has to answer one build, ms. */
  readonly timeoutMs: number;
}

export class DerivationConfigError extends Error {}

export const DERIVE_LIMITS = { derivations: 1000, inputs: 100, defaultTimeoutMs: 30_000, maxTimeoutMs: 600_000 } as const;

const NAME = /^[A-Za-z0-9._-]{1,64}$/;
// A CCDB path: segments of printable characters without '/', the first not all digits (model.ts's grammar).
const PATH = /^[^/\s]+(\/[^/\s]+)*$/;

/** Does the configured input (a path, or a prefix ending in "/") cover this path? */
export function inputCovers(input: string, path: string): boolean {
  return input.endsWith("/") ? path.startsWith(input) : path === input;
}

export class DerivationSet {
  /** Per keytable, in dependency order (inputs built first). */
  private readonly ordered = new Map<string, Derivation[]>();

  private constructor(readonly all: readonly Derivation[]) {
    for (const d of topologicalOrder(all)) {
      const list = this.ordered.get(d.keytable) ?? [];
      list.push(d);
      this.ordered.set(d.keytable, list);
    }
  }

  static empty(): DerivationSet {
    return new DerivationSet([]);
  }

  /** Parses and checks a configuration; throws DerivationConfigError naming what is wrong. */
  static parse(text: string): DerivationSet {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw new DerivationConfigError(`not JSON: ${(error as Error).message}`);
    }
    const list = isObject(value) && Array.isArray(value.derivations) ? value.derivations : undefined;
    if (list === undefined) throw new DerivationConfigError(`expected {"derivations": [...]}`);
    if (list.length > DERIVE_LIMITS.derivations) throw new DerivationConfigError(`at most ${DERIVE_LIMITS.derivations} derivations, got ${list.length}`);
    return DerivationSet.of(list.map((d: unknown, i: number) => checkOne(d, i)));
  }

  /** From checked derivations (tests, the parser): still refuses duplicates and cycles. */
  static of(derivations: readonly Derivation[]): DerivationSet {
    const names = new Set<string>();
    const outputs = new Map<string, string>();
    for (const d of derivations) {
      if (names.has(d.name)) throw new DerivationConfigError(`two derivations are named ${JSON.stringify(d.name)}`);
      names.add(d.name);
      const key = `${d.keytable}\n${d.output}`;
      const other = outputs.get(key);
      if (other !== undefined) throw new DerivationConfigError(`derivations ${JSON.stringify(other)} and ${JSON.stringify(d.name)} both build ${d.keytable}:${d.output}`);
      outputs.set(key, d.name);
    }
    return new DerivationSet(derivations);
  }

  /** The keytable's derivations in the order a commit runs them. */
  forKeytable(keytable: string): readonly Derivation[] {
    return this.ordered.get(keytable) ?? [];
  }

  /** Every derivation in dependency order, per keytable. */
  inOrder(): Derivation[] {
    return [...this.ordered.values()].flat();
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function checkOne(value: unknown, index: number): Derivation {
  const where = `derivations[${index}]`;
  if (!isObject(value)) throw new DerivationConfigError(`${where}: expected an object`);
  const known = new Set(["name", "keytable", "output", "inputs", "formatter", "timeoutMs"]);
  for (const k of Object.keys(value)) if (!known.has(k)) throw new DerivationConfigError(`${where}: unknown field ${JSON.stringify(k)}`);
  const { keytable, output, inputs, formatter } = value;
  if (typeof keytable !== "string" || !isKeytableName(keytable)) throw new DerivationConfigError(`${where}: keytable must be a keytable name (1 to 64 of [A-Za-z0-9._-])`);
  if (typeof output !== "string" || !PATH.test(output) || /^\d+$/.test(output.split("/")[0]!)) throw new DerivationConfigError(`${where}: output must be an object path such as "TPC/Calib/Derived", got ${JSON.stringify(output)}`);
  const name = value.name ?? output;
  if (typeof name !== "string" || name.length === 0 || name.length > 256) throw new DerivationConfigError(`${where}: name must be a string of 1 to 256 characters`);
  if (typeof formatter !== "string" || !NAME.test(formatter)) throw new DerivationConfigError(`${where} (${name}): formatter must be a name of 1 to 64 of [A-Za-z0-9._-]`);
  if (!Array.isArray(inputs) || inputs.length === 0 || inputs.length > DERIVE_LIMITS.inputs) throw new DerivationConfigError(`${where} (${name}): inputs must be 1 to ${DERIVE_LIMITS.inputs} paths or prefixes ending in "/"`);
  for (const input of inputs) {
    if (typeof input !== "string" || !PATH.test(input.endsWith("/") ? input.slice(0, -1) : input)) throw new DerivationConfigError(`${where} (${name}): input ${JSON.stringify(input)} is not a path or a prefix ending in "/"`);
  }
  const timeoutMs = value.timeoutMs ?? DERIVE_LIMITS.defaultTimeoutMs;
  if (typeof timeoutMs !== "number" || !Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > DERIVE_LIMITS.maxTimeoutMs) throw new DerivationConfigError(`${where} (${name}): timeoutMs must be an integer from 1 to ${DERIVE_LIMITS.maxTimeoutMs}`);
  return { name, keytable, output, inputs: inputs as string[], formatter, timeoutMs };
}

/**
 * Orders derivations so each comes after every derivation whose output it reads (same keytable), in
 * configuration order where nothing decides. A cycle is refused, naming it: "a -> b -> a".
 */
function topologicalOrder(all: readonly Derivation[]): Derivation[] {
  const feeds = (from: Derivation, to: Derivation): boolean => from.keytable === to.keytable && to.inputs.some((i) => inputCovers(i, from.output));
  for (const d of all) {
    if (feeds(d, d)) throw new DerivationConfigError(`derivation ${JSON.stringify(d.name)}: its output ${d.output} is also one of its inputs (a cycle: ${d.name} -> ${d.name})`);
  }
  const done = new Set<Derivation>();
  const onPath: Derivation[] = [];
  const order: Derivation[] = [];
  const visit = (d: Derivation): void => {
    if (done.has(d)) return;
    const at = onPath.indexOf(d);
    if (at >= 0) {
      // onPath runs from reader to source; reversed, each one's output feeds the next.
      const cycle = [...onPath.slice(at), d].reverse().map((x) => x.name).join(" -> ");
      throw new DerivationConfigError(`derivations form a cycle: ${cycle} (each one's output is an input of the next)`);
    }
    onPath.push(d);
    // Visit what d reads from first: the derivations whose output is one of d's inputs.
    for (const source of all) if (source !== d && feeds(source, d)) visit(source);
    onPath.pop();
    done.add(d);
    order.push(d);
  };
  for (const d of all) visit(d);
  return order;
}
