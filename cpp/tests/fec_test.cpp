// FEC scheme 1 (SPEC 10): the field's check values, every SIMD kernel against the scalar one, block
// layout and send order against hand-computed cases, exhaustive and random erasure patterns, clean
// failure beyond m losses, and the reassembler with FEC (loss, inconsistent, duplicate, bounds).
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <set>

#include "test_support.hpp"

using namespace condcast;
using namespace testsupport;

namespace {

/// Carry-less multiplication modulo 0x11D, bit by bit: the reference for the tables.
std::uint8_t slowMul(std::uint8_t a, std::uint8_t b) {
  unsigned r = 0;
  unsigned x = a;
  for (int i = 0; i < 8; i++) {
    if (b & (1u << i)) r ^= x;
    x <<= 1;
    if (x & 0x100) x ^= 0x11D;
  }
  return static_cast<std::uint8_t>(r);
}

std::vector<GfKernel> supportedKernels() {
  std::vector<GfKernel> out;
  for (GfKernel k : {GfKernel::Scalar, GfKernel::Ssse3, GfKernel::Avx2}) {
    if (gfKernelSupported(k)) out.push_back(k);
  }
  return out;
}

/// Restores the process-wide kernel at the end of a scope.
struct KernelGuard {
  GfKernel saved = gfActiveKernel();
  ~KernelGuard() { gfSetKernel(saved); }
};

}  // namespace

TEST(Gf256, CheckValuesOfSpec10_1) {
  const auto& exp = Gf256::exp();
  const std::uint8_t first[] = {1, 2, 4, 8, 16, 32, 64, 128, 29};
  for (int i = 0; i < 9; i++) EXPECT_EQ(exp[i], first[i]) << i;
  std::set<std::uint8_t> seen;
  for (int i = 0; i < 255; i++) {
    seen.insert(exp[i]);
    EXPECT_EQ(Gf256::log()[exp[i]], i);
    EXPECT_EQ(exp[i + 255], exp[i]);
  }
  EXPECT_EQ(seen.size(), 255u);  // 2 generates the multiplicative group
  EXPECT_EQ(Gf256::mul(0x57, 0x83), 0x31);
  EXPECT_EQ(Gf256::inv(2), 0x8E);
  for (unsigned a = 0; a < 256; a++) {
    for (unsigned b = 0; b < 256; b++) {
      ASSERT_EQ(Gf256::mul(static_cast<std::uint8_t>(a), static_cast<std::uint8_t>(b)),
                slowMul(static_cast<std::uint8_t>(a), static_cast<std::uint8_t>(b)));
    }
    if (a > 0) {
      EXPECT_EQ(Gf256::mul(static_cast<std::uint8_t>(a), Gf256::inv(static_cast<std::uint8_t>(a))), 1);
    }
  }
}

TEST(Gf256, CauchyCoefficientsOfSpec10_3) {
  const std::uint8_t expected[3][6] = {{0xFD, 0x7E, 0xFF, 0x7F, 0x75, 0xE8},
                                       {0x7E, 0xFD, 0x7F, 0xFF, 0xE8, 0x75},
                                       {0xFF, 0x7F, 0xFD, 0x7E, 0xD4, 0x42}};
  for (std::uint32_t i = 0; i < 3; i++) {
    for (std::uint32_t j = 0; j < 6; j++) EXPECT_EQ(cauchyCoefficient(i, j), expected[i][j]) << i << "," << j;
  }
}

TEST(Gf256, KernelsEqualScalarForEveryLength) {
  std::mt19937 rng(1234);
  const auto kernels = supportedKernels();
  std::cerr << "kernels: ";
  for (auto k : kernels) std::cerr << toString(k) << " ";
  std::cerr << "(best " << toString(gfBestKernel()) << ")\n";
  std::vector<std::uint8_t> src(4200);
  std::vector<std::uint8_t> base(4200);
  for (std::size_t n = 0; n <= 100; n++) {
    for (int trial = 0; trial < 6; trial++) {
      for (auto& b : src) b = static_cast<std::uint8_t>(rng());
      for (auto& b : base) b = static_cast<std::uint8_t>(rng());
      const std::uint8_t c = trial == 0 ? 0 : trial == 1 ? 1 : static_cast<std::uint8_t>(rng());
      const std::size_t offset = rng() % 7;  // unaligned starts
      std::vector<std::uint8_t> expected = base;
      for (std::size_t t = 0; t < n; t++) expected[offset + t] ^= slowMul(c, src[offset + t]);
      for (GfKernel k : kernels) {
        std::vector<std::uint8_t> got = base;
        gfMulAddWith(k, got.data() + offset, src.data() + offset, c, n);
        ASSERT_EQ(got, expected) << toString(k) << " n=" << n << " c=" << int(c);
      }
    }
  }
  // Long inputs and many rows at once.
  for (std::size_t n : {std::size_t{1392}, std::size_t{4000}, std::size_t{4097}}) {
    for (std::size_t rows : {std::size_t{1}, std::size_t{3}, std::size_t{13}}) {
      for (auto& b : src) b = static_cast<std::uint8_t>(rng());
      std::vector<std::uint8_t> coefficients(rows);
      for (auto& c : coefficients) c = static_cast<std::uint8_t>(rng());
      std::vector<std::vector<std::uint8_t>> expected(rows, std::vector<std::uint8_t>(n));
      for (auto& row : expected) for (auto& b : row) b = static_cast<std::uint8_t>(rng());
      const auto initial = expected;
      for (std::size_t r = 0; r < rows; r++) {
        for (std::size_t t = 0; t < n; t++) expected[r][t] ^= slowMul(coefficients[r], src[t]);
      }
      for (GfKernel k : kernels) {
        auto got = initial;
        std::vector<std::uint8_t*> dsts;
        for (auto& row : got) dsts.push_back(row.data());
        gfMulAddRowsWith(k, dsts.data(), coefficients.data(), rows, src.data(), n);
        ASSERT_EQ(got, expected) << toString(k) << " n=" << n << " rows=" << rows;
      }
    }
  }
}

TEST(FecLayout, HandComputedCases) {
  // 18 sources, B 5: 4 blocks of 5, 5, 4, 4 (spec/vectors object-fec-blocks).
  FecLayout l = fecLayout(18, 5, 2);
  EXPECT_EQ(l.blockCount, 4u);
  EXPECT_EQ(l.aLarge, 5u);
  EXPECT_EQ(l.aSmall, 4u);
  EXPECT_EQ(l.iLarge, 2u);
  EXPECT_EQ(l.blockStart(0), 0u);
  EXPECT_EQ(l.blockStart(1), 5u);
  EXPECT_EQ(l.blockStart(2), 10u);
  EXPECT_EQ(l.blockStart(3), 14u);
  EXPECT_EQ(l.blockSourceCount(3), 4u);
  EXPECT_EQ(l.parityStart(3), 24u);
  EXPECT_EQ(l.totalCount(), 26u);
  // One source fragment: one block of 1.
  l = fecLayout(1, 242, 1);
  EXPECT_EQ(l.blockCount, 1u);
  EXPECT_EQ(l.aLarge, 1u);
  EXPECT_EQ(l.aSmall, 1u);
  EXPECT_EQ(l.iLarge, 0u);
  EXPECT_EQ(l.blockStart(0), 0u);
  // Exactly B: one full block; B + 1: two blocks of (B + 1) / 2 rounded.
  l = fecLayout(242, 242, 13);
  EXPECT_EQ(l.blockCount, 1u);
  EXPECT_EQ(l.aLarge, 242u);
  l = fecLayout(243, 242, 13);
  EXPECT_EQ(l.blockCount, 2u);
  EXPECT_EQ(l.aLarge, 122u);
  EXPECT_EQ(l.aSmall, 121u);
  EXPECT_EQ(l.iLarge, 1u);
  EXPECT_EQ(l.blockStart(1), 122u);
  // SPEC 10.4: a 2 MiB object in 1392-byte fragments is 7 blocks of 216 + 11 (defaults).
  const std::uint32_t p = fecParityUnits(0.05);
  EXPECT_EQ(p, 500u);
  EXPECT_EQ(fecDefaultBlockLength(p), 242u);
  EXPECT_EQ(fecParityFor(242, p), 13u);
  const auto t = static_cast<std::uint32_t>(fragmentCount(2 * 1024 * 1024 + 100, 1392));
  l = fecLayout(t, 242, 0);
  EXPECT_EQ(l.blockCount, 7u);
  EXPECT_EQ(l.aLarge, 216u);
  EXPECT_EQ(fecParityFor(l.aLarge, p), 11u);
  // blockOfSource agrees with blockStart / blockSourceCount everywhere.
  for (std::uint32_t total : {1u, 2u, 17u, 242u, 243u, 1000u, 4519u}) {
    for (std::uint32_t b : {1u, 3u, 5u, 242u, 254u}) {
      const FecLayout x = fecLayout(total, b, 1);
      std::uint32_t covered = 0;
      for (std::uint32_t block = 0; block < x.blockCount; block++) {
        EXPECT_EQ(x.blockStart(block), covered);
        EXPECT_LE(x.blockSourceCount(block), b);
        for (std::uint32_t j = 0; j < x.blockSourceCount(block); j++) ASSERT_EQ(x.blockOfSource(covered + j), block);
        covered += x.blockSourceCount(block);
      }
      EXPECT_EQ(covered, total);
    }
  }
}

TEST(FecConfig, ParametersAndRefusals) {
  EXPECT_EQ(fecParityUnits(0), 0u);
  EXPECT_EQ(fecParityUnits(1), 10000u);
  EXPECT_EQ(fecParityUnits(0.00005), 1u);  // half-way rounds up, as Math.round
  EXPECT_THROW(fecParityUnits(-0.1), Error);
  EXPECT_THROW(fecParityUnits(1.01), Error);
  FecConfig c = FecConfig::from({});
  EXPECT_EQ(c.parityUnits, 500u);
  EXPECT_EQ(c.blockLength, 242u);
  EXPECT_EQ(c.interleave, 16u);
  EXPECT_EQ(FecConfig::from({1.0, std::nullopt, 1}).blockLength, 127u);
  EXPECT_FALSE(FecConfig::from({0.0, std::nullopt, 16}).enabled());
  EXPECT_THROW(FecConfig::from({0.05, 243u, 16}), Error);  // 243 + 13 = 256
  EXPECT_NO_THROW(FecConfig::from({0.05, 242u, 16}));
  EXPECT_THROW(FecConfig::from({0.05, 0u, 16}), Error);
  EXPECT_THROW(FecConfig::from({0.05, 100u, 0}), Error);
}

TEST(FecSendOrder, InterleaveGroupsAndRounds) {
  // spec/vectors object-fec-blocks: T 18, B 5, m 2, D 2.
  const std::vector<std::uint32_t> expected{0, 5,  1,  6,  2,  7,  3,  8,  4,  9,  18, 20, 19,
                                            21, 10, 14, 11, 15, 12, 16, 13, 17, 22, 24, 23, 25};
  std::vector<std::uint32_t> got;
  std::vector<std::uint32_t> groups;
  for (SendOrder o(fecLayout(18, 5, 2), 2); !o.done(); o.advance()) {
    got.push_back(o.index());
    groups.push_back(o.group());
  }
  EXPECT_EQ(got, expected);
  EXPECT_EQ(groups.front(), 0u);
  EXPECT_EQ(groups.back(), 1u);
  // Every index exactly once, each group's sources before its parity.
  for (std::uint32_t total : {1u, 7u, 242u, 1000u, 5000u}) {
    for (std::uint32_t d : {1u, 3u, 16u, 100u}) {
      const FecLayout l = fecLayout(total, 242, fecParityFor(std::min(total, 242u), 500));
      std::vector<int> seen(l.totalCount(), 0);
      std::int64_t lastGroup = -1;
      std::uint32_t lastSourceGroup = 0;
      for (SendOrder o(l, d); !o.done(); o.advance()) {
        ASSERT_LT(o.index(), seen.size());
        seen[o.index()]++;
        ASSERT_GE(static_cast<std::int64_t>(o.group()), lastGroup);
        lastGroup = o.group();
        if (o.index() < total) lastSourceGroup = o.group();
        else ASSERT_EQ(lastSourceGroup, o.group());  // parity only after its group's sources
      }
      EXPECT_TRUE(std::all_of(seen.begin(), seen.end(), [](int n) { return n == 1; })) << total << " " << d;
    }
  }
  // Without FEC: ascending.
  std::uint32_t next = 0;
  for (SendOrder o(fecLayout(5, 1, 0), 16); !o.done(); o.advance()) EXPECT_EQ(o.index(), next++);
  EXPECT_EQ(next, 5u);
}

namespace {

/// A block of k source symbols of `symbolSize` (the last `lastLength` long) with m parity symbols.
struct Block {
  std::size_t symbolSize;
  std::vector<std::vector<std::uint8_t>> sources;
  std::vector<std::uint8_t> parity;  // m symbols
  std::uint32_t m;

  Block(std::uint32_t k, std::uint32_t m_, std::size_t size, std::size_t lastLength, std::uint32_t seed)
      : symbolSize(size), m(m_) {
    for (std::uint32_t j = 0; j < k; j++) sources.push_back(pattern(j + 1 == k ? lastLength : size, seed * 1000 + j));
    parity.assign(std::size_t{m} * size, 0xAA);
    FecEncoder encoder(parity.data(), m, size);
    std::vector<SourceSymbol> symbols;
    for (const auto& s : sources) symbols.push_back({s.data(), s.size()});
    encoder.encode(symbols);
  }

  /// Loses the encoding symbols in `lost` (positions 0 … k + m − 1) and decodes; true when every
  /// source came back byte for byte.
  bool recover(const std::vector<std::uint32_t>& lost, FecDecoder& decoder) const {
    const auto k = static_cast<std::uint32_t>(sources.size());
    std::vector<SourceSymbol> symbols;
    std::vector<std::vector<std::uint8_t>> rebuilt;
    std::vector<RecoveredSymbol> out;
    std::vector<ParitySymbol> parityIn;
    rebuilt.reserve(k);
    for (std::uint32_t j = 0; j < k; j++) {
      if (std::find(lost.begin(), lost.end(), j) != lost.end()) {
        symbols.push_back({});
        rebuilt.emplace_back(sources[j].size(), 0x55);
        out.push_back({j, rebuilt.back().data(), rebuilt.back().size()});
      } else {
        symbols.push_back({sources[j].data(), sources[j].size()});
        rebuilt.emplace_back();
      }
    }
    for (std::uint32_t i = 0; i < m; i++) {
      if (std::find(lost.begin(), lost.end(), k + i) == lost.end()) {
        parityIn.push_back({i, parity.data() + std::size_t{i} * symbolSize});
      }
    }
    if (!decoder.decode(symbols, parityIn, out, symbolSize)) return false;
    for (const auto& o : out) {
      if (!std::equal(rebuilt[o.position].begin(), rebuilt[o.position].end(), sources[o.position].begin())) return false;
    }
    return true;
  }
};

}  // namespace

TEST(FecCodec, EveryPatternOfUpToMLossesSmallBlocks) {
  FecDecoder decoder;
  int patterns = 0;
  for (std::uint32_t k = 1; k <= 10; k++) {
    for (std::uint32_t m = 1; m <= 5; m++) {
      const Block block(k, m, 37, k % 3 == 0 ? 37 : 11 + k, k * 10 + m);
      const std::uint32_t n = k + m;
      for (std::uint32_t mask = 0; mask < (1u << n); mask++) {
        if (static_cast<std::uint32_t>(std::popcount(mask)) > m) continue;
        std::vector<std::uint32_t> lost;
        for (std::uint32_t s = 0; s < n; s++) {
          if (mask >> s & 1) lost.push_back(s);
        }
        ASSERT_TRUE(block.recover(lost, decoder)) << "k=" << k << " m=" << m << " mask=" << mask;
        patterns++;
      }
    }
  }
  EXPECT_EQ(patterns, 21641);  // sum over k <= 10, m <= 5 of the sets of at most m of k + m
}

TEST(FecCodec, RandomPatternsFullBlock) {
  // k = 242, m = 13 (the defaults), 1392-byte symbols, the last one short; every kernel.
  KernelGuard guard;
  std::mt19937 rng(2024);
  for (GfKernel kernel : supportedKernels()) {
    gfSetKernel(kernel);
    const Block block(242, 13, 1392, 700, 5);
    FecDecoder decoder;
    for (int trial = 0; trial < 40; trial++) {
      std::vector<std::uint32_t> all(255);
      std::iota(all.begin(), all.end(), 0u);
      std::shuffle(all.begin(), all.end(), rng);
      const std::size_t e = trial < 20 ? 13 : rng() % 14;
      std::vector<std::uint32_t> lost(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(e));
      if (trial == 0) lost = {241, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};  // the short one too
      ASSERT_TRUE(block.recover(lost, decoder)) << toString(kernel) << " trial " << trial;
    }
  }
}

TEST(FecCodec, ParityIsTheSameWithEveryKernel) {
  KernelGuard guard;
  std::vector<std::uint8_t> reference;
  for (GfKernel kernel : supportedKernels()) {
    gfSetKernel(kernel);
    const Block block(100, 7, 1000, 999, 9);
    if (reference.empty()) reference = block.parity;
    EXPECT_EQ(block.parity, reference) << toString(kernel);
  }
}

TEST(FecCodec, MoreThanMLossesFailCleanly) {
  const Block block(10, 3, 64, 64, 3);
  FecDecoder decoder;
  EXPECT_FALSE(block.recover({0, 1, 2, 3}, decoder));
  EXPECT_FALSE(block.recover({0, 1, 10, 11}, decoder));  // 2 sources, but 2 of 3 parity lost
  EXPECT_TRUE(block.recover({0, 1, 10}, decoder));
  // No parity at all and nothing lost: nothing to do.
  EXPECT_TRUE(block.recover({10, 11, 12}, decoder));
}

TEST(FecCodec, InvertsCauchySubmatrices) {
  std::mt19937 rng(5);
  for (std::size_t n : {std::size_t{1}, std::size_t{2}, std::size_t{13}, std::size_t{100}}) {
    std::vector<std::uint8_t> a(n * n);
    for (std::size_t r = 0; r < n; r++) {
      for (std::size_t c = 0; c < n; c++) a[r * n + c] = cauchyCoefficient(static_cast<std::uint32_t>(r), static_cast<std::uint32_t>(c));
    }
    const auto original = a;
    std::vector<std::uint8_t> inverse(n * n);
    ASSERT_TRUE(gfInvert(a.data(), inverse.data(), n));
    for (std::size_t r = 0; r < n; r++) {
      for (std::size_t c = 0; c < n; c++) {
        std::uint8_t sum = 0;
        for (std::size_t t = 0; t < n; t++) sum ^= Gf256::mul(original[r * n + t], inverse[t * n + c]);
        ASSERT_EQ(sum, r == c ? 1 : 0);
      }
    }
  }
  std::vector<std::uint8_t> singular{1, 2, 1, 2};
  std::vector<std::uint8_t> inverse(4);
  EXPECT_FALSE(gfInvert(singular.data(), inverse.data(), 2));
}

// ---- the reassembler with FEC ----------------------------------------------------------------------

namespace {

struct Coded {
  std::vector<std::uint8_t> payload;
  std::vector<std::vector<std::uint8_t>> datagrams;  // in send order
  std::vector<std::uint32_t> indexes;                // fragment index of each datagram
  FecLayout layout;
  std::uint32_t sourceCount = 0;
  ObjectId id{};
};

Coded coded(std::size_t size, FecParams params, std::size_t datagramSize = 1472, std::uint32_t seed = 1) {
  Coded c;
  c.payload = pattern(size, seed);
  ObjectMetadata meta;
  meta.path = "Test/Fec/Object";
  meta.validFrom = 1;
  meta.validUntil = 2;
  meta.created = 3;
  meta.contentType = "application/octet-stream";
  meta.fileName = "fec.bin";
  meta.md5 = md5(c.payload);
  c.id = parseUuid("3f2504e0-4f89-11d3-9a0c-0305e82c3301");
  c.id[15] = static_cast<std::uint8_t>(seed);
  ObjectEncoder encoder({0x1234, seed, c.id, meta, c.payload}, datagramSize, nullptr, FecConfig::from(params));
  c.layout = encoder.fecLayout();
  c.sourceCount = encoder.sourceCount();
  for (SendOrder o = encoder.sendOrder(); !o.done(); o.advance()) {
    std::vector<std::uint8_t> buf(datagramSize);
    buf.resize(encoder.writeDatagram(o.index(), buf.data()));
    c.datagrams.push_back(std::move(buf));
    c.indexes.push_back(o.index());
  }
  return c;
}

struct Sink {
  std::vector<ReceivedObject> objects;
  Receiver receiver;
  explicit Sink(ReceiverOptions options = {}) : receiver(Receiver::NoSocket{}, options, events()) {}
  ReceiverEvents events() {
    ReceiverEvents e;
    e.onObject = [this](ReceivedObject&& o) { objects.push_back(std::move(o)); };
    return e;
  }
};

}  // namespace

TEST(FecReassembly, RandomLossBeforeTheReassemblerIsRebuilt) {
  // 3 MiB, defaults (B 242, m 13, D 16): drop 3% of datagrams at random (fixed seed) but never more
  // than m of a block; every object completes, and the counters say what was rebuilt.
  std::mt19937 rng(77);
  for (int round = 0; round < 3; round++) {
    const Coded c = coded(3 << 20, {}, 1472, static_cast<std::uint32_t>(round + 1));
    std::vector<std::uint32_t> lostPerBlock(c.layout.blockCount, 0);
    std::uint32_t lostSources = 0;
    std::set<std::uint32_t> decodedBlocks;
    Sink sink;
    for (std::size_t i = 0; i < c.datagrams.size(); i++) {
      const std::uint32_t index = c.indexes[i];
      const std::uint32_t block = index < c.sourceCount ? c.layout.blockOfSource(index)
                                                        : (index - c.sourceCount) / c.layout.parityCount;
      if (rng() % 100 < 3 && lostPerBlock[block] < c.layout.parityCount) {
        lostPerBlock[block]++;
        if (index < c.sourceCount) {
          lostSources++;
          decodedBlocks.insert(block);
        }
        continue;
      }
      sink.receiver.handleDatagram(c.datagrams[i], 0);
    }
    ASSERT_EQ(sink.objects.size(), 1u) << sink.receiver.counters().toJson();
    EXPECT_TRUE(std::equal(sink.objects[0].payload().begin(), sink.objects[0].payload().end(), c.payload.begin(), c.payload.end()));
    const auto& fec = sink.receiver.counters().fec;
    EXPECT_EQ(fec.fragmentsRecovered, lostSources);
    EXPECT_EQ(fec.parityUsed, lostSources);
    EXPECT_EQ(fec.blocksDecoded, decodedBlocks.size());
    EXPECT_GT(lostSources, 20u);
    EXPECT_EQ(sink.receiver.counters().totalDrops(), 0u) << sink.receiver.counters().toJson();
    EXPECT_EQ(sink.receiver.counters().partialBytes, 0u);
  }
}

TEST(FecReassembly, TooManyLossesLeaveMinimalMissingRangesThenComplete) {
  // B 10, p 0.2: 41 sources in blocks of 9 and 8, m = parity(9) = 2. Block 1 (8 sources) loses 4
  // sources and a parity fragment: it holds 4 + 1 = 5 of 8 and needs 3 more: the first 3 of its
  // missing sources, nothing of the other blocks.
  const Coded c = coded(40 * 1392, {0.2, 10u, 2}, 1472, 4);
  ASSERT_EQ(c.layout.parityCount, 2u);
  ASSERT_GE(c.layout.blockCount, 4u);
  const std::uint32_t start = c.layout.blockStart(1);
  ASSERT_EQ(c.layout.blockSourceCount(1), 8u);
  const std::set<std::uint32_t> lost{start + 1, start + 3, start + 4, start + 7,
                                     static_cast<std::uint32_t>(c.layout.parityStart(1))};
  Sink sink;
  std::vector<std::size_t> held;
  for (std::size_t i = 0; i < c.datagrams.size(); i++) {
    if (lost.contains(c.indexes[i])) {
      held.push_back(i);
      continue;
    }
    sink.receiver.handleDatagram(c.datagrams[i], 0);
  }
  EXPECT_TRUE(sink.objects.empty());
  const auto incomplete = sink.receiver.incomplete();
  ASSERT_EQ(incomplete.size(), 1u);
  const std::uint64_t fs = incomplete[0]->fragmentSize();
  const std::vector<ByteRange> expected{{(start + 1) * fs, (start + 2) * fs}, {(start + 3) * fs, (start + 5) * fs}};
  EXPECT_EQ(incomplete[0]->missingEnvelopeRanges(), expected);
  EXPECT_EQ(incomplete[0]->parityHeld(1), 1u);
  EXPECT_EQ(sink.receiver.counters().fec.blocksDecoded, 0u);
  // The parity fragment comes late: 6 of 8, two more needed; with start + 1 and start + 3 the block
  // decodes (start + 4 and start + 7 rebuilt).
  for (std::size_t i : held) {
    if (c.indexes[i] == c.layout.parityStart(1)) sink.receiver.handleDatagram(c.datagrams[i], 0);
  }
  EXPECT_EQ(incomplete[0]->missingEnvelopeRanges(), (std::vector<ByteRange>{{(start + 1) * fs, (start + 2) * fs}, {(start + 3) * fs, (start + 4) * fs}}));
  for (std::size_t i : held) {
    if (c.indexes[i] == start + 1 || c.indexes[i] == start + 3) sink.receiver.handleDatagram(c.datagrams[i], 0);
  }
  ASSERT_EQ(sink.objects.size(), 1u);
  EXPECT_TRUE(std::equal(sink.objects[0].payload().begin(), sink.objects[0].payload().end(), c.payload.begin(), c.payload.end()));
  EXPECT_EQ(sink.receiver.counters().fec.blocksDecoded, 1u);
  EXPECT_EQ(sink.receiver.counters().fec.fragmentsRecovered, 2u);
  // Now the sources are duplicates of a completed object; the parity fragment is no drop.
  for (std::size_t i : held) sink.receiver.handleDatagram(c.datagrams[i], 0);
  EXPECT_EQ(sink.receiver.counters().drop(DropReason::Duplicate), 4u);
  EXPECT_EQ(sink.receiver.counters().totalDrops(), 4u);
}

TEST(FecReassembly, InconsistentDuplicateAndUnneededParity) {
  const Coded c = coded(20 * 1392, {0.2, 10u, 1}, 1472, 6);
  const Coded other = coded(20 * 1392, {0.3, 10u, 1}, 1472, 6);  // same id, another m
  ASSERT_NE(c.layout.parityCount, other.layout.parityCount);
  Sink sink;
  // A parity fragment first: it is stored (its block lacks every source).
  std::size_t parityAt = 0;
  while (c.indexes[parityAt] < c.sourceCount) parityAt++;
  sink.receiver.handleDatagram(c.datagrams[parityAt], 0);
  EXPECT_EQ(sink.receiver.counters().totalDrops(), 0u);
  sink.receiver.handleDatagram(c.datagrams[parityAt], 0);
  EXPECT_EQ(sink.receiver.counters().drop(DropReason::Duplicate), 1u);
  // The same object with another m: inconsistent.
  sink.receiver.handleDatagram(other.datagrams[0], 0);
  EXPECT_EQ(sink.receiver.counters().drop(DropReason::Inconsistent), 1u);
  // A plain (scheme 0) fragment of the same id: inconsistent too.
  const Coded plain = coded(20 * 1392, {0.0, std::nullopt, 1}, 1472, 6);
  sink.receiver.handleDatagram(plain.datagrams[1], 0);
  EXPECT_EQ(sink.receiver.counters().drop(DropReason::Inconsistent), 2u);
  // Everything in order: block 0 decodes when 6 of its 7 sources are there (with the parity held),
  // so its 7th source is a duplicate, as is the held parity fragment; parity of complete blocks is
  // not a drop.
  for (const auto& d : c.datagrams) sink.receiver.handleDatagram(d, 0);
  ASSERT_EQ(sink.objects.size(), 1u);
  EXPECT_EQ(c.layout.blockSourceCount(0), 7u);
  EXPECT_EQ(sink.receiver.counters().fec.blocksDecoded, 1u);
  EXPECT_EQ(sink.receiver.counters().drop(DropReason::Duplicate), 3u) << sink.receiver.counters().toJson();
  EXPECT_EQ(sink.receiver.counters().totalDrops(), 5u);
}

TEST(FecReassembly, ChargeIncludesEveryParityFragment) {
  const Coded c = coded(100 * 1392, {}, 1472, 8);
  const std::uint64_t envelope = c.datagrams.empty() ? 0 : [&] {
    DatagramDecoder d;
    d.decode(c.datagrams[0]);
    return d.fragment().envelopeLength();
  }();
  const std::uint64_t charge = chargeFor(envelope, 1392, 242, c.layout.parityCount);
  EXPECT_EQ(charge, envelope + c.sourceCount + kPartialOverheadBytes +
                        std::uint64_t{c.layout.blockCount} * c.layout.parityCount * (1392 + 1));
  ReceiverOptions tight;
  tight.reassembly.maxPartialBytes = charge - 1;  // fits the envelope, not the parity room
  Sink refused(tight);
  refused.receiver.handleDatagram(c.datagrams[0], 0);
  EXPECT_EQ(refused.receiver.counters().drop(DropReason::OverCapacity), 1u);
  ReceiverOptions exact;
  exact.reassembly.maxPartialBytes = charge;
  Sink accepted(exact);
  accepted.receiver.handleDatagram(c.datagrams[0], 0);
  EXPECT_EQ(accepted.receiver.counters().partialBytes, charge);
}

TEST(FecReassembly, ChecksOfSpec5_1) {
  // A parity fragment's index bound and chunk length, B + m <= 255, scheme 2.
  const Coded c = coded(3000, {0.5, 3u, 1}, 1472, 9);
  DatagramDecoder decoder;
  for (std::size_t i = 0; i < c.datagrams.size(); i++) {
    ASSERT_EQ(decoder.decode(c.datagrams[i]).kind, Decoded::Fragment);
    EXPECT_EQ(decoder.fragment().isParity(), c.indexes[i] >= c.sourceCount);
    EXPECT_EQ(decoder.fragment().fecScheme(), 1u);
    EXPECT_EQ(decoder.fragment().fecBlockLength(), 3u);
    EXPECT_EQ(decoder.fragment().fecParityCount(), c.layout.parityCount);
  }
  FragmentTemplate t;
  t.senderId = 1;
  t.sequence = 1;
  t.envelopeLength = 300;
  t.metadataLength = 10;
  t.fragmentSize = 200;
  t.fecScheme = 1;
  t.fecBlockLength = 1;
  t.fecParityCount = 2;
  auto datagram = [&](std::uint32_t index, std::size_t chunkLength) {
    std::vector<std::uint8_t> out(kDatagramHeaderRoom + chunkLength);
    std::size_t n = writePreamble(out.data(), DatagramKind::Fragment, false);
    n += writeFragmentHeader(out.data() + n, t, index, chunkLength);
    out.resize(n + chunkLength);
    return out;
  };
  auto reason = [&](const std::vector<std::uint8_t>& d) {
    const DecodeResult r = decoder.decode(d);
    return r.kind == Decoded::Fragment ? std::string("ok") : std::string(toString(r.reason));
  };
  // T = 2, B = 1: N = 2, m = 2: parity indexes 2 … 5, chunks of 200.
  EXPECT_EQ(reason(datagram(1, 100)), "ok");
  EXPECT_EQ(reason(datagram(5, 200)), "ok");
  EXPECT_EQ(reason(datagram(6, 200)), "index_out_of_range");
  EXPECT_EQ(reason(datagram(2, 100)), "bad_length");
  t.fecBlockLength = 253;
  t.fecParityCount = 3;
  EXPECT_EQ(reason(datagram(0, 200)), "bad_fec");
  t.fecScheme = 2;
  EXPECT_EQ(reason(datagram(0, 200)), "unsupported_fec");
  t.fecScheme = 0;
  t.fecBlockLength = 0;
  t.fecParityCount = 1;
  EXPECT_EQ(reason(datagram(0, 200)), "bad_fec");
  t.fecParityCount = 0;
  EXPECT_EQ(reason(datagram(2, 200)), "index_out_of_range");
  // One fragment: symbol_size = envelope_length.
  t.fecScheme = 1;
  t.fecBlockLength = 242;
  t.fecParityCount = 1;
  t.envelopeLength = 50;
  EXPECT_EQ(reason(datagram(1, 50)), "ok");
  EXPECT_EQ(reason(datagram(1, 200)), "bad_length");
}
