#include "common/flags.h"

#include <cstdio>
#include <cstdlib>

namespace coderef {

FlagSet::FlagSet(std::string description, std::string env_prefix)
    : app_(std::move(description)), env_prefix_(std::move(env_prefix)) {
  app_.option_defaults()->always_capture_default();
}

std::string FlagSet::EnvName(const std::string& name) const {
  std::string env = env_prefix_;
  for (char c : name) {
    if (c == '-') env += '_';
    else env += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return env;
}

CLI::Option* FlagSet::AddBool(const std::string& name, bool& var, const std::string& help) {
  CLI::Option* opt = app_.add_flag("--" + name, var, help);
  opt->envname(EnvName(name));
  return opt;
}

int FlagSet::Parse(int argc, const char* const* argv, std::string* error) {
  try {
    app_.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    std::fputs(app_.help().c_str(), stdout);
    return -1;
  } catch (const CLI::ParseError& e) {
    *error = e.what();
    return 2;
  }
  return 0;
}

void FlagSet::ParseOrExit(int argc, char** argv) {
  std::string error;
  int rc = Parse(argc, argv, &error);
  if (rc == -1) std::exit(0);
  if (rc != 0) {
    std::fprintf(stderr, "%s: invalid flag: %s\n", argc > 0 ? argv[0] : "coderef",
                 error.c_str());
    std::exit(2);
  }
}

void FlagError(const std::string& flag, const std::string& message) {
  std::fprintf(stderr, "invalid flag: %s: %s\n", flag.c_str(), message.c_str());
  std::exit(2);
}

bool ParseHostPort(const std::string& s, std::string* host, int* port) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos || colon + 1 >= s.size()) return false;
  std::string h = s.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (h.empty()) return false;
  int p = 0;
  for (size_t i = colon + 1; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    p = p * 10 + (s[i] - '0');
    if (p > 65535) return false;
  }
  *host = h;
  *port = p;
  return true;
}

}  // namespace coderef
