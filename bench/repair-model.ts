// The repository's HTTP repair load under forward error correction (SPEC 10), analytically and by a
// seeded Monte Carlo. docs/FEC.md explains the model; bench/repair-sim.ts prints its tables.
//
// One object at one receiver: the sender sends T source fragments plus N·m parity fragments in the
// order of SPEC 10.4; each datagram is lost independently with probability p (or, in the Monte Carlo
// only, by a Gilbert–Elliott burst process). A block of k + m fragments decodes when it lost at most
// m of them (any k of k + m rebuild it, SPEC 10.5). An object with any undecodable block is repaired
// with one multi-range GET (plus one HEAD when its metadata is among the missing bytes, SPEC 8),
// asking for only k − h source fragments of each undecodable block that holds h fragments (SPEC 5.2).
// Without FEC the whole object is one pseudo-block with k = T and m = 0: it "decodes" only when
// nothing is lost, and every lost fragment is fetched, so one set of formulas covers both cases.
//
// Pure computation, no dependencies beyond the language: usable from the benchmarks
// (`predictRepair`) and from tests.

/** SPEC 2.4: 1472-byte datagrams less preamble and the largest Fragment header. */
export const DEFAULT_FRAGMENT_SIZE = 1392;
/** SPEC 10.4: blocks per interleave group. */
export const DEFAULT_INTERLEAVE = 16;
/** A typical encoded ObjectMeta (path, three times, content type, file name, MD5, a few keys). */
export const DEFAULT_METADATA_BYTES = 200;
const PARITY_UNITS = 10_000;
const MAX_BLOCK_SYMBOLS = 255;

export interface RepairParams {
  /** Payload bytes of one object (the envelope adds `metadataBytes` in front). */
  readonly objectBytes: number;
  /** Encoded ObjectMeta at the head of the envelope; must fit in fragment 0. Default 200. */
  readonly metadataBytes?: number;
  /** Envelope bytes per datagram. Default 1392 (1472-byte datagrams, no auth). */
  readonly fragmentSize?: number;
  /** Parity ratio p of SPEC 10.4 (0 … 1, taken in units of 1/10000); 0 = no FEC. */
  readonly parityRatio: number;
  /** Largest source fragments per block, B. Default: the largest B ≤ 254 with B + parity(B) ≤ 255. */
  readonly blockLength?: number;
  /** Interleave depth D (blocks per group, SPEC 10.4). Default 16. Only the Monte Carlo uses it. */
  readonly interleaveDepth?: number;
  /** Probability that a receiver loses a datagram (independently of every other, for the analysis). */
  readonly lossRate: number;
  /** Receivers (caches) in the group. Default 1. */
  readonly receivers?: number;
  /** Objects sent per second. Default 1. */
  readonly objectsPerSecond?: number;
}

/** A run of `count` consecutive blocks of k source and m parity fragments. */
export interface BlockClass {
  readonly k: number;
  readonly m: number;
  readonly count: number;
}

/** SPEC 10.2 for one object. Without FEC: one pseudo-block of T fragments with m = 0. */
export interface Layout {
  readonly envelopeBytes: number;
  readonly fragmentSize: number;
  /** T: source fragments. */
  readonly sourceFragments: number;
  /** Bytes of the last source fragment (≤ fragmentSize). */
  readonly lastFragmentBytes: number;
  readonly metadataBytes: number;
  readonly fec: boolean;
  /** P = round(p · 10000). */
  readonly parityUnits: number;
  /** B (T without FEC). */
  readonly blockLength: number;
  /** N (1 without FEC). */
  readonly blockCount: number;
  readonly largeBlockLength: number;
  readonly smallBlockLength: number;
  /** I_large: blocks 0 … I_large − 1 hold A_large source fragments. */
  readonly largeBlockCount: number;
  /** m = parity(A_large) (0 without FEC). */
  readonly parityCount: number;
  /** The blocks, large ones first (classes with count 0 left out). */
  readonly blocks: readonly BlockClass[];
  /** T + N·m: datagrams sent per object. */
  readonly datagrams: number;
  /** N·m / T: extra datagrams (bandwidth) FEC costs. */
  readonly overhead: number;
}

/** SPEC 10.4: parity(k) = ceil(k · P / 10000) in integers. */
export function parityFor(k: number, parityUnits: number): number {
  return Math.floor((k * parityUnits + PARITY_UNITS - 1) / PARITY_UNITS);
}

/** SPEC 10.4: the default B, the largest B ≤ 254 with B + parity(B) ≤ 255. */
export function defaultBlockLength(parityUnits: number): number {
  let b = MAX_BLOCK_SYMBOLS - 1;
  while (b > 1 && b + parityFor(b, parityUnits) > MAX_BLOCK_SYMBOLS) b--;
  return b;
}

/** SPEC 10.2 for an object of `objectBytes` payload bytes. */
export function layout(params: Pick<RepairParams, "objectBytes" | "metadataBytes" | "fragmentSize" | "parityRatio" | "blockLength">): Layout {
  const fragmentSize = params.fragmentSize ?? DEFAULT_FRAGMENT_SIZE;
  const metadataBytes = params.metadataBytes ?? DEFAULT_METADATA_BYTES;
  if (!Number.isInteger(fragmentSize) || fragmentSize < 1 || fragmentSize > 65507) throw new RangeError(`fragment size ${fragmentSize} not in 1 … 65507`);
  if (!Number.isInteger(metadataBytes) || metadataBytes < 1 || metadataBytes >= fragmentSize) {
    throw new RangeError(`metadata of ${metadataBytes} bytes: the model needs 1 ≤ metadata < fragment size (metadata in fragment 0)`);
  }
  if (!Number.isInteger(params.objectBytes) || params.objectBytes < 0) throw new RangeError(`object size ${params.objectBytes} is not a byte count`);
  if (!(params.parityRatio >= 0 && params.parityRatio <= 1)) throw new RangeError(`parity ratio ${params.parityRatio} not in [0, 1]`);
  const envelopeBytes = metadataBytes + params.objectBytes;
  const t = Math.ceil(envelopeBytes / fragmentSize);
  const lastFragmentBytes = envelopeBytes - (t - 1) * fragmentSize;
  const parityUnits = Math.round(params.parityRatio * PARITY_UNITS);
  const common = { envelopeBytes, fragmentSize, sourceFragments: t, lastFragmentBytes, metadataBytes, parityUnits };
  if (parityUnits === 0) {
    return { ...common, fec: false, blockLength: t, blockCount: 1, largeBlockLength: t, smallBlockLength: t, largeBlockCount: 1, parityCount: 0, blocks: [{ k: t, m: 0, count: 1 }], datagrams: t, overhead: 0 };
  }
  const b = params.blockLength ?? defaultBlockLength(parityUnits);
  if (!Number.isInteger(b) || b < 1 || b + parityFor(b, parityUnits) > MAX_BLOCK_SYMBOLS) {
    throw new RangeError(`block length ${b} with ${parityUnits}/10000 parity: B + parity(B) must be ≤ 255`);
  }
  const n = Math.ceil(t / b);
  const aLarge = Math.ceil(t / n);
  const aSmall = Math.floor(t / n);
  const iLarge = t - aSmall * n;
  const m = Math.max(1, parityFor(aLarge, parityUnits));
  const blocks: BlockClass[] = [];
  if (iLarge > 0) blocks.push({ k: aLarge, m, count: iLarge });
  if (n - iLarge > 0) blocks.push({ k: aSmall, m, count: n - iLarge });
  return { ...common, fec: true, blockLength: b, blockCount: n, largeBlockLength: aLarge, smallBlockLength: aSmall, largeBlockCount: iLarge, parityCount: m, blocks, datagrams: t + n * m, overhead: (n * m) / t };
}

/** "216+11 ×2, 215+11 ×5" (or "1507 fragments, no FEC"). */
export function describeLayout(l: Layout): string {
  if (!l.fec) return `${l.sourceFragments} fragments, no FEC`;
  return l.blocks.map((c) => `${c.count} × ${c.k}+${c.m}`).join(", ");
}

// ---- binomial tails, exact and safe for tiny probabilities --------------------------------------

/** log(Σ exp(x_i)) without overflow or underflow. */
function logSumExp(xs: readonly number[]): number {
  let max = -Infinity;
  for (const x of xs) if (x > max) max = x;
  if (max === -Infinity) return -Infinity;
  let s = 0;
  for (const x of xs) s += Math.exp(x - max);
  return max + Math.log(s);
}

/** log P(X = j) for X ~ Binomial(n, p), 0 < p < 1, by Σ log((n − i)/(i + 1)): exact to rounding. */
function logPmf(n: number, p: number, j: number): number {
  let logC = 0;
  for (let i = 0; i < j; i++) logC += Math.log((n - i) / (i + 1));
  return logC + j * Math.log(p) + (n - j) * Math.log1p(-p);
}

/** Terms log P(X = j) for j = from … to (inclusive), each from the previous by the pmf ratio. */
function logPmfRange(n: number, p: number, from: number, to: number): number[] {
  const out: number[] = [];
  const logOdds = Math.log(p) - Math.log1p(-p);
  let lp = logPmf(n, p, from);
  for (let j = from; j <= to; j++) {
    out.push(lp);
    lp += Math.log((n - j) / (j + 1)) + logOdds;
  }
  return out;
}

/** Upper-tail terms log P(X = j), j = m + 1, m + 2, … until they no longer count (m + 1 > mean). */
function upperTerms(n: number, p: number, m: number): { j: number; lp: number }[] {
  const out: { j: number; lp: number }[] = [];
  const logOdds = Math.log(p) - Math.log1p(-p);
  let lp = logPmf(n, p, m + 1);
  const first = lp;
  for (let j = m + 1; j <= n; j++) {
    out.push({ j, lp });
    // Past the mean the terms fall at least geometrically: stop 45 e-folds (1e-20) below the first.
    if (lp < first - 45 && j > n * p) break;
    lp += Math.log((n - j) / (j + 1)) + logOdds;
  }
  return out;
}

/**
 * P(X > m) for X ~ Binomial(n, p): the probability that a block of n = k + m fragments loses more than
 * m. Sums whichever side is small (upper terms when m + 1 > n·p, else 1 − P(X ≤ m)) in log space,
 * so 1e-300 comes out as 1e-300, not 0, and nothing cancels.
 */
export function binomialTail(n: number, p: number, m: number): number {
  if (m < 0) return 1;
  if (m >= n || p <= 0) return 0;
  if (p >= 1) return 1;
  if (m + 1 > n * p) return Math.exp(logSumExp(upperTerms(n, p, m).map((t) => t.lp)));
  return -Math.expm1(logSumExp(logPmfRange(n, p, 0, m)));
}

/** log P(X ≤ m) for X ~ Binomial(n, p): a block decodes. Accurate when P(X > m) is within 1e-300 of 1. */
export function binomialLogCdf(n: number, p: number, m: number): number {
  if (m < 0) return -Infinity;
  if (m >= n || p <= 0) return 0;
  if (p >= 1) return -Infinity;
  if (m + 1 > n * p) return Math.log1p(-binomialTail(n, p, m));
  return logSumExp(logPmfRange(n, p, 0, m));
}

/** E[(X − m)⁺] for X ~ Binomial(n, p): the fragments a block of n = k + m fragments must fetch. */
export function binomialExcess(n: number, p: number, m: number): number {
  if (m <= 0) return n * Math.min(Math.max(p, 0), 1) - m;
  if (m >= n || p <= 0) return 0;
  if (p >= 1) return n - m;
  if (m + 1 > n * p) {
    let s = 0;
    for (const t of upperTerms(n, p, m)) s += (t.j - m) * Math.exp(t.lp);
    return s;
  }
  // E[(X − m)⁺] = E[X] − m + E[(m − X)⁺], the last a short sum over j ≤ m.
  const terms = logPmfRange(n, p, 0, m);
  let below = 0;
  for (let j = 0; j <= m; j++) below += (m - j) * Math.exp(terms[j]!);
  return n * p - m + below;
}

/** Smallest c with P(Binomial(n, q) ≤ c) ≥ level. */
export function binomialQuantile(n: number, q: number, level: number): number {
  let cdf = 0;
  for (let c = 0; c <= n; c++) {
    cdf += q <= 0 ? (c === 0 ? 1 : 0) : q >= 1 ? (c === n ? 1 : 0) : Math.exp(logPmf(n, q, c));
    if (cdf >= level - 1e-12) return c;
  }
  return n;
}

// ---- the analysis -----------------------------------------------------------------------------------

export interface BlockFailure extends BlockClass {
  /** P(Binomial(k + m, p) > m): the block cannot be decoded. */
  readonly probability: number;
  /** E[(lost − m)⁺]: source fragments fetched over HTTP for one such block. */
  readonly fragmentsFetched: number;
}

export interface RepairPrediction {
  readonly layout: Layout;
  readonly lossRate: number;
  readonly blockFailures: readonly BlockFailure[];
  /** P(an object needs HTTP repair at one receiver) = 1 − Π (1 − f_b). */
  readonly repairProbability: number;
  /** Share of (object, receiver) pairs complete by multicast alone: 1 − repairProbability. */
  readonly multicastShare: number;
  /** Repair GETs per object per receiver: one multi-range GET per object that needs repair. */
  readonly requestsPerObject: number;
  /** HEADs per object per receiver: fragment 0 (the metadata) lost and its block undecodable. */
  readonly headsPerObject: number;
  /** Source fragments fetched per object per receiver. */
  readonly fragmentsPerObject: number;
  /** Payload bytes fetched by those GETs per object per receiver. */
  readonly httpBytesPerObject: number;
  /** httpBytesPerObject / objectBytes. Without FEC this is exactly the loss rate. */
  readonly httpShare: number;
  /** Repair GETs per second at the repository: requestsPerObject × receivers × objects/s. */
  readonly requestsPerSecond: number;
  readonly headsPerSecond: number;
  /** Repair payload bytes per second the repository serves. */
  readonly httpBytesPerSecond: number;
  /** Datagrams sent per object (T + N·m) and the multicast bytes per second they make. */
  readonly datagramsPerObject: number;
  readonly multicastBytesPerSecond: number;
}

/**
 * The expected repair load for independent loss. Exact under the model:
 *   f_b = P(Bin(k_b + m, p) > m), P(repair) = 1 − Π_b (1 − f_b),
 *   fetched = Σ_b E[(Bin(k_b + m, p) − m)⁺],
 *   bytes = fragment_size · fetched − (fragment_size − last) · p^(m+1) − metadata · P(head),
 *   P(head) = p · P(Bin(k_0 + m − 1, p) ≥ m).
 * (The object's last source fragment, shorter than the rest, is fetched only when it and all m parity
 * fragments of its block are lost; fragment 0, whose first `metadata` bytes come by HEAD, whenever it
 * is lost and its block cannot be decoded.)
 */
export function predictRepair(params: RepairParams): RepairPrediction {
  const l = layout(params);
  const p = params.lossRate;
  if (!(p >= 0 && p <= 1)) throw new RangeError(`loss rate ${p} not in [0, 1]`);
  const receivers = params.receivers ?? 1;
  const rate = params.objectsPerSecond ?? 1;
  const blockFailures = l.blocks.map((c) => ({ ...c, probability: binomialTail(c.k + c.m, p, c.m), fragmentsFetched: binomialExcess(c.k + c.m, p, c.m) }));
  let logSurvive = 0;
  let fragments = 0;
  for (const b of blockFailures) {
    logSurvive += b.count * binomialLogCdf(b.k + b.m, p, b.m);
    fragments += b.count * b.fragmentsFetched;
  }
  const repairProbability = -Math.expm1(logSurvive);
  const m = l.parityCount;
  const first = l.blocks[0]!;
  const heads = p * binomialTail(first.k + m - 1, p, m - 1);
  const lastFetched = p >= 1 ? 1 : Math.exp((m + 1) * Math.log(p));
  const bytes = Math.max(0, l.fragmentSize * fragments - (l.fragmentSize - l.lastFragmentBytes) * lastFetched - l.metadataBytes * heads);
  const perSecond = receivers * rate;
  return {
    layout: l,
    lossRate: p,
    blockFailures,
    repairProbability,
    multicastShare: Math.exp(logSurvive),
    requestsPerObject: repairProbability,
    headsPerObject: heads,
    fragmentsPerObject: fragments,
    httpBytesPerObject: bytes,
    httpShare: params.objectBytes > 0 ? bytes / params.objectBytes : 0,
    requestsPerSecond: repairProbability * perSecond,
    headsPerSecond: heads * perSecond,
    httpBytesPerSecond: bytes * perSecond,
    datagramsPerObject: l.datagrams,
    multicastBytesPerSecond: rate * (l.envelopeBytes + l.parityCount * l.blockCount * Math.min(l.fragmentSize, l.envelopeBytes)),
  };
}

/** Repair GETs per second for an explicit list of blocks (to test other layouts than SPEC 10.2's). */
export function requestsPerSecondForBlocks(blocks: readonly BlockClass[], lossRate: number, receivers: number, objectsPerSecond: number): number {
  let logSurvive = 0;
  for (const c of blocks) logSurvive += c.count * binomialLogCdf(c.k + c.m, lossRate, c.m);
  return -Math.expm1(logSurvive) * receivers * objectsPerSecond;
}

// ---- Monte Carlo --------------------------------------------------------------------------------------

/**
 * Gilbert–Elliott loss: a two-state Markov chain stepped once per datagram. In state Good a datagram
 * is lost with probability `lossInGood` (default 0), in Bad with `lossInBad` (default 1, the Gilbert
 * model: every datagram of a burst is lost). The chain leaves Bad with probability r = 1/meanBurst
 * per datagram (so a stay in Bad lasts meanBurst datagrams on average) and leaves Good with
 * probability q chosen so that the long-run loss rate is the params' lossRate:
 *   π_Bad = (lossRate − lossInGood) / (lossInBad − lossInGood),  q = r · π_Bad / (1 − π_Bad).
 * Each object starts in the stationary distribution (objects are independent).
 */
export interface BurstModel {
  /** Mean length of a stay in Bad, in datagrams (≥ 1): the mean burst when lossInBad = 1. */
  readonly meanBurst: number;
  readonly lossInBad?: number;
  readonly lossInGood?: number;
}

export interface MonteCarloOptions {
  /** (object, receiver) pairs to simulate. */
  readonly trials: number;
  readonly seed?: number;
  /** Independent loss when absent. */
  readonly burst?: BurstModel;
}

export interface Estimate {
  readonly mean: number;
  /** Standard error of the mean. */
  readonly stderr: number;
}

export interface MonteCarloResult {
  readonly trials: number;
  readonly layout: Layout;
  readonly interleaveDepth: number;
  /** Share of blocks that could not be decoded. */
  readonly blockFailure: Estimate;
  readonly repairProbability: Estimate;
  readonly headsPerObject: Estimate;
  readonly fragmentsPerObject: Estimate;
  readonly httpShare: Estimate;
  /** Share of datagrams lost (checks the loss process). */
  readonly realizedLossRate: number;
}

/** xoshiro128** seeded by splitmix32: fast, 32-bit, reproducible across platforms. */
class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next() | 1;
  }

  private u32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** Uniform in (0, 1], 53 bits. */
  open(): number {
    return ((this.u32() >>> 5) * 67108864 + (this.u32() >>> 6) + 1) / 9007199254740992;
  }

  /** Failures before the first success, success probability `prob` given as log1p(−prob). */
  geometric(log1mProb: number): number {
    if (log1mProb === 0) return Infinity;
    return Math.floor(Math.log(this.open()) / log1mProb);
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** Per send position: its block, and its symbol within the block (j < k source, else parity). */
interface SendMap {
  readonly block: Int32Array;
  readonly symbol: Int32Array;
  readonly k: Int32Array;
}

/** SPEC 10.4: groups of D blocks; round r sends symbol r of each block of the group that has one. */
export function sendOrder(l: Layout, interleaveDepth: number): { block: Int32Array; symbol: Int32Array } {
  const block = new Int32Array(l.datagrams);
  const symbol = new Int32Array(l.datagrams);
  const kOf = (b: number): number => (b < l.largeBlockCount ? l.largeBlockLength : l.smallBlockLength);
  let at = 0;
  for (let first = 0; first < l.blockCount; first += interleaveDepth) {
    const last = Math.min(first + interleaveDepth, l.blockCount);
    const rounds = kOf(first) + l.parityCount; // the first block of a group is the largest
    for (let r = 0; r < rounds; r++) {
      for (let b = first; b < last; b++) {
        if (r < kOf(b) + l.parityCount) {
          block[at] = b;
          symbol[at] = r;
          at++;
        }
      }
    }
  }
  if (at !== l.datagrams) throw new Error(`send order covers ${at} of ${l.datagrams} datagrams`);
  return { block, symbol };
}

/** Lost send positions of one object, ascending, into `out`; returns how many. */
type LossProcess = (rng: Rng, total: number, out: Int32Array) => number;

function independentLoss(p: number): LossProcess {
  const lq = Math.log1p(-p);
  return (rng, total, out) => {
    if (p <= 0) return 0;
    let n = 0;
    for (let pos = rng.geometric(lq); pos < total; pos += 1 + rng.geometric(lq)) out[n++] = pos;
    return n;
  };
}

function gilbertElliott(p: number, burst: BurstModel): LossProcess {
  const hBad = burst.lossInBad ?? 1;
  const hGood = burst.lossInGood ?? 0;
  if (!(burst.meanBurst >= 1)) throw new RangeError(`mean burst ${burst.meanBurst} must be ≥ 1 datagram`);
  if (!(hGood <= p && p < hBad && hBad <= 1 && hGood >= 0)) throw new RangeError(`Gilbert–Elliott needs 0 ≤ lossInGood ≤ lossRate < lossInBad ≤ 1`);
  const piBad = (p - hGood) / (hBad - hGood);
  const r = 1 / burst.meanBurst;
  const q = (r * piBad) / (1 - piBad);
  if (q > 1) throw new RangeError(`Gilbert–Elliott: loss rate ${p} with bursts of ${burst.meanBurst} needs more than one Bad stay per Good datagram`);
  const leave = [Math.log1p(-q), Math.log1p(-r)]; // 0 = Good, 1 = Bad
  const loss = [hGood, hBad];
  const lossLog = [Math.log1p(-hGood), Math.log1p(-hBad)];
  return (rng, total, out) => {
    let n = 0;
    let state = rng.open() <= piBad ? 1 : 0;
    for (let pos = 0; pos < total; state ^= 1) {
      const end = Math.min(total, pos + 1 + rng.geometric(leave[state]!));
      const h = loss[state]!;
      if (h >= 1) {
        for (let i = pos; i < end; i++) out[n++] = i;
      } else if (h > 0) {
        const lq = lossLog[state]!;
        for (let i = pos + rng.geometric(lq); i < end; i += 1 + rng.geometric(lq)) out[n++] = i;
      }
      pos = end;
    }
    return n;
  };
}

function estimate(sum: number, sumSq: number, n: number): Estimate {
  const mean = sum / n;
  const variance = n > 1 ? Math.max(0, (sumSq - n * mean * mean) / (n - 1)) : 0;
  return { mean, stderr: Math.sqrt(variance / n) };
}

/**
 * Simulates `trials` (object, receiver) pairs: draws each one's lost send positions, maps them to
 * blocks through the SPEC 10.4 send order, and applies the decode and repair rules of SPEC 5.2/10.5.
 */
export function monteCarlo(params: RepairParams, options: MonteCarloOptions): MonteCarloResult {
  const l = layout(params);
  const depth = params.interleaveDepth ?? DEFAULT_INTERLEAVE;
  if (!Number.isInteger(depth) || depth < 1) throw new RangeError(`interleave depth ${depth} must be an integer ≥ 1`);
  const order = sendOrder(l, depth);
  const map: SendMap = { ...order, k: Int32Array.from({ length: l.blockCount }, (_, b) => (b < l.largeBlockCount ? l.largeBlockLength : l.smallBlockLength)) };
  const p = params.lossRate;
  const process = options.burst ? gilbertElliott(p, options.burst) : independentLoss(p);
  const rng = new Rng(options.seed ?? 1);
  const m = l.parityCount;
  const nBlocks = l.blockCount;
  const lastBlock = nBlocks - 1;
  const lastSymbol = map.k[lastBlock]! - 1;
  const lost = new Int32Array(l.datagrams);
  const lostInBlock = new Int32Array(nBlocks);
  const parityLost = new Int32Array(nBlocks);
  const touched = new Int32Array(nBlocks);
  let failedBlocks = 0;
  let lostTotal = 0;
  let sRepair = 0;
  let sHead = 0;
  let sFrag = 0;
  let sFragSq = 0;
  let sShare = 0;
  let sShareSq = 0;
  for (let trial = 0; trial < options.trials; trial++) {
    const count = process(rng, l.datagrams, lost);
    lostTotal += count;
    let nTouched = 0;
    let firstLost = false;
    let lastLost = false;
    for (let i = 0; i < count; i++) {
      const pos = lost[i]!;
      const b = map.block[pos]!;
      const j = map.symbol[pos]!;
      if (lostInBlock[b] === 0) touched[nTouched++] = b;
      lostInBlock[b]!++;
      if (j >= map.k[b]!) parityLost[b]!++;
      else if (b === 0 && j === 0) firstLost = true;
      if (b === lastBlock && j === lastSymbol) lastLost = true;
    }
    let fetched = 0;
    let repair = false;
    for (let t = 0; t < nTouched; t++) {
      const b = touched[t]!;
      const excess = lostInBlock[b]! - m;
      if (excess > 0) {
        fetched += excess;
        failedBlocks++;
        repair = true;
      }
    }
    // Fragment 0 is the first missing source of block 0: fetched (metadata by HEAD) when block 0 fails.
    const head = firstLost && lostInBlock[0]! > m;
    // The last source of the last block is fetched only when every missing source of it is: all m parity lost.
    const lastFetched = lastLost && parityLost[lastBlock] === m;
    for (let t = 0; t < nTouched; t++) {
      lostInBlock[touched[t]!] = 0;
      parityLost[touched[t]!] = 0;
    }
    const bytes = l.fragmentSize * fetched - (lastFetched ? l.fragmentSize - l.lastFragmentBytes : 0) - (head ? l.metadataBytes : 0);
    const share = params.objectBytes > 0 ? bytes / params.objectBytes : 0;
    if (repair) sRepair++;
    if (head) sHead++;
    sFrag += fetched;
    sFragSq += fetched * fetched;
    sShare += share;
    sShareSq += share * share;
  }
  const n = options.trials;
  const bf = failedBlocks / (n * nBlocks);
  return {
    trials: n,
    layout: l,
    interleaveDepth: depth,
    blockFailure: { mean: bf, stderr: Math.sqrt((bf * (1 - bf)) / (n * nBlocks)) },
    repairProbability: estimate(sRepair, sRepair, n),
    headsPerObject: estimate(sHead, sHead, n),
    fragmentsPerObject: estimate(sFrag, sFragSq, n),
    httpShare: estimate(sShare, sShareSq, n),
    realizedLossRate: lostTotal / (n * l.datagrams),
  };
}
