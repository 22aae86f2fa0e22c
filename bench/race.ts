// Issue 18 item 4: condcast raced against UFTP and Aeron on the same namespace hosts, in one run. One
// sender host, 3 receiver hosts on one bridge; one 10 MiB file, then 20 x 2 MB objects; 0 % and 1 %
// random loss (nftables numgen on the receivers). Per peer and case: seconds until every receiver holds
// every byte (MD5-checked), and sender-host veth tx bytes per byte delivered. `--quick`: smaller objects.
// Aeron: the jar's io.aeron.samples FileReceiver (embedded driver) per receiver, a MediaDriver plus
// FileSender on the sender (scripts/ensure-aeron.sh fetches the jar; AERON_JAR names it).
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Cluster, httpClient } from "../interop/cluster.ts";
import { Topology, loadTopologySpec, removeStale, run, type Host } from "../interop/topology.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const quick = process.argv.includes("--quick");
// `--condcast-only`: condcast's cases alone, repeated `--repeat N` times (comparing two builds of it).
const condcastOnly = process.argv.includes("--condcast-only");
const repeatArg = process.argv.indexOf("--repeat");
const repeat = repeatArg > 0 ? Number(process.argv[repeatArg + 1]) : 1;
const rateArg = process.argv.indexOf("--rate");
const condcastRate = rateArg > 0 ? Number(process.argv[rateArg + 1]) : 100_000_000;
const UFTP_PORT = 1044;
const CC_PORT = 45900;
const AERON_PORT = 40456;
const AERON_JAR = process.env.AERON_JAR ?? "";
const fcArg = process.argv.indexOf("--aeron-fc");
const AERON_FC = fcArg > 0 ? process.argv[fcArg + 1]! : "min,g:/3";
// Java 17 needs these for Agrona's unsafe access (shared/reference/multicast-peers.md).
// The same socket buffer request as UFTP's -B 8388608 (Aeron's default is 128 KiB: with it the receiver
// JVMs overflowed their sockets on this 2-core machine, thousands of drops per case even at 0 % loss).
const AERON_SOCKET = ["-Daeron.socket.so_rcvbuf=8388608", "-Daeron.socket.so_sndbuf=8388608"];
const JVM = ["--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED", "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED"];

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

/** The sender driver's NAK / retransmit system counters, as io.aeron.samples.AeronStat prints them. */
function aeronCounters(dir: string): Record<string, number> {
  let text = "";
  try {
    text = execFileSync("timeout", ["5", "java", ...JVM, "-cp", AERON_JAR, `-Daeron.dir=${dir}`, "io.aeron.samples.AeronStat"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  } catch (e) {
    text = String((e as { stdout?: string }).stdout ?? "");
  }
  const counters: Record<string, number> = {};
  for (const m of text.matchAll(/([\d,]+) - (NAKs received|Retransmits sent|Retransmitted bytes|Bytes sent|Heartbeats sent)\s*$/gm)) counters[m[2]!] = Number(m[1]!.replaceAll(",", ""));
  return counters;
}

/** UDP RcvbufErrors of a host (/proc/net/snmp of its namespace): datagrams dropped at a full socket. */
function udpRcvbufErrors(host: Host): number {
  const lines = run(host.netns, "cat", ["/proc/net/snmp"]).split("\n").filter((l) => l.startsWith("Udp:"));
  const [names, values] = lines.map((l) => l.split(/\s+/));
  return Number(values![names!.indexOf("RcvbufErrors")]);
}

/** Resolves once `child` printed `text` on stdout (or exited, or `ms` passed: then rejects). */
function waitOutput(child: ChildProcess, text: string, ms: number, out: { log: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no "${text}" within ${ms} ms`)), ms);
    child.stdout!.on("data", (d: Buffer) => { out.log += d.toString(); if (out.log.includes(text)) { clearTimeout(t); resolve(); } });
    child.on("exit", (code) => { clearTimeout(t); reject(new Error(`exited ${code} before "${text}"`)); });
  });
}

/**
 * Aeron 1.51.0 samples: FileReceiver (embedded MediaDriver) on each receiver, started first; then a
 * MediaDriver on the sender host, and the clock starts with the first FileSender. `oneJvm`: all files
 * through bench/aeron/SendFiles.java (FileSender.main per file in one JVM); otherwise one FileSender
 * process per file, one after another, through the same MediaDriver. Done when every receiver's copy of
 * every file has the right MD5 (FileReceiver maps each file at full length on file-create and fills it).
 */
async function aeronCase(topo: Topology, sender: Host, receivers: Host[], files: string[], workload: string, loss: number, work: string, oneJvm: boolean, classes: string): Promise<Row> {
  caseNo++;
  const tag = `${workload}-${loss}-${oneJvm ? "1jvm" : "njvm"}`;
  const channel = `aeron:udp?endpoint=239.255.4.${caseNo * 2 + 1}:${AERON_PORT}|interface=${loadTopologySpec().subnet}|ttl=1`;
  // The publication's flow control: min over a group of 3, so FileSender's isConnected() waits for all
  // 3 receivers (each image then starts at the file-create) and the sender paces to the slowest. With
  // Aeron's default (fc=max: the fastest receiver) 20 x 2 MB did not complete (bench/README.md).
  const senderChannel = `${channel}|fc=${AERON_FC}`;
  const java = (host: Host, dir: string, secs: number, args: string[]): ChildProcess =>
    spawn("timeout", [String(secs), "ip", "netns", "exec", host.netns, "java", ...JVM, "-cp", `${AERON_JAR}:${classes}`, `-Daeron.dir=${dir}`, "-Daeron.threading.mode=SHARED", ...AERON_SOCKET, `-Daeron.sample.channel=${host === sender ? senderChannel : channel}`, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  const shm = (name: string): string => `/dev/shm/condcast-race-aeron-${process.pid}-${name}`;
  const out = { log: "" };
  const procs: ChildProcess[] = [];
  const keep = (c: ChildProcess, name: string): ChildProcess => {
    procs.push(c);
    c.stderr!.on("data", (d: Buffer) => (out.log += `[${name}] ${d.toString()}`));
    return c;
  };
  const dirs = receivers.map((r, i) => { const d = join(work, `aeron-${tag}-${i}`); mkdirSync(d, { recursive: true }); return d; });
  const shmDirs = [...receivers.map((_, i) => shm(`r${i}`)), shm("s")];
  const want = files.map(md5);
  let seconds = Number.NaN;
  let tx = 0;
  let complete = false;
  const held = receivers.map(() => 0); // files verified, in order, per receiver
  try {
    for (const r of receivers) if (loss > 0) topo.injectLoss(r, AERON_PORT, loss);
    // FileReceiver takes the directory only when given 2 arguments.
    const rx = receivers.map((r, i) => keep(java(r, shmDirs[i]!, 150, ["io.aeron.samples.FileReceiver", dirs[i]!, "x"]), `r${i}`));
    await Promise.all(rx.map((c) => waitOutput(c, "Receiving from", 30_000, out)));
    const driver = keep(java(sender, shmDirs[3]!, 150, ["io.aeron.driver.MediaDriver"]), "driver");
    driver.stdout!.on("data", (d: Buffer) => (out.log += d.toString()));
    for (let i = 0; i < 300 && !existsSync(join(shmDirs[3]!, "cnc.dat")); i++) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 300));
    const rcv0 = receivers.map(udpRcvbufErrors);
    const tx0 = txBytes(sender);
    const t0 = performance.now();
    let senderFailed = "";
    let stopped = false;
    void (async () => {
      const batches = oneJvm ? [["SendFiles", ...files]] : files.map((f) => ["io.aeron.samples.FileSender", f]);
      for (const args of batches) {
        if (stopped) return;
        const c = keep(java(sender, shmDirs[3]!, 120, args), "sender");
        c.stdout!.on("data", (d: Buffer) => (out.log += d.toString()));
        const code = await waitExit(c, 125_000);
        if (code !== 0) { senderFailed = `sender exited ${code}`; return; }
      }
    })();
    const deadline = t0 + 120_000;
    while (performance.now() < deadline && !senderFailed && rx.every((c) => c.exitCode === null)) {
      for (const [i, d] of dirs.entries()) {
        while (held[i]! < files.length) {
          const got = join(d, files[held[i]!]!.split("/").at(-1)!);
          let ok = false;
          try { ok = md5(got) === want[held[i]!]; } catch { /* not created yet */ }
          if (!ok) break;
          held[i]!++;
        }
      }
      if (held.every((n) => n === files.length)) {
        seconds = (performance.now() - t0) / 1000;
        tx = txBytes(sender) - tx0;
        complete = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    if (!complete) {
      seconds = (performance.now() - t0) / 1000;
      tx = txBytes(sender) - tx0;
      out.log += `incomplete: ${senderFailed} held ${held.join(",")} of ${files.length}\n`;
    }
    stopped = true;
    // What the wire figure is made of: the sender driver's NAK and retransmit counters (AeronStat reads
    // its cnc.dat), the receivers' UDP receive-buffer drops, and the drops of the loss rule.
    console.error(JSON.stringify({ aeron: tag, sender: aeronCounters(shmDirs[3]!), rcvbufErrors: receivers.map((r, i) => udpRcvbufErrors(r) - rcv0[i]!), droppedByLoss: loss > 0 ? receivers.map((r) => topo.droppedByLoss(r)) : [] }));
  } finally {
    for (const c of procs) if (c.exitCode === null) c.kill("SIGTERM");
    await Promise.all(procs.map((c) => (c.exitCode === null ? waitExit(c, 10_000) : Promise.resolve(0))));
    for (const d of shmDirs) rmSync(d, { recursive: true, force: true });
    for (const r of receivers) topo.clearLoss(r);
  }
  if (!complete) writeFileSync(join(ROOT, "out", `race-aeron-${tag}.log`), out.log);
  const sizes = files.map((f) => statSync(f).size);
  const delivered = held.reduce((sum, n) => sum + sizes.slice(0, n).reduce((s, size) => s + size, 0), 0);
  const peer = `Aeron 1.51.0 fc=${AERON_FC} (${oneJvm ? "FileSender.main per file, 1 JVM" : "FileSender, 1 JVM per file"})`;
  return { peer, workload, loss, seconds, wireRatio: tx / Math.max(1, delivered), complete };
}
async function condcastCase(topo: Topology, sender: Host, receivers: Host[], uploader: Host, files: string[], workload: string, loss: number): Promise<Row> {
  caseNo++;
  const port = CC_PORT + caseNo * 2;
  const cluster = new Cluster(sender, receivers, { group: `239.255.89.${caseNo}`, port, datagramSize: 1472, rate: condcastRate, cacheFlags: ["--memory", "1G"] });
  topo.segmentOnWire(sender, true);
  for (const r of receivers) if (loss > 0) topo.injectLoss(r, port, loss);
  try {
    await cluster.start();
    const path = `Race/${workload}/L${loss}`;
    // The verifiers run from before the upload, polling each cache's listing every 10 ms; each
    // notes when its cache first listed every file (matched by MD5) and only then fetches and checks
    // them, so the time is delivery's, not the checking's (UFTP's is its sender's exit, Aeron's the
    // files' MD5 on disk). The uploads go back to back, one after the other's 201.
    const ready = receivers.map((_, i) => join(ROOT, "out", `race-verifier-${caseNo}-${i}.ready`));
    for (const f of ready) rmSync(f, { force: true });
    const verifying = receivers.map((c, i) => httpClient(c, ["verify-files", cluster.cacheUrls[i]!, path, "120", "10", ready[i]!, ...files]));
    for (let i = 0; i < 300 && !ready.every((f) => existsSync(f)); i++) await new Promise((r) => setTimeout(r, 50));
    if (!ready.every((f) => existsSync(f))) throw new Error("the verifiers did not start polling in 15 s");
    for (const f of ready) rmSync(f, { force: true });
    const tx0 = txBytes(sender);
    const up = await httpClient(uploader, ["upload", cluster.repositoryUrl, path, "0", "", ...files]);
    if (up.code !== 0) throw new Error(`uploads failed: ${up.stderr}`);
    // From the first upload request: the uploading client is a farm's long-running producer, so its
    // process start-up is not the transfer's (UFTP's C sender starts in a few ms; Aeron's JVM start is
    // counted, as its samples start one per transfer).
    const t0 = (JSON.parse(/\{"firstRequestAt":\d+\}/.exec(up.stderr)?.[0] ?? "{}") as { firstRequestAt?: number }).firstRequestAt;
    if (t0 === undefined) throw new Error(`the upload client did not say when it started: ${up.stderr}`);
    writeFileSync(join(ROOT, "out", `race-${workload}-${loss}.jsonl`), up.stdout);
    const verdicts = await Promise.all(verifying);
    // The upload's own bytes arrive on the sender host's veth (rx), not tx: tx is multicast + HTTP repair.
    const tx = txBytes(sender) - tx0;
    let delivered = 0;
    let complete = true;
    let heldAt = 0;
    for (const v of verdicts) {
      const verdict = JSON.parse(v.stdout.trim().split("\n").at(-1) ?? "{}") as { heldAt?: number; objects?: number; bytes?: number; problems?: string[] };
      complete &&= v.code === 0 && verdict.heldAt !== undefined && verdict.objects === files.length && (verdict.problems ?? []).length === 0;
      delivered += verdict.bytes ?? 0;
      heldAt = Math.max(heldAt, verdict.heldAt ?? Date.now());
    }
    const seconds = (heldAt - t0) / 1000;
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
    if (!AERON_JAR && !condcastOnly) throw new Error("AERON_JAR is unset (make bench-race sets it from scripts/ensure-aeron.sh)");
    const classes = join(work, "aeron-classes");
    if (!condcastOnly) execFileSync("javac", ["-cp", AERON_JAR!, "-d", classes, join(ROOT, "bench", "aeron", "SendFiles.java")], { stdio: ["ignore", "ignore", "inherit"] });
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
        for (let n = 0; n < repeat; n++) {
          rows.push(await condcastCase(topo, sender, receivers, uploader, files, name, loss));
          console.error(JSON.stringify(rows.at(-1)));
        }
        if (condcastOnly) continue;
        rows.push(await uftpCase(topo, sender, receivers, files, name, loss, work));
        console.error(JSON.stringify(rows.at(-1)));
        rows.push(await aeronCase(topo, sender, receivers, files, name, loss, work, false, classes));
        console.error(JSON.stringify(rows.at(-1)));
        if (files.length > 1) {
          rows.push(await aeronCase(topo, sender, receivers, files, name, loss, work, true, classes));
          console.error(JSON.stringify(rows.at(-1)));
        }
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
