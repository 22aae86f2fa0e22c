// An instance's configuration (`condcast serve --instance FILE`, docs/INSTANCES.md): its name, the
// path prefixes it owns (the only instance that accepts writes under them), its peers, and the
// prefixes it mirrors read-only from one of them.

export interface PeerConfig {
  readonly name: string;
  /** The peer repository's base URL. */
  readonly url: string;
  /** Prefixes the peer owns: writes under them are redirected to it. */
  readonly owns: readonly string[];
  /** A file holding the bearer token sent to this peer (read at every request, so it can be renewed). */
  readonly tokenFile?: string | undefined;
  /** A CA certificate file (PEM) trusted for this peer's https URL. */
  readonly caFile?: string | undefined;
}

export interface MirrorConfig {
  readonly prefix: string;
  /** The peer that owns the prefix. */
  readonly from: string;
}

export interface InstanceConfig {
  readonly name: string;
  readonly owns: readonly string[];
  readonly peers: readonly PeerConfig[];
  readonly mirrors: readonly MirrorConfig[];
  /** How often a caught-up mirror asks its owner for new changes, ms. */
  readonly pollMs: number;
  /** Longest wait between retries while an owner is unreachable, ms. */
  readonly maxBackoffMs: number;
}

export class InstanceConfigError extends Error {}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** A prefix as stored: no leading or trailing slash, no empty component. */
export function normalisePrefix(prefix: string, where: string): string {
  const p = prefix.replace(/^\/+|\/+$/g, "");
  if (p === "" || p.split("/").some((c) => c === "" || c === "." || c === "..")) throw new InstanceConfigError(`${where}: ${JSON.stringify(prefix)} is not a path prefix`);
  return p;
}

/** Whether `path` lies under `prefix`, component-exact: TPC holds TPC and TPC/x, not TPCX. */
export function underPrefix(path: string, prefix: string): boolean {
  const p = path.replace(/^\/+/, "");
  return p === prefix || p.startsWith(`${prefix}/`);
}

function strings(value: unknown, where: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) throw new InstanceConfigError(`${where} must be an array of strings`);
  return value as string[];
}

function optionalString(value: unknown, where: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value === "") throw new InstanceConfigError(`${where} must be a non-empty string`);
  return value;
}

function positive(value: unknown, fallback: number, where: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 10 || value > 3_600_000) throw new InstanceConfigError(`${where} must be an integer in [10, 3600000]`);
  return value;
}

/** Checks a parsed configuration: names, URLs, prefixes, and that every mirror names a peer. */
export function parseInstanceConfig(value: unknown): InstanceConfig {
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new InstanceConfigError("expected a JSON object");
  const v = value as Record<string, unknown>;
  if (typeof v.name !== "string" || !NAME.test(v.name)) throw new InstanceConfigError(`name must be 1 to 64 of A-Z a-z 0-9 . _ - (got ${JSON.stringify(v.name)})`);
  const owns = strings(v.owns, "owns").map((p) => normalisePrefix(p, "owns"));
  if (v.peers !== undefined && !Array.isArray(v.peers)) throw new InstanceConfigError("peers must be an array");
  const peers = ((v.peers as unknown[] | undefined) ?? []).map((raw, i): PeerConfig => {
    const where = `peers[${i}]`;
    if (raw === null || typeof raw !== "object") throw new InstanceConfigError(`${where} must be an object`);
    const p = raw as Record<string, unknown>;
    if (typeof p.name !== "string" || !NAME.test(p.name)) throw new InstanceConfigError(`${where}.name must be 1 to 64 of A-Z a-z 0-9 . _ -`);
    let url: URL;
    try {
      url = new URL(String(p.url));
      if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error("not http");
    } catch {
      throw new InstanceConfigError(`${where}.url must be an http(s) URL, got ${JSON.stringify(p.url)}`);
    }
    return { name: p.name, url: url.toString().replace(/\/+$/, ""), owns: strings(p.owns, `${where}.owns`).map((x) => normalisePrefix(x, `${where}.owns`)), tokenFile: optionalString(p.tokenFile, `${where}.tokenFile`), caFile: optionalString(p.caFile, `${where}.caFile`) };
  });
  const names = new Set<string>([v.name]);
  for (const p of peers) {
    if (names.has(p.name)) throw new InstanceConfigError(`peer name ${p.name} is used twice (or is this instance's)`);
    names.add(p.name);
  }
  if (v.mirrors !== undefined && !Array.isArray(v.mirrors)) throw new InstanceConfigError("mirrors must be an array");
  const mirrors = ((v.mirrors as unknown[] | undefined) ?? []).map((raw, i): MirrorConfig => {
    const where = `mirrors[${i}]`;
    if (raw === null || typeof raw !== "object") throw new InstanceConfigError(`${where} must be an object`);
    const m = raw as Record<string, unknown>;
    if (typeof m.prefix !== "string") throw new InstanceConfigError(`${where}.prefix must be a string`);
    const prefix = normalisePrefix(m.prefix, `${where}.prefix`);
    if (typeof m.from !== "string" || !peers.some((p) => p.name === m.from)) throw new InstanceConfigError(`${where}.from must name a peer, got ${JSON.stringify(m.from)}`);
    if (owns.some((o) => underPrefix(prefix, o) || underPrefix(o, prefix))) throw new InstanceConfigError(`${where}: ${prefix} overlaps a prefix this instance owns`);
    return { prefix, from: m.from };
  });
  for (const [i, a] of mirrors.entries()) {
    for (const b of mirrors.slice(i + 1)) if (underPrefix(a.prefix, b.prefix) || underPrefix(b.prefix, a.prefix)) throw new InstanceConfigError(`mirrors ${a.prefix} and ${b.prefix} overlap`);
  }
  return { name: v.name, owns, peers, mirrors, pollMs: positive(v.pollMs, 500, "pollMs"), maxBackoffMs: positive(v.maxBackoffMs, 30_000, "maxBackoffMs") };
}

/** Parses and checks the JSON text of an instance file; InstanceConfigError names what is wrong. */
export function parseInstanceConfigText(text: string): InstanceConfig {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new InstanceConfigError((error as Error).message);
  }
  return parseInstanceConfig(parsed);
}
