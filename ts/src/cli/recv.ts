// `condcast recv`: prints one JSON line per completed object; optionally writes payloads to a folder.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { DEFAULT_STAGED_TIMEOUT_MS } from "../receiver/changeset-stager.js";
import { RECEIVE_PATHS, Receiver, type ReceivePath } from "../receiver/receiver.js";
import type { ReceivedObject } from "../wire/object.js";
import { DEFAULT_RING_BYTES, MIN_RING_BYTES } from "../receiver/socket-worker.js";
import { networkOptions } from "./network-options.js";
import { commitFields, objectLine, objectLineJson } from "./object-json.js";
import { COMMON_FLAGS, UsageError, intFlag, numberFlag, parseFlags, stringFlag } from "./options.js";

export const RECV_FLAGS = {
  ...COMMON_FLAGS,
  out: { type: "string" },
  count: { type: "string" },
  timeout: { type: "string" },
  "drain-thread": { type: "string" },
  "receive-path": { type: "string" },
  "ring-size": { type: "string" },
  "stage-timeout": { type: "string" },
} as const;

export const RECV_USAGE = `usage: condcast recv [options]

Joins the group and prints one JSON line per completed object (stdout); logs and final counters go to
standard error as JSON lines.
  --out DIR        also write each payload to DIR/<id>
  --count N        exit 0 after N objects (a changeset's objects count when they are printed)
  --timeout S      exit 1 if not done after S seconds
  --stage-timeout MS
                   drop a changeset's staged objects (uncommitted) when neither committed nor
                   aborted within MS (default ${DEFAULT_STAGED_TIMEOUT_MS}); objects of a changeset are
                   printed only once its Commit and all of them are held, in id order
  --drain-thread on|off
                   read the socket on a thread of its own into a ring (default on)
  --receive-path native|worker|main
                   which: a native thread with recvmmsg (the default where built), a worker thread
                   with node:dgram, or none (as --drain-thread off); wins over --drain-thread
  --ring-size N    bytes of that ring (default 67108864)
  --group, --port, --interface, --ttl, --datagram-size, --rate, --key-file, --key-id: see spec/CLI.md
Every flag can also come from CONDCAST_<FLAG> (e.g. CONDCAST_COUNT).`;

export async function runRecv(argv: string[], env: NodeJS.ProcessEnv, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const args = parseFlags(argv, RECV_FLAGS, env);
  if (args.values.help) {
    out.write(`${RECV_USAGE}\n`);
    return 0;
  }
  const net = networkOptions(args);
  const count = intFlag(args, "count", undefined, 1, Number.MAX_SAFE_INTEGER);
  const timeoutSeconds = numberFlag(args, "timeout", 0, 0);
  const outDir = stringFlag(args, "out");
  const drainThread = stringFlag(args, "drain-thread") ?? "on";
  if (drainThread !== "on" && drainThread !== "off") throw new UsageError(`--drain-thread must be on or off, got ${drainThread}`);
  const receivePath = stringFlag(args, "receive-path") as ReceivePath | undefined;
  if (receivePath !== undefined && !(RECEIVE_PATHS as readonly string[]).includes(receivePath)) throw new UsageError(`--receive-path must be native, worker or main, got ${receivePath}`);
  const ringBytes = intFlag(args, "ring-size", DEFAULT_RING_BYTES, MIN_RING_BYTES, 2 ** 30);
  const stagedTimeoutMs = intFlag(args, "stage-timeout", DEFAULT_STAGED_TIMEOUT_MS, 1, 2 ** 31 - 1);
  if (outDir !== undefined) await mkdir(outDir, { recursive: true });

  const receiver = new Receiver({
    ...net,
    keys: net.key ? new Map([[net.key.id, net.key.key]]) : undefined,
    drainThread: drainThread === "on",
    receivePath,
    ringBytes,
    stagedTimeoutMs,
  });
  const log = (event: string, fields: object): void => {
    err.write(`${JSON.stringify({ event, ...fields })}\n`);
  };
  let received = 0;
  let writes: Promise<unknown> = Promise.resolve();
  const print = (object: ReceivedObject): void => {
    out.write(`${objectLineJson(objectLine(object.id, object.senderId, object.sequence, object.meta, object.payload.length))}\n`);
    if (outDir !== undefined) {
      const payload = object.payload;
      writes = writes.then(() => writeFile(join(outDir, object.id), payload));
    }
    received++;
  };
  const result = await new Promise<number>((resolve) => {
    const checkCount = (): void => {
      if (count !== undefined && received >= count) resolve(0);
    };
    receiver.on("object", (object) => {
      print(object);
      checkCount();
    });
    // A changeset's objects appear only once all of them and its Commit are held (SPEC 11).
    receiver.on("changeset", ({ commit, objects }) => {
      for (const object of objects) print(object);
      const { senderId, keytable, key, parentKey, changeset } = commit;
      log("changeset", { senderId, keytable, key, parentKey, changeset, objects: objects.length });
      checkCount();
    });
    receiver.on("gap", (gap) => log("gap", gap));
    receiver.on("commit", (commit) => log("commit", commitFields(commit)));
    receiver.on("commitIgnored", (ignored) => log("commit_ignored", ignored));
    receiver.on("dropped", (partial, reason) => log("object_dropped", { id: partial.objectId, reason }));
    receiver.on("uncommitted", (object, reason) => log("object_dropped", { id: object.id, reason }));
    receiver.on("error", (error) => {
      log("error", { message: error.message });
      resolve(1);
    });
    const stop = (): void => resolve(count === undefined ? 0 : 1);
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    if (timeoutSeconds > 0) setTimeout(() => {
      log("timeout", { seconds: timeoutSeconds, received, expected: count ?? null });
      resolve(1);
    }, timeoutSeconds * 1000).unref();
    receiver.start().then((info) => log("listening", info), (error: Error) => {
      log("error", { message: error.message });
      resolve(1);
    });
  });
  await writes;
  log("counters", receiver.counters.toJSON());
  await receiver.close();
  return result;
}
