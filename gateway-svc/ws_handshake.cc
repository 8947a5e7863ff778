#include "gateway-svc/ws_handshake.h"

#include "gateway-svc/http_codec.h"
#include "gateway-svc/ws_protocol.h"

namespace coderef::gateway {

bool WsHandshake(const HttpParserRequest& request, HttpResponse* response) {
  const int version = websocketpp::processor::get_websocket_version(request);
  if (version != 13) {
    *response = HttpErrorResponse(version <= 0 ? 400 : 426,
                                  version <= 0 ? "missing or bad Sec-WebSocket-Version"
                                               : "unsupported WebSocket version (13 expected)");
    response->headers.emplace_back("Sec-WebSocket-Version", "13");
    return false;
  }
  WsProtocolConfig::rng_type rng;
  WsProcessor processor(false, true, nullptr, rng);
  if (websocketpp::lib::error_code ec = processor.validate_handshake(request)) {
    *response = HttpErrorResponse(400, "bad WebSocket handshake: " + ec.message());
    return false;
  }
  HttpParserResponse answer;
  if (websocketpp::lib::error_code ec = processor.process_handshake(request, "", answer)) {
    *response = HttpErrorResponse(400, "bad WebSocket handshake: " + ec.message());
    return false;
  }
  *response = HttpResponse();
  response->status = 101;
  response->content_type.clear();
  for (const auto& [name, value] : answer.get_headers()) response->headers.emplace_back(name, value);
  return true;
}

}  // namespace coderef::gateway
