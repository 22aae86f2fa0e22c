// Benchmark 6 for 1 KB alone, on loopback: a cache hit against nginx in the same run, with CPU per
// request of each server and (--cpu-prof DIR) a V8 CPU profile of the cache. A smaller driver for
// work on the hit path than `bench/run.ts --only 6`.
//
//   flock /tmp/condcast-netns.lock unshare -n bash -c 'ip link set lo up && node bench/rest-hit.ts [--seconds 5] [--cpu-prof DIR]'
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { restServing } from "./service.ts";

const { values } = parseArgs({ options: { seconds: { type: "string", default: "5" }, "cpu-prof": { type: "string" }, rounds: { type: "string", default: "1" } } });
const work = mkdtempSync(join(tmpdir(), "condcast-rest-hit-"));
try {
  for (let round = 0; round < Number(values.rounds); round++) {
    const [r] = await restServing(work, Number(values.seconds), { sizes: [["1KB", 1000]], ...(values["cpu-prof"] === undefined ? {} : { cpuProfDir: values["cpu-prof"] }) });
    console.log(JSON.stringify({ ...r, ratio: Number((r!.cacheRps / r!.nginxRps).toFixed(3)), cpuRatio: Number((r!.nginxCpuUs / r!.cacheCpuUs).toFixed(3)) }));
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
