// `condcast send <file>...`: sends each file as one object and prints one JSON line per object.
import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { DEFAULT_HEARTBEAT_INTERVAL_MS } from "../wire/constants.js";
import { isUuid, parseSenderId } from "../wire/ids.js";
import { isChangesetId, isKeytableName } from "../wire/object.js";
import type { OutgoingCommit } from "../sender/sender.js";
import { Sender } from "../sender/sender.js";
import { networkOptions } from "./network-options.js";
import { FEC_FLAGS, FEC_USAGE, fecOptions } from "./fec-options.js";
import { commitFields, objectLine, objectLineJson } from "./object-json.js";
import { COMMON_FLAGS, UsageError, intFlag, listFlag, parseFlags, stringFlag, type ParsedArgs } from "./options.js";

export const SEND_FLAGS = {
  ...COMMON_FLAGS,
  path: { type: "string" },
  "valid-from": { type: "string" },
  "valid-until": { type: "string" },
  meta: { type: "string", multiple: true },
  id: { type: "string" },
  "content-type": { type: "string" },
  filename: { type: "string" },
  "sender-id": { type: "string" },
  "heartbeat-interval": { type: "string" },
  interval: { type: "string" },
  changeset: { type: "string" },
  keytable: { type: "string" },
  key: { type: "string" },
  "parent-key": { type: "string" },
  remove: { type: "string", multiple: true },
  abort: { type: "boolean" },
  ...FEC_FLAGS,
} as const;

export const SEND_USAGE = `usage: condcast send <file|-> [<file>...] --path <ccdb/path> [options]

Sends each file as one object over multicast; prints one JSON line per object sent.
  --path P              CCDB path of the object(s) (required)
  --valid-from MS       start of validity, epoch ms (default: now)
  --valid-until MS      end of validity, epoch ms, exclusive (default: valid-from + 1 day)
  --meta K=V            metadata entry (repeatable)
  --id UUID             object id (only with one file; default: random)
  --content-type T      (default application/octet-stream)
  --filename NAME       (default: the file's base name)
  --sender-id HEX       16 hex digits (default: random)
  --heartbeat-interval MS  (default ${DEFAULT_HEARTBEAT_INTERVAL_MS}; 0 = none)
  --interval MS         pause between objects (default 0)
  --changeset ID|new    send the files as one changeset (SPEC 11): each object carries ID (new: a
                        random UUID), then one Commit follows, printed as {"event":"commit",...}
  --keytable NAME       the Commit's keytable (default online)
  --key N               the Commit's key, >= 1 (default 1)
  --parent-key N        the Commit's parent key, < key (default key - 1)
  --remove PATH         a path the new key no longer covers (repeatable)
  --abort               send an aborted Commit instead (key = parent key = 0)
${FEC_USAGE}
  --group, --port, --interface, --ttl, --datagram-size, --rate, --key-file, --key-id: see spec/CLI.md
Every flag can also come from CONDCAST_<FLAG> (e.g. CONDCAST_DATAGRAM_SIZE).`;

const DAY_MS = 86_400_000;

export async function runSend(argv: string[], env: NodeJS.ProcessEnv, out: NodeJS.WritableStream): Promise<number> {
  const args = parseFlags(argv, SEND_FLAGS, env);
  if (args.values.help) {
    out.write(`${SEND_USAGE}\n`);
    return 0;
  }
  const files = args.positionals;
  if (files.length === 0) throw new UsageError("send needs at least one file (or - for standard input)");
  const path = stringFlag(args, "path");
  if (path === undefined) throw new UsageError("--path is required");
  const id = stringFlag(args, "id")?.toLowerCase(); // the canonical form every receiver prints (SPEC 3)
  if (id !== undefined && (!isUuid(id) || files.length > 1)) throw new UsageError("--id takes a UUID and goes with exactly one file");
  const validFrom = intFlag(args, "valid-from", Date.now(), -(2 ** 53) + 1, 2 ** 53 - 1);
  const validUntil = intFlag(args, "valid-until", validFrom + DAY_MS, -(2 ** 53) + 1, 2 ** 53 - 1);
  if (validUntil <= validFrom) throw new UsageError("--valid-until must be after --valid-from");
  const metadata: Record<string, string> = Object.create(null) as Record<string, string>; // "__proto__" is a key like any other
  for (const entry of listFlag(args, "meta")) {
    const eq = entry.indexOf("=");
    if (eq <= 0) throw new UsageError(`--meta takes key=value, got ${JSON.stringify(entry)}`);
    metadata[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  const senderIdText = stringFlag(args, "sender-id");
  if (senderIdText !== undefined) {
    try {
      parseSenderId(senderIdText);
    } catch (error) {
      throw new UsageError(`--sender-id: ${(error as Error).message}`);
    }
  }
  const commitPlan = changesetPlan(args);
  const net = networkOptions(args);
  const interval = intFlag(args, "interval", 0, 0, 3_600_000);
  const sender = new Sender({
    ...net,
    ...fecOptions(args),
    senderId: senderIdText?.toLowerCase().padStart(16, "0"),
    heartbeatIntervalMs: intFlag(args, "heartbeat-interval", DEFAULT_HEARTBEAT_INTERVAL_MS, 0, 3_600_000),
  });
  await sender.start();
  const sentIds: string[] = [];
  try {
    for (const [n, file] of files.entries()) {
      if (n > 0 && interval > 0) await sleep(interval);
      const payload = file === "-" ? await readStdin() : await readFile(file);
      const sent = await sender.send({
        payload,
        path,
        validFrom,
        validUntil,
        id,
        contentType: stringFlag(args, "content-type"),
        fileName: stringFlag(args, "filename") ?? (file === "-" ? "stdin" : basename(file)),
        metadata,
        changeset: commitPlan?.changeset,
      });
      sentIds.push(sent.id);
      out.write(`${objectLineJson(objectLine(sent.id, sender.senderId, sent.sequence, sent.meta, payload.length))}\n`);
    }
    if (commitPlan !== null) {
      const sent = await sender.sendCommitAsSent({ ...commitPlan, objectCount: sentIds.length, objectIds: sentIds, committedAt: Date.now() });
      out.write(`${JSON.stringify({ event: "commit", ...commitFields(sent) })}\n`);
    }
  } finally {
    await sender.close();
  }
  return 0;
}

/** The Commit that --changeset asks for (without its objects), or null without --changeset. */
function changesetPlan(args: ParsedArgs): Omit<OutgoingCommit, "objectCount" | "objectIds" | "committedAt"> | null {
  const id = stringFlag(args, "changeset");
  if (id === undefined) {
    for (const flag of ["keytable", "key", "parent-key", "remove", "abort"]) {
      if (args.values[flag] !== undefined) throw new UsageError(`--${flag} goes with --changeset`);
    }
    return null;
  }
  const changeset = id === "new" ? randomUUID() : id;
  if (!isChangesetId(changeset)) throw new UsageError(`--changeset takes new or 1 to 64 characters of [A-Za-z0-9._-], got ${JSON.stringify(id)}`);
  const keytable = stringFlag(args, "keytable") ?? "online";
  if (!isKeytableName(keytable)) throw new UsageError(`--keytable takes 1 to 64 characters of [A-Za-z0-9._-], got ${JSON.stringify(keytable)}`);
  const removedPaths = listFlag(args, "remove");
  if (removedPaths.some((p) => p.length === 0)) throw new UsageError("--remove takes a non-empty path");
  const key = intFlag(args, "key", 1, 1, 2 ** 53 - 1);
  const parentKey = intFlag(args, "parent-key", key - 1, 0, 2 ** 53 - 1);
  if (parentKey >= key) throw new UsageError(`--parent-key must be below --key (${key}), got ${parentKey}`);
  // An aborted Commit makes no key (SPEC 4.5): --key and --parent-key are checked, then not sent.
  if (args.values.abort === true) return { keytable, key: 0, parentKey: 0, changeset, removedPaths, aborted: true };
  return { keytable, key, parentKey, changeset, removedPaths, aborted: false };
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
