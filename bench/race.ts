// Issue 18 item 4: condcast raced against UFTP on the same namespace hosts, in one run. One sender
// host, 3 receiver hosts on one bridge; one 10 MiB file, then 20 x 2 MB objects; 0 % and 1 % random
// loss (nftables numgen on the receivers). Per peer and case: seconds until every receiver holds every
// byte (MD5-checked), and sender-host veth tx bytes per byte delivered. `--quick`: smaller objects.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Cluster, httpClient } from "../interop/cluster.ts";
import { Topology, loadTopologySpec, removeStale, run, type Host } from "../interop/topology.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const quick = process.argv.includes("--quick");
const rateArg = process.argv.indexOf("--rate");
const condcastRate = rateArg > 0 ? Number(process.argv[rateArg + 1]) : 100_000_000;
const UFTP_PORT = 1044;
const CC_PORT = 45900;

interface Row { peer: string; workload: string; loss: number; seconds: number; wireRatio: number; complete: boolean }

function txBytes(host: Host): number {
  return Number(run(host.netns, "cat", ["/sys/class/net/eth0/statistics/tx_bytes"]).trim());
}
const md5 = (file: string): string => createHash("md5").update(readFileSync(file)).digest("hex");

function makeFiles(dir: string, count: number, size: number, stem: string): string[] {
  mkdirSync(dir, { recursive: true });
  return Array.from({ length: count }, (_, i) => {
    const f = join(dir, `${stem}-${i}.bin`);
    writeFileSync(f, randomBytes(size));
    return f;
  });
}

function waitExit(child: ChildProcess, ms: number): Promise<number> {
  return new Promise((resolve) => {
    const t = setTimeout(() => { child.kill("SIGKILL"); resolve(-1); }, ms);
    child.on("exit", (code) => { clearTimeout(t); resolve(code ?? -1); });
  });
}

async function uftpCase(topo: Topology, sender: Host, receivers: Host[], files: string[], workload: string, loss: number, work: string): Promise<Row> {
  const dirs = receivers.map((r, i) => { const d = join(work, `uftp-${workload}-${loss}-${i}`); mkdirSync(d, { recursive: true }); return d; });
  const daemons = receivers.map((r, i) => spawn("timeout", ["120", "ip", "netns", "exec", r.netns, "uftpd", "-d", "-I", "eth0", "-M", "239.255.3.1", "-D", dirs[i]!, "-B", "8388608", "-L", join(work, `uftpd-${i}.log`)], { stdio: "ignore" }));
  for (const r of receivers) if (loss > 0) topo.injectLoss(r, UFTP_PORT, loss);
  await new Promise((r) => setTimeout(r, 500));
  const tx0 = txBytes(sender);
  const t0 = performance.now();
  const uftp = spawn("timeout", ["120", "ip", "netns", "exec", sender.netns, "uftp", "-I", "eth0", "-M", "239.255.3.1", "-P", "239.255.3.2", "-R", "-1", "-B", "8388608", "-H", receivers.map((r) => r.address).join(","), ...files], { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  uftp.stderr!.on("data", (d: Buffer) => (log += d.toString()));
  const code = await waitExit(uftp, 125_000);
  const seconds = (performance.now() - t0) / 1000;
  const tx = txBytes(sender) - tx0;
  for (const d of daemons) d.kill("SIGTERM");
  await Promise.all(daemons.map((d) => waitExit(d, 5000)));
  for (const r of receivers) topo.clearLoss(r);
  const want = files.map(md5);
  let delivered = 0;
  let complete = code === 0;
  for (const d of dirs) {
    for (const [i, f] of files.entries()) {
      const got = join(d, f.split("/").at(-1)!);
      try { if (md5(got) === want[i]) delivered += readFileSync(got).length; else complete = false; } catch { complete = false; }
    }
  }
  if (!complete) writeFileSync(join(ROOT, "out", `race-uftp-${workload}-${loss}.log`), log);
  return { peer: "UFTP", workload, loss, seconds, wireRatio: tx / Math.max(1, delivered), complete };
}

let caseNo = 0;
async function condcastCase(topo: Topology, sender: Host, receivers: Host[], uploader: Host, files: string[], workload: string, loss: number): Promise<Row> {
  caseNo++;
  const port = CC_PORT + caseNo * 2;
  const cluster = new Cluster(sender, receivers, { group: `239.255.89.${caseNo}`, port, datagramSize: 1472, rate: condcastRate, cacheFlags: ["--memory", "1G"] });
  topo.segmentOnWire(sender, true);
  for (const r of receivers) if (loss > 0) topo.injectLoss(r, port, loss);
  try {
    await cluster.start();
    const path = `Race/${workload}/L${loss}`;
    const tx0 = txBytes(sender);
    const t0 = performance.now();
    const up = await httpClient(uploader, ["upload", cluster.repositoryUrl, path, "500", "", ...files]);
    if (up.code !== 0) throw new Error(`uploads failed: ${up.stderr}`);
    const expected = join(ROOT, "out", `race-${workload}-${loss}.jsonl`);
    writeFileSync(expected, up.stdout);
    const verdicts = await Promise.all(receivers.map((c, i) => httpClient(c, ["verify", cluster.cacheUrls[i]!, path, expected, "120"])));
    const seconds = (performance.now() - t0) / 1000;
    // The upload's own bytes arrive on the sender host's veth (rx), not tx: tx is multicast + HTTP repair.
    const tx = txBytes(sender) - tx0;
    let delivered = 0;
    let complete = true;
    for (const v of verdicts) {
      const verdict = JSON.parse(v.stdout.trim().split("\n").at(-1) ?? "{}") as { objects?: number; bytes?: number; problems?: string[] };
      complete &&= v.code === 0 && verdict.objects === files.length && (verdict.problems ?? []).length === 0;
      delivered += verdict.bytes ?? 0;
    }
    return { peer: `condcast (repository + 3 caches, --rate ${condcastRate / 1e6} MB/s)`, workload, loss, seconds, wireRatio: tx / Math.max(1, delivered), complete };
  } finally {
    await cluster.stop();
    topo.segmentOnWire(sender, false);
    for (const r of receivers) topo.clearLoss(r);
  }
}

async function main(): Promise<void> {
  if (execFileSync("bash", ["-c", "pgrep -a uftpd || true"], { encoding: "utf8" }).trim()) throw new Error("a uftpd runs outside the namespaces: stop it first");
  removeStale("ccr");
  const spec = loadTopologySpec();
  const topo = new Topology({ prefix: `ccr${process.pid % 10000}`, spec, mtu: 1500 });
  const work = mkdtempSync(join(tmpdir(), "condcast-race-"));
  mkdirSync(join(ROOT, "out"), { recursive: true });
  const rows: Row[] = [];
  try {
    topo.create();
    const sender = topo.host("repository");
    const receivers = ["cache-1", "cache-2", "cache-3"].map((n) => topo.host(n));
    const uploader = topo.host("sender-ts");
    const workloads: [string, string[]][] = [
      ["1x10MiB", makeFiles(join(work, "src"), 1, quick ? 2 * 1048576 : 10 * 1048576, "big")],
      ["20x2MB", makeFiles(join(work, "src"), quick ? 5 : 20, 2_000_000, "obj")],
    ];
    for (const loss of [0, 1]) {
      for (const [name, files] of workloads) {
        rows.push(await condcastCase(topo, sender, receivers, uploader, files, name, loss));
        console.error(JSON.stringify(rows.at(-1)));
        rows.push(await uftpCase(topo, sender, receivers, files, name, loss, work));
        console.error(JSON.stringify(rows.at(-1)));
      }
    }
  } finally {
    topo.destroy();
    rmSync(work, { recursive: true, force: true });
  }
  const lines = ["| workload | loss | peer | seconds | wire bytes / delivered byte | complete | condcast / peer (time) |", "|---|---|---|---|---|---|---|"];
  for (const r of rows) {
    const cc = rows.find((x) => x.workload === r.workload && x.loss === r.loss && x.peer.startsWith("condcast"))!;
    lines.push(`| ${r.workload} | ${r.loss} % | ${r.peer} | ${r.seconds.toFixed(2)} | ${r.wireRatio.toFixed(3)} | ${r.complete ? "yes" : "NO"} | ${r.peer.startsWith("condcast") ? "" : (cc.seconds / r.seconds).toFixed(2)} |`);
  }
  const table = lines.join("\n");
  console.log(table);
  writeFileSync(join(ROOT, "out", `bench-race${quick ? "-quick" : ""}.md`), table + "\n");
  writeFileSync(join(ROOT, "out", `bench-race${quick ? "-quick" : ""}.json`), JSON.stringify(rows, null, 2));
}

await main();
