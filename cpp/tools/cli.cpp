#include "cli.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "condcast/constants.hpp"
#include "condcast/error.hpp"
#include "condcast/json.hpp"
#include "condcast/socket.hpp"

namespace condcast::cli {

std::map<std::string, FlagSpec> commonFlags() {
  return {{"group", {}},         {"port", {}},     {"interface", {}}, {"ttl", {}},       {"datagram-size", {}},
          {"rate", {}},          {"key-file", {}}, {"key-id", {}},    {"help", {true, false}}};
}

namespace {
std::string envName(const std::string& flag) {
  std::string name = "CONDCAST_";
  for (char c : flag) name.push_back(c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  return name;
}

std::string trim(const std::string& text) {
  const auto first = text.find_first_not_of(" \t\n\r\f\v");
  if (first == std::string::npos) return "";
  const auto last = text.find_last_not_of(" \t\n\r\f\v");
  return text.substr(first, last - first + 1);
}
}  // namespace

ParsedArgs parseFlags(const std::vector<std::string>& args, const std::map<std::string, FlagSpec>& flags) {
  ParsedArgs parsed;
  for (std::size_t i = 0; i < args.size(); i++) {
    const std::string& arg = args[i];
    if (arg == "--") {
      parsed.positionals.insert(parsed.positionals.end(), args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      parsed.positionals.push_back(arg);
      continue;
    }
    if (arg[1] != '-') throw UsageError("Unknown option '" + arg + "'");
    std::string name = arg.substr(2);
    std::optional<std::string> inlineValue;
    if (auto eq = name.find('='); eq != std::string::npos) {
      inlineValue = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    auto spec = flags.find(name);
    if (spec == flags.end()) throw UsageError("Unknown option '--" + name + "'");
    if (spec->second.isBoolean) {
      if (inlineValue) throw UsageError("Option '--" + name + "' does not take an argument");
      parsed.booleans[name] = true;
      continue;
    }
    std::string value;
    if (inlineValue) {
      value = *inlineValue;
    } else {
      if (i + 1 >= args.size()) throw UsageError("Option '--" + name + " <value>' argument missing");
      value = args[++i];
      if (value.size() > 1 && value[0] == '-') {
        throw UsageError("Option '--" + name + "' argument is ambiguous; use '--" + name + "=" + value + "'");
      }
    }
    auto& slot = parsed.values[name];
    if (!spec->second.multiple) slot.clear();
    slot.push_back(value);
  }
  for (const auto& [name, spec] : flags) {
    if (spec.isBoolean || parsed.values.contains(name)) continue;
    const char* fromEnv = std::getenv(envName(name).c_str());
    if (fromEnv == nullptr || *fromEnv == '\0') continue;
    std::string text = fromEnv;
    if (!spec.multiple) {
      parsed.values[name] = {text};
      continue;
    }
    std::vector<std::string> lines;
    std::size_t start = 0;
    while (start <= text.size()) {
      const auto nl = text.find('\n', start);
      std::string line = text.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
      if (!line.empty()) lines.push_back(line);
      if (nl == std::string::npos) break;
      start = nl + 1;
    }
    parsed.values[name] = lines;
  }
  return parsed;
}

std::optional<std::string> stringFlag(const ParsedArgs& args, const std::string& name) {
  auto it = args.values.find(name);
  if (it == args.values.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

std::vector<std::string> listFlag(const ParsedArgs& args, const std::string& name) {
  auto it = args.values.find(name);
  return it == args.values.end() ? std::vector<std::string>{} : it->second;
}

std::optional<std::int64_t> intFlag(const ParsedArgs& args, const std::string& name, std::int64_t min, std::int64_t max) {
  auto text = stringFlag(args, name);
  if (!text) return std::nullopt;
  const std::string t = trim(*text);
  bool digits = !t.empty();
  for (std::size_t i = 0; i < t.size(); i++) {
    if (!(std::isdigit(static_cast<unsigned char>(t[i])) || (i == 0 && t[i] == '-' && t.size() > 1))) digits = false;
  }
  if (!digits) throw UsageError("--" + name + " must be an integer, got \"" + *text + "\"");
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), value);
  const auto safe = static_cast<std::int64_t>(kMaxSequence);
  if (ec != std::errc() || end != t.data() + t.size() || value < -safe || value > safe || value < min || value > max) {
    throw UsageError("--" + name + " must be in [" + std::to_string(min) + ", " + std::to_string(max) + "], got " + *text);
  }
  return value;
}

std::optional<double> numberFlag(const ParsedArgs& args, const std::string& name, double min) {
  auto text = stringFlag(args, name);
  if (!text) return std::nullopt;
  const std::string t = trim(*text);
  char* end = nullptr;
  const double value = t.empty() ? NAN : std::strtod(t.c_str(), &end);
  if (t.empty() || end != t.c_str() + t.size() || !std::isfinite(value) || value < min) {
    throw UsageError("--" + name + " must be a number >= " + jsNumber(min) + ", got \"" + *text + "\"");
  }
  return value;
}

NetworkOptions networkOptions(const ParsedArgs& args) {
  NetworkOptions net;
  net.group = stringFlag(args, "group").value_or(kDefaultGroup);
  in_addr group{};
  if (::inet_pton(AF_INET, net.group.c_str(), &group) != 1 || !isMulticast(group)) {
    throw UsageError("--group must be an IPv4 multicast address, got " + net.group);
  }
  net.interface = stringFlag(args, "interface").value_or(kDefaultInterface);
  in_addr iface{};
  if (::inet_pton(AF_INET, net.interface.c_str(), &iface) != 1) {
    throw UsageError("--interface must be the IPv4 address of an interface, got " + net.interface);
  }
  const auto keyFile = stringFlag(args, "key-file");
  const auto keyId = intFlag(args, "key-id", 0, 0xFFFFFFFFLL).value_or(1);
  if (keyFile) {
    try {
      net.key = readKeyFile(*keyFile, static_cast<std::uint32_t>(keyId));
    } catch (const Error& e) {
      throw UsageError("--key-file " + *keyFile + ": " + e.what());
    }
  }
  net.port = static_cast<std::uint16_t>(intFlag(args, "port", 1, 65535).value_or(kDefaultPort));
  net.ttl = static_cast<int>(intFlag(args, "ttl", 0, 255).value_or(kDefaultTtl));
  net.datagramSize = static_cast<std::size_t>(
      intFlag(args, "datagram-size", kMinDatagramSize, kMaxDatagramSize).value_or(kDefaultDatagramSize));
  net.rate = numberFlag(args, "rate", 0).value_or(kDefaultRate);
  return net;
}

void writeOut(const std::string& line) {
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

void writeErr(const std::string& line) {
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fputc('\n', stderr);
  std::fflush(stderr);
}

void logEvent(const std::string& event, const std::string& fields) {
  std::string line = "{\"event\":";
  appendJsonString(line, event);
  if (!fields.empty()) line += "," + fields;
  line += "}";
  writeErr(line);
}

std::string jsNumber(double value) {
  if (value == std::floor(value) && std::fabs(value) < 1e21) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f", value);
    return buf;
  }
  char buf[64];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  return ec == std::errc() ? std::string(buf, end) : std::string("0");
}

int runTool(const char* tool, int argc, char** argv, int (*run)(const std::vector<std::string>&)) {
  try {
    return run(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const UsageError& e) {
    std::fprintf(stderr, "%s: %s\n(see %s --help)\n", tool, e.what(), tool);
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", tool, e.what());
    return 1;
  }
}

}  // namespace condcast::cli
