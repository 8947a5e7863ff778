// gateway-svc: wires flags, logging and the process limits to
// GatewayServer. Everything else lives in the coderef_gateway library.
#include <sys/resource.h>

#include <cstdio>
#include <fstream>

#include "common/log.h"
#include "gateway-svc/gateway_flags.h"
#include "gateway-svc/server.h"

namespace {

// Raises the fd limit (sockets) to the hard limit, or sets it to
// --max-open-files (a test knob to provoke EMFILE).
void ApplyFileLimit(const coderef::gateway::GatewayOptions& o) {
  struct rlimit rl {};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  rlim_t want = o.max_open_files > 0 ? static_cast<rlim_t>(o.max_open_files) : rl.rlim_max;
  if (want > rl.rlim_max) want = rl.rlim_max;
  if (want != rl.rlim_cur) {
    rl.rlim_cur = want;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
  ::getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur != RLIM_INFINITY && static_cast<rlim_t>(o.max_clients) + 64 > rl.rlim_cur) {
    coderef::LogWarn("limits.fd")
        .Kv("fd_limit", static_cast<uint64_t>(rl.rlim_cur))
        .Kv("max_clients", o.max_clients)
        .Kv("note", "--max-clients is close to the fd limit; accept() may fail with EMFILE "
                    "(the gateway backs off and keeps serving)");
  }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace coderef;
  gateway::GatewayFlags flags;
  std::string error;
  int rc = gateway::ParseGatewayFlags(argc, argv, &flags, &error);
  if (rc == -1) return 0;
  if (rc != 0) {
    std::fprintf(stderr, "gateway-svc: invalid flag: %s\n", error.c_str());
    return 2;
  }
  SetLogComponent("gateway");
  SetLogFormat(flags.log_format);
  SetLogLevel(flags.log_level);
  ApplyFileLimit(flags.options);

  gateway::GatewayServer server(flags.options);
  if (!server.Listen(&error)) {
    LogError("listen.failed").Kv("error", error);
    return 1;
  }
  LogInfo("listening").Kv("host", flags.options.listen_host).Kv("port", server.port());
  if (!flags.options.port_file.empty()) {
    std::string tmp = flags.options.port_file + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << server.port() << "\n";
    }
    if (std::rename(tmp.c_str(), flags.options.port_file.c_str()) != 0) {
      LogError("port_file.failed").Kv("path", flags.options.port_file);
      return 1;
    }
  }
  server.Run();
  return 0;
}
