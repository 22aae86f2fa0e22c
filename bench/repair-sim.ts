// The repository's repair load with and without FEC (docs/FEC.md): prints markdown tables from the
// analytic model of bench/repair-model.ts, cross-checked by its Monte Carlo, plus burst loss.
//
//   node bench/repair-sim.ts                 # the tables
//   node bench/repair-sim.ts --self-check    # also asserts the issue's figures and MC = analytic; exit 1 otherwise
//   options: --trials N (Monte Carlo pairs per cross-check case, default 20000), --seed S (default 1)
import { parseArgs } from "node:util";
import {
  binomialQuantile,
  binomialTail,
  describeLayout,
  layout,
  monteCarlo,
  predictRepair,
  requestsPerSecondForBlocks,
  type BurstModel,
  type Estimate,
  type RepairParams,
} from "./repair-model.ts";

const MiB = 2 ** 20;
/** "2 MB" of the issue: ~1500 datagrams, as SPEC 10.4's example (2 MiB = 1507 fragments). */
const TWO_MB = 2 * MiB;
/** The loss benchmark's objects (bench/run.ts TEN_MB). */
const TEN_MB = 10_000_000;
const FARM = { receivers: 2000, objectsPerSecond: 50 };
/** The loss benchmark: 4 caches, 20 objects, one every 0.5 s (bench/service.ts lossRecovery). */
const BENCH = { receivers: 4, objects: 20, objectsPerSecond: 2 };
const LOSSES = [0.00001, 0.0001, 0.001, 0.01, 0.05];
const PARITIES = [0, 0.02, 0.05, 0.1];

function pct(x: number): string {
  const s = (x * 100).toPrecision(2);
  return `${Number(s)} %`;
}

/** Three significant figures, thousands grouped; tiny values in exponent form. */
function num(x: number): string {
  if (x === 0) return "0";
  if (Math.abs(x) >= 1000) return Math.round(x).toLocaleString("en-US");
  if (Math.abs(x) >= 0.01) return String(Number(x.toPrecision(3)));
  return x.toExponential(1).replace("e-", "e−");
}

function share(x: number): string {
  if (x === 0) return "0";
  if (x >= 0.0001) return `${Number((x * 100).toPrecision(3))} %`;
  return `${(x * 100).toExponential(1).replace("e-", "e−")} %`;
}

function table(header: string[], rows: string[][]): string {
  return [`| ${header.join(" | ")} |`, `|${header.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");
}

function pm(e: Estimate, f: (x: number) => string): string {
  return `${f(e.mean)} ± ${f(e.stderr)}`;
}

// ---- the tables ----------------------------------------------------------------------------------------

function layoutTable(objectBytes: number): string {
  const rows = PARITIES.map((p) => {
    const l = layout({ objectBytes, parityRatio: p });
    return [p === 0 ? "none" : pct(p), l.fec ? String(l.blockLength) : "—", describeLayout(l), String(l.datagrams), share(l.overhead)];
  });
  return table(["parity", "B (default)", "blocks (k+m × count)", "datagrams per object", "bandwidth overhead"], rows);
}

function farmTable(): string {
  const header = ["loss \\ parity", ...PARITIES.map((p) => (p === 0 ? "none" : pct(p)))];
  const gets = LOSSES.map((loss) => [pct(loss), ...PARITIES.map((p) => num(predictRepair({ objectBytes: TWO_MB, parityRatio: p, lossRate: loss, ...FARM }).requestsPerSecond))]);
  const bytes = LOSSES.map((loss) => [pct(loss), ...PARITIES.map((p) => num(predictRepair({ objectBytes: TWO_MB, parityRatio: p, lossRate: loss, ...FARM }).httpBytesPerSecond / 1e6))]);
  const heads = LOSSES.map((loss) => [pct(loss), ...PARITIES.map((p) => num(predictRepair({ objectBytes: TWO_MB, parityRatio: p, lossRate: loss, ...FARM }).headsPerSecond))]);
  return [
    "Repair GETs per second at the repository (one multi-range GET per object that needs repair):",
    "",
    table(header, gets),
    "",
    `Repair payload served by the repository, MB/s (the multicast stream itself: ${num(predictRepair({ objectBytes: TWO_MB, parityRatio: 0, lossRate: 0, ...FARM }).multicastBytesPerSecond / 1e6)} MB/s without FEC, ${num(predictRepair({ objectBytes: TWO_MB, parityRatio: 0.05, lossRate: 0, ...FARM }).multicastBytesPerSecond / 1e6)} MB/s with 5 %):`,
    "",
    table(header, bytes),
    "",
    "HEADs per second on top (the metadata fragment lost and not rebuilt):",
    "",
    table(header, heads),
  ].join("\n");
}

function benchTable(): string {
  const pairs = BENCH.objects * BENCH.receivers;
  const rows: string[][] = [];
  for (const loss of [0.01, 0.05]) {
    for (const p of PARITIES) {
      const r = predictRepair({ objectBytes: TEN_MB, parityRatio: p, lossRate: loss, receivers: BENCH.receivers, objectsPerSecond: BENCH.objectsPerSecond });
      const lo = binomialQuantile(pairs, r.multicastShare, 0.05);
      const hi = binomialQuantile(pairs, r.multicastShare, 0.95);
      rows.push([
        pct(loss),
        p === 0 ? "none" : pct(p),
        describeLayout(r.layout),
        `${r.datagramsPerObject} (+${share(r.layout.overhead)})`,
        share(r.multicastShare),
        `${num(r.multicastShare * pairs)} (${lo}–${hi})`,
        num(r.requestsPerObject),
        num(r.headsPerObject),
        share(r.httpShare),
        num(r.requestsPerSecond),
      ]);
    }
  }
  return table(
    ["loss", "parity", "blocks", "datagrams per object", "complete by multicast alone", `of ${pairs} pairs (90 % range)`, "GETs per object per cache", "HEADs per object per cache", "HTTP bytes / object bytes", `GETs/s at the repository (${BENCH.receivers} caches, ${BENCH.objectsPerSecond} objects/s)`],
    rows,
  );
}

// ---- the issue's figures ------------------------------------------------------------------------------------

interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

const checks: Check[] = [];

function check(name: string, ok: boolean, detail: string): void {
  checks.push({ name, ok, detail });
}

/** Within half a unit of the last significant digit the issue states ("~1,500" → 1,450 … 1,550). */
function withinStated(value: number, stated: number, unit: number): boolean {
  return Math.abs(value - stated) <= unit / 2;
}

function issueTable(): string {
  const rows: string[][] = [];
  const smaller: string[] = [];
  const noFec = (bytes: number, loss: number): number => predictRepair({ objectBytes: bytes, parityRatio: 0, lossRate: loss, ...FARM }).requestsPerSecond;
  for (const [loss, stated, unit] of [[0.00001, 1500, 100], [0.0001, 14000, 1000], [0.001, 78000, 1000]] as const) {
    const v = noFec(TWO_MB, loss);
    const ok = withinStated(v, stated, unit);
    check(`issue: no FEC, 2 MiB, ${pct(loss)} loss ≈ ${stated.toLocaleString("en-US")}/s`, ok, `model ${num(v)}/s (tolerance ±${unit / 2})`);
    rows.push([`no FEC, ${pct(loss)} loss`, `~${stated.toLocaleString("en-US")}`, `${num(v)} (2 MiB: 1507 fragments)`, "—", "—", ok ? "yes" : "**no**"]);
    smaller.push(`${num(noFec(2_000_000, loss))} at ${pct(loss)}`);
  }
  const t = layout({ objectBytes: TWO_MB, parityRatio: 0 }).sourceFragments;
  const fullBlocks = Math.ceil(t / 200);
  for (const [parity, m, loss, stated] of [[0.02, 4, 0.001, 2], [0.05, 10, 0.01, 9]] as const) {
    const issue = requestsPerSecondForBlocks([{ k: 200, m, count: fullBlocks }], loss, FARM.receivers, FARM.objectsPerSecond);
    const fractional = requestsPerSecondForBlocks([{ k: 200, m, count: 1500 / 200 }], loss, FARM.receivers, FARM.objectsPerSecond);
    const ours200 = predictRepair({ objectBytes: TWO_MB, parityRatio: parity, blockLength: 200, lossRate: loss, ...FARM });
    const ours = predictRepair({ objectBytes: TWO_MB, parityRatio: parity, lossRate: loss, ...FARM });
    const ok = withinStated(issue, stated, 1);
    check(`issue: ${pct(parity)} parity, blocks of 200+${m}, ${pct(loss)} loss ≈ ${stated}/s`, ok, `${fullBlocks} full blocks of 200+${m}: ${num(issue)}/s (tolerance ±0.5); SPEC layout with B = 200: ${num(ours200.requestsPerSecond)}/s; default layout: ${num(ours.requestsPerSecond)}/s`);
    rows.push([
      `${pct(parity)} parity, ${pct(loss)} loss`,
      `about ${stated}`,
      `${num(issue)} (${fullBlocks} × 200+${m}); ${num(fractional)} (7.5 × 200+${m})`,
      `${num(ours200.requestsPerSecond)} (B = 200: ${describeLayout(ours200.layout)})`,
      `${num(ours.requestsPerSecond)} (${describeLayout(ours.layout)})`,
      ok ? "yes" : "**no**",
    ]);
  }
  return [
    table(["2000 receivers, 2 MB at 50 Hz", "issue (GETs/s)", "model, blocks as the issue counts them", "model, SPEC 10.2 with the issue's B", "model, SPEC defaults", "issue reproduced"], rows),
    "",
    `"2 MB" read as 2,000,000 bytes (1437 fragments, the end-to-end benchmark's objects) gives ${smaller.join(", ")} GETs/s without FEC.`,
  ].join("\n");
}

// ---- Monte Carlo against the analysis -------------------------------------------------------------------------

interface Case {
  readonly label: string;
  readonly params: RepairParams;
}

const CASES: Case[] = [
  { label: "2 MiB, no FEC, 0.01 % loss", params: { objectBytes: TWO_MB, parityRatio: 0, lossRate: 0.0001 } },
  { label: "2 MiB, no FEC, 0.1 % loss", params: { objectBytes: TWO_MB, parityRatio: 0, lossRate: 0.001 } },
  { label: "2 MiB, 2 % parity, 1 % loss", params: { objectBytes: TWO_MB, parityRatio: 0.02, lossRate: 0.01 } },
  { label: "2 MiB, 5 % parity, 3 % loss", params: { objectBytes: TWO_MB, parityRatio: 0.05, lossRate: 0.03 } },
  { label: "2 MiB, 5 % parity, B = 20, D = 3, 1 % loss", params: { objectBytes: TWO_MB, parityRatio: 0.05, blockLength: 20, interleaveDepth: 3, lossRate: 0.01 } },
  { label: "10 MB, 5 % parity, 5 % loss", params: { objectBytes: TEN_MB, parityRatio: 0.05, lossRate: 0.05 } },
  { label: "10 MB, 10 % parity, 5 % loss", params: { objectBytes: TEN_MB, parityRatio: 0.1, lossRate: 0.05 } },
  { label: "1 KB (one fragment), 5 % parity, 20 % loss", params: { objectBytes: 1000, parityRatio: 0.05, lossRate: 0.2 } },
];

/** |MC − analytic| of a mean in the Monte Carlo's standard errors. */
function z(mc: number, an: number, se: number): number {
  const diff = Math.abs(mc - an);
  if (diff <= 1e-12 * Math.max(1, Math.abs(an))) return 0;
  return se > 0 ? diff / se : Infinity;
}

/**
 * Two-sided exact binomial test: how likely a count at least this far from n·q is when the analytic
 * probability q is right. Exact, so rare events (a handful of HEADs) are judged fairly.
 */
function pValue(count: number, n: number, q: number): number {
  const atMost = 1 - binomialTail(n, q, count); // P(X ≤ count)
  const atLeast = binomialTail(n, q, count - 1); // P(X ≥ count)
  return Math.min(1, 2 * Math.min(atMost, atLeast));
}

/** Pass: every probability with p-value ≥ 1e-4 (about 3.9 σ) and every mean within 4 standard errors. */
const MIN_P = 1e-4;
const MAX_Z = 4;

function crossCheckTable(trials: number, seed: number): string {
  const rows: string[][] = [];
  for (const [i, c] of CASES.entries()) {
    const a = predictRepair(c.params);
    const mc = monteCarlo(c.params, { trials: Math.round(c.params.objectBytes > 5e6 ? trials / 4 : trials), seed: seed + i });
    const n = mc.trials;
    const blocks = a.layout.blockCount;
    const anBlock = a.blockFailures.reduce((s, b) => s + b.count * b.probability, 0) / blocks;
    const ps = {
      block: pValue(Math.round(mc.blockFailure.mean * n * blocks), n * blocks, anBlock),
      repair: pValue(Math.round(mc.repairProbability.mean * n), n, a.repairProbability),
      head: pValue(Math.round(mc.headsPerObject.mean * n), n, a.headsPerObject),
    };
    const zs = {
      fragments: z(mc.fragmentsPerObject.mean, a.fragmentsPerObject, mc.fragmentsPerObject.stderr),
      bytes: z(mc.httpShare.mean, a.httpShare, mc.httpShare.stderr),
    };
    const minP = Math.min(...Object.values(ps));
    const maxZ = Math.max(...Object.values(zs));
    const detail = [...Object.entries(ps).map(([k, v]) => `${k} p = ${v.toPrecision(2)}`), ...Object.entries(zs).map(([k, v]) => `${k} |z| = ${v.toFixed(1)}`)].join(", ");
    check(`Monte Carlo = analytic: ${c.label}`, minP >= MIN_P && maxZ <= MAX_Z, `${n} pairs: ${detail}`);
    rows.push([
      c.label,
      String(n),
      `${num(anBlock)} / ${pm(mc.blockFailure, num)}`,
      `${num(a.repairProbability)} / ${pm(mc.repairProbability, num)}`,
      `${num(a.fragmentsPerObject)} / ${pm(mc.fragmentsPerObject, num)}`,
      `${share(a.httpShare)} / ${pm(mc.httpShare, share)}`,
      `${num(a.headsPerObject)} / ${pm(mc.headsPerObject, num)}`,
      `${minP.toPrecision(2)} / ${maxZ.toFixed(1)}`,
    ]);
  }
  return table(["case (independent loss)", "pairs", "P(block undecodable): analytic / MC", "P(object needs repair)", "fragments fetched per object", "HTTP bytes / object bytes", "HEADs per object", "smallest p / largest abs(z)"], rows);
}

// ---- bursts ---------------------------------------------------------------------------------------------------------

function burstTable(objectBytes: number, loss: number, depths: number[], bursts: number[], trials: number, seed: number, perSecond: boolean): { text: string; results: Map<string, Estimate> } {
  const results = new Map<string, Estimate>();
  const header = ["mean burst (datagrams)", "no FEC", ...depths.map((d) => `5 %, D = ${d}`)];
  const scale = perSecond ? FARM.receivers * FARM.objectsPerSecond : 1;
  const cell = (e: Estimate): string => (perSecond ? `${num(e.mean * scale)} ± ${num(e.stderr * scale)}` : `${share(e.mean)} ± ${share(e.stderr)}`);
  const rows: string[][] = [];
  const value = (x: number): string => (perSecond ? num(x * scale) : share(x));
  const independent = ["independent (analytic)", value(predictRepair({ objectBytes, parityRatio: 0, lossRate: loss }).repairProbability)];
  for (const d of depths) independent.push(value(predictRepair({ objectBytes, parityRatio: 0.05, interleaveDepth: d, lossRate: loss }).repairProbability));
  rows.push(independent);
  for (const [i, b] of bursts.entries()) {
    const burst: BurstModel = { meanBurst: b };
    const row = [String(b)];
    const none = monteCarlo({ objectBytes, parityRatio: 0, lossRate: loss }, { trials, seed: seed + 100 * i, burst });
    row.push(cell(none.repairProbability));
    for (const d of depths) {
      // The same seed for every D: the same loss patterns, only the send order differs.
      const mc = monteCarlo({ objectBytes, parityRatio: 0.05, interleaveDepth: d, lossRate: loss }, { trials, seed: seed + 100 * i + 1, burst });
      results.set(`${b}/${d}`, mc.repairProbability);
      results.set(`${b}/loss`, { mean: mc.realizedLossRate, stderr: 0 });
      row.push(cell(mc.repairProbability));
    }
    rows.push(row);
  }
  return { text: table(header, rows), results };
}

// ---- main --------------------------------------------------------------------------------------------------------------

function main(): number {
  const { values } = parseArgs({
    options: {
      "self-check": { type: "boolean", default: false },
      trials: { type: "string", default: "20000" },
      seed: { type: "string", default: "1" },
    },
  });
  const trials = Number(values.trials);
  const seed = Number(values.seed);
  if (!(Number.isInteger(trials) && trials >= 100) || !Number.isInteger(seed)) {
    console.error("repair-sim: --trials must be an integer ≥ 100 and --seed an integer");
    return 2;
  }
  const started = performance.now();
  const out: string[] = [];
  const two = layout({ objectBytes: TWO_MB, parityRatio: 0.05 });
  check("SPEC 10.4 example: 2 MiB at the defaults is 7 blocks of 216+11", two.blockCount === 7 && two.largeBlockLength === 216 && two.parityCount === 11 && two.blockLength === 242, describeLayout(two));
  // Exactness checks of the analysis itself.
  const noFec = predictRepair({ objectBytes: TWO_MB, parityRatio: 0, lossRate: 0.0123 });
  check("without FEC the HTTP bytes are exactly the loss rate", Math.abs(noFec.httpShare - 0.0123) < 1e-12, `${noFec.httpShare}`);
  const tiny = binomialTail(255, 1e-5, 13);
  const leading = Math.exp(lnChoose(255, 14) + 14 * Math.log(1e-5) + 241 * Math.log1p(-1e-5));
  check("binomial tail keeps tiny probabilities (255 fragments, 1e-5 loss, > 13 lost)", Math.abs(tiny / leading - 1) < 1e-3, `${tiny.toExponential(4)} vs leading term ${leading.toExponential(4)}`);
  const naive = naiveTail(227, 0.05, 11);
  check("binomial tail = naive sum (227, 5 %, > 11)", Math.abs(binomialTail(227, 0.05, 11) / naive - 1) < 1e-9, `${binomialTail(227, 0.05, 11)} vs ${naive}`);

  out.push("### Layouts (SPEC 10.2 at the default B, 1392-byte fragments, 200 bytes of metadata)", "", "2 MiB objects:", "", layoutTable(TWO_MB), "", "10 MB objects:", "", layoutTable(TEN_MB), "");
  out.push(`### The farm: ${FARM.receivers} receivers, 2 MiB objects at ${FARM.objectsPerSecond} Hz, independent loss`, "", farmTable(), "");
  out.push(`### The loss benchmark: ${BENCH.receivers} caches, ${BENCH.objects} × 10 MB objects (10,000,000 B), independent loss`, "", benchTable(), "");
  out.push("### The issue's figures", "", issueTable(), "");
  out.push(`### Monte Carlo against the analysis (seed ${seed}; MC ± one standard error)`, "", crossCheckTable(trials, seed), "");
  const burstTrials = Math.max(500, Math.round(trials / 5));
  const farmBurst = burstTable(TWO_MB, 0.001, [1, 2, 4, 16], [10, 50, 200], trials, seed + 1000, true);
  out.push(
    "### Burst loss (Gilbert–Elliott, every datagram of a burst lost; Monte Carlo ± one standard error)",
    "",
    `Repair GETs/s at the repository, ${FARM.receivers} receivers, 2 MiB at ${FARM.objectsPerSecond} Hz, 0.1 % mean loss, ${trials} pairs per cell (7 blocks: D ≥ 7 is one group):`,
    "",
    farmBurst.text,
    "",
  );
  const benchBurst = burstTable(TEN_MB, 0.01, [1, 4, 16, 30], [10, 50, 200], burstTrials, seed + 2000, false);
  out.push(`Share of 10 MB objects needing repair at 1 % mean loss, ${burstTrials} pairs per cell (30 blocks: D = 30 is one group):`, "", benchBurst.text, "");
  const d1 = benchBurst.results.get("50/1")!;
  const d16 = benchBurst.results.get("50/16")!;
  check("interleaving pays under bursts (10 MB, 1 %, bursts of 50: D = 16 needs repair less than D = 1)", d1.mean - d16.mean > 4 * Math.hypot(d1.stderr, d16.stderr), `D = 1: ${share(d1.mean)}, D = 16: ${share(d16.mean)}`);
  for (const b of [10, 50, 200]) {
    const realized = benchBurst.results.get(`${b}/loss`)!.mean;
    check(`Gilbert–Elliott delivers the mean loss rate (bursts of ${b})`, Math.abs(realized / 0.01 - 1) < 0.1, `realized ${share(realized)} of datagrams`);
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(out.join("\n"));
  console.log(`(computed in ${seconds.toFixed(1)} s)`);
  if (!values["self-check"]) return 0;
  console.log("\n### Self-check\n");
  for (const c of checks) console.log(`${c.ok ? "ok  " : "FAIL"} ${c.name}: ${c.detail}`);
  const failed = checks.filter((c) => !c.ok).length;
  console.log(failed === 0 ? `\nrepair-sim: all ${checks.length} checks passed` : `\nrepair-sim: ${failed} of ${checks.length} checks FAILED`);
  return failed === 0 ? 0 : 1;
}

function lnChoose(n: number, k: number): number {
  let s = 0;
  for (let i = 0; i < k; i++) s += Math.log((n - i) / (i + 1));
  return s;
}

/** Σ_{j > m} C(n, j) p^j (1 − p)^(n − j) term by term in plain floating point (for moderate values). */
function naiveTail(n: number, p: number, m: number): number {
  let s = 0;
  for (let j = m + 1; j <= n; j++) s += Math.exp(lnChoose(n, j)) * p ** j * (1 - p) ** (n - j);
  return s;
}

process.exit(main());
