// `make cluster`: N instances sharing namespaces on one machine (docs/INSTANCES.md).
//   node cluster/run.ts [--instances N] [--duration S] [--produce RATE] [--changeset-size K] [--sizes MIN-MAX]
// Without --duration it runs until Ctrl-C, printing how to reach each instance; with it, it stops by
// itself after S seconds and prints every instance's GET /instances. With --produce, `condcast produce`
// feeds instance 1 (prefix Inst1) at RATE objects/s for the duration. Everything it creates (network
// namespaces ccsync<pid>-*, data directories) is removed on exit. Needs root; run it under
// `flock /tmp/condcast-netns.lock` (the Makefile does).
import { parseArgs } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";
import { InstanceCluster } from "./instances.ts";

const { values } = parseArgs({
  options: {
    instances: { type: "string", default: "3" },
    duration: { type: "string" },
    produce: { type: "string" },
    "changeset-size": { type: "string", default: "0" },
    sizes: { type: "string", default: "1k-64k" },
  },
});
const n = Number(values.instances);
if (!Number.isInteger(n) || n < 2 || n > 9) throw new Error("--instances must be 2 to 9");
const duration = values.duration === undefined ? undefined : Number(values.duration);

const cluster = new InstanceCluster({ instances: n });
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
  console.log(`try: ip netns exec ${first.repository.netns} curl -s ${cluster.instances[1]!.url}/instances`);
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
  for (const inst of cluster.instances) console.log(`${inst.name} GET /instances: ${JSON.stringify(await cluster.getJson(inst.repository, `${inst.url}/instances`))}`);
  await stop(0);
} catch (error) {
  console.error(`cluster: ${(error as Error).stack ?? String(error)}`);
  await stop(1);
}
