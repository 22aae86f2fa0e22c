// condcast-send <file|-> [<file>...]: sends each file as one object; one JSON line per object sent
// (spec/CLI.md; mirrors ts/src/cli/send.ts).
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <thread>

#include "cli.hpp"
#include "condcast/condcast.hpp"

using namespace condcast;
using namespace condcast::cli;

namespace {

const char* kUsage = R"(usage: condcast-send <file|-> [<file>...] --path <ccdb/path> [options]

Sends each file as one object over multicast; prints one JSON line per object sent.
  --path P              CCDB path of the object(s) (required)
  --valid-from MS       start of validity, epoch ms (default: now)
  --valid-until MS      end of validity, epoch ms, exclusive (default: valid-from + 1 day)
  --meta K=V            metadata entry (repeatable)
  --id UUID             object id (only with one file; default: random)
  --content-type T      (default application/octet-stream)
  --filename NAME       (default: the file's base name)
  --sender-id HEX       16 hex digits (default: random)
  --heartbeat-interval MS  (default 1000; 0 = none)
  --interval MS         pause between objects (default 0)
  --fec-parity P        FEC parity ratio, 0-1 (default 0.05; 0 = no FEC; SPEC 10)
  --fec-block B         largest source fragments per block (default: the largest with B + parity(B) <= 255)
  --fec-interleave D    interleave depth in blocks (default 16)
  --group, --port, --interface, --ttl, --datagram-size, --rate, --key-file, --key-id: see spec/CLI.md
Every flag can also come from CONDCAST_<FLAG> (e.g. CONDCAST_DATAGRAM_SIZE).)";

constexpr std::int64_t kDayMs = 86'400'000;

std::vector<std::uint8_t> readAll(const std::string& file) {
  if (file == "-") {
    std::vector<std::uint8_t> data;
    char buffer[65536];
    std::size_t n;
    while ((n = std::fread(buffer, 1, sizeof buffer, stdin)) > 0) data.insert(data.end(), buffer, buffer + n);
    return data;
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error("cannot read " + file);
  in.seekg(0, std::ios::end);
  const auto size = in.tellg();
  in.seekg(0);
  std::vector<std::uint8_t> data(size > 0 ? static_cast<std::size_t>(size) : 0);
  if (!data.empty() && !in.read(reinterpret_cast<char*>(data.data()), static_cast<std::streamsize>(data.size()))) {
    throw Error("cannot read " + file);
  }
  return data;
}

/// The last path element, as node's path.basename gives it (trailing slashes ignored).
std::string baseName(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

int run(const std::vector<std::string>& argv) {
  auto flags = commonFlags();
  for (const char* name : {"path", "valid-from", "valid-until", "id", "content-type", "filename", "sender-id",
                           "heartbeat-interval", "interval", "fec-parity", "fec-block", "fec-interleave"}) {
    flags[name] = {};
  }
  flags["meta"] = {false, true};
  const ParsedArgs args = parseFlags(argv, flags);
  if (args.booleans.contains("help")) {
    writeOut(kUsage);
    return 0;
  }
  const auto& files = args.positionals;
  if (files.empty()) throw UsageError("send needs at least one file (or - for standard input)");
  const auto path = stringFlag(args, "path");
  if (!path) throw UsageError("--path is required");
  const auto id = stringFlag(args, "id");
  if (id && (!isUuid(*id) || files.size() > 1)) throw UsageError("--id takes a UUID and goes with exactly one file");
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch()).count();
  const auto safe = static_cast<std::int64_t>(kMaxSequence);
  const std::int64_t validFrom = intFlag(args, "valid-from", -safe, safe).value_or(now);
  const std::int64_t validUntil = intFlag(args, "valid-until", -safe, safe).value_or(validFrom + kDayMs);
  if (validUntil <= validFrom) throw UsageError("--valid-until must be after --valid-from");
  Metadata metadata;
  for (const auto& entry : listFlag(args, "meta")) {
    const auto eq = entry.find('=');
    if (eq == std::string::npos || eq == 0) throw UsageError("--meta takes key=value, got \"" + entry + "\"");
    metadata.emplace_back(entry.substr(0, eq), entry.substr(eq + 1));
  }
  std::optional<std::uint64_t> senderId;
  if (auto text = stringFlag(args, "sender-id")) {
    try {
      senderId = parseSenderId(*text);
    } catch (const Error& e) {
      throw UsageError(std::string("--sender-id: ") + e.what());
    }
  }
  const NetworkOptions net = networkOptions(args);
  const auto interval = intFlag(args, "interval", 0, 3'600'000).value_or(0);
  const auto heartbeatInterval = intFlag(args, "heartbeat-interval", 0, 3'600'000).value_or(kDefaultHeartbeatIntervalMs);

  FecParams fec;
  fec.parityRatio = numberFlag(args, "fec-parity", 0).value_or(0.05);
  if (fec.parityRatio > 1) throw UsageError("--fec-parity must be in [0, 1], got " + jsNumber(fec.parityRatio));
  if (auto block = intFlag(args, "fec-block", 1, 254)) fec.blockLength = static_cast<std::uint32_t>(*block);
  fec.interleave = static_cast<std::uint32_t>(intFlag(args, "fec-interleave", 1, 1'000'000).value_or(16));
  try {
    (void)FecConfig::from(fec);
  } catch (const Error& e) {
    throw UsageError(std::string("--fec-*: ") + e.what());
  }

  SenderOptions options;
  options.fec = fec;
  options.group = net.group;
  options.port = net.port;
  options.interface = net.interface;
  options.ttl = net.ttl;
  options.datagramSize = net.datagramSize;
  options.rate = net.rate;
  options.key = net.key;
  options.senderId = senderId;
  options.heartbeatIntervalMs = static_cast<std::uint32_t>(heartbeatInterval);
  Sender sender(options);
  for (std::size_t n = 0; n < files.size(); n++) {
    if (n > 0 && interval > 0) std::this_thread::sleep_for(std::chrono::milliseconds(interval));
    const std::vector<std::uint8_t> payload = readAll(files[n]);
    OutgoingObject object;
    object.payload = payload;
    object.path = *path;
    object.validFrom = validFrom;
    object.validUntil = validUntil;
    if (id) object.id = parseUuid(*id);
    object.contentType = stringFlag(args, "content-type").value_or("application/octet-stream");
    object.fileName = stringFlag(args, "filename").value_or(
        files[n] == "-" ? std::string("stdin") : baseName(files[n]));
    object.metadata = metadata;
    const SentObject sent = sender.send(object);
    writeOut(objectLine(sent.id, sender.senderId(), sent.sequence, sent.meta, payload.size()));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return condcast::cli::runTool("condcast-send", argc, argv, run); }
