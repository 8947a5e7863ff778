// The server side of the WebSocket opening handshake (RFC 6455 section
// 4.2, PROTOCOL.md section 4) by websocketpp's hybi13 processor: checks an
// upgrade request and builds the 101 answer. The gateway's own checks
// (path, Origin, token, --max-clients, query) come before, in the server.
// Thread-safety: stateless.
#pragma once

#include "gateway-svc/http_types.h"

namespace websocketpp::http::parser {
class request;
}

namespace coderef::gateway {

// For a request that asks for a WebSocket upgrade: true with the 101 answer
// in *response (Upgrade, Connection, Sec-WebSocket-Accept), or false with
// the refusal: 426 and "Sec-WebSocket-Version: 13" for another protocol
// version, 400 for a malformed handshake (not GET, not HTTP/1.1, no key).
bool WsHandshake(const websocketpp::http::parser::request& request, HttpResponse* response);

}  // namespace coderef::gateway
