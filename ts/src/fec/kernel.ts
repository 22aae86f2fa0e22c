// The multiply-accumulate at the heart of encoding and decoding, over one workspace of bytes:
// dst row r ^= coefs[r] · src, for several rows at once. Two kernels share the interface: WebAssembly
// SIMD (the default; 16 bytes per table lookup) and scalar TypeScript (the reference, and the fallback
// where WebAssembly SIMD is missing). Encoder and decoder lay their symbols out in the workspace.
import { GF_MUL } from "./gf256.js";
import { GF256_SIMD_WASM_BASE64 } from "./gf256-simd.gen.js";

/** Workspace offsets below this are the SIMD kernel's tables. */
export const WORKSPACE_BASE = 8192;
/** Rows and symbols start on 16-byte boundaries and are padded with zeros to a multiple of 16. */
export const ROW_ALIGN = 16;

export function alignRow(length: number): number {
  return (length + ROW_ALIGN - 1) & ~(ROW_ALIGN - 1);
}

export interface GfKernel {
  readonly name: "simd" | "scalar";
  /** The workspace; a new view after `reserve` grew it. */
  bytes(): Uint8Array;
  /** Makes offsets [WORKSPACE_BASE, WORKSPACE_BASE + length) usable. */
  reserve(length: number): void;
  /**
   * For r in [0, rows): bytes[dst + r·stride + t] ^= bytes[coefs + r] · bytes[src + t], t < len.
   * src, dst and stride are multiples of 16; bytes past len in src up to the next multiple are 0.
   */
  mulAddRows(src: number, len: number, coefs: number, rows: number, dst: number, stride: number): void;
}

class ScalarKernel implements GfKernel {
  readonly name = "scalar";
  private memory = new Uint8Array(WORKSPACE_BASE);

  bytes(): Uint8Array {
    return this.memory;
  }

  reserve(length: number): void {
    if (WORKSPACE_BASE + length <= this.memory.length) return;
    const grown = new Uint8Array(Math.max(WORKSPACE_BASE + length, this.memory.length * 2));
    grown.set(this.memory);
    this.memory = grown;
  }

  mulAddRows(src: number, len: number, coefs: number, rows: number, dst: number, stride: number): void {
    const m = this.memory;
    for (let r = 0; r < rows; r++) {
      const c = m[coefs + r]!;
      if (c === 0) continue;
      const base = c << 8;
      const out = dst + r * stride;
      for (let t = 0; t < len; t++) m[out + t]! ^= GF_MUL[base | m[src + t]!]!;
    }
  }
}

type MulAddRows = (src: number, len: number, coefs: number, rows: number, dst: number, stride: number) => void;

class SimdKernel implements GfKernel {
  readonly name = "simd";
  private view: Uint8Array;

  constructor(
    private readonly memory: WebAssembly.Memory,
    readonly mulAddRows: MulAddRows,
  ) {
    this.view = new Uint8Array(memory.buffer);
    // The split-nibble tables of every coefficient c: c·n, then c·(n << 4), for n < 16.
    for (let c = 0; c < 256; c++) {
      for (let n = 0; n < 16; n++) {
        this.view[c * 32 + n] = GF_MUL[(c << 8) | n]!;
        this.view[c * 32 + 16 + n] = GF_MUL[(c << 8) | (n << 4)]!;
      }
    }
  }

  bytes(): Uint8Array {
    if (this.view.buffer !== this.memory.buffer) this.view = new Uint8Array(this.memory.buffer);
    return this.view;
  }

  reserve(length: number): void {
    const needed = WORKSPACE_BASE + length;
    const have = this.memory.buffer.byteLength;
    if (needed > have) this.memory.grow(Math.ceil((needed - have) / 65536));
  }
}

let simdModule: WebAssembly.Module | null | undefined;

function compiledSimd(): WebAssembly.Module | null {
  if (simdModule === undefined) {
    try {
      simdModule = new WebAssembly.Module(Buffer.from(GF256_SIMD_WASM_BASE64, "base64"));
    } catch {
      simdModule = null; // no WebAssembly SIMD here: the scalar kernel does the work
    }
  }
  return simdModule;
}

export function scalarKernel(): GfKernel {
  return new ScalarKernel();
}

/** A SIMD kernel, or null where WebAssembly SIMD is not available. */
export function simdKernel(): GfKernel | null {
  const module = compiledSimd();
  if (module === null) return null;
  const instance = new WebAssembly.Instance(module, {});
  const exports = instance.exports as { memory: WebAssembly.Memory; mulAddRows: MulAddRows };
  return new SimdKernel(exports.memory, exports.mulAddRows);
}

/** The fastest kernel available; each encoder or decoder owns one. */
export function createKernel(): GfKernel {
  return simdKernel() ?? scalarKernel();
}
