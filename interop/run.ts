// The interop matrix (make interop): every implementation's sender to every implementation's receiver
// across real multicast between network-namespace hosts, per scenario column. Prints a markdown table
// at the end, writes it to out/interop.md, exits non-zero on any failure.
//
//   node interop/run.ts [--impls ts,cpp,java] [--scenarios plain,jumbo,...] [--skip-without-root]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { encodeObjectMeta } from "../ts/dist/wire/object.js";
import { fragmentSizeFor } from "../ts/dist/wire/constants.js";
import { BURST_COUNT, BURST_INTERVAL_MS, CHANGESET_SIZES, FEC_BURST_COUNT, FEC_BURST_SIZE, METADATA, SCENARIOS, writePayloads, type Payloads, type Scenario } from "./cases.ts";
import { implementations, missing, type Implementation } from "./implementations.ts";
import { runLossColumn, type CellResult } from "./loss.ts";
import { jsonLines, startIn, type Started } from "./process.ts";
import { Topology, loadTopologySpec, removeStale, type Host } from "./topology.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const GROUP = "239.255.77.1";
const PATH = "Interop/Matrix/Object";
const VALID_FROM = "1700000000000";
const VALID_UNTIL = "1900000000000";
// The matrix proves interoperability, not speed (bench/ measures that): 30 MB/s leaves a receiver
// sharing two cores with its sender room for scheduling stalls.
const RATE = "30000000";
const KEY_HEX = "5ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7";
const WRONG_KEY_HEX = "0badc0de0badc0de0badc0de0badc0de";

interface ObjectLine {
  id: string;
  size: number;
  [field: string]: unknown;
}

/** Loss columns with caches repairing over HTTP: loss percent and the repository's parity ratio. */
const LOSS_SCENARIOS: Record<string, { percent: number; fecParity: number }> = {
  "loss-1": { percent: 1, fecParity: 0 }, // HTTP repair alone
  "loss-5": { percent: 5, fecParity: 0.05 }, // the default parity, and HTTP for the blocks beyond it
};

/** Starts a receiver and resolves once it has joined the group. */
async function startReceiver(impl: Implementation, host: Host, port: number, count: number, timeoutS: number, keyFile: string | null): Promise<Started> {
  const args = ["--group", GROUP, "--port", String(port), "--interface", host.address, "--count", String(count), "--timeout", String(timeoutS)];
  if (keyFile) args.push("--key-file", keyFile, "--key-id", "5");
  const proc = startIn(host, impl.recv, args);
  // A receiver that never says it joined still gets its chance after 15 s.
  let deadline: NodeJS.Timeout | undefined;
  await Promise.race([proc.listening, new Promise<void>((resolve) => (deadline = setTimeout(resolve, 15_000)))]);
  clearTimeout(deadline);
  return proc;
}

function sendArgs(scenario: Scenario, host: Host, port: number, keyFile: string | null): string[] {
  const args = ["--group", GROUP, "--port", String(port), "--interface", host.address, "--datagram-size", String(scenario.datagramSize), "--rate", RATE, "--path", PATH, "--valid-from", VALID_FROM, "--valid-until", VALID_UNTIL];
  for (const m of METADATA) args.push("--meta", m);
  if (keyFile) args.push("--key-file", keyFile, "--key-id", "5");
  return args;
}


/** Compares what each receiver printed with what the sender printed, line by line by id. */
function compare(sent: ObjectLine[], received: ObjectLine[]): string[] {
  const problems: string[] = [];
  const byId = new Map(received.map((o) => [o.id, o]));
  for (const s of sent) {
    const r = byId.get(s.id);
    if (!r) {
      problems.push(`missing ${s.id} (${s.size} B)`);
      continue;
    }
    for (const field of Object.keys(s)) {
      if (JSON.stringify(s[field]) !== JSON.stringify(r[field])) problems.push(`${s.id} ${field}: sent ${JSON.stringify(s[field])}, got ${JSON.stringify(r[field])}`);
    }
  }
  if (received.length !== sent.length) problems.push(`received ${received.length} objects, sent ${sent.length}`);
  return problems;
}

interface ReceiverCounters {
  fragments?: number;
  fec?: { blocksDecoded: number; parityUsed: number; fragmentsRecovered: number };
}

async function runCell(scenario: Scenario, sender: Implementation, receivers: Implementation[], topo: Topology, payloads: Payloads, port: number, keyFile: string | null): Promise<CellResult[]> {
  if (scenario.changeset) return [await runChangesetCell(scenario, sender, receivers[0]!, topo, payloads.changeset, port)];
  const started = performance.now();
  const files = scenario.payloads === "fec" ? payloads.fec : payloads;
  const expected = files.singles.length + files.burst.length;
  const receiverHosts = receivers.map((_, i) => topo.host(`cache-${i + 1}`));
  const senderHost = topo.host(`sender-${sender.name}`);
  if (scenario.lossPercent !== undefined) {
    topo.segmentOnWire(senderHost, true);
    for (const host of receiverHosts) topo.injectLoss(host, port, scenario.lossPercent);
  }
  try {
    return await runCellWith(scenario, sender, receivers, receiverHosts, topo, files, expected, port, keyFile, started);
  } finally {
    if (scenario.lossPercent !== undefined) {
      topo.segmentOnWire(senderHost, false);
      for (const host of receiverHosts) topo.clearLoss(host);
    }
  }
}

async function runCellWith(
  scenario: Scenario,
  sender: Implementation,
  receivers: Implementation[],
  receiverHosts: Host[],
  topo: Topology,
  files: { singles: string[]; burst: string[] },
  expected: number,
  port: number,
  keyFile: string | null,
  started: number,
): Promise<CellResult[]> {
  const procs = await Promise.all(receivers.map((impl, i) => startReceiver(impl, receiverHosts[i]!, port, expected, 60, keyFile)));
  const senderHost = topo.host(`sender-${sender.name}`);
  const base = sendArgs(scenario, senderHost, port, keyFile);
  if (scenario.fecParity !== undefined) base.push("--fec-parity", String(scenario.fecParity));
  const singles = await startIn(senderHost, sender.send, [...files.singles, ...base]).done;
  const burst = await startIn(senderHost, sender.send, [...files.burst, ...base, "--interval", String(BURST_INTERVAL_MS)]).done;
  const sent = [...jsonLines<ObjectLine>(singles.stdout), ...jsonLines<ObjectLine>(burst.stdout)];
  // A sender that failed leaves nothing to wait for.
  if (singles.code !== 0 || burst.code !== 0) for (const p of procs) p.kill("SIGKILL");
  const outputs = await Promise.all(procs.map((p) => p.done));
  const seconds = (performance.now() - started) / 1000;
  const keepLogs = (cell: CellResult, i: number): CellResult => {
    if (cell.pass) return cell;
    // A failed cell keeps the sender's and the receiver's whole output, and says where.
    const dir = join(ROOT, "out", "interop", `${scenario.name}-${sender.name}-to-${receivers[i]!.name}-${new Date().toISOString().replace(/[:.]/g, "-")}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "sender.log"), `--- singles (exit ${singles.code})\n${singles.stdout}\n${singles.stderr}\n--- burst (exit ${burst.code})\n${burst.stdout}\n${burst.stderr}`);
    writeFileSync(join(dir, `receiver-${receivers[i]!.name}.log`), `exit ${outputs[i]!.code}\n--- stdout\n${outputs[i]!.stdout}\n--- stderr\n${outputs[i]!.stderr}`);
    return { ...cell, problems: [...cell.problems, `logs of the sender and the receiver: ${dir}`] };
  };
  return receivers.map((impl, i) => {
    const out = outputs[i]!;
    const received = jsonLines<ObjectLine>(out.stdout);
    const problems: string[] = [];
    if (singles.code !== 0 || burst.code !== 0) problems.push(`sender exited ${singles.code}/${burst.code}: ${(singles.stderr + burst.stderr).slice(0, 300)}`);
    if (sent.length !== expected) problems.push(`sender printed ${sent.length} objects, expected ${expected}`);
    if (out.code !== 0) problems.push(`receiver exited ${out.code}: ${out.stderr.split("\n").filter((l) => !l.includes('"counters"')).join(" ").slice(-300)}`);
    problems.push(...compare(sent, received).slice(0, 5));
    let note: string | undefined;
    if (scenario.lossPercent !== undefined) {
      // Parity must have done the work: datagrams were lost and fragments rebuilt.
      const line = out.stderr.split("\n").find((l) => l.includes('"event":"counters"'));
      const counters = line ? (JSON.parse(line) as ReceiverCounters) : {};
      const dropped = topo.droppedByLoss(receiverHosts[i]!);
      const fec = counters.fec;
      if (dropped === 0) problems.push("nftables dropped nothing");
      if (fec === undefined) problems.push(`no fec counters: ${line ?? "no counters line"}`);
      else if (fec.fragmentsRecovered === 0) problems.push("no fragment was rebuilt from parity");
      note = `${dropped} datagrams dropped by nftables; ${fec?.fragmentsRecovered ?? 0} fragments rebuilt in ${fec?.blocksDecoded ?? 0} blocks`;
    }
    return keepLogs(
      {
        scenario: scenario.name,
        sender: sender.name,
        receiver: impl.name,
        pass: problems.length === 0,
        objects: received.length,
        bytes: received.reduce((sum, o) => sum + o.size, 0),
        seconds,
        problems,
        ...(note === undefined ? {} : { note: `from ${sender.name}: ${note}` }),
      },
      i,
    );
  });
}

interface CommitLine {
  event: "commit";
  senderId: string;
  changeset: string;
  key: number;
  keytable: string;
  aborted: boolean;
}

interface LogLine {
  event?: string;
  id?: string;
  reason?: string;
  changeset?: string;
  senderId?: string;
  keytable?: string;
  key?: number;
  objects?: number;
  objectsDropped?: Record<string, number>;
  commitCopies?: number;
  fec?: { blocksDecoded: number; parityUsed: number; fragmentsRecovered: number };
}

/**
 * A changeset cell (SPEC 11): the sender sends the three files as a changeset it aborts, then as one it
 * commits as key 1 of `online`. The receiver must print exactly the committed three (each with the
 * changeset id, md5 right), in ascending id order, log the changeset event with objects 3, and drop the
 * aborted three as uncommitted: had it printed objects before their Commit, the aborted ones would show.
 */
async function runChangesetCell(scenario: Scenario, sender: Implementation, receiver: Implementation, topo: Topology, files: string[], port: number): Promise<CellResult> {
  const started = performance.now();
  const receiverHost = topo.host("cache-1");
  const senderHost = topo.host(`sender-${sender.name}`);
  if (scenario.lossPercent !== undefined) {
    topo.segmentOnWire(senderHost, true);
    // Commits are lost like every datagram: their copies (SPEC 4.5) carry them through.
    topo.injectLoss(receiverHost, port, scenario.lossPercent);
  }
  try {
    const proc = await startReceiver(receiver, receiverHost, port, files.length, 30, null);
    const base = [...sendArgs(scenario, senderHost, port, null), "--changeset", "new", "--keytable", "online"];
    if (scenario.fecParity !== undefined) base.push("--fec-parity", String(scenario.fecParity));
    const aborted = await startIn(senderHost, sender.send, [...files, ...base, "--abort"]).done;
    const committed = await startIn(senderHost, sender.send, [...files, ...base, "--key", "1"]).done;
    if (aborted.code !== 0 || committed.code !== 0) proc.kill("SIGKILL");
    const out = await proc.done;
    const seconds = (performance.now() - started) / 1000;
    const objectsOf = (text: string): ObjectLine[] => jsonLines<ObjectLine & { event?: string }>(text).filter((l) => l.event === undefined);
    const commitOf = (text: string): CommitLine | undefined => jsonLines<CommitLine>(text).find((l) => l.event === "commit");
    const sent = objectsOf(committed.stdout);
    const abortedSent = objectsOf(aborted.stdout);
    const commit = commitOf(committed.stdout);
    const received = objectsOf(out.stdout);
    const log = jsonLines<LogLine>(out.stderr);
    const counters = log.find((l) => l.event === "counters");
    const problems: string[] = [];
    if (aborted.code !== 0 || committed.code !== 0) problems.push(`sender exited ${aborted.code}/${committed.code}: ${(aborted.stderr + committed.stderr).slice(0, 300)}`);
    if (sent.length !== files.length || abortedSent.length !== files.length) problems.push(`sender printed ${abortedSent.length} + ${sent.length} objects, expected ${files.length} + ${files.length}`);
    if (commit === undefined || commit.aborted || commit.key !== 1 || commit.keytable !== "online") problems.push(`sender's commit line: ${JSON.stringify(commit)}`);
    if (commitOf(aborted.stdout)?.aborted !== true) problems.push(`sender's aborted commit line: ${JSON.stringify(commitOf(aborted.stdout))}`);
    if (out.code !== 0) problems.push(`receiver exited ${out.code}: ${out.stderr.split("\n").filter((l) => !l.includes('"counters"')).join(" ").slice(-300)}`);
    problems.push(...compare(sent, received).slice(0, 5));
    for (const r of received) if (r.changeset !== commit?.changeset) problems.push(`${r.id} printed with changeset ${JSON.stringify(r.changeset)}, committed ${commit?.changeset}`);
    const printedIds = received.map((r) => r.id);
    if (printedIds.join() !== [...printedIds].sort().join()) problems.push(`objects printed out of id order: ${printedIds.join(" ")}`);
    const abortedIds = new Set(abortedSent.map((o) => o.id));
    if (received.some((r) => abortedIds.has(r.id))) problems.push("printed objects of the aborted changeset");
    const delivered = log.filter((l) => l.event === "changeset");
    const want = { senderId: commit?.senderId, keytable: "online", key: 1, changeset: commit?.changeset, objects: files.length };
    if (delivered.length !== 1 || Object.entries(want).some(([k, v]) => delivered[0]![k as keyof LogLine] !== v)) problems.push(`changeset events ${JSON.stringify(delivered)}, expected one with ${JSON.stringify(want)}`);
    const uncommitted = log.filter((l) => l.event === "object_dropped" && l.reason === "uncommitted").map((l) => l.id);
    if (uncommitted.length !== abortedIds.size || uncommitted.some((id) => !abortedIds.has(id!))) problems.push(`uncommitted drops ${JSON.stringify(uncommitted)}, expected the aborted ${[...abortedIds].join(" ")}`);
    if (counters?.objectsDropped?.uncommitted !== abortedIds.size) problems.push(`counters objectsDropped.uncommitted ${counters?.objectsDropped?.uncommitted}, expected ${abortedIds.size}`);
    let note: string | undefined;
    if (scenario.lossPercent !== undefined) {
      const dropped = topo.droppedByLoss(receiverHost);
      if (dropped === 0) problems.push("nftables dropped nothing");
      note = `from ${sender.name}: ${dropped} datagrams dropped by nftables (Commits too); ${counters?.commitCopies ?? 0} Commit copies ignored; ${counters?.fec?.fragmentsRecovered ?? 0} fragments rebuilt in ${counters?.fec?.blocksDecoded ?? 0} blocks`;
    }
    const cell: CellResult = {
      scenario: scenario.name,
      sender: sender.name,
      receiver: receiver.name,
      pass: problems.length === 0,
      objects: received.length,
      bytes: received.reduce((sum, o) => sum + o.size, 0),
      seconds,
      problems,
      ...(note === undefined ? {} : { note }),
    };
    if (cell.pass) return cell;
    // A failed cell keeps the sender's and the receiver's whole output, and says where.
    const dir = join(ROOT, "out", "interop", `${scenario.name}-${sender.name}-to-${receiver.name}-${new Date().toISOString().replace(/[:.]/g, "-")}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "sender.log"), `--- aborted (exit ${aborted.code})\n${aborted.stdout}\n${aborted.stderr}\n--- committed (exit ${committed.code})\n${committed.stdout}\n${committed.stderr}`);
    writeFileSync(join(dir, `receiver-${receiver.name}.log`), `exit ${out.code}\n--- stdout\n${out.stdout}\n--- stderr\n${out.stderr}`);
    return { ...cell, problems: [...cell.problems, `logs of the sender and the receiver: ${dir}`] };
  } finally {
    if (scenario.lossPercent !== undefined) {
      topo.segmentOnWire(senderHost, false);
      topo.clearLoss(receiverHost);
    }
  }
}

/** A receiver keyed with the wrong key must deliver nothing and count the rejections. */
async function runWrongKeyCell(sender: Implementation, receiver: Implementation, topo: Topology, payloads: Payloads, port: number, keyFile: string, wrongKeyFile: string): Promise<CellResult> {
  const started = performance.now();
  const host = topo.host("cache-1");
  const proc = await startReceiver(receiver, host, port, 1, 4, wrongKeyFile);
  const senderHost = topo.host(`sender-${sender.name}`);
  const send = await startIn(senderHost, sender.send, [payloads.singles[3]!, ...sendArgs(SCENARIOS[2]!, senderHost, port, keyFile)]).done;
  const out = await proc.done;
  const problems: string[] = [];
  if (send.code !== 0) problems.push(`sender exited ${send.code}`);
  if (jsonLines<ObjectLine>(out.stdout).length !== 0) problems.push("received objects despite the wrong key");
  if (out.code === 0) problems.push("receiver exited 0 (expected a timeout)");
  const counters = out.stderr.split("\n").find((l) => l.includes('"event":"counters"'));
  const drops = counters ? ((JSON.parse(counters) as { drops?: Record<string, number> }).drops ?? {}) : {};
  if (!((drops.bad_mac ?? 0) > 0)) problems.push(`no bad_mac rejections counted: ${counters ?? "no counters line"}`);
  return { scenario: "hmac-wrong-key", sender: sender.name, receiver: receiver.name, pass: problems.length === 0, objects: 0, bytes: 0, seconds: (performance.now() - started) / 1000, problems };
}

function table(results: CellResult[]): string {
  const lines: string[] = [];
  for (const scenario of [...new Set(results.map((r) => r.scenario))]) {
    const rows = results.filter((r) => r.scenario === scenario);
    const receivers = [...new Set(rows.map((r) => r.receiver))];
    const description =
      SCENARIOS.find((s) => s.name === scenario)?.description ??
      (scenario === "hmac-wrong-key"
        ? "a receiver with the wrong key: no objects, bad_mac counted"
        : "random loss (nftables) on every cache host; the TypeScript caches repair from the repository on a third host");
    lines.push(`### ${scenario}: ${description}`, "", `| sender \\ receiver | ${receivers.join(" | ")} |`, `|---|${receivers.map(() => "---").join("|")}|`);
    for (const sender of [...new Set(rows.map((r) => r.sender))]) {
      const cells = receivers.map((receiver) => {
        const r = rows.find((x) => x.sender === sender && x.receiver === receiver);
        if (!r) return "";
        return `${r.pass ? "pass" : "**FAIL**"}: ${r.objects} obj, ${(r.bytes / 1e6).toFixed(1)} MB, ${r.seconds.toFixed(1)} s`;
      });
      lines.push(`| ${sender} | ${cells.join(" | ")} |`);
    }
    for (const r of rows.filter((x) => x.note)) lines.push(``, `- ${r.receiver}: ${r.note}`);
    lines.push("");
  }
  return lines.join("\n");
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      impls: { type: "string", default: "ts,cpp,java" },
      scenarios: { type: "string", default: [...SCENARIOS.map((s) => s.name), "hmac-wrong-key", ...Object.keys(LOSS_SCENARIOS)].join(",") },
      "skip-without-root": { type: "boolean", default: false },
    },
  });
  if (process.getuid?.() !== 0) {
    const message = "interop: the matrix needs root to create network namespaces (ip netns)";
    if (values["skip-without-root"]) {
      console.log(`${message}: skipped (--skip-without-root)`);
      return 0;
    }
    console.error(`${message}; run as root, or pass --skip-without-root`);
    return 1;
  }
  const all = implementations(ROOT);
  const impls = values.impls.split(",").map((name) => {
    const impl = all.find((i) => i.name === name);
    if (!impl) throw new Error(`unknown implementation ${name}`);
    return impl;
  });
  for (const impl of impls) {
    const why = missing(impl);
    if (why) {
      console.error(`interop: ${impl.name}: ${why} (run make build first)`);
      return 1;
    }
  }
  const wanted = values.scenarios.split(",");
  const work = mkdtempSync(join(tmpdir(), "condcast-interop-"));
  const boundary =
    fragmentSizeFor(1472, false) -
    encodeObjectMeta({
      path: PATH,
      validFrom: Number(VALID_FROM),
      validUntil: Number(VALID_UNTIL),
      created: Date.now(),
      contentType: "application/octet-stream",
      fileName: "boundary",
      md5: "0".repeat(32),
      metadata: Object.fromEntries(METADATA.map((m) => [m.slice(0, m.indexOf("=")), m.slice(m.indexOf("=") + 1)])),
    }).length;
  const payloads = writePayloads(work, boundary);
  writeFileSync(join(work, "key.hex"), KEY_HEX);
  writeFileSync(join(work, "wrong-key.hex"), WRONG_KEY_HEX);

  const stem = "ccx";
  removeStale(stem);
  const topo = new Topology({ prefix: `${stem}${process.pid % 10000}`, spec: loadTopologySpec(), mtu: 9000 });
  const cleanup = (): void => {
    topo.destroy();
    rmSync(work, { recursive: true, force: true });
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      cleanup();
      process.exit(130);
    });
  }
  const results: CellResult[] = [];
  let port = 43000;
  try {
    topo.create();
    for (const scenario of SCENARIOS.filter((s) => wanted.includes(s.name))) {
      setMtu(topo, scenario.mtu);
      const keyFile = scenario.hmac ? join(work, "key.hex") : null;
      for (const sender of impls) {
        const groups = scenario.allReceiversAtOnce ? [impls] : impls.map((r) => [r]);
        for (const receivers of groups) {
          const cells = await runCell(scenario, sender, receivers, topo, payloads, port++, keyFile);
          for (const c of cells) report(c);
          results.push(...cells);
        }
      }
    }
    if (wanted.includes("hmac-wrong-key")) {
      setMtu(topo, 1500);
      for (const sender of impls) {
        for (const receiver of impls) {
          const c = await runWrongKeyCell(sender, receiver, topo, payloads, port++, join(work, "key.hex"), join(work, "wrong-key.hex"));
          report(c);
          results.push(c);
        }
      }
    }
    const ts = impls.find((i) => i.name === "ts");
    for (const [name, loss] of Object.entries(LOSS_SCENARIOS)) {
      if (!wanted.includes(name) || ts === undefined) continue;
      setMtu(topo, 1500);
      const cells = await runLossColumn(loss.percent, loss.fecParity, topo, payloads, GROUP, port++, METADATA);
      for (const c of cells) report(c);
      results.push(...cells);
    }
  } finally {
    cleanup();
  }
  const markdown = `## Interop matrix\n\nObjects per cell: 0 B, 1 B, one full fragment (${boundary} B), 1 MB, 10 MB, and ${BURST_COUNT} small objects at ${1000 / BURST_INTERVAL_MS} Hz, with non-ASCII metadata (FEC columns: 1 MB, 10 MB and ${FEC_BURST_COUNT} objects of ${FEC_BURST_SIZE / 1000} kB at ${1000 / BURST_INTERVAL_MS} Hz; changeset columns: ${CHANGESET_SIZES.map((b) => (b >= 1e6 ? `${b / 1e6} MB` : `${b / 1000} kB`)).join(", ")} aborted, then committed); sender and receivers on separate network-namespace hosts joined by a bridge.\n\n${table(results)}`;
  console.log(`\n${markdown}`);
  mkdirSync(join(ROOT, "out"), { recursive: true });
  writeFileSync(join(ROOT, "out", "interop.md"), markdown);
  const failed = results.filter((r) => !r.pass);
  console.log(`interop: ${results.length - failed.length} passed, ${failed.length} failed`);
  return failed.length === 0 ? 0 : 1;
}

function setMtu(topo: Topology, mtu: number): void {
  for (const host of topo.hosts) topo.setMtu(host, mtu);
}

function report(c: CellResult): void {
  const status = c.pass ? "pass" : "FAIL";
  console.log(`interop: ${status} ${c.scenario} ${c.sender} -> ${c.receiver}: ${c.objects} objects, ${(c.bytes / 1e6).toFixed(1)} MB, ${c.seconds.toFixed(1)} s${c.note ? `; ${c.note}` : ""}`);
  for (const p of c.problems) console.log(`    ${p}`);
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
