// The gateway's command line (docs/OPERATIONS.md): every flag also reads
// GATEWAY_<UPPER_SNAKE> from the environment; a bad value is an error
// naming the flag (main exits 2). Not thread-safe; call from main().
#pragma once

#include <string>

#include "common/log.h"
#include "gateway-svc/gateway_options.h"

namespace coderef::gateway {

struct GatewayFlags {
  GatewayOptions options;
  LogFormat log_format = LogFormat::kText;
  LogLevel log_level = LogLevel::kInfo;
};

// Returns 0 on success, -1 after printing --help, 2 on a bad value (with
// *error naming the flag).
int ParseGatewayFlags(int argc, const char* const* argv, GatewayFlags* out, std::string* error);

}  // namespace coderef::gateway
