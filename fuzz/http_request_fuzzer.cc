// Fuzz target: the gateway's reader of HTTP requests (gateway-svc/
// http_codec.h HttpRequestParser on websocketpp's parser), which reads every
// byte a client sends before an upgrade, and the WebSocket handshake check
// (ws_handshake.h) on every upgrade request it yields.
// Input: byte 0 picks the split (whole, a byte at a time, or pieces of
// 1-64 bytes); the rest is the byte stream of one connection, read request
// after request as the connection does (pipelining).
// Invariants: the split makes no difference (the same requests in the same
// order, the same error); Feed never takes more than it is given and takes
// everything while a request is incomplete; an error is one of 400, 413,
// 431, 501, 505 with a message; a handshake is 101 with an accept key, or
// 400/426; responses serialize with their Content-Length.
#include <cstdlib>
#include <string>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "gateway-svc/http_codec.h"
#include "gateway-svc/ws_handshake.h"

namespace cg = coderef::gateway;

namespace {

struct Run {
  std::vector<std::string> requests;  // one line per request
  int error = 0;
};

std::string Describe(const cg::HttpRequestParser& p) {
  const cg::HttpRequest& r = p.request();
  std::string d = r.method + " " + r.target + " " + r.host + " " + (r.keep_alive ? "k" : "c") +
                  (r.websocket_upgrade ? "u" : "-");
  if (r.websocket_upgrade) {
    cg::HttpResponse answer;
    bool ok = cg::WsHandshake(*p.parsed(), &answer);
    if (ok != (answer.status == 101)) std::abort();
    if (!ok && answer.status != 400 && answer.status != 426) std::abort();
    std::string wire = cg::SerializeResponse(answer, false, false);
    if (ok && wire.find("Sec-WebSocket-Accept: ") == std::string::npos) std::abort();
    d += " " + std::to_string(answer.status);
  }
  return d;
}

Run Feed(const std::string& stream, size_t step) {
  Run run;
  cg::HttpRequestParser p;
  size_t pos = 0;
  while (pos < stream.size() && run.error == 0) {
    size_t n = std::min(step, stream.size() - pos);
    size_t used = p.Feed(stream.data() + pos, n);
    if (used > n) std::abort();
    pos += used;
    switch (p.state()) {
      case cg::HttpRequestParser::State::kIdle:
      case cg::HttpRequestParser::State::kPartial:
        if (used != n) std::abort();  // an incomplete request takes it all
        break;
      case cg::HttpRequestParser::State::kReady:
        run.requests.push_back(Describe(p));
        p.Reset();
        break;
      case cg::HttpRequestParser::State::kError: {
        run.error = p.error_status();
        const int e = run.error;
        if (e != 400 && e != 413 && e != 431 && e != 501 && e != 505) std::abort();
        if (p.error().empty()) std::abort();
        cg::HttpResponse r = cg::HttpErrorResponse(e, p.error());
        std::string wire = cg::SerializeResponse(r, false, false);
        if (wire.find("Content-Length: " + std::to_string(r.body.size()) + "\r\n") == std::string::npos)
          std::abort();
        break;
      }
    }
  }
  return run;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > 256 * 1024) return 0;
  std::string stream(reinterpret_cast<const char*>(data) + 1, size - 1);
  size_t step = data[0] == 0 ? stream.size() + 1 : data[0] == 1 ? 1 : 1 + data[0] % 64;
  Run whole = Feed(stream, stream.size() + 1);
  Run split = Feed(stream, step);
  if (whole.requests != split.requests || whole.error != split.error) std::abort();
  return 0;
}
