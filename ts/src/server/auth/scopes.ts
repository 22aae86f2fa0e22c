// WLCG JWT profile capability scopes (common-jwt-profile v1.3 §2.2): `storage.read:<path>`,
// `storage.create:<path>`, `storage.modify:<path>`; paths hierarchical and component-exact, relative
// to the area (path prefix) the issuer may grant at this instance.

export type StorageAction = "read" | "create" | "modify";

export interface Capability {
  readonly action: StorageAction;
  /** Absolute path in this instance's namespace ("/TPC/Calib"), the issuer's prefix applied; "/" = all. */
  readonly path: string;
}

/**
 * A path as a list-free canonical string: leading "/", no trailing "/", no empty components;
 * undefined for "." or ".." components, which no grant may carry.
 */
export function canonicalPath(path: string): string | undefined {
  const parts = path.split("/").filter((p) => p.length > 0);
  if (parts.some((p) => p === "." || p === "..")) return undefined;
  return `/${parts.join("/")}`;
}

/** `inner` lies at or under `outer`, whole components only (/TPC holds /TPC/Calib, not /TPCX). */
export function pathWithin(inner: string, outer: string): boolean {
  return outer === "/" || inner === outer || inner.startsWith(`${outer}/`);
}

/**
 * The storage capabilities of a token's `scope` claim, each path placed under the issuer's prefix.
 * Other scopes (openid, compute.*) and storage scopes without a path (the profile says reject them)
 * grant nothing.
 */
export function parseCapabilities(scope: unknown, issuerPrefix: string): Capability[] {
  if (typeof scope !== "string") return [];
  const prefix = canonicalPath(issuerPrefix) ?? "/";
  const out: Capability[] = [];
  for (const item of scope.split(" ")) {
    const m = /^storage\.(read|create|modify):(\/.*)$/.exec(item);
    if (m === null) continue;
    const relative = canonicalPath(m[2]!);
    if (relative === undefined) continue;
    out.push({ action: m[1] as StorageAction, path: relative === "/" ? prefix : prefix === "/" ? relative : `${prefix}${relative}` });
  }
  return out;
}

/** storage.modify is a strict superset of storage.create (§2.2.1); neither implies read. */
function covers(held: StorageAction, wanted: StorageAction): boolean {
  return held === wanted || (held === "modify" && wanted === "create");
}

/** Whether the capabilities grant `action` on `path` (an object path such as "TPC/Calib/Gain"). */
export function grants(capabilities: readonly Capability[], action: StorageAction, path: string): boolean {
  const wanted = canonicalPath(path);
  if (wanted === undefined) return false;
  return capabilities.some((c) => covers(c.action, action) && pathWithin(wanted, c.path));
}

/** Whether any capability allows `action` somewhere (for requests that name no path). */
export function grantsAny(capabilities: readonly Capability[], action: StorageAction): boolean {
  return capabilities.some((c) => covers(c.action, action));
}

/** The scope a client would need, as the 403 names it: `storage.create:/TPC/Calib/Gain`. */
export function scopeName(action: StorageAction, path: string): string {
  return `storage.${action}:${canonicalPath(path) ?? path}`;
}
