// Client messages: what a WebSocket client may send (PROTOCOL section 3):
// {"type":"pong"}, {"type":"ping"} (answered with a pong message) and
// {"type":"subscribe","topics":[...]} (replaces the topic filter). Parses
// one message into what the hub does with it. Pure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "gateway-svc/topic_filter.h"

namespace coderef::gateway {

struct ClientMessage {
  enum class Action {
    kNone,       // {"type":"pong"}: nothing to do
    kPong,       // answer with {"type":"pong","ts":...}
    kSubscribe,  // `topics` is the new filter
    kError,      // answer with {"type":"error","error":error}
    kClose,      // close with close_code and error as the reason
  };
  Action action = Action::kNone;
  TopicFilter topics;
  std::string error;
  uint16_t close_code = 0;
};

ClientMessage ParseClientMessage(bool binary, std::string_view payload);

}  // namespace coderef::gateway
