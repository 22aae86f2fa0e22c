// Object paths as prefixes: what "under" means wherever a prefix is compared (token scopes in auth/,
// owned and mirrored prefixes in sync/, the change log filtered by prefix): whole components only, so
// /TPC holds /TPC/Calib but not /TPCX.

/** `/A/B` for `A/B`, `/A//B/` and `/A/B`; undefined when a component is `.` or `..`. */
export function canonicalPath(path: string): string | undefined {
  const parts = path.split("/").filter((p) => p.length > 0);
  if (parts.some((p) => p === "." || p === "..")) return undefined;
  return `/${parts.join("/")}`;
}

/** Canonical `inner` lies at or under canonical `outer`, whole components only. */
export function pathWithin(inner: string, outer: string): boolean {
  return outer === "/" || inner === outer || inner.startsWith(`${outer}/`);
}

/** `path` lies at or under `prefix`, either written with or without slashes at its ends. */
export function underPrefix(path: string, prefix: string): boolean {
  const p = canonicalPath(path);
  const q = canonicalPath(prefix);
  return p !== undefined && q !== undefined && pathWithin(p, q);
}
