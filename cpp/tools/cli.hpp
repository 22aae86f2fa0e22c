// The shared CLI contract (spec/CLI.md), mirroring ts/src/cli/options.ts and network-options.ts:
// flags parsed like node's util.parseArgs (strict), each falling back to CONDCAST_<FLAG>.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "condcast/auth.hpp"

namespace condcast::cli {

/// A usage error: the tools print it and exit with status 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct FlagSpec {
  bool isBoolean = false;
  bool multiple = false;
};

struct ParsedArgs {
  std::map<std::string, std::vector<std::string>> values;  ///< string flags (last one wins unless multiple)
  std::map<std::string, bool> booleans;
  std::vector<std::string> positionals;
};

/// The flags shared by send and recv.
std::map<std::string, FlagSpec> commonFlags();

/// Parses argv; a flag not on the command line falls back to its environment variable.
ParsedArgs parseFlags(const std::vector<std::string>& args, const std::map<std::string, FlagSpec>& flags);

std::optional<std::string> stringFlag(const ParsedArgs& args, const std::string& name);
std::vector<std::string> listFlag(const ParsedArgs& args, const std::string& name);
/// An integer flag within [min, max] (|value| <= 2^53 - 1).
std::optional<std::int64_t> intFlag(const ParsedArgs& args, const std::string& name, std::int64_t min, std::int64_t max);
/// A number flag (may be fractional) >= min.
std::optional<double> numberFlag(const ParsedArgs& args, const std::string& name, double min);

struct NetworkOptions {
  std::string group;
  std::uint16_t port;
  std::string interface;
  int ttl;
  std::size_t datagramSize;
  double rate;
  std::optional<AuthKey> key;
};
NetworkOptions networkOptions(const ParsedArgs& args);

/// Writes a line to stdout / stderr and flushes.
void writeOut(const std::string& line);
void writeErr(const std::string& line);
/// {"event":"<event>",<fields>} on stderr; `fields` is JSON members without braces (may be empty).
void logEvent(const std::string& event, const std::string& fields);
/// A JavaScript number's text (shortest round trip).
std::string jsNumber(double value);

/// A tool's main: runs `run` on the arguments after the program name; a UsageError exits 2 with the
/// message and a pointer to --help, any other exception exits 1 with its message (spec/CLI.md).
int runTool(const char* tool, int argc, char** argv, int (*run)(const std::vector<std::string>&));

}  // namespace condcast::cli
