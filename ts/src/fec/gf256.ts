// GF(2^8) arithmetic of SPEC 10.1 (polynomial 0x11D, generator 2) and the Cauchy coefficients of
// SPEC 10.3. Tables are built once at load; the hot paths use GF_MUL (or the SIMD kernel's tables).

export const GF_POLYNOMIAL = 0x11d;

/** exp[i] = 2^i for 0 <= i < 510 (doubled so exp[log a + log b] needs no modulo). */
export const GF_EXP: Uint8Array = new Uint8Array(510);
/** log[a] for a != 0; log[0] is unused. */
export const GF_LOG: Uint8Array = new Uint8Array(256);
/** GF_MUL[a * 256 + b] = a · b. */
export const GF_MUL: Uint8Array = new Uint8Array(65536);

{
  let x = 1;
  for (let i = 0; i < 255; i++) {
    GF_EXP[i] = x;
    GF_LOG[x] = i;
    x <<= 1;
    if (x & 0x100) x ^= GF_POLYNOMIAL;
  }
  for (let i = 255; i < 510; i++) GF_EXP[i] = GF_EXP[i - 255]!;
  for (let a = 1; a < 256; a++) for (let b = 1; b < 256; b++) GF_MUL[(a << 8) | b] = GF_EXP[GF_LOG[a]! + GF_LOG[b]!]!;
}

export function gfMul(a: number, b: number): number {
  return GF_MUL[(a << 8) | b]!;
}

export function gfInv(a: number): number {
  if (a === 0) throw new RangeError("0 has no inverse in GF(256)");
  return GF_EXP[(255 - GF_LOG[a]!) % 255]!;
}

/** C(i, j) = inv((255 - i) XOR j): parity row i's coefficient for the block's source symbol j (SPEC 10.3). */
export function cauchyCoefficient(parityIndex: number, sourcePosition: number): number {
  return gfInv((255 - parityIndex) ^ sourcePosition);
}

/**
 * Inverts a square matrix over GF(256) in place by Gauss-Jordan elimination (rows of `size` bytes,
 * row-major). Throws when it is singular (never for a Cauchy matrix).
 */
export function gfInvertMatrix(matrix: Uint8Array, size: number): Uint8Array {
  const inverse = new Uint8Array(size * size);
  for (let i = 0; i < size; i++) inverse[i * size + i] = 1;
  for (let col = 0; col < size; col++) {
    let pivot = col;
    while (pivot < size && matrix[pivot * size + col] === 0) pivot++;
    if (pivot === size) throw new Error("singular matrix");
    if (pivot !== col) {
      swapRows(matrix, size, pivot, col);
      swapRows(inverse, size, pivot, col);
    }
    const scale = gfInv(matrix[col * size + col]!) << 8;
    for (let c = 0; c < size; c++) {
      matrix[col * size + c] = GF_MUL[scale | matrix[col * size + c]!]!;
      inverse[col * size + c] = GF_MUL[scale | inverse[col * size + c]!]!;
    }
    for (let row = 0; row < size; row++) {
      const factor = matrix[row * size + col]!;
      if (row === col || factor === 0) continue;
      const f = factor << 8;
      for (let c = 0; c < size; c++) {
        matrix[row * size + c]! ^= GF_MUL[f | matrix[col * size + c]!]!;
        inverse[row * size + c]! ^= GF_MUL[f | inverse[col * size + c]!]!;
      }
    }
  }
  return inverse;
}

function swapRows(m: Uint8Array, size: number, a: number, b: number): void {
  for (let c = 0; c < size; c++) {
    const t = m[a * size + c]!;
    m[a * size + c] = m[b * size + c]!;
    m[b * size + c] = t;
  }
}
