// condcast-fec-bench --symbol-size S --block K --parity M --seconds X [--kernel auto|scalar|ssse3|avx2]
// Measures the FEC scheme 1 codec (SPEC 10) on one core and prints ONE JSON line:
//   {"impl":"cpp","symbolSize":S,"block":K,"parity":M,"encodeMBps":E,"decodeMBps":D}
// encodeMBps: source bytes (K · S per block) encoded per second; decodeMBps: source bytes of blocks
// rebuilt per second when each block lost M source symbols (the worst case: M × M system, M parity
// symbols folded in). MB = 10^6 bytes. Half of X seconds each; the kernel used goes to stderr.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cli.hpp"
#include "condcast/condcast.hpp"

using namespace condcast;
using namespace condcast::cli;

namespace {

const char* kUsage = R"(usage: condcast-fec-bench --symbol-size S --block K --parity M --seconds X [--kernel K]

Measures FEC scheme 1 encoding and worst-case decoding (M lost sources per block) on one core and prints
{"impl":"cpp","symbolSize":S,"block":K,"parity":M,"encodeMBps":E,"decodeMBps":D}.
  --symbol-size S   bytes per symbol, 1-65507 (default 1392)
  --block K         source symbols per block (default 242)
  --parity M        parity symbols per block, K + M <= 255 (default 13)
  --seconds X       total measuring time, 0.01-600 (default 2), half encode, half decode
  --kernel K        auto (default), scalar, ssse3 or avx2)";

using Clock = std::chrono::steady_clock;

int run(const std::vector<std::string>& argv) {
  std::map<std::string, FlagSpec> flags{{"symbol-size", {}}, {"block", {}}, {"parity", {}}, {"seconds", {}},
                                        {"kernel", {}}, {"help", {true, false}}};
  const ParsedArgs args = parseFlags(argv, flags);
  if (args.booleans.contains("help")) {
    writeOut(kUsage);
    return 0;
  }
  const auto symbolSize = static_cast<std::size_t>(intFlag(args, "symbol-size", 1, 65507).value_or(1392));
  const auto k = static_cast<std::uint32_t>(intFlag(args, "block", 1, 254).value_or(242));
  const auto m = static_cast<std::uint32_t>(intFlag(args, "parity", 1, 254).value_or(13));
  if (k + m > 255) throw UsageError("--block + --parity must be at most 255");
  const double seconds = numberFlag(args, "seconds", 0.01).value_or(2);
  if (seconds > 600) throw UsageError("--seconds must be at most 600");
  const std::string kernelName = stringFlag(args, "kernel").value_or("auto");
  GfKernel kernel = gfBestKernel();
  if (kernelName == "scalar") kernel = GfKernel::Scalar;
  else if (kernelName == "ssse3") kernel = GfKernel::Ssse3;
  else if (kernelName == "avx2") kernel = GfKernel::Avx2;
  else if (kernelName != "auto") throw UsageError("--kernel must be auto, scalar, ssse3 or avx2");
  if (!gfKernelSupported(kernel)) throw UsageError("this CPU does not run the " + kernelName + " kernel");
  gfSetKernel(kernel);

  // One block: k random source symbols and room for m parity symbols; buffers allocated once.
  std::mt19937_64 rng(1);
  std::vector<std::uint8_t> sourceBytes(std::size_t{k} * symbolSize);
  for (auto& b : sourceBytes) b = static_cast<std::uint8_t>(rng());
  std::vector<std::uint8_t> parityBytes(std::size_t{m} * symbolSize);
  std::vector<SourceSymbol> sources(k);
  for (std::uint32_t j = 0; j < k; j++) sources[j] = {sourceBytes.data() + std::size_t{j} * symbolSize, symbolSize};
  FecEncoder encoder(parityBytes.data(), m, symbolSize);

  const auto budget = std::chrono::duration<double>(seconds / 2);
  std::uint64_t encoded = 0;
  auto start = Clock::now();
  auto now = start;
  do {
    encoder.encode(sources);
    encoded++;
    now = Clock::now();
  } while (now - start < budget);
  const double encodeSeconds = std::chrono::duration<double>(now - start).count();

  // Worst case: m lost sources per block, rebuilt from all m parity symbols. The lost positions move
  // from block to block; the rebuilt bytes go to a scratch area (checked once against the originals).
  const std::uint32_t e = std::min(m, k);
  std::vector<std::uint8_t> rebuilt(std::size_t{e} * symbolSize);
  std::vector<SourceSymbol> received(k);
  std::vector<RecoveredSymbol> out(e);
  std::vector<ParitySymbol> parity(m);
  for (std::uint32_t i = 0; i < m; i++) parity[i] = {i, parityBytes.data() + std::size_t{i} * symbolSize};
  FecDecoder decoder;
  std::uint64_t decoded = 0;
  std::uint32_t shift = 0;
  start = Clock::now();
  do {
    received = sources;
    const std::uint32_t first = shift % (k - e + 1);
    for (std::uint32_t c = 0; c < e; c++) {
      received[first + c] = {};
      out[c] = {first + c, rebuilt.data() + std::size_t{c} * symbolSize, symbolSize};
    }
    if (!decoder.decode(received, parity, out, symbolSize)) throw Error("decoding failed");
    if (decoded == 0 &&
        std::memcmp(rebuilt.data(), sourceBytes.data() + std::size_t{first} * symbolSize, rebuilt.size()) != 0) {
      throw Error("decoding rebuilt wrong bytes");
    }
    decoded++;
    shift += 7;
    now = Clock::now();
  } while (now - start < budget);
  const double decodeSeconds = std::chrono::duration<double>(now - start).count();

  const double blockBytes = static_cast<double>(k) * static_cast<double>(symbolSize);
  const double encodeMBps = static_cast<double>(encoded) * blockBytes / encodeSeconds / 1e6;
  const double decodeMBps = static_cast<double>(decoded) * blockBytes / decodeSeconds / 1e6;
  char line[256];
  std::snprintf(line, sizeof line,
                "{\"impl\":\"cpp\",\"symbolSize\":%zu,\"block\":%u,\"parity\":%u,\"encodeMBps\":%.1f,\"decodeMBps\":%.1f}",
                symbolSize, k, m, encodeMBps, decodeMBps);
  writeOut(line);
  writeErr("condcast-fec-bench: kernel " + std::string(toString(gfActiveKernel())) + ", " + std::to_string(encoded) +
           " blocks encoded, " + std::to_string(decoded) + " decoded");
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return condcast::cli::runTool("condcast-fec-bench", argc, argv, run); }
