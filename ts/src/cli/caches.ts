// `condcast caches`: the farm view of a repository (GET /caches, GET /caches/keys; docs/KEYS.md
// "Readiness and farm commits"). A table by default, the server's JSON answer on one line with --json;
// an HTTP error exits 1 with the server's reason.
import { UsageError, parseFlags, stringFlag } from "./options.js";
import { requestJson, CLIENT_FLAGS, CLIENT_USAGE, useClientFlags } from "./server-request.js";

export const CACHES_USAGE = `usage: condcast caches --url REPOSITORY [options]
  (no action)                                   every cache that reports: name, state, report age,
                                                keys, objects, bytes, last heartbeat, staged changesets
  --state ok|stale                              only caches in this state
  --keys [--keytable NAME]                      per keytable its recent keys, how many caches hold
                                                each, and the caches that lag
  --json                                        the server's JSON answer on one line
${CLIENT_USAGE}`;

const FLAGS = {
  url: { type: "string" },
  state: { type: "string" },
  keys: { type: "boolean" },
  keytable: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean" },
  ...CLIENT_FLAGS,
} as const;

interface CacheLine {
  name: string;
  state: string;
  ageMs: number;
  keys: { keytable: string; key: number }[];
  objects: number;
  bytes: number;
  heartbeatAgeMs: number | null;
  staged: { changeset: string; objects: number }[];
}

interface KeyLine {
  keytable: string;
  key: number;
  caches: number;
  keys: { key: number; held: number }[];
  laggingCount: number;
  lagging: { name: string; key: number }[];
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  ")).join("\n");
}

export async function runCaches(argv: string[], env: NodeJS.ProcessEnv, out: NodeJS.WritableStream): Promise<number> {
  const args = parseFlags(argv, FLAGS, env);
  useClientFlags(args, env);
  if (args.values.help === true) {
    out.write(`${CACHES_USAGE}\n`);
    return 0;
  }
  if (args.positionals.length > 0) throw new UsageError(`caches: unexpected argument ${JSON.stringify(args.positionals[0])}`);
  const url = stringFlag(args, "url");
  if (url === undefined) throw new UsageError("--url is required");
  const base = url.replace(/\/+$/, "");
  const json = args.values.json === true;
  if (args.values.keys === true) {
    const keytable = stringFlag(args, "keytable");
    const answer = (await requestJson(`${base}/caches/keys${keytable === undefined ? "" : `?keytable=${encodeURIComponent(keytable)}`}`)) as { keytables: KeyLine[] };
    if (json) out.write(`${JSON.stringify(answer)}\n`);
    else {
      const rows = [["KEYTABLE", "KEY", "CACHES", "HELD (key:caches)", "LAGGING"]];
      for (const k of answer.keytables) {
        rows.push([k.keytable, String(k.key), String(k.caches), k.keys.map((x) => `${x.key}:${x.held}`).join(" "), `${k.laggingCount}${k.lagging.length > 0 ? ` (${k.lagging.slice(0, 10).map((l) => `${l.name}@${l.key}`).join(", ")}${k.laggingCount > 10 ? ", ..." : ""})` : ""}`]);
      }
      out.write(`${table(rows)}\n`);
    }
    return 0;
  }
  const state = stringFlag(args, "state");
  if (state !== undefined && state !== "ok" && state !== "stale") throw new UsageError(`--state must be ok or stale, got ${JSON.stringify(state)}`);
  const answer = (await requestJson(`${base}/caches?limit=10000${state === undefined ? "" : `&state=${state}`}`)) as { caches: CacheLine[]; counts: { ok: number; stale: number } };
  if (json) {
    out.write(`${JSON.stringify(answer)}\n`);
    return 0;
  }
  const rows = [["NAME", "STATE", "AGE", "KEYS", "OBJECTS", "BYTES", "HEARTBEAT", "STAGED"]];
  for (const c of answer.caches) {
    rows.push([
      c.name,
      c.state,
      `${(c.ageMs / 1000).toFixed(1)}s`,
      c.keys.map((k) => `${k.keytable}/${k.key}`).join(",") || "-",
      String(c.objects),
      String(c.bytes),
      c.heartbeatAgeMs === null ? "never" : `${(c.heartbeatAgeMs / 1000).toFixed(1)}s`,
      c.staged.map((s) => `${s.changeset.slice(0, 8)}:${s.objects}`).join(",") || "-",
    ]);
  }
  out.write(`${table(rows)}\n${answer.counts.ok} ok, ${answer.counts.stale} stale\n`);
  return 0;
}
