// The loss columns: random loss (nftables, numgen) on the cache hosts; a TypeScript repository on its
// own host multicasts every upload; each TypeScript cache must end up with every object, complete and
// correct, by multicast plus HTTP range repair — never by falling back to a plain upstream fetch.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Implementation } from "./implementations.ts";
import type { Host, Topology } from "./topology.ts";

const CLIENT = join(dirname(fileURLToPath(import.meta.url)), "http-client.ts");
const PATH = "Interop/Loss/Object";

export interface LossCellResult {
  scenario: string;
  sender: string;
  receiver: string;
  pass: boolean;
  objects: number;
  bytes: number;
  seconds: number;
  problems: string[];
  note: string;
}

type Start = (host: Host, command: readonly string[], args: string[]) => { done: Promise<{ code: number | null; stdout: string; stderr: string }>; kill(): void };

export async function runLossColumn(
  percent: number,
  topo: Topology,
  ts: Implementation,
  files: { singles: string[]; burst: string[] },
  group: string,
  port: number,
  start: Start,
  metadata: string[],
): Promise<LossCellResult[]> {
  const started = performance.now();
  const node = [process.execPath];
  const serve = [ts.recv[0]!, "serve"];
  const repo = topo.host("repository");
  const caches = ["cache-1", "cache-2", "cache-3"].map((n) => topo.host(n));
  const dataDir = mkdtempSync(join(tmpdir(), "condcast-interop-repo-"));
  const multicast = ["--group", group, "--port", String(port), "--log-level", "warn"];
  const procs = [start(repo, serve, ["--role", "repository", "--listen", `${repo.address}:8080`, "--data-dir", dataDir, "--interface", repo.address, "--rate", "50000000", ...multicast])];
  for (const cache of caches) {
    topo.injectLoss(cache, port, percent);
    procs.push(start(cache, serve, ["--role", "cache", "--listen", `${cache.address}:8080`, "--upstream", `http://${repo.address}:8080`, "--interface", cache.address, "--repair-quiet", "100", "--repair-jitter", "100", ...multicast]));
  }
  const results: LossCellResult[] = [];
  try {
    for (const host of [repo, ...caches]) {
      const up = await start(host, node, [CLIENT, "wait", `http://${host.address}:8080`]).done;
      if (up.code !== 0) throw new Error(`${host.name}: ${up.stderr}`);
    }
    const uploader = topo.host("sender-ts");
    const repository = `http://${repo.address}:8080`;
    const singles = await start(uploader, node, [CLIENT, "upload", repository, PATH, "0", metadata.join(","), ...files.singles]).done;
    const burst = await start(uploader, node, [CLIENT, "upload", repository, PATH, "20", metadata.join(","), ...files.burst]).done;
    if (singles.code !== 0 || burst.code !== 0) throw new Error(`upload failed: ${singles.stderr}${burst.stderr}`);
    const expectedFile = join(dataDir, "expected.jsonl");
    writeFileSync(expectedFile, singles.stdout + burst.stdout);
    const expected = (singles.stdout + burst.stdout).split("\n").filter((l) => l.startsWith("{")).length;
    const verdicts = await Promise.all(caches.map((cache) => start(cache, node, [CLIENT, "verify", `http://${cache.address}:8080`, PATH, expectedFile, "60"]).done));
    verdicts.forEach((v, i) => {
      const cache = caches[i]!;
      const problems: string[] = [];
      let verdict = { objects: 0, bytes: 0, sources: {} as Record<string, number>, repairBytes: 0, problems: [] as string[] };
      if (v.code !== 0) problems.push(`verify failed: ${v.stderr.slice(0, 300)}`);
      else verdict = JSON.parse(v.stdout.trim().split("\n").at(-1)!) as typeof verdict;
      problems.push(...verdict.problems.slice(0, 5));
      if (verdict.objects !== expected) problems.push(`${verdict.objects} of ${expected} objects`);
      if ((verdict.sources.upstream ?? 0) > 0) problems.push(`${verdict.sources.upstream} objects fetched whole from upstream instead of repaired`);
      const dropped = topo.droppedByLoss(cache);
      results.push({
        scenario: `loss-${percent}%`,
        sender: "ts repository",
        receiver: `ts cache (${cache.name})`,
        pass: problems.length === 0,
        objects: verdict.objects,
        bytes: verdict.bytes,
        seconds: (performance.now() - started) / 1000,
        problems,
        note: `${dropped} datagrams dropped by nftables; objects by ${Object.entries(verdict.sources).map(([source, n]) => `${source}: ${n}`).join(", ")}; ${(verdict.repairBytes / 1e6).toFixed(2)} MB repaired over HTTP`,
      });
    });
  } finally {
    for (const p of procs) p.kill();
    await Promise.all(procs.map((p) => p.done));
    for (const cache of caches) topo.clearLoss(cache);
    rmSync(dataDir, { recursive: true, force: true });
  }
  return results;
}
