// Where each fragment of an FEC-coded object belongs (SPEC 10.2) and the order a sender sends them
// in (SPEC 10.4). Pure arithmetic, shared by encoder, receiver and tests.

export const FEC_SCHEME_NONE = 0;
export const FEC_SCHEME_RS8 = 1;
/** k + m of a block never exceeds this (GF(256) has 255 non-zero elements). */
export const FEC_MAX_BLOCK_SYMBOLS = 255;
export const DEFAULT_FEC_PARITY = 0.05;
export const DEFAULT_FEC_INTERLEAVE = 16;
/** The parity ratio is taken in these units so every language computes the same integers. */
export const FEC_PARITY_UNITS = 10_000;

/** Parity fragments for a block of k source fragments at P units of parity (SPEC 10.4). */
export function parityFor(k: number, parityUnits: number): number {
  return Math.floor((k * parityUnits + FEC_PARITY_UNITS - 1) / FEC_PARITY_UNITS);
}

/** A sender's FEC parameters, checked. */
export interface FecSettings {
  /** P: the parity ratio in units of 1/10000 (>= 1). */
  readonly parityUnits: number;
  /** B: the largest number of source fragments per block. */
  readonly blockLength: number;
  /** D: blocks per interleave group. */
  readonly interleave: number;
}

/**
 * Checks and completes a sender's FEC options; null when the parity ratio is 0 (no FEC).
 * Throws a RangeError naming the bad option.
 */
export function fecSettings(parity: number, blockLength?: number, interleave: number = DEFAULT_FEC_INTERLEAVE): FecSettings | null {
  if (!(parity >= 0 && parity <= 1)) throw new RangeError(`FEC parity ratio must be in [0, 1], got ${parity}`);
  const parityUnits = Math.round(parity * FEC_PARITY_UNITS);
  if (parityUnits === 0) return null;
  let b = blockLength;
  if (b === undefined) {
    b = FEC_MAX_BLOCK_SYMBOLS - 1;
    while (b + parityFor(b, parityUnits) > FEC_MAX_BLOCK_SYMBOLS) b--;
  } else if (!Number.isInteger(b) || b < 1 || b + parityFor(b, parityUnits) > FEC_MAX_BLOCK_SYMBOLS) {
    throw new RangeError(`FEC block length ${b} with parity ${parity} exceeds ${FEC_MAX_BLOCK_SYMBOLS} fragments per block (B + ceil(B·p) <= 255)`);
  }
  if (!Number.isInteger(interleave) || interleave < 1) throw new RangeError(`FEC interleave depth must be an integer >= 1, got ${interleave}`);
  return { parityUnits, blockLength: b, interleave };
}

/** The blocks of one coded object (RFC 5052 section 9.1 partitioning). */
export class FecLayout {
  /** T: source fragments. */
  readonly sourceCount: number;
  readonly blockLength: number;
  readonly parityCount: number;
  /** N. */
  readonly blockCount: number;
  readonly largeBlockLength: number;
  readonly smallBlockLength: number;
  /** Blocks 0 .. largeBlockCount-1 hold largeBlockLength source fragments. */
  readonly largeBlockCount: number;
  /** Parity chunk length; source symbols are zero-padded to it. */
  readonly symbolSize: number;
  /** Source plus parity fragments. */
  readonly totalCount: number;

  constructor(sourceCount: number, envelopeLength: number, fragmentSize: number, blockLength: number, parityCount: number) {
    this.sourceCount = sourceCount;
    this.blockLength = blockLength;
    this.parityCount = parityCount;
    this.blockCount = Math.ceil(sourceCount / blockLength);
    this.largeBlockLength = Math.ceil(sourceCount / this.blockCount);
    this.smallBlockLength = Math.floor(sourceCount / this.blockCount);
    this.largeBlockCount = sourceCount - this.smallBlockLength * this.blockCount;
    this.symbolSize = Math.min(fragmentSize, envelopeLength);
    this.totalCount = sourceCount + this.blockCount * parityCount;
  }

  /** A sender's layout: m from the largest block (SPEC 10.4). */
  static forSender(sourceCount: number, envelopeLength: number, fragmentSize: number, settings: FecSettings): FecLayout {
    const blockCount = Math.ceil(sourceCount / settings.blockLength);
    const largest = Math.ceil(sourceCount / blockCount);
    return new FecLayout(sourceCount, envelopeLength, fragmentSize, settings.blockLength, Math.max(1, parityFor(largest, settings.parityUnits)));
  }

  /** First source index of block b. */
  blockStart(b: number): number {
    return b < this.largeBlockCount
      ? b * this.largeBlockLength
      : this.largeBlockCount * this.largeBlockLength + (b - this.largeBlockCount) * this.smallBlockLength;
  }

  /** k of block b. */
  blockSourceCount(b: number): number {
    return b < this.largeBlockCount ? this.largeBlockLength : this.smallBlockLength;
  }

  /** The block of a source index. */
  blockOfSource(index: number): number {
    const largeEnd = this.largeBlockCount * this.largeBlockLength;
    return index < largeEnd ? Math.floor(index / this.largeBlockLength) : this.largeBlockCount + Math.floor((index - largeEnd) / this.smallBlockLength);
  }

  /** The fragment index of encoding symbol j of block b (SPEC 10.2). */
  indexOfSymbol(b: number, j: number): number {
    const k = this.blockSourceCount(b);
    return j < k ? this.blockStart(b) + j : this.sourceCount + b * this.parityCount + (j - k);
  }

  /**
   * Fragment indexes in send order for interleave depth D (SPEC 10.4). With `holdBack` the last
   * `heldBackCount` symbols of the last block (its last source and its parity: without them it has
   * k − 1 symbols, too few to decode) leave their rounds and go after every other fragment.
   */
  sendOrder(interleave: number, holdBack = false): Uint32Array {
    const order = new Uint32Array(this.totalCount);
    const held = holdBack ? this.blockCount - 1 : -1;
    const heldFrom = holdBack ? this.blockSourceCount(held) - 1 : Infinity;
    let at = 0;
    for (let first = 0; first < this.blockCount; first += interleave) {
      const last = Math.min(first + interleave, this.blockCount);
      const rounds = this.blockSourceCount(first) + this.parityCount;
      for (let r = 0; r < rounds; r++) {
        for (let b = first; b < last; b++) {
          if (r < this.blockSourceCount(b) + this.parityCount && (b !== held || r < heldFrom)) order[at++] = this.indexOfSymbol(b, r);
        }
      }
    }
    if (held >= 0) for (let j = heldFrom; j < this.blockSourceCount(held) + this.parityCount; j++) order[at++] = this.indexOfSymbol(held, j);
    return order;
  }

  /** What sendOrder(D, true) puts last: m + 1 symbols of the last block. */
  get heldBackCount(): number {
    return this.parityCount + 1;
  }
}
