// Command-line flags with environment fallbacks (docs/OPERATIONS.md).
//
// Every flag "--foo-bar" also reads PREFIX_FOO_BAR ("WATCHER_", "GATEWAY_").
// The command line wins over the environment. A bad value (from either)
// prints a message naming the flag and exits with status 2.
// Not thread-safe; use from main() only.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace coderef {

class FlagSet {
 public:
  FlagSet(std::string description, std::string env_prefix);

  // Binds `--name` (given without the dashes, e.g. "debounce-ms") to `var`,
  // whose current value is the default.
  template <typename T>
  CLI::Option* Add(const std::string& name, T& var, const std::string& help) {
    CLI::Option* opt = app_.add_option("--" + name, var, help)->capture_default_str();
    opt->envname(EnvName(name));
    // A flag given twice: the last one wins (scripts append overrides).
    if constexpr (!CLI::detail::is_mutable_container<T>::value)
      opt->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    return opt;
  }
  CLI::Option* AddBool(const std::string& name, bool& var, const std::string& help);

  // The environment variable for a flag: "debounce-ms" -> "WATCHER_DEBOUNCE_MS".
  std::string EnvName(const std::string& name) const;

  // Parses; --help prints usage and exits 0; an error exits 2 with a message.
  void ParseOrExit(int argc, char** argv);
  // Parses; returns 0 on success, the exit code otherwise (message in *error).
  int Parse(int argc, const char* const* argv, std::string* error);

  CLI::App& app() { return app_; }

 private:
  CLI::App app_;
  std::string env_prefix_;
};

// Exits 2 with "<program>: --flag: message" (for checks done after parsing).
[[noreturn]] void FlagError(const std::string& flag, const std::string& message);

// Splits "host:port" (port may be 0 for "any"); false on a malformed value.
bool ParseHostPort(const std::string& s, std::string* host, int* port);

}  // namespace coderef
