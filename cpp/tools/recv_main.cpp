// condcast-recv: joins the group and prints one JSON line per completed object on stdout; log events
// as JSON lines on stderr, ending with {"event":"counters",...} (spec/CLI.md; mirrors ts/src/cli/recv.ts).
#include <google/protobuf/stubs/logging.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "cli.hpp"
#include "condcast/condcast.hpp"

using namespace condcast;
using namespace condcast::cli;

namespace {

const char* kUsage = R"(usage: condcast-recv [options]

Joins the group and prints one JSON line per completed object (stdout); objects of a changeset are
printed when the whole changeset is held and committed, in id order, then a changeset event. Logs and
final counters go to standard error as JSON lines.
  --out DIR        also write each payload to DIR/<id>
  --count N        exit 0 after N objects (a changeset's objects count when they are printed)
  --timeout S      exit 1 if not done after S seconds
  --stage-timeout MS  drop a changeset's staged objects (uncommitted) not committed within MS
                   (default 900000; SPEC 11)
  --group, --port, --interface, --ttl, --datagram-size, --rate, --key-file, --key-id: see spec/CLI.md
Every flag can also come from CONDCAST_<FLAG> (e.g. CONDCAST_COUNT).)";

volatile std::sig_atomic_t stopSignal = 0;
void onSignal(int) { stopSignal = 1; }

std::string jsonString(std::string_view text) {
  std::string out;
  appendJsonString(out, text);
  return out;
}

int run(const std::vector<std::string>& argv) {
  auto flags = commonFlags();
  flags["out"] = {};
  flags["count"] = {};
  flags["timeout"] = {};
  flags["stage-timeout"] = {};
  const ParsedArgs args = parseFlags(argv, flags);
  if (args.booleans.contains("help")) {
    writeOut(kUsage);
    return 0;
  }
  const NetworkOptions net = networkOptions(args);
  const auto count = intFlag(args, "count", 1, static_cast<std::int64_t>(kMaxSequence));
  const double timeoutSeconds = numberFlag(args, "timeout", 0).value_or(0);
  const auto stageTimeout = intFlag(args, "stage-timeout", 1, static_cast<std::int64_t>(kMaxSequence));
  const auto outDir = stringFlag(args, "out");
  if (outDir) std::filesystem::create_directories(*outDir);

  // Malformed strings in a datagram are counted drops; protobuf must not log them on stderr.
  google::protobuf::SetLogHandler(nullptr);
  std::signal(SIGINT, onSignal);
  std::signal(SIGTERM, onSignal);

  ReceiverOptions options;
  options.group = net.group;
  options.port = net.port;
  options.interface = net.interface;
  if (net.key) options.keys[net.key->id] = net.key->key;
  if (stageTimeout) options.staging.stagedTimeoutMs = *stageTimeout;

  std::int64_t received = 0;
  int result = -1;
  ReceiverEvents events;
  const auto print = [&](const ReceivedObject& object) {
    writeOut(objectLine(object.id, object.senderId, object.sequence, object.meta, object.payload().size()));
    if (outDir) {
      const auto file = std::filesystem::path(*outDir) / formatUuid(object.id);
      std::ofstream out(file, std::ios::binary | std::ios::trunc);
      const auto payload = object.payload();
      out.write(reinterpret_cast<const char*>(payload.data()), static_cast<std::streamsize>(payload.size()));
      if (!out) logEvent("error", "\"message\":" + jsonString("cannot write " + file.string()));
    }
    received++;
    if (count && received >= *count && result < 0) result = 0;
  };
  events.onObject = [&](ReceivedObject&& object) { print(object); };
  // SPEC 11: a changeset's objects only now, all of them, in ascending id order, then the event.
  events.onChangeset = [&](DeliveredChangeset&& changeset) {
    for (const ReceivedObject& object : changeset.objects) print(object);
    const CommitInfo& c = changeset.commit;
    logEvent("changeset", "\"senderId\":" + jsonString(formatSenderId(c.senderId)) + ",\"keytable\":" +
                              jsonString(c.keytable) + ",\"key\":" + std::to_string(c.key) +
                              ",\"parentKey\":" + std::to_string(c.parentKey) + ",\"changeset\":" +
                              jsonString(c.changeset) + ",\"objects\":" + std::to_string(changeset.objects.size()));
  };
  events.onCommitIgnored = [](const CommitInfo& c, std::uint64_t heldKey) {
    logEvent("commit_ignored", "\"senderId\":" + jsonString(formatSenderId(c.senderId)) + ",\"keytable\":" +
                                   jsonString(c.keytable) + ",\"key\":" + std::to_string(c.key) +
                                   ",\"heldKey\":" + std::to_string(heldKey) + ",\"changeset\":" + jsonString(c.changeset));
  };
  events.onStagedObjectDropped = [](const ReceivedObject& object, ObjectDropReason reason) {
    logEvent("object_dropped", "\"id\":" + jsonString(formatUuid(object.id)) + ",\"reason\":" + jsonString(toString(reason)));
  };
  events.onGap = [](const SequenceGap& gap) {
    logEvent("gap", "\"senderId\":" + jsonString(formatSenderId(gap.senderId)) + ",\"from\":" +
                        std::to_string(gap.from) + ",\"to\":" + std::to_string(gap.to));
  };
  events.onCommit = [](const CommitInfo& commit) { logEvent("commit", commitFields(commit)); };
  events.onObjectDropped = [](const PartialObject& partial, ObjectDropReason reason) {
    logEvent("object_dropped",
             "\"id\":" + jsonString(formatUuid(partial.key().objectId)) + ",\"reason\":" + jsonString(toString(reason)));
  };

  std::optional<Receiver> receiver;
  ReceiverCounters empty;
  try {
    receiver.emplace(options, events);
    const ListeningInfo& info = receiver->listening();
    logEvent("listening", "\"group\":" + jsonString(info.group) + ",\"port\":" + std::to_string(info.port) +
                              ",\"interface\":" + jsonString(info.interface) +
                              ",\"receiveBufferRequested\":" + std::to_string(info.receiveBufferRequested) +
                              ",\"receiveBufferGranted\":" + std::to_string(info.receiveBufferGranted));
    const auto started = std::chrono::steady_clock::now();
    while (result < 0) {
      if (stopSignal != 0) {
        result = count ? 1 : 0;
        break;
      }
      if (timeoutSeconds > 0 && std::chrono::steady_clock::now() - started >= std::chrono::duration<double>(timeoutSeconds)) {
        logEvent("timeout", "\"seconds\":" + jsNumber(timeoutSeconds) + ",\"received\":" + std::to_string(received) +
                                ",\"expected\":" + (count ? std::to_string(*count) : std::string("null")));
        result = 1;
        break;
      }
      receiver->poll(50);
    }
  } catch (const Error& e) {
    logEvent("error", "\"message\":" + jsonString(e.what()));
    result = 1;
  }
  const std::string counters = (receiver ? receiver->counters() : empty).toJson();
  writeErr("{\"event\":\"counters\"," + counters.substr(1));
  return result;
}

}  // namespace

int main(int argc, char** argv) { return condcast::cli::runTool("condcast-recv", argc, argv, run); }
