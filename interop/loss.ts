// The loss columns: random loss (nftables, numgen) on the cache hosts; a TypeScript repository on its
// own host multicasts every upload; each TypeScript cache must end up with every object, complete and
// correct, by multicast plus HTTP range repair — never by falling back to a plain upstream fetch.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Cluster, httpClient } from "./cluster.ts";
import { jsonLines } from "./process.ts";
import type { Topology } from "./topology.ts";

const PATH = "Interop/Loss/Object";
const OUT = join(dirname(fileURLToPath(import.meta.url)), "..", "out", "interop");

/** One cell of the matrix table. */
export interface CellResult {
  scenario: string;
  sender: string;
  receiver: string;
  pass: boolean;
  objects: number;
  bytes: number;
  seconds: number;
  problems: string[];
  note?: string;
}

export async function runLossColumn(
  percent: number,
  fecParity: number,
  topo: Topology,
  files: { singles: string[]; burst: string[] },
  group: string,
  port: number,
  metadata: string[],
): Promise<CellResult[]> {
  const started = performance.now();
  const caches = ["cache-1", "cache-2", "cache-3"].map((n) => topo.host(n));
  const cluster = new Cluster(topo.host("repository"), caches, {
    group,
    port,
    // Every object shares one path and validity, so each upload supersedes the one before it and a
    // cache drops the superseded after --grace; longer than the verify's wait, or a cache that is slow
    // to complete the last object would lose the first ones and never hold all at once.
    cacheFlags: ["--repair-quiet", "100", "--repair-jitter", "100", "--grace", "600000"],
    repositoryFlags: ["--fec-parity", String(fecParity)],
    // Info: each fetch, repair and gap is a line, so a failed cell can be read afterwards.
    logLevel: "info",
  });
  // Every process's log and final /status, kept when a cell fails (and said where).
  const logDir = join(OUT, `loss-${percent}-parity-${fecParity}-${new Date().toISOString().replace(/[:.]/g, "-")}`);
  // Independent loss per datagram: the repository's GSO batches are cut up on its interface, as a NIC does.
  topo.segmentOnWire(topo.host("repository"), true);
  for (const cache of caches) topo.injectLoss(cache, port, percent);
  const results: CellResult[] = [];
  const work = mkdtempSync(join(tmpdir(), "condcast-interop-loss-"));
  try {
    await cluster.start();
    const uploader = topo.host("sender-ts");
    const singles = await httpClient(uploader, ["upload", cluster.repositoryUrl, PATH, "0", metadata.join(","), ...files.singles]);
    const burst = await httpClient(uploader, ["upload", cluster.repositoryUrl, PATH, "20", metadata.join(","), ...files.burst]);
    if (singles.code !== 0 || burst.code !== 0) throw new Error(`upload failed: ${singles.stderr}${burst.stderr}`);
    const expectedFile = join(work, "expected.jsonl");
    writeFileSync(expectedFile, singles.stdout + burst.stdout);
    const expected = jsonLines(singles.stdout + burst.stdout).length;
    const verdicts = await Promise.all(caches.map((cache, i) => httpClient(cache, ["verify", cluster.cacheUrls[i]!, PATH, expectedFile, "60"])));
    verdicts.forEach((v, i) => {
      const cache = caches[i]!;
      const problems: string[] = [];
      let verdict = { objects: 0, bytes: 0, sources: {} as Record<string, number>, repairBytes: 0, fecFragmentsRecovered: 0, problems: [] as string[] };
      if (v.code !== 0) problems.push(`verify failed: ${v.stderr.slice(0, 300)}`);
      else verdict = JSON.parse(v.stdout.trim().split("\n").at(-1)!) as typeof verdict;
      problems.push(...verdict.problems.slice(0, 5));
      if (verdict.objects !== expected) problems.push(`${verdict.objects} of ${expected} objects`);
      if ((verdict.sources.upstream ?? 0) > 0) problems.push(`${verdict.sources.upstream} objects fetched whole from upstream instead of repaired`);
      const dropped = topo.droppedByLoss(cache);
      results.push({
        scenario: `loss-${percent}%${fecParity > 0 ? ` with ${fecParity * 100}% parity` : ", no parity"}`,
        sender: "ts repository",
        receiver: `ts cache (${cache.name})`,
        pass: problems.length === 0,
        objects: verdict.objects,
        bytes: verdict.bytes,
        seconds: (performance.now() - started) / 1000,
        problems,
        note: `${dropped} datagrams dropped by nftables; objects by ${Object.entries(verdict.sources).map(([source, n]) => `${source}: ${n}`).join(", ")}; ${(verdict.repairBytes / 1e6).toFixed(2)} MB repaired over HTTP; ${verdict.fecFragmentsRecovered} fragments rebuilt from parity`,
      });
    });
  } finally {
    const failed = results.length !== caches.length || results.some((r) => !r.pass);
    if (failed) await cluster.saveStatus(logDir).catch(() => undefined);
    await cluster.stop(failed ? logDir : undefined);
    if (failed) {
      for (const r of results) r.problems.push(`logs and /status of every process: ${logDir}`);
      console.log(`interop: loss-${percent}%: logs and /status of every process kept in ${logDir}`);
    }
    topo.segmentOnWire(topo.host("repository"), false);
    for (const cache of caches) topo.clearLoss(cache);
    rmSync(work, { recursive: true, force: true });
  }
  return results;
}
