// Forward error correction, scheme 1 (SPEC 10): Reed-Solomon over GF(2^8) with a closed-form Cauchy
// parity matrix, RFC 5052 block partitioning. Mirrors ts/src/wire/fec.ts (Gf256, FecParams,
// fecLayout, cauchyCoefficient, FecEncoder, FecDecoder / decodeBlock).
//
// The byte work is one primitive, dst ^= c · src over GF(2^8) ("multiply-accumulate"), table driven:
// a scalar kernel with a 256 × 256 product table, and SSSE3 / AVX2 kernels that multiply 16 / 32 bytes
// at once with two pshufb lookups in per-coefficient nibble tables (c · x = c · (x & 15) ^ c · (x & 240)).
// The kernel is picked at run time (__builtin_cpu_supports); nothing allocates per byte or per symbol.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace condcast {

// ---- the field (SPEC 10.1) -------------------------------------------------------------------------

/// GF(2^8) with the polynomial 0x11D and generator 2: exp/log tables and products.
struct Gf256 {
  static constexpr unsigned kPolynomial = 0x11D;
  /// exp[i] = 2^i for 0 <= i < 510 (doubled so a sum of two logs needs no reduction).
  static const std::array<std::uint8_t, 510>& exp() noexcept;
  /// log[a] for a != 0 (log[0] is unused, 0).
  static const std::array<std::uint8_t, 256>& log() noexcept;
  static std::uint8_t mul(std::uint8_t a, std::uint8_t b) noexcept;
  /// The inverse of a != 0 (inv(0) is 0 by convention; never used).
  static std::uint8_t inv(std::uint8_t a) noexcept;
  /// The row of products c · x for x = 0 … 255 (the scalar kernel's table).
  static const std::uint8_t* mulRow(std::uint8_t c) noexcept;
};

// ---- parameters and blocks (SPEC 10.2, 10.4) -------------------------------------------------------

/// The parity ratio in units of 1/10000: P = round(p · 10000). Throws Error unless 0 <= p <= 1.
std::uint32_t fecParityUnits(double parityRatio);
/// parity(k) = ceil(k · P / 10000), in integers.
constexpr std::uint32_t fecParityFor(std::uint32_t k, std::uint32_t parityUnits) noexcept {
  return static_cast<std::uint32_t>((std::uint64_t{k} * parityUnits + 9999) / 10000);
}
/// The largest B <= 254 with B + parity(B) <= 255 (P >= 1).
std::uint32_t fecDefaultBlockLength(std::uint32_t parityUnits) noexcept;

/// A sender's FEC configuration (SPEC 10.4). parityRatio 0 = no FEC (scheme 0).
struct FecParams {
  double parityRatio = 0.05;
  /// B; the largest allowed when absent.
  std::optional<std::uint32_t> blockLength;
  /// D, interleave depth in blocks (>= 1).
  std::uint32_t interleave = 16;
};

/// FecParams checked and resolved to integers. Throws Error for p outside [0, 1], D < 1, B < 1, or
/// B + parity(B) > 255.
struct FecConfig {
  std::uint32_t parityUnits = 0;  ///< P; 0 = no FEC
  std::uint32_t blockLength = 0;  ///< B (0 without FEC)
  std::uint32_t interleave = 1;   ///< D
  bool enabled() const noexcept { return parityUnits > 0; }
  static FecConfig from(const FecParams& params);
};

/// The blocks of an object (SPEC 10.2, RFC 5052 9.1).
struct FecLayout {
  std::uint32_t sourceCount = 0;  ///< T
  std::uint32_t blockLength = 0;  ///< B
  std::uint32_t parityCount = 0;  ///< m
  std::uint32_t blockCount = 0;   ///< N
  std::uint32_t aLarge = 0;
  std::uint32_t aSmall = 0;
  std::uint32_t iLarge = 0;

  std::uint32_t blockStart(std::uint32_t b) const noexcept {
    return b < iLarge ? b * aLarge : iLarge * aLarge + (b - iLarge) * aSmall;
  }
  std::uint32_t blockSourceCount(std::uint32_t b) const noexcept { return b < iLarge ? aLarge : aSmall; }
  /// The block holding source index `index` (< T).
  std::uint32_t blockOfSource(std::uint32_t index) const noexcept {
    const std::uint64_t largeEnd = std::uint64_t{iLarge} * aLarge;
    return index < largeEnd ? index / aLarge : iLarge + static_cast<std::uint32_t>((index - largeEnd) / aSmall);
  }
  /// T + N · m: every index of the object (sources and parity).
  std::uint64_t totalCount() const noexcept { return std::uint64_t{sourceCount} + std::uint64_t{blockCount} * parityCount; }
  /// The first parity index of block b.
  std::uint64_t parityStart(std::uint32_t b) const noexcept {
    return std::uint64_t{sourceCount} + std::uint64_t{b} * parityCount;
  }
};

/// The layout of T source fragments in blocks of at most B (T >= 1, B >= 1) with m parity each.
FecLayout fecLayout(std::uint32_t sourceCount, std::uint32_t blockLength, std::uint32_t parityCount) noexcept;

/// C(i, j) = inv((255 - i) XOR j) (SPEC 10.3); i < 255 - j.
std::uint8_t cauchyCoefficient(std::uint32_t i, std::uint32_t j) noexcept;

// ---- multiply-accumulate kernels -------------------------------------------------------------------

enum class GfKernel : std::uint8_t { Scalar, Ssse3, Avx2 };
std::string_view toString(GfKernel kernel) noexcept;
/// True when this CPU runs `kernel`.
bool gfKernelSupported(GfKernel kernel) noexcept;
/// The best kernel this CPU supports (chosen once).
GfKernel gfBestKernel() noexcept;
/// The kernel gfMulAdd uses: the best one unless overridden (benchmarks and tests).
GfKernel gfActiveKernel() noexcept;
/// Overrides the kernel for the process (falls back to Scalar when unsupported); returns the old one.
GfKernel gfSetKernel(GfKernel kernel) noexcept;

/// dst[t] ^= c · src[t] for t < n, with the active kernel.
void gfMulAdd(std::uint8_t* dst, const std::uint8_t* src, std::uint8_t c, std::size_t n) noexcept;
/// The same with the rows of a Cauchy column at once: dsts[r][t] ^= coefficients[r] · src[t] for r < rows
/// (src is read once per vector for all rows).
void gfMulAddRows(std::uint8_t* const* dsts, const std::uint8_t* coefficients, std::size_t rows, const std::uint8_t* src,
                  std::size_t n) noexcept;
/// With an explicit kernel (tests compare every kernel with Scalar); `kernel` must be supported.
void gfMulAddWith(GfKernel kernel, std::uint8_t* dst, const std::uint8_t* src, std::uint8_t c, std::size_t n) noexcept;
void gfMulAddRowsWith(GfKernel kernel, std::uint8_t* const* dsts, const std::uint8_t* coefficients, std::size_t rows,
                      const std::uint8_t* src, std::size_t n) noexcept;

// ---- encoding and decoding (SPEC 10.3, 10.5) -------------------------------------------------------

/// A source symbol: its chunk (length <= symbol size; the rest is zero padding), or data == nullptr
/// when missing.
struct SourceSymbol {
  const std::uint8_t* data = nullptr;
  std::size_t length = 0;
};
/// A received parity symbol: row i (0 <= i < m) and symbolSize bytes.
struct ParitySymbol {
  std::uint32_t row = 0;
  const std::uint8_t* data = nullptr;
};
/// Where a rebuilt source symbol goes: its position j in the block and its first `length` bytes
/// (its chunk length; the padding is not written).
struct RecoveredSymbol {
  std::uint32_t position = 0;
  std::uint8_t* data = nullptr;
  std::size_t length = 0;
};

/// Parity of one block, accumulated source by source into m caller-provided symbols (no allocation).
class FecEncoder {
 public:
  /// parity: m · symbolSize bytes, parity symbol i at parity + i · symbolSize.
  FecEncoder(std::uint8_t* parity, std::uint32_t parityCount, std::size_t symbolSize) noexcept;
  /// Zeroes the parity symbols.
  void reset() noexcept;
  /// Adds bytes [offset, offset + bytes.size()) of source symbol j (any order, any pieces).
  void add(std::uint32_t j, std::size_t offset, std::span<const std::uint8_t> bytes) noexcept;
  /// reset() and every source in turn.
  void encode(std::span<const SourceSymbol> sources) noexcept;
  std::uint8_t* parity(std::uint32_t i) const noexcept { return parity_ + std::size_t{i} * symbolSize_; }

 private:
  std::uint8_t* parity_;
  std::uint32_t parityCount_;
  std::size_t symbolSize_;
  std::array<std::uint8_t*, 255> rows_{};
  std::array<std::uint8_t, 255> coefficients_{};
};

/// Rebuilds the missing source symbols of blocks. Scratch space (e syndromes of a symbol each and the
/// e × e matrix) is kept between calls: it grows to the largest block decoded and is then reused.
class FecDecoder {
 public:
  /// sources: the block's k symbols (missing ones with data == nullptr); parity: at least e of them
  /// (e = missing count; the first e are used); out: one entry per missing position. Returns false,
  /// writing nothing, when there are too few parity symbols or `out` does not match the missing set.
  bool decode(std::span<const SourceSymbol> sources, std::span<const ParitySymbol> parity,
              std::span<const RecoveredSymbol> out, std::size_t symbolSize);

 private:
  std::vector<std::uint8_t> syndromes_;
  std::vector<std::uint8_t> matrix_;
  std::vector<std::uint8_t> inverse_;
};

/// One-shot FecDecoder::decode.
bool decodeBlock(std::span<const SourceSymbol> sources, std::span<const ParitySymbol> parity,
                 std::span<const RecoveredSymbol> out, std::size_t symbolSize);

/// Inverts the n × n matrix `a` (row-major) over GF(2^8) into `inverse` by Gauss-Jordan; `a` is
/// destroyed. False when singular.
bool gfInvert(std::uint8_t* a, std::uint8_t* inverse, std::size_t n) noexcept;

}  // namespace condcast
