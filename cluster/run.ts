// `make cluster`: N instances sharing namespaces on one machine (docs/INSTANCES.md).
//   node cluster/run.ts [--instances N] [--duration S] [--produce RATE] [--changeset-size K] [--sizes MIN-MAX]
//                       [--no-auth] [--check]
// Without --duration it runs until Ctrl-C, printing how to reach each instance; with it, it stops by
// itself after S seconds and prints every instance's GET /instances. With --produce, `condcast produce`
// feeds instance 1 (prefix Inst1) at RATE objects/s for the duration. Each instance has its own local
// token issuer (cluster/local-issuers.ts) and wants tokens for writes and reads, unless --no-auth.
// --check (with --duration and --produce): exits 1 unless, once the producer stopped, every mirror has
// caught up and holds exactly instance 1's Inst1 namespace, as do the caches of every instance.
// Everything it creates (network namespaces ccsync<pid>-*, data directories, keys) is removed on exit.
// Needs root; run it under `flock /tmp/condcast-netns.lock` (the Makefile does).
import { parseArgs } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";
import { InstanceCluster, type InstanceHosts } from "./instances.ts";
import { LocalIssuers } from "./local-issuers.ts";

const { values } = parseArgs({
  options: {
    instances: { type: "string", default: "3" },
    duration: { type: "string" },
    produce: { type: "string" },
    "changeset-size": { type: "string", default: "0" },
    sizes: { type: "string", default: "1k-64k" },
    "no-auth": { type: "boolean", default: false },
    check: { type: "boolean", default: false },
  },
});
const n = Number(values.instances);
if (!Number.isInteger(n) || n < 2 || n > 9) throw new Error("--instances must be 2 to 9");
const duration = values.duration === undefined ? undefined : Number(values.duration);

if (values.check && (duration === undefined || values.produce === undefined)) throw new Error("--check needs --duration and --produce");
const issuers = values["no-auth"] ? undefined : new LocalIssuers();
const cluster = new InstanceCluster({ instances: n, ...(issuers === undefined ? {} : { auth: issuers }) });
let stopping = false;
const stop = async (code: number): Promise<never> => {
  if (!stopping) {
    stopping = true;
    await cluster.stop().catch((e: Error) => console.error(`teardown: ${e.message}`));
  }
  process.exit(code);
};
process.on("SIGINT", () => void stop(0));
process.on("SIGTERM", () => void stop(0));

try {
  await cluster.start();
  for (const inst of cluster.instances) {
    console.log(`${inst.name}: owns ${inst.prefix}/, repository ${inst.url} (netns ${inst.repository.netns}), group ${inst.group}:${inst.port}, caches ${inst.cacheUrls.join(" ")}`);
  }
  const first = cluster.instances[0]!;
  if (issuers === undefined) {
    console.log(`try: ip netns exec ${first.repository.netns} curl -s ${cluster.instances[1]!.url}/instances`);
  } else {
    const d = issuers.issuerDir(2);
    console.log(`tokens: ${cluster.dir}/issuer-<i>/*.token (caches: storage.read:/, producer: storage.create+modify:/Inst<i>, mirror-<j>: storage.read:/Inst<i>); mint more with bin/condcast token --dir ${d}/keys --issuer ${LocalIssuers.issuerOf(2)} --aud inst2 --scope "storage.read:/"`);
    console.log(`try: ip netns exec ${first.repository.netns} curl -s -H "Authorization: Bearer $(cat ${d}/caches.token)" ${cluster.instances[1]!.url}/instances`);
  }
  let producing: Promise<unknown> = Promise.resolve();
  if (values.produce !== undefined) {
    const args = ["--rate", values.produce, "--sizes", values.sizes, "--changeset-size", values["changeset-size"], "--keytable", "inst1", "--paths", Array.from({ length: 5 }, (_, i) => `Inst1/Det${i}/Calib`).join(","), "--update-every", "10", "--delete-every", "25"];
    producing = cluster.produce(1, [...args, "--duration", String(duration ?? 3600)]).then((r) => console.log(`producer: ${r.stdout.trim()} ${r.stderr.trim()}`));
  }
  if (duration === undefined) {
    console.log("running; Ctrl-C stops and removes everything");
    await new Promise(() => undefined);
  }
  await Promise.race([producing, sleep(duration! * 1000 + 5000)]);
  await sleep(2000);
  for (const inst of cluster.instances) console.log(`${inst.name} GET /instances: ${JSON.stringify(await cluster.getJson(inst.repository, `${inst.url}/instances`, readToken(inst)))}`);
  if (values.check) {
    const problems = await check();
    for (const p of problems) console.error(`check: ${p}`);
    console.log(problems.length === 0 ? "check: every mirror and every cache holds exactly Inst1 as its owner does" : `check: FAILED (${problems.length} problems)`);
    await stop(problems.length === 0 ? 0 : 1);
  }
  await stop(0);
} catch (error) {
  console.error(`cluster: ${(error as Error).stack ?? String(error)}`);
  await stop(1);
}

function readToken(inst: InstanceHosts): string | undefined {
  return issuers === undefined ? undefined : `${issuers.issuerDir(inst.index)}/caches.token`;
}

interface Listed {
  id: string;
  path: string;
  validFrom: number;
  validUntil: number;
  MD5: string;
  [key: string]: unknown;
}

/** Inst1 as a server lists it (every object, every version): id, path, validity, MD5 and metadata. */
async function listing(inst: InstanceHosts, url: string): Promise<Map<string, string>> {
  const body = (await cluster.getJson(inst.repository, `${url}/browse/Inst1/*`, readToken(inst))) as { objects: Listed[] };
  const out = new Map<string, string>();
  for (const o of body.objects) {
    // Last-Modified is when each server applied the latest change: its own time, not the object's.
    const { "Last-Modified": _m, lastModified: _l, ...kept } = o as Listed & { "Last-Modified"?: unknown; lastModified?: unknown };
    out.set(o.id, JSON.stringify(Object.fromEntries(Object.entries(kept).sort(([a], [b]) => a.localeCompare(b)))));
  }
  return out;
}

/** What differs between the owner's Inst1 and every mirror's and cache's, once the mirrors caught up. */
async function check(): Promise<string[]> {
  const owner = cluster.instances[0]!;
  const ownerLast = ((await cluster.getJson(owner.repository, `${owner.url}/status`, readToken(owner))) as { lastSequence: number }).lastSequence;
  const problems: string[] = [];
  const deadline = Date.now() + 30_000;
  for (const inst of cluster.instances.slice(1)) {
    for (;;) {
      const view = (await cluster.getJson(inst.repository, `${inst.url}/instances`, readToken(inst))) as { mirrors: { prefix: string; appliedSequence: number; ownerSequence: number }[] };
      const m = view.mirrors.find((x) => x.prefix === owner.prefix);
      if (m !== undefined && m.appliedSequence >= ownerLast) break;
      if (Date.now() > deadline) {
        problems.push(`${inst.name} applied ${m?.appliedSequence ?? "nothing"} of the owner's ${ownerLast} changes`);
        break;
      }
      await sleep(500);
    }
  }
  const want = await listing(owner, owner.url);
  if (want.size === 0) problems.push("the owner holds nothing under Inst1: the producer wrote nothing");
  await sleep(1000); // caches: the last multicasts and repairs
  for (const inst of cluster.instances) {
    for (const url of [...(inst === owner ? [] : [inst.url]), ...inst.cacheUrls]) {
      let got = await listing(inst, url);
      for (let tries = 0; tries < 20 && !same(want, got); tries++) {
        await sleep(500);
        got = await listing(inst, url);
      }
      if (!same(want, got)) {
        const missing = [...want.keys()].filter((k) => !got.has(k));
        const extra = [...got.keys()].filter((k) => !want.has(k));
        const differ = [...want.keys()].filter((k) => got.has(k) && got.get(k) !== want.get(k));
        problems.push(`${inst.name} ${url}: ${missing.length} missing, ${extra.length} extra, ${differ.length} differ${differ.length > 0 ? ` (${differ[0]}: ${got.get(differ[0]!)} != ${want.get(differ[0]!)})` : ""}`);
      }
    }
  }
  console.log(`check: owner holds ${want.size} objects under Inst1 (last sequence ${ownerLast})`);
  return problems;
}

function same(a: Map<string, string>, b: Map<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}
