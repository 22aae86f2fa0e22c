// Loading of the optional N-API addons that `make ts` builds from ts/native/*.c into dist/native (the
// sender's udp_batch.node, the receiver's udp_recv.node). An addon that is not built, or does not load,
// is null with the reason; its callers then take their JavaScript path.
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

export interface LoadedAddon<T> {
  readonly addon: T | null;
  /** Why `addon` is null (null when it loaded). */
  readonly error: Error | null;
}

const loaded = new Map<string, LoadedAddon<unknown>>();

/** Where an addon is looked for: next to this module when built (dist/native), and in the package's
 * dist/native when the TypeScript sources run directly (tests). */
function candidates(name: string): string[] {
  return [new URL(`./${name}.node`, import.meta.url), new URL(`../../dist/native/${name}.node`, import.meta.url)]
    .filter((u) => u.protocol === "file:")
    .map((u) => fileURLToPath(u));
}

/** The addon dist/native/<name>.node, loaded once. */
export function loadAddon<T>(name: string): LoadedAddon<T> {
  let result = loaded.get(name);
  if (result === undefined) {
    const file = candidates(name).find((f) => existsSync(f));
    if (file === undefined) {
      result = { addon: null, error: new Error(`native addon not built (dist/native/${name}.node)`) };
    } else {
      try {
        result = { addon: createRequire(import.meta.url)(file) as unknown, error: null };
      } catch (error) {
        result = { addon: null, error: error instanceof Error ? error : new Error(String(error)) };
      }
    }
    loaded.set(name, result);
  }
  return result as LoadedAddon<T>;
}
