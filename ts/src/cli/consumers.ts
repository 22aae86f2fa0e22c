// `condcast consumers`: a local process declares on its cache the paths and <prefix>/* patterns it
// reads (renewed by declaring again before --ttl runs out), leaves, or lists the declarations (a cache:
// its own; a repository: the farm's). docs/KEYS.md "Consumers", spec/CLI.md. Each prints the server's
// JSON answer on one line; an HTTP error exits 1 with the server's reason.
import { UsageError, listFlag, parseFlags, requiredFlag, stringFlag } from "./options.js";
import { call, CLIENT_FLAGS, CLIENT_USAGE, useClientFlags } from "./server-request.js";

export const CONSUMERS_USAGE = `usage: condcast consumers <action> --url SERVER [options]
  declare --name NAME [--path P]... [--pattern PREFIX/*]... [--ttl MS]
                                                declares (or renews) what NAME reads on a cache, for
                                                MS (default 60000); declare again before it runs out
  leave --name NAME                             drops the declaration
  list                                          a cache: its declarations, what is held; a repository:
                                                the farm's declarations and how many caches hold each
${CLIENT_USAGE}`;

const FLAGS = {
  url: { type: "string" },
  name: { type: "string" },
  path: { type: "string", multiple: true },
  pattern: { type: "string", multiple: true },
  ttl: { type: "string" },
  help: { type: "boolean" },
  ...CLIENT_FLAGS,
} as const;

export async function runConsumers(argv: string[], env: NodeJS.ProcessEnv, out: NodeJS.WritableStream): Promise<number> {
  const args = parseFlags(argv, FLAGS, env);
  useClientFlags(args, env);
  if (args.values.help === true) {
    out.write(`${CONSUMERS_USAGE}\n`);
    return 0;
  }
  const [action] = args.positionals;
  const base = requiredFlag(args, "url").replace(/\/+$/, "");
  switch (action) {
    case "declare": {
      const ttl = stringFlag(args, "ttl") ?? "60000";
      if (!/^\d{1,9}$/.test(ttl)) throw new UsageError(`--ttl must be milliseconds, got ${JSON.stringify(ttl)}`);
      const name = encodeURIComponent(requiredFlag(args, "name"));
      await call(out, `${base}/consumers/${name}`, { method: "PUT", json: { paths: listFlag(args, "path"), patterns: listFlag(args, "pattern"), ttlMs: Number(ttl) } });
      return 0;
    }
    case "leave":
      await call(out, `${base}/consumers/${encodeURIComponent(requiredFlag(args, "name"))}`, { method: "DELETE" });
      return 0;
    case "list":
      await call(out, `${base}/consumers`);
      return 0;
    default:
      throw new UsageError(`consumers: unknown action ${JSON.stringify(action)} (declare, leave, list)`);
  }
}
