// Plain HTTP request/response values passed between the transport
// (server.cc) and the handlers (RestApi, StaticFiles), so handlers are
// testable without a socket.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace coderef::gateway {

struct HttpRequest {
  std::string method = "GET";
  std::string target;         // "/orchestrator/plans?project=noted"
  std::string authorization;  // Authorization header
  std::string token_header;   // X-Coderef-Token header
  std::string cookie;         // Cookie header
  std::string origin;         // Origin header (checked on WebSocket upgrades)
  std::string host;           // Host header
  // The connection stays open after the answer (HTTP/1.1 unless
  // "Connection: close"; HTTP/1.0 only with "Connection: keep-alive").
  bool keep_alive = true;
  // "Upgrade: websocket" with "Connection: upgrade".
  bool websocket_upgrade = false;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

}  // namespace coderef::gateway
