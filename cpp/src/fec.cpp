// FEC scheme 1 (SPEC 10): GF(2^8) tables, block layout, Cauchy coefficients, multiply-accumulate
// kernels (scalar, SSSE3, AVX2; chosen at run time), the block encoder and decoder.
#include "condcast/fec.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <string>

#include "condcast/error.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CONDCAST_FEC_X86 1
#endif

namespace condcast {

namespace {

struct Tables {
  std::array<std::uint8_t, 510> exp{};
  std::array<std::uint8_t, 256> log{};
  std::array<std::uint8_t, 256> inv{};
  /// Per coefficient c, 64 bytes: c · x for x = 0 … 15 twice (both 128-bit lanes), then c · (x << 4)
  /// for x = 0 … 15 twice: the pshufb tables of the split-nibble kernels.
  alignas(64) std::array<std::array<std::uint8_t, 64>, 256> nibbles{};
};

constexpr std::uint8_t tableMul(const Tables& t, unsigned a, unsigned b) {
  return a == 0 || b == 0 ? 0 : t.exp[t.log[a] + t.log[b]];
}

constexpr Tables makeTables() {
  Tables t;
  unsigned x = 1;
  for (unsigned i = 0; i < 255; i++) {
    t.exp[i] = static_cast<std::uint8_t>(x);
    t.exp[i + 255] = static_cast<std::uint8_t>(x);
    t.log[x] = static_cast<std::uint8_t>(i);
    x <<= 1;
    if (x & 0x100) x ^= Gf256::kPolynomial;
  }
  for (unsigned a = 1; a < 256; a++) t.inv[a] = t.exp[(255 - t.log[a]) % 255];
  for (unsigned c = 0; c < 256; c++) {
    for (unsigned n = 0; n < 16; n++) {
      t.nibbles[c][n] = t.nibbles[c][n + 16] = tableMul(t, c, n);
      t.nibbles[c][n + 32] = t.nibbles[c][n + 48] = tableMul(t, c, n << 4);
    }
  }
  return t;
}

constexpr Tables kTables = makeTables();
static_assert(kTables.exp[8] == 29);
static_assert(tableMul(kTables, 0x57, 0x83) == 0x31);
static_assert(kTables.inv[2] == 0x8E);

/// product[c][x] = c · x: the scalar kernel's table (64 KiB, built on first use: too many steps for
/// every compiler's constant evaluation).
using ProductTable = std::array<std::array<std::uint8_t, 256>, 256>;
const ProductTable& products() noexcept {
  static const ProductTable table = [] {
    ProductTable p{};
    for (unsigned a = 0; a < 256; a++) {
      for (unsigned b = 0; b < 256; b++) p[a][b] = tableMul(kTables, a, b);
    }
    return p;
  }();
  return table;
}

// ---- kernels ---------------------------------------------------------------------------------------

void mulAddRowsScalar(std::uint8_t* const* dsts, const std::uint8_t* coefficients, std::size_t rows,
                      const std::uint8_t* src, std::size_t n, std::size_t from) noexcept {
  for (std::size_t r = 0; r < rows; r++) {
    const std::uint8_t c = coefficients[r];
    if (c == 0) continue;
    std::uint8_t* dst = dsts[r];
    if (c == 1) {
      for (std::size_t t = from; t < n; t++) dst[t] ^= src[t];
      continue;
    }
    const std::uint8_t* product = products()[c].data();
    for (std::size_t t = from; t < n; t++) dst[t] ^= product[src[t]];
  }
}

#ifdef CONDCAST_FEC_X86
__attribute__((target("ssse3"))) void mulAddRowsSsse3(std::uint8_t* const* dsts, const std::uint8_t* coefficients,
                                                      std::size_t rows, const std::uint8_t* src, std::size_t n) noexcept {
  const __m128i mask = _mm_set1_epi8(0x0F);
  std::size_t t = 0;
  for (; t + 16 <= n; t += 16) {
    const __m128i s = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + t));
    const __m128i lo = _mm_and_si128(s, mask);
    const __m128i hi = _mm_and_si128(_mm_srli_epi64(s, 4), mask);
    for (std::size_t r = 0; r < rows; r++) {
      const std::uint8_t* table = kTables.nibbles[coefficients[r]].data();
      const __m128i tl = _mm_load_si128(reinterpret_cast<const __m128i*>(table));
      const __m128i th = _mm_load_si128(reinterpret_cast<const __m128i*>(table + 32));
      const __m128i product = _mm_xor_si128(_mm_shuffle_epi8(tl, lo), _mm_shuffle_epi8(th, hi));
      auto* d = reinterpret_cast<__m128i*>(dsts[r] + t);
      _mm_storeu_si128(d, _mm_xor_si128(_mm_loadu_si128(d), product));
    }
  }
  if (t < n) mulAddRowsScalar(dsts, coefficients, rows, src, n, t);
}

__attribute__((target("avx2"))) void mulAddRowsAvx2(std::uint8_t* const* dsts, const std::uint8_t* coefficients,
                                                    std::size_t rows, const std::uint8_t* src, std::size_t n) noexcept {
  const __m256i mask = _mm256_set1_epi8(0x0F);
  std::size_t t = 0;
  for (; t + 64 <= n; t += 64) {
    const __m256i s0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + t));
    const __m256i s1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + t + 32));
    const __m256i lo0 = _mm256_and_si256(s0, mask);
    const __m256i hi0 = _mm256_and_si256(_mm256_srli_epi64(s0, 4), mask);
    const __m256i lo1 = _mm256_and_si256(s1, mask);
    const __m256i hi1 = _mm256_and_si256(_mm256_srli_epi64(s1, 4), mask);
    for (std::size_t r = 0; r < rows; r++) {
      const std::uint8_t* table = kTables.nibbles[coefficients[r]].data();
      const __m256i tl = _mm256_load_si256(reinterpret_cast<const __m256i*>(table));
      const __m256i th = _mm256_load_si256(reinterpret_cast<const __m256i*>(table + 32));
      const __m256i p0 = _mm256_xor_si256(_mm256_shuffle_epi8(tl, lo0), _mm256_shuffle_epi8(th, hi0));
      const __m256i p1 = _mm256_xor_si256(_mm256_shuffle_epi8(tl, lo1), _mm256_shuffle_epi8(th, hi1));
      auto* d = reinterpret_cast<__m256i*>(dsts[r] + t);
      _mm256_storeu_si256(d, _mm256_xor_si256(_mm256_loadu_si256(d), p0));
      _mm256_storeu_si256(d + 1, _mm256_xor_si256(_mm256_loadu_si256(d + 1), p1));
    }
  }
  for (; t + 32 <= n; t += 32) {
    const __m256i s = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + t));
    const __m256i lo = _mm256_and_si256(s, mask);
    const __m256i hi = _mm256_and_si256(_mm256_srli_epi64(s, 4), mask);
    for (std::size_t r = 0; r < rows; r++) {
      const std::uint8_t* table = kTables.nibbles[coefficients[r]].data();
      const __m256i tl = _mm256_load_si256(reinterpret_cast<const __m256i*>(table));
      const __m256i th = _mm256_load_si256(reinterpret_cast<const __m256i*>(table + 32));
      const __m256i product = _mm256_xor_si256(_mm256_shuffle_epi8(tl, lo), _mm256_shuffle_epi8(th, hi));
      auto* d = reinterpret_cast<__m256i*>(dsts[r] + t);
      _mm256_storeu_si256(d, _mm256_xor_si256(_mm256_loadu_si256(d), product));
    }
  }
  if (t < n) mulAddRowsScalar(dsts, coefficients, rows, src, n, t);
}
#endif

GfKernel detectBest() noexcept {
#ifdef CONDCAST_FEC_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2")) return GfKernel::Avx2;
  if (__builtin_cpu_supports("ssse3")) return GfKernel::Ssse3;
#endif
  return GfKernel::Scalar;
}

std::atomic<GfKernel>& activeKernel() noexcept {
  static std::atomic<GfKernel> kernel{gfBestKernel()};
  return kernel;
}

}  // namespace

// ---- the field -------------------------------------------------------------------------------------

const std::array<std::uint8_t, 510>& Gf256::exp() noexcept { return kTables.exp; }
const std::array<std::uint8_t, 256>& Gf256::log() noexcept { return kTables.log; }
std::uint8_t Gf256::mul(std::uint8_t a, std::uint8_t b) noexcept { return tableMul(kTables, a, b); }
std::uint8_t Gf256::inv(std::uint8_t a) noexcept { return kTables.inv[a]; }
const std::uint8_t* Gf256::mulRow(std::uint8_t c) noexcept { return products()[c].data(); }

// ---- parameters and layout -------------------------------------------------------------------------

std::uint32_t fecParityUnits(double parityRatio) {
  if (!(parityRatio >= 0 && parityRatio <= 1)) throw Error("FEC parity ratio must be in [0, 1]");
  // Math.round of the reference: half-way cases go up (only positive values here).
  return static_cast<std::uint32_t>(std::floor(parityRatio * 10000 + 0.5));
}

std::uint32_t fecDefaultBlockLength(std::uint32_t parityUnits) noexcept {
  for (std::uint32_t b = 254; b >= 1; b--) {
    if (b + fecParityFor(b, parityUnits) <= 255) return b;
  }
  return 1;  // unreachable for P <= 10000: B = 1 takes at most one parity fragment
}

FecConfig FecConfig::from(const FecParams& params) {
  FecConfig config;
  config.parityUnits = fecParityUnits(params.parityRatio);
  if (params.interleave < 1) throw Error("FEC interleave depth must be >= 1");
  config.interleave = params.interleave;
  if (config.parityUnits == 0) return config;
  if (params.blockLength) {
    const std::uint32_t b = *params.blockLength;
    if (b < 1 || b > 254) throw Error("FEC block length must be in [1, 254], got " + std::to_string(b));
    if (b + fecParityFor(b, config.parityUnits) > 255) {
      throw Error("FEC block length " + std::to_string(b) + " with " + std::to_string(fecParityFor(b, config.parityUnits)) +
                  " parity fragments exceeds 255 fragments per block");
    }
    config.blockLength = b;
  } else {
    config.blockLength = fecDefaultBlockLength(config.parityUnits);
  }
  return config;
}

FecLayout fecLayout(std::uint32_t sourceCount, std::uint32_t blockLength, std::uint32_t parityCount) noexcept {
  FecLayout l;
  l.sourceCount = sourceCount;
  l.blockLength = blockLength;
  l.parityCount = parityCount;
  if (sourceCount == 0 || blockLength == 0) return l;
  l.blockCount = (sourceCount + blockLength - 1) / blockLength;
  l.aLarge = (sourceCount + l.blockCount - 1) / l.blockCount;
  l.aSmall = sourceCount / l.blockCount;
  l.iLarge = sourceCount - l.aSmall * l.blockCount;
  return l;
}

std::uint8_t cauchyCoefficient(std::uint32_t i, std::uint32_t j) noexcept {
  return kTables.inv[((255 - i) ^ j) & 0xFF];
}

// ---- kernels ---------------------------------------------------------------------------------------

std::string_view toString(GfKernel kernel) noexcept {
  switch (kernel) {
    case GfKernel::Scalar:
      return "scalar";
    case GfKernel::Ssse3:
      return "ssse3";
    case GfKernel::Avx2:
      return "avx2";
  }
  return "?";
}

bool gfKernelSupported(GfKernel kernel) noexcept {
  switch (kernel) {
    case GfKernel::Scalar:
      return true;
    case GfKernel::Ssse3:
      return gfBestKernel() != GfKernel::Scalar;
    case GfKernel::Avx2:
      return gfBestKernel() == GfKernel::Avx2;
  }
  return false;
}

GfKernel gfBestKernel() noexcept {
  static const GfKernel best = detectBest();
  return best;
}

GfKernel gfActiveKernel() noexcept { return activeKernel().load(std::memory_order_relaxed); }

GfKernel gfSetKernel(GfKernel kernel) noexcept {
  if (!gfKernelSupported(kernel)) kernel = GfKernel::Scalar;
  return activeKernel().exchange(kernel);
}

void gfMulAddRowsWith(GfKernel kernel, std::uint8_t* const* dsts, const std::uint8_t* coefficients, std::size_t rows,
                      const std::uint8_t* src, std::size_t n) noexcept {
  if (rows == 0 || n == 0) return;
  switch (kernel) {
#ifdef CONDCAST_FEC_X86
    case GfKernel::Avx2:
      mulAddRowsAvx2(dsts, coefficients, rows, src, n);
      return;
    case GfKernel::Ssse3:
      mulAddRowsSsse3(dsts, coefficients, rows, src, n);
      return;
#endif
    default:
      mulAddRowsScalar(dsts, coefficients, rows, src, n, 0);
  }
}

void gfMulAddWith(GfKernel kernel, std::uint8_t* dst, const std::uint8_t* src, std::uint8_t c, std::size_t n) noexcept {
  if (c == 0) return;
  gfMulAddRowsWith(kernel, &dst, &c, 1, src, n);
}

void gfMulAdd(std::uint8_t* dst, const std::uint8_t* src, std::uint8_t c, std::size_t n) noexcept {
  gfMulAddWith(gfActiveKernel(), dst, src, c, n);
}

void gfMulAddRows(std::uint8_t* const* dsts, const std::uint8_t* coefficients, std::size_t rows, const std::uint8_t* src,
                  std::size_t n) noexcept {
  gfMulAddRowsWith(gfActiveKernel(), dsts, coefficients, rows, src, n);
}

// ---- encoder ---------------------------------------------------------------------------------------

FecEncoder::FecEncoder(std::uint8_t* parity, std::uint32_t parityCount, std::size_t symbolSize) noexcept
    : parity_(parity), parityCount_(std::min<std::uint32_t>(parityCount, 255)), symbolSize_(symbolSize) {
  for (std::uint32_t i = 0; i < parityCount_; i++) rows_[i] = parity_ + std::size_t{i} * symbolSize_;
}

void FecEncoder::reset() noexcept {
  if (parityCount_ > 0 && symbolSize_ > 0) std::memset(parity_, 0, std::size_t{parityCount_} * symbolSize_);
}

void FecEncoder::add(std::uint32_t j, std::size_t offset, std::span<const std::uint8_t> bytes) noexcept {
  if (bytes.empty()) return;
  std::array<std::uint8_t*, 255> dsts;
  for (std::uint32_t i = 0; i < parityCount_; i++) {
    coefficients_[i] = cauchyCoefficient(i, j);
    dsts[i] = rows_[i] + offset;
  }
  gfMulAddRows(dsts.data(), coefficients_.data(), parityCount_, bytes.data(), bytes.size());
}

void FecEncoder::encode(std::span<const SourceSymbol> sources) noexcept {
  reset();
  for (std::size_t j = 0; j < sources.size(); j++) {
    if (sources[j].data != nullptr) add(static_cast<std::uint32_t>(j), 0, {sources[j].data, sources[j].length});
  }
}

// ---- decoder ---------------------------------------------------------------------------------------

bool gfInvert(std::uint8_t* a, std::uint8_t* inverse, std::size_t n) noexcept {
  std::memset(inverse, 0, n * n);
  for (std::size_t i = 0; i < n; i++) inverse[i * n + i] = 1;
  for (std::size_t col = 0; col < n; col++) {
    std::size_t pivot = col;
    while (pivot < n && a[pivot * n + col] == 0) pivot++;
    if (pivot == n) return false;
    if (pivot != col) {
      std::swap_ranges(a + pivot * n, a + pivot * n + n, a + col * n);
      std::swap_ranges(inverse + pivot * n, inverse + pivot * n + n, inverse + col * n);
    }
    const std::uint8_t* scale = Gf256::mulRow(Gf256::inv(a[col * n + col]));
    for (std::size_t t = 0; t < n; t++) {
      a[col * n + t] = scale[a[col * n + t]];
      inverse[col * n + t] = scale[inverse[col * n + t]];
    }
    for (std::size_t r = 0; r < n; r++) {
      const std::uint8_t f = a[r * n + col];
      if (r == col || f == 0) continue;
      const std::uint8_t* times = Gf256::mulRow(f);
      for (std::size_t t = 0; t < n; t++) {
        a[r * n + t] ^= times[a[col * n + t]];
        inverse[r * n + t] ^= times[inverse[col * n + t]];
      }
    }
  }
  return true;
}

bool FecDecoder::decode(std::span<const SourceSymbol> sources, std::span<const ParitySymbol> parity,
                        std::span<const RecoveredSymbol> out, std::size_t symbolSize) {
  const std::size_t k = sources.size();
  if (k > 255) return false;
  std::array<std::uint32_t, 255> missing;
  std::size_t e = 0;
  for (std::size_t j = 0; j < k; j++) {
    if (sources[j].data == nullptr) missing[e++] = static_cast<std::uint32_t>(j);
  }
  if (out.size() != e || parity.size() < e) return false;
  for (std::size_t c = 0; c < e; c++) {
    if (out[c].position != missing[c] || out[c].length > symbolSize) return false;
  }
  if (e == 0) return true;
  matrix_.resize(e * e);
  inverse_.resize(e * e);
  for (std::size_t r = 0; r < e; r++) {
    for (std::size_t c = 0; c < e; c++) matrix_[r * e + c] = cauchyCoefficient(parity[r].row, missing[c]);
  }
  if (!gfInvert(matrix_.data(), inverse_.data(), e)) return false;  // a Cauchy matrix never is singular
  // Syndromes: s_r = parity_{i_r} XOR sum over present j of C(i_r, j) · source_j.
  if (syndromes_.size() < e * symbolSize) syndromes_.resize(e * symbolSize);
  std::array<std::uint8_t*, 255> rows;
  std::array<std::uint8_t, 255> coefficients;
  for (std::size_t r = 0; r < e; r++) {
    rows[r] = syndromes_.data() + r * symbolSize;
    std::memcpy(rows[r], parity[r].data, symbolSize);
  }
  for (std::size_t j = 0; j < k; j++) {
    if (sources[j].data == nullptr || sources[j].length == 0) continue;
    for (std::size_t r = 0; r < e; r++) coefficients[r] = cauchyCoefficient(parity[r].row, static_cast<std::uint32_t>(j));
    gfMulAddRows(rows.data(), coefficients.data(), e, sources[j].data, std::min(sources[j].length, symbolSize));
  }
  // source_{E[c]} = sum over r of inverse[c][r] · s_r (only its chunk's bytes are written).
  // Full-length outputs take each syndrome once for all of them; a shorter one (the object's last
  // fragment) is done on its own.
  std::array<std::uint8_t*, 255> full;
  std::array<std::size_t, 255> fullIndex;
  std::size_t fullCount = 0;
  for (std::size_t c = 0; c < e; c++) {
    std::memset(out[c].data, 0, out[c].length);
    if (out[c].length == symbolSize) {
      full[fullCount] = out[c].data;
      fullIndex[fullCount++] = c;
    } else {
      for (std::size_t r = 0; r < e; r++) gfMulAdd(out[c].data, rows[r], inverse_[c * e + r], out[c].length);
    }
  }
  for (std::size_t r = 0; r < e && fullCount > 0; r++) {
    for (std::size_t f = 0; f < fullCount; f++) coefficients[f] = inverse_[fullIndex[f] * e + r];
    gfMulAddRows(full.data(), coefficients.data(), fullCount, rows[r], symbolSize);
  }
  return true;
}

bool decodeBlock(std::span<const SourceSymbol> sources, std::span<const ParitySymbol> parity,
                 std::span<const RecoveredSymbol> out, std::size_t symbolSize) {
  FecDecoder decoder;
  return decoder.decode(sources, parity, out, symbolSize);
}

}  // namespace condcast
