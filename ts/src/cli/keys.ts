// `condcast changeset`, `condcast keys` and `condcast runs`: open, fill, commit or abort a changeset on
// a repository; list, show, diff and wait for keys on a repository or a cache; start a run (its key's
// objects multicast again) and show runs (SPEC 11, spec/CLI.md). Each prints
// the server's JSON answer on one line; an HTTP error exits 1 with the server's reason.
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { multipartUpload } from "../server/http/multipart-upload.js";
import { UsageError, listFlag, parseFlags, requiredFlag, stringFlag } from "./options.js";
import { call, CLIENT_FLAGS, CLIENT_USAGE, sendRequest, useClientFlags } from "./server-request.js";

export const CHANGESET_USAGE = `usage: condcast changeset <action> --url REPOSITORY [options]
  open --keytable NAME [--lifetime MS]          prints the changeset (its id); it expires after MS
  upload --id ID --path P --valid-from MS --valid-until MS [--meta k=v]... FILE...
                                                each file into the open changeset, invisible until the commit
  commit --id ID [--remove PATH]... [--objects ID,ID...]   prints the new key
  abort --id ID
  show --id ID
${CLIENT_USAGE}`;

export const KEYS_USAGE = `usage: condcast keys <action> --url SERVER [options]    (a repository or a cache)
  list                                          the keytables and their current keys
  show --keytable NAME [--key K]                a key with its entries (the current one without --key)
  diff --keytable NAME --from K --to K          paths added, changed and removed
  wait --keytable NAME --after K [--wait MS]    returns once the server holds a key above K
${CLIENT_USAGE}`;

export const RUNS_USAGE = `usage: condcast runs <action> --url REPOSITORY [options]
  start --run N --keytable NAME [--only declared]
                                                records run N with the keytable's current key and
                                                multicasts every object of that key again (with --only
                                                declared: those at paths the caches' consumers declared);
                                                prints the run
  show --run N                                  the run, its key and how far its distribution got
  list                                          the most recent runs
${CLIENT_USAGE}`;

const FLAGS = {
  run: { type: "string" },
  only: { type: "string" },
  url: { type: "string" },
  keytable: { type: "string" },
  // Not --ttl: CONDCAST_TTL is the multicast TTL every command reads from the environment.
  lifetime: { type: "string" },
  id: { type: "string" },
  path: { type: "string" },
  "valid-from": { type: "string" },
  "valid-until": { type: "string" },
  meta: { type: "string", multiple: true },
  remove: { type: "string", multiple: true },
  objects: { type: "string" },
  key: { type: "string" },
  from: { type: "string" },
  to: { type: "string" },
  after: { type: "string" },
  wait: { type: "string" },
  help: { type: "boolean" },
  ...CLIENT_FLAGS,
} as const;

export async function runChangeset(argv: string[], env: NodeJS.ProcessEnv, out: NodeJS.WritableStream): Promise<number> {
  const args = parseFlags(argv, FLAGS, env);
  useClientFlags(args, env);
  if (args.values.help === true) {
    out.write(`${CHANGESET_USAGE}\n`);
    return 0;
  }
  const [action, ...files] = args.positionals;
  const base = requiredFlag(args, "url").replace(/\/+$/, "");
  switch (action) {
    case "open": {
      const lifetime = stringFlag(args, "lifetime");
      await call(out, `${base}/changesets`, { method: "POST", json: { keytable: requiredFlag(args, "keytable"), ...(lifetime === undefined ? {} : { ttlMs: Number(lifetime) }) } });
      return 0;
    }
    case "upload": {
      if (files.length === 0) throw new UsageError("changeset upload needs at least one FILE");
      const id = requiredFlag(args, "id");
      const meta = listFlag(args, "meta").map((m) => `/${m.split("=").map(encodeURIComponent).join("=")}`).join("");
      for (const file of files) {
        const form = multipartUpload("send", basename(file), readFileSync(file));
        const url = `${base}/${requiredFlag(args, "path")}/${requiredFlag(args, "valid-from")}/${requiredFlag(args, "valid-until")}${meta}`;
        // With the session's token and CA, as every other changeset request.
        const response = await sendRequest(url, { method: "POST", form, headers: { "condcast-changeset": id } });
        if (response.status !== 201) throw new Error(`upload of ${file} answered ${response.status}: ${response.text}`);
        out.write(`${JSON.stringify({ file, id: String(response.headers.etag ?? "").replaceAll('"', ""), changeset: id })}\n`);
      }
      return 0;
    }
    case "commit": {
      const objects = stringFlag(args, "objects");
      await call(out, `${base}/changesets/${requiredFlag(args, "id")}/commit`, { method: "POST", json: { removedPaths: listFlag(args, "remove"), ...(objects === undefined ? {} : { objects: objects.split(",") }) } });
      return 0;
    }
    case "abort":
      await call(out, `${base}/changesets/${requiredFlag(args, "id")}/abort`, { method: "POST" });
      return 0;
    case "show":
      await call(out, `${base}/changesets/${requiredFlag(args, "id")}`);
      return 0;
    default:
      throw new UsageError(`changeset: unknown action ${JSON.stringify(action)} (open, upload, commit, abort, show)`);
  }
}

export async function runKeys(argv: string[], env: NodeJS.ProcessEnv, out: NodeJS.WritableStream): Promise<number> {
  const args = parseFlags(argv, FLAGS, env);
  useClientFlags(args, env);
  if (args.values.help === true) {
    out.write(`${KEYS_USAGE}\n`);
    return 0;
  }
  const [action] = args.positionals;
  const base = requiredFlag(args, "url").replace(/\/+$/, "");
  switch (action) {
    case "list":
      await call(out, `${base}/keys`);
      return 0;
    case "show": {
      const key = stringFlag(args, "key");
      await call(out, `${base}/keys/${requiredFlag(args, "keytable")}${key === undefined ? "" : `/${key}`}`);
      return 0;
    }
    case "diff":
      await call(out, `${base}/keys/${requiredFlag(args, "keytable")}/diff?from=${requiredFlag(args, "from")}&to=${requiredFlag(args, "to")}`);
      return 0;
    case "wait": {
      const answer = (await call(out, `${base}/keys/${requiredFlag(args, "keytable")}?after=${requiredFlag(args, "after")}&wait=${stringFlag(args, "wait") ?? "30000"}`)) as { status?: number };
      return answer.status === 204 ? 3 : 0;
    }
    default:
      throw new UsageError(`keys: unknown action ${JSON.stringify(action)} (list, show, diff, wait)`);
  }
}

export async function runRuns(argv: string[], env: NodeJS.ProcessEnv, out: NodeJS.WritableStream): Promise<number> {
  const args = parseFlags(argv, FLAGS, env);
  useClientFlags(args, env);
  if (args.values.help === true) {
    out.write(`${RUNS_USAGE}\n`);
    return 0;
  }
  const [action] = args.positionals;
  const base = requiredFlag(args, "url").replace(/\/+$/, "");
  switch (action) {
    case "start":
      {
        const only = stringFlag(args, "only");
        await call(out, `${base}/runs/${requiredFlag(args, "run")}`, { method: "POST", json: { keytable: requiredFlag(args, "keytable"), ...(only === undefined ? {} : { only }) } });
      }
      return 0;
    case "show":
      await call(out, `${base}/runs/${requiredFlag(args, "run")}`);
      return 0;
    case "list":
      await call(out, `${base}/runs`);
      return 0;
    default:
      throw new UsageError(`runs: unknown action ${JSON.stringify(action)} (start, show, list)`);
  }
}
