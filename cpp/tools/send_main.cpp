// condcast-send <file|-> [<file>...]: sends each file as one object; one JSON line per object sent,
// and with --changeset one Commit after them, printed as a commit line (spec/CLI.md; mirrors
// ts/src/cli/send.ts).
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
  --changeset ID|new    send the files as one changeset (SPEC 11; new: a random UUID), then one Commit,
                        printed as {"event":"commit",...}
  --keytable NAME       the Commit's keytable (default online)
  --key N               the Commit's key, >= 1 (default 1)
  --parent-key N        the Commit's parent key, < key (default key - 1)
  --remove PATH         a path the new key no longer covers (repeatable)
  --abort               send an aborted Commit (key = parent key = 0): receivers drop the objects
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

/// The Commit that --changeset asks for (objects still to be filled in), or nullopt without it.
std::optional<OutgoingCommit> commitFlags(const ParsedArgs& args) {
  const auto changeset = stringFlag(args, "changeset");
  const bool abort = args.booleans.contains("abort") && args.booleans.at("abort");
  if (!changeset) {
    for (const char* name : {"keytable", "key", "parent-key"}) {
      if (stringFlag(args, name)) throw UsageError(std::string("--") + name + " goes with --changeset");
    }
    if (!listFlag(args, "remove").empty() || abort) throw UsageError("--remove and --abort go with --changeset");
    return std::nullopt;
  }
  OutgoingCommit commit;
  commit.changeset = *changeset == "new" ? formatUuid(randomUuid()) : *changeset;
  if (!isChangesetId(commit.changeset)) {
    throw UsageError("--changeset takes an id of 1-64 of [A-Za-z0-9._-] (e.g. a UUID) or new, got \"" + *changeset + "\"");
  }
  commit.keytable = stringFlag(args, "keytable").value_or("online");
  if (!isKeytableName(commit.keytable)) {
    throw UsageError("--keytable takes 1-64 of [A-Za-z0-9._-], got \"" + commit.keytable + "\"");
  }
  const auto safe = static_cast<std::int64_t>(kMaxSequence);
  const std::int64_t key = intFlag(args, "key", 1, safe).value_or(1);
  const std::int64_t parent = intFlag(args, "parent-key", 0, safe).value_or(key - 1);
  if (parent >= key) throw UsageError("--parent-key must be below --key");
  commit.aborted = abort;
  commit.key = abort ? 0 : static_cast<std::uint64_t>(key);
  commit.parentKey = abort ? 0 : static_cast<std::uint64_t>(parent);
  commit.removedPaths = listFlag(args, "remove");
  return commit;
}

int run(const std::vector<std::string>& argv) {
  auto flags = commonFlags();
  for (const char* name : {"path", "valid-from", "valid-until", "id", "content-type", "filename", "sender-id",
                           "heartbeat-interval", "interval", "fec-parity", "fec-block", "fec-interleave",
                           "changeset", "keytable", "key", "parent-key"}) {
    flags[name] = {};
  }
  flags["meta"] = {false, true};
  flags["remove"] = {false, true};
  flags["abort"] = {true, false};
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
  const std::optional<OutgoingCommit> commit = commitFlags(args);
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
  std::vector<ObjectId> ids;
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
    if (commit) object.changeset = commit->changeset;
    const SentObject sent = sender.send(object);
    writeOut(objectLine(sent.id, sender.senderId(), sent.sequence, sent.meta, payload.size()));
    ids.push_back(sent.id);
  }
  if (commit) {
    OutgoingCommit last = *commit;
    last.objectCount = static_cast<std::uint32_t>(ids.size());
    last.objectIds = std::move(ids);
    const CommitInfo sent = sender.sendCommit(last);
    writeOut("{\"event\":\"commit\"," + commitFields(sent) + "}");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return condcast::cli::runTool("condcast-send", argc, argv, run); }
