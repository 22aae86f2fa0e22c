// `condcast produce`: a synthetic data producer. Feeds a repository fake calibration objects at a set
// rate, with sizes drawn from a distribution, over a set of paths, optionally grouped into changesets,
// with some validity changes and deletes mixed in; bounded by a count and/or a duration, then it stops
// and prints one JSON summary line. Deterministic for a given --seed (the payloads and the choices;
// not the server's ids or times).
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { UsageError, intFlag, numberFlag, parseFlags, requiredFlag, stringFlag } from "./options.js";
import { multipartUpload } from "../server/http/multipart-upload.js";
import { requestJson } from "./server-request.js";
import { parseBytes } from "./serve.js";

export const PRODUCE_FLAGS = {
  target: { type: "string" },
  rate: { type: "string" },
  sizes: { type: "string" },
  distribution: { type: "string" },
  paths: { type: "string" },
  "changeset-size": { type: "string" },
  keytable: { type: "string" },
  count: { type: "string" },
  duration: { type: "string" },
  "update-every": { type: "string" },
  "delete-every": { type: "string" },
  seed: { type: "string" },
  "token-file": { type: "string" },
  help: { type: "boolean" },
} as const;

export const PRODUCE_USAGE = `usage: condcast produce --target URL [options]

Uploads synthetic calibration objects to a repository at a steady rate, then stops and prints a JSON
summary ({"objects", "changesets", "updates", "deletes", "bytes", "seconds", "errors"}).
  --target URL              the repository (required)
  --rate N                  objects per second, default 10 (fractions allowed)
  --sizes MIN[-MAX]         payload sizes in bytes (suffix k, M), default 1k-64k
  --distribution uniform|log-uniform   how sizes are drawn between MIN and MAX, default log-uniform
  --paths P[,P...]          the paths written in turn, default Synthetic/Det0/Calib..Synthetic/Det4/Calib
  --changeset-size K        0: plain uploads (default); K > 0: every K objects go into one changeset of
                            --keytable, committed as one key (the paths of one changeset are distinct,
                            so K is at most the number of paths)
  --keytable NAME           the changesets' keytable, default synthetic
  --count N                 stop after N objects (default 100 unless --duration is given)
  --duration S              stop after S seconds
  --update-every N          after every N-th object, shorten the validity of an earlier one and tag it
                            (metadata quality=checked), default 0 = never
  --delete-every N          after every N-th object, delete an earlier plain upload, default 0 = never
  --seed N                  the random seed, default 1
  --token-file FILE         send Authorization: Bearer <the file's content> (read at every request)`;

interface ProduceOptions {
  target: string;
  rate: number;
  minSize: number;
  maxSize: number;
  logUniform: boolean;
  paths: string[];
  changesetSize: number;
  keytable: string;
  count: number;
  durationMs: number;
  updateEvery: number;
  deleteEvery: number;
  seed: number;
  tokenFile: string | undefined;
}

function produceOptions(argv: string[], env: NodeJS.ProcessEnv): ProduceOptions | "help" {
  const args = parseFlags(argv, PRODUCE_FLAGS, env);
  if (args.values.help) return "help";
  if (args.positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(args.positionals[0])}`);
  const target = requiredFlag(args, "target").replace(/\/+$/, "");
  try {
    new URL(target);
  } catch {
    throw new UsageError(`--target must be a URL, got ${JSON.stringify(target)}`);
  }
  const [minText, maxText] = (stringFlag(args, "sizes") ?? "1k-64k").split("-");
  const minSize = parseBytes(minText ?? "", "sizes");
  const maxSize = maxText === undefined ? minSize : parseBytes(maxText, "sizes");
  if (minSize < 1 || maxSize < minSize || maxSize > 1024 ** 3) throw new UsageError(`--sizes must be MIN[-MAX] with 1 <= MIN <= MAX <= 1G`);
  const distribution = stringFlag(args, "distribution") ?? "log-uniform";
  if (distribution !== "uniform" && distribution !== "log-uniform") throw new UsageError(`--distribution must be uniform or log-uniform`);
  const paths = (stringFlag(args, "paths") ?? "").split(",").map((p) => p.trim().replace(/^\/+|\/+$/g, "")).filter((p) => p !== "");
  if (paths.length === 0) for (let i = 0; i < 5; i++) paths.push(`Synthetic/Det${i}/Calib`);
  const changesetSize = intFlag(args, "changeset-size", 0, 0, 10_000);
  if (changesetSize > paths.length) throw new UsageError(`--changeset-size ${changesetSize} is more than the ${paths.length} paths (one object per path per changeset)`);
  const duration = stringFlag(args, "duration") === undefined ? 0 : numberFlag(args, "duration", 0, 0.001);
  const count = intFlag(args, "count", duration > 0 ? Number.MAX_SAFE_INTEGER : 100, 1, Number.MAX_SAFE_INTEGER);
  return {
    target,
    rate: numberFlag(args, "rate", 10, 0.001),
    minSize,
    maxSize,
    logUniform: distribution === "log-uniform",
    paths,
    changesetSize,
    keytable: stringFlag(args, "keytable") ?? "synthetic",
    count,
    durationMs: duration * 1000,
    updateEvery: intFlag(args, "update-every", 0, 0, 1_000_000),
    deleteEvery: intFlag(args, "delete-every", 0, 0, 1_000_000),
    seed: intFlag(args, "seed", 1, 0, 2 ** 31),
    tokenFile: stringFlag(args, "token-file"),
  };
}

/** mulberry32: a small seeded generator, so that a run can be repeated. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Written {
  path: string;
  validFrom: number;
}

export async function runProduce(argv: string[], env: NodeJS.ProcessEnv, out: NodeJS.WritableStream): Promise<number> {
  const o = produceOptions(argv, env);
  if (o === "help") {
    out.write(`${PRODUCE_USAGE}\n`);
    return 0;
  }
  const rnd = random(o.seed);
  const auth = (): Record<string, string> => (o.tokenFile === undefined ? {} : { authorization: `Bearer ${readFileSync(o.tokenFile, "utf8").trim()}` });
  const size = (): number => {
    if (o.minSize === o.maxSize) return o.minSize;
    if (!o.logUniform) return Math.floor(o.minSize + rnd() * (o.maxSize - o.minSize + 1));
    return Math.min(o.maxSize, Math.floor(Math.exp(Math.log(o.minSize) + rnd() * (Math.log(o.maxSize + 1) - Math.log(o.minSize)))));
  };
  const summary = { objects: 0, changesets: 0, updates: 0, deletes: 0, bytes: 0, seconds: 0, errors: 0, lastError: null as string | null };
  const plain: Written[] = [];
  const all: Written[] = [];
  const start = Date.now();
  const base = start - (start % 1000);
  let changeset: string | undefined;
  let inChangeset = 0;
  let pathIndex = 0;
  const upload = async (path: string, validFrom: number, payload: Buffer): Promise<void> => {
    const form = multipartUpload("blob", `${path.replaceAll("/", "_")}.bin`, payload);
    await requestJson(`${o.target}/${path}/${validFrom}/${validFrom + 86_400_000}/producer=condcast/seq=${summary.objects}`, { method: "POST", form, headers: { ...auth(), ...(changeset === undefined ? {} : { "condcast-changeset": changeset }) } });
  };
  const failed = (error: unknown): void => {
    summary.errors++;
    summary.lastError = (error as Error).message;
  };
  for (let i = 0; i < o.count; i++) {
    const due = start + (i * 1000) / o.rate;
    if (o.durationMs > 0 && due - start >= o.durationMs) break;
    const wait = due - Date.now();
    if (wait > 0) await sleep(wait);
    try {
      if (o.changesetSize > 0 && changeset === undefined) {
        changeset = ((await requestJson(`${o.target}/changesets`, { method: "POST", json: { keytable: o.keytable }, headers: auth() })) as { id: string }).id;
        inChangeset = 0;
      }
      const path = o.paths[pathIndex++ % o.paths.length]!;
      const validFrom = base + i * 1000;
      const n = size();
      const payload = Buffer.alloc(n);
      for (let b = 0; b < n; b++) payload[b] = Math.floor(rnd() * 256);
      await upload(path, validFrom, payload);
      summary.objects++;
      summary.bytes += n;
      const written = { path, validFrom };
      all.push(written);
      if (changeset === undefined) plain.push(written);
      if (changeset !== undefined && ++inChangeset >= o.changesetSize) {
        await requestJson(`${o.target}/changesets/${changeset}/commit`, { method: "POST", json: {}, headers: auth() });
        summary.changesets++;
        changeset = undefined;
      }
      if (o.updateEvery > 0 && summary.objects % o.updateEvery === 0) {
        const w = all[Math.floor(rnd() * all.length)]!;
        // Only committed objects can be changed: one of a changeset still open is skipped.
        if (changeset === undefined || !all.slice(-inChangeset).includes(w)) {
          await requestJson(`${o.target}/${w.path}/${w.validFrom}/${w.validFrom + 3_600_000}?quality=checked`, { method: "PUT", headers: auth() });
          summary.updates++;
        }
      }
      if (o.deleteEvery > 0 && summary.objects % o.deleteEvery === 0 && plain.length > 1) {
        const [w] = plain.splice(Math.floor(rnd() * (plain.length - 1)), 1);
        await requestJson(`${o.target}/${w!.path}/${w!.validFrom}`, { method: "DELETE", headers: auth() });
        all.splice(all.indexOf(w!), 1);
        summary.deletes++;
      }
    } catch (error) {
      failed(error);
    }
  }
  if (changeset !== undefined) {
    await requestJson(`${o.target}/changesets/${changeset}/commit`, { method: "POST", json: {}, headers: auth() }).then(() => summary.changesets++, failed);
  }
  summary.seconds = (Date.now() - start) / 1000;
  out.write(`${JSON.stringify(summary)}\n`);
  return summary.errors === 0 ? 0 : 1;
}
