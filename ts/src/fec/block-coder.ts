// Parity of blocks (SPEC 10.3) and rebuilding a block's missing source symbols (SPEC 10.5), on a
// GfKernel's workspace: symbols are copied in once, every multiply-accumulate runs there, results are
// read out as views. One coder per sender or receiver; its buffers grow to the largest block and stay.
import { cauchyCoefficient, gfInvertMatrix } from "./gf256.js";
import { WORKSPACE_BASE, alignRow, type GfKernel } from "./kernel.js";
import type { FecLayout } from "./layout.js";

/** Copies source symbol `index`'s chunk to target[at, ...) and returns its length (<= symbol size). */
export type SourceReader = (index: number, target: Uint8Array, at: number) => number;

/** Computes the parity fragments of consecutive blocks of one object (an interleave group). */
export class FecEncoder {
  private coefsForParity = -1;
  private first = 0;
  private last = 0;
  private stride = 0;
  private parityBase = 0;
  private layout: FecLayout | null = null;

  constructor(readonly kernel: GfKernel) {}

  /** Encodes blocks [first, last) of `layout`; their parity stays readable until the next call. */
  encodeGroup(layout: FecLayout, first: number, last: number, readSource: SourceReader): void {
    const m = layout.parityCount;
    const stride = alignRow(layout.symbolSize);
    const coefBase = WORKSPACE_BASE;
    const coefRow = alignRow(m);
    const srcBase = coefBase + 255 * coefRow;
    const parityBase = srcBase + stride;
    this.kernel.reserve(parityBase + (last - first) * m * stride - WORKSPACE_BASE);
    const bytes = this.kernel.bytes();
    if (this.coefsForParity !== m) {
      // Row j holds C(0, j) ... C(m-1, j): the coefficients source symbol j contributes with.
      for (let j = 0; j < 255 - m; j++) for (let i = 0; i < m; i++) bytes[coefBase + j * coefRow + i] = cauchyCoefficient(i, j);
      this.coefsForParity = m;
    }
    bytes.fill(0, parityBase, parityBase + (last - first) * m * stride);
    for (let b = first; b < last; b++) {
      const start = layout.blockStart(b);
      const k = layout.blockSourceCount(b);
      const rows = parityBase + (b - first) * m * stride;
      for (let j = 0; j < k; j++) {
        const length = readSource(start + j, bytes, srcBase);
        bytes.fill(0, srcBase + length, srcBase + stride);
        this.kernel.mulAddRows(srcBase, layout.symbolSize, coefBase + j * coefRow, m, rows, stride);
      }
    }
    this.layout = layout;
    this.first = first;
    this.last = last;
    this.stride = stride;
    this.parityBase = parityBase;
  }

  /** True when parity of block b of `layout` is what the last encodeGroup computed. */
  holds(layout: FecLayout, b: number): boolean {
    return this.layout === layout && b >= this.first && b < this.last;
  }

  /** Parity symbol i of block b (a view into the workspace; copy it before the next encodeGroup). */
  parity(b: number, i: number): Uint8Array {
    const layout = this.layout;
    if (layout === null || b < this.first || b >= this.last) throw new RangeError(`block ${b} is not encoded`);
    const at = this.parityBase + ((b - this.first) * layout.parityCount + i) * this.stride;
    return this.kernel.bytes().subarray(at, at + layout.symbolSize);
  }
}

/** One received parity symbol of a block. */
export interface ParitySymbol {
  /** i: which parity row (0 <= i < m). */
  readonly row: number;
  readonly bytes: Uint8Array;
}

/** Rebuilds missing source symbols of one block from any e of its parity symbols. */
export class FecDecoder {
  constructor(readonly kernel: GfKernel) {}

  /**
   * `missing` lists the block's missing source positions (0 <= j < k, ascending), `parity` at least
   * as many parity symbols; `readSource` copies a present source symbol (by position). Calls
   * `onRecovered(j, symbol)` for each missing position with its symbolSize bytes (a workspace view,
   * valid during the call). Returns how many parity symbols it used.
   */
  decodeBlock(
    k: number,
    symbolSize: number,
    missing: readonly number[],
    parity: readonly ParitySymbol[],
    readSource: SourceReader,
    onRecovered: (position: number, symbol: Uint8Array) => void,
  ): number {
    const e = missing.length;
    if (e === 0) return 0;
    if (parity.length < e) throw new RangeError(`${e} source symbols missing but only ${parity.length} parity symbols`);
    const rows = parity.slice(0, e);
    // M[r][c] = C(row_r, missing_c); the missing symbols are M^-1 · (parity_r XOR the known sources' share).
    const matrix = new Uint8Array(e * e);
    for (let r = 0; r < e; r++) for (let c = 0; c < e; c++) matrix[r * e + c] = cauchyCoefficient(rows[r]!.row, missing[c]!);
    const inverse = gfInvertMatrix(matrix, e);

    const stride = alignRow(symbolSize);
    const coefBase = WORKSPACE_BASE;
    const srcBase = coefBase + alignRow(e);
    const rhsBase = srcBase + stride;
    const outBase = rhsBase + e * stride;
    this.kernel.reserve(outBase + e * stride - WORKSPACE_BASE);
    const bytes = this.kernel.bytes();
    for (let r = 0; r < e; r++) {
      const at = rhsBase + r * stride;
      bytes.set(rows[r]!.bytes.subarray(0, symbolSize), at);
      bytes.fill(0, at + symbolSize, at + stride);
    }
    bytes.fill(0, outBase, outBase + e * stride);
    let next = 0;
    for (let j = 0; j < k; j++) {
      if (next < e && missing[next] === j) {
        next++;
        continue;
      }
      const length = readSource(j, bytes, srcBase);
      bytes.fill(0, srcBase + length, srcBase + stride);
      for (let r = 0; r < e; r++) bytes[coefBase + r] = cauchyCoefficient(rows[r]!.row, j);
      this.kernel.mulAddRows(srcBase, symbolSize, coefBase, e, rhsBase, stride);
    }
    // out_c = sum over r of inverse[c][r] · rhs_r: one pass per rhs row, into every output row.
    for (let r = 0; r < e; r++) {
      for (let c = 0; c < e; c++) bytes[coefBase + c] = inverse[c * e + r]!;
      this.kernel.mulAddRows(rhsBase + r * stride, symbolSize, coefBase, e, outBase, stride);
    }
    for (let c = 0; c < e; c++) onRecovered(missing[c]!, bytes.subarray(outBase + c * stride, outBase + c * stride + symbolSize));
    return e;
  }
}
