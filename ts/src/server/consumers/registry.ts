// A cache's consumer declarations (issue 14 item 1, docs/KEYS.md "Consumers"): a local process says,
// under a name, which paths and path prefixes it reads, for a lifetime it renews. The cache then holds
// those objects before they are read, flips to a key only once it holds the key's objects at declared
// paths, and evicts them for its memory budget after every undeclared object. Bounded: at most
// CONSUMER_LIMITS.consumers declarations, and a union of at most unionPaths paths and unionPatterns
// patterns; a declaration not renewed within its ttlMs disappears.

/** Bounds of one declaration and of the registry (the route's schema and declare() refuse more). */
export const CONSUMER_LIMITS = {
  consumers: 64,
  nameLength: 64,
  paths: 256,
  patterns: 32,
  pathLength: 256,
  unionPaths: 1024,
  unionPatterns: 64,
  minTtlMs: 1000,
  maxTtlMs: 86_400_000,
  bodyBytes: 128 * 1024,
} as const;

/** One path element: printable ASCII but # % * / = ? \, not all digits, not . or .. (as pathProblem checks). */
const ELEMENT = "(?!\\.\\.?(?:/|$))[!\"$&'()+,\\-.0-9:;<>@A-Z\\[\\]^_`a-z{|}~]*[!\"$&'()+,\\-.:;<>@A-Z\\[\\]^_`a-z{|}~][!\"$&'()+,\\-.0-9:;<>@A-Z\\[\\]^_`a-z{|}~]*";
/** JSON-schema patterns of a declarable path and of a prefix pattern (the spec states the same). */
export const PATH_PATTERN = `^${ELEMENT}(/${ELEMENT})*$`;
export const PREFIX_PATTERN = `^${ELEMENT}(/${ELEMENT})*/\\*$`;

/** A consumer's name: 1 to 64 of [A-Za-z0-9._-], as keytable names. */
export const CONSUMER_NAME = /^[A-Za-z0-9._-]{1,64}$/;

export interface Declaration {
  readonly name: string;
  readonly paths: readonly string[];
  /** Prefix patterns: "A/B/*" is every path under "A/B/". */
  readonly patterns: readonly string[];
  readonly ttlMs: number;
  readonly declaredAt: number;
  readonly expiresAt: number;
}

/** A declaration refused: 400 (malformed) or 409 (the registry or its union is full). */
export class DeclarationRefused extends Error {
  constructor(
    readonly statusCode: 400 | 409,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Why `path` is not a declarable object path, or undefined when it is: path elements of printable
 * ASCII without '*', '%', '=', '?', '#', none of them all digits (the CCDB grammar would read a
 * timestamp there), no empty element, at most pathLength characters.
 */
export function pathProblem(path: string): string | undefined {
  if (path.length === 0 || path.length > CONSUMER_LIMITS.pathLength) return `path of ${path.length} characters (1 to ${CONSUMER_LIMITS.pathLength})`;
  if (!/^[!-~]+$/.test(path)) return `path ${JSON.stringify(path)} has a character outside printable ASCII`;
  if (/[*%=?#\\]/.test(path)) return `path ${JSON.stringify(path)} has one of * % = ? # \\`;
  for (const element of path.split("/")) {
    if (element.length === 0) return `path ${JSON.stringify(path)} has an empty element`;
    if (/^\d+$/.test(element)) return `path ${JSON.stringify(path)} has an all-digit element (read as a timestamp)`;
    if (element === "." || element === "..") return `path ${JSON.stringify(path)} has a . or .. element`;
  }
  return undefined;
}

/** Why `pattern` is not a prefix pattern ("<path>/*"), or undefined when it is. */
export function patternProblem(pattern: string): string | undefined {
  if (!pattern.endsWith("/*")) return `pattern ${JSON.stringify(pattern)} is not <path>/* (a prefix: every path under <path>/)`;
  const problem = pathProblem(pattern.slice(0, -2));
  return problem === undefined ? undefined : `pattern ${JSON.stringify(pattern)}: ${problem}`;
}

/** The prefix a pattern stands for: "A/B/*" -> "A/B/". */
export function patternPrefix(pattern: string): string {
  return pattern.slice(0, -1);
}

export class ConsumerRegistry {
  private readonly declarations = new Map<string, Declaration>();
  private unionPaths = new Map<string, number>();
  private unionPatterns = new Map<string, number>();
  private prefixes: string[] = [];
  /** Bumped on every change of the union, so a fetch of declared objects knows it is out of date. */
  version = 0;

  /** Records or renews a declaration; true when the name is new. Throws DeclarationRefused. */
  declare(name: string, paths: readonly string[], patterns: readonly string[], ttlMs: number, now: number): { declaration: Declaration; created: boolean } {
    if (!CONSUMER_NAME.test(name)) throw new DeclarationRefused(400, `${JSON.stringify(name)} is not a consumer name (1 to 64 of [A-Za-z0-9._-])`);
    if (!Number.isSafeInteger(ttlMs) || ttlMs < CONSUMER_LIMITS.minTtlMs || ttlMs > CONSUMER_LIMITS.maxTtlMs) throw new DeclarationRefused(400, `ttlMs ${ttlMs} is not an integer from ${CONSUMER_LIMITS.minTtlMs} to ${CONSUMER_LIMITS.maxTtlMs}`);
    if (paths.length > CONSUMER_LIMITS.paths) throw new DeclarationRefused(400, `${paths.length} paths (at most ${CONSUMER_LIMITS.paths})`);
    if (patterns.length > CONSUMER_LIMITS.patterns) throw new DeclarationRefused(400, `${patterns.length} patterns (at most ${CONSUMER_LIMITS.patterns})`);
    if (paths.length + patterns.length === 0) throw new DeclarationRefused(400, "the declaration names no path and no pattern (DELETE /consumers/<name> leaves)");
    for (const p of paths) {
      const problem = pathProblem(p);
      if (problem !== undefined) throw new DeclarationRefused(400, problem);
    }
    for (const p of patterns) {
      const problem = patternProblem(p);
      if (problem !== undefined) throw new DeclarationRefused(400, problem);
    }
    this.expire(now);
    const before = this.declarations.get(name);
    if (before === undefined && this.declarations.size >= CONSUMER_LIMITS.consumers) throw new DeclarationRefused(409, `${this.declarations.size} consumers declared already (at most ${CONSUMER_LIMITS.consumers})`);
    const declaration: Declaration = { name, paths: [...new Set(paths)], patterns: [...new Set(patterns)], ttlMs, declaredAt: now, expiresAt: now + ttlMs };
    const others = [...this.declarations.values()].filter((d) => d.name !== name);
    const union = unionOf([...others, declaration]);
    if (union.paths.size > CONSUMER_LIMITS.unionPaths) throw new DeclarationRefused(409, `the cache's declared paths would number ${union.paths.size} (at most ${CONSUMER_LIMITS.unionPaths})`);
    if (union.patterns.size > CONSUMER_LIMITS.unionPatterns) throw new DeclarationRefused(409, `the cache's declared patterns would number ${union.patterns.size} (at most ${CONSUMER_LIMITS.unionPatterns})`);
    this.declarations.set(name, declaration);
    this.setUnion(union);
    return { declaration, created: before === undefined };
  }

  /** Removes a declaration; false when there was none of that name. */
  leave(name: string): boolean {
    if (!this.declarations.delete(name)) return false;
    this.setUnion(unionOf([...this.declarations.values()]));
    return true;
  }

  /** Drops the declarations whose lifetime ended; returns their names. */
  expire(now: number): string[] {
    const gone: string[] = [];
    for (const [name, d] of this.declarations) if (d.expiresAt <= now) gone.push(name);
    for (const name of gone) this.declarations.delete(name);
    if (gone.length > 0) this.setUnion(unionOf([...this.declarations.values()]));
    return gone;
  }

  list(): Declaration[] {
    return [...this.declarations.values()];
  }

  get size(): number {
    return this.declarations.size;
  }

  /** Every declared path with how many declarations name it. */
  paths(): ReadonlyMap<string, number> {
    return this.unionPaths;
  }

  /** Every declared pattern with how many declarations name it. */
  patterns(): ReadonlyMap<string, number> {
    return this.unionPatterns;
  }

  /** Whether an object at `path` is declared: named, or under a declared pattern. */
  isDeclared(path: string): boolean {
    if (this.unionPaths.has(path)) return true;
    for (const prefix of this.prefixes) if (path.startsWith(prefix)) return true;
    return false;
  }

  private setUnion(union: { paths: Map<string, number>; patterns: Map<string, number> }): void {
    this.unionPaths = union.paths;
    this.unionPatterns = union.patterns;
    this.prefixes = [...union.patterns.keys()].map(patternPrefix);
    this.version++;
  }
}

function unionOf(declarations: readonly Declaration[]): { paths: Map<string, number>; patterns: Map<string, number> } {
  const paths = new Map<string, number>();
  const patterns = new Map<string, number>();
  for (const d of declarations) {
    for (const p of d.paths) paths.set(p, (paths.get(p) ?? 0) + 1);
    for (const p of d.patterns) patterns.set(p, (patterns.get(p) ?? 0) + 1);
  }
  return { paths, patterns };
}
