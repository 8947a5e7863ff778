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
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

}  // namespace coderef::gateway
