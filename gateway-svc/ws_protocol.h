// WsProtocol: the one configuration under which the gateway instantiates
// websocketpp, used as a protocol library only (public headers, no endpoint,
// connection or transport objects): its HTTP message types
// (http::parser::request to parse every request incrementally,
// http::parser::response to build every response) and its RFC 6455
// processor (processor::hybi13) for the opening handshake and for building
// server frames. Reading client frames stays with WsReader (ws_wire.h);
// docs/ARCHITECTURE.md, "Gateway transport", says why.
// Include only from .cc files: the websocketpp headers are slow to compile.
// Thread-safety: the types are plain values; see each user.
#pragma once

#include <cstddef>
#include <cstdint>
#include <websocketpp/extensions/permessage_deflate/disabled.hpp>
#include <websocketpp/http/request.hpp>
#include <websocketpp/http/response.hpp>
#include <websocketpp/message_buffer/alloc.hpp>
#include <websocketpp/message_buffer/message.hpp>
#include <websocketpp/processors/hybi13.hpp>
#include <websocketpp/random/none.hpp>

namespace coderef::gateway {

struct WsProtocolConfig {
  typedef websocketpp::http::parser::request request_type;
  typedef websocketpp::http::parser::response response_type;
  typedef websocketpp::message_buffer::message<websocketpp::message_buffer::alloc::con_msg_manager>
      message_type;
  typedef websocketpp::message_buffer::alloc::con_msg_manager<message_type> con_msg_manager_type;
  // A server never masks, so the processor never draws from it.
  typedef websocketpp::random::none::int_generator<uint32_t> rng_type;
  struct permessage_deflate_config {};
  typedef websocketpp::extensions::permessage_deflate::disabled<permessage_deflate_config>
      permessage_deflate_type;
  // No compression: frames are built once and shared by every connection.
  static const bool enable_extensions = false;
  // Client messages over 64 KiB are refused (PROTOCOL.md, security).
  static const size_t max_message_size = 64 * 1024;
};

using HttpParserRequest = websocketpp::http::parser::request;
using HttpParserResponse = websocketpp::http::parser::response;
using WsProcessor = websocketpp::processor::hybi13<WsProtocolConfig>;

}  // namespace coderef::gateway
