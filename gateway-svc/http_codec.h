// HTTP/1.1 message framing for the gateway's connections (PROTOCOL.md
// section 4, "HTTP"), on websocketpp's HTTP parser used as a library:
// HttpRequestParser reads one request at a time from a connection's bytes,
// in any split, and leaves the bytes of the next (pipelined) request
// untouched; SerializeResponse writes an HttpResponse with the framing a
// persistent connection needs (Content-Length always, Connection: close or
// keep-alive). No sockets here, so both are unit-tested and fuzzed.
// Limits (each answered with its status, then the connection is closed):
// a request line plus headers over 16000 bytes (websocketpp's limit): 431;
// a body over 64 KiB: 413; Transfer-Encoding (chunked bodies are not
// parsed; refusing them keeps a body from being read as the next request):
// 501; an HTTP version other than 1.0 and 1.1: 505; anything malformed: 400.
// Thread-safety: a parser belongs to one connection.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "gateway-svc/http_types.h"

namespace websocketpp::http::parser {
class request;
}

namespace coderef::gateway {

class HttpRequestParser {
 public:
  enum class State { kIdle, kPartial, kReady, kError };
  static constexpr size_t kMaxBody = 64 * 1024;

  HttpRequestParser();
  ~HttpRequestParser();
  HttpRequestParser(const HttpRequestParser&) = delete;
  HttpRequestParser& operator=(const HttpRequestParser&) = delete;

  // Feeds bytes of the connection; returns how many belong to the current
  // request (the rest, if the request is complete, is the next request's).
  // REQUIRES: state() is kIdle or kPartial.
  size_t Feed(const char* data, size_t size);
  // kIdle: no byte of a request yet; kPartial: part of one; kReady: one is
  // complete (request()); kError: it cannot be served (error_status()).
  State state() const { return state_; }
  // The complete request. REQUIRES: state() == kReady.
  const HttpRequest& request() const { return request_; }
  // websocketpp's view of it (for the WebSocket handshake), or null.
  const websocketpp::http::parser::request* parsed() const { return parsed_.get(); }
  int error_status() const { return error_status_; }
  const std::string& error() const { return error_; }
  // Ready for the next request (frees the parsed one).
  void Reset();

 private:
  void Finish();
  void Fail(int status, std::string error);

  std::unique_ptr<websocketpp::http::parser::request> parsed_;  // only while reading one
  HttpRequest request_;
  State state_ = State::kIdle;
  int error_status_ = 0;
  std::string error_;
};

// The bytes of `response` (status line, headers, body). Adds Content-Length,
// Server and Connection (keep-alive or close); a HEAD answer carries the
// headers of the GET answer but no body. A 101 gets only its own headers.
std::string SerializeResponse(const HttpResponse& response, bool keep_alive, bool head);

// The JSON error response {"error": message} with `status`.
HttpResponse HttpErrorResponse(int status, std::string_view message);

}  // namespace coderef::gateway
