#include "gateway-svc/client_messages.h"

#include <nlohmann/json.hpp>
#include <vector>

namespace coderef::gateway {
namespace {

ClientMessage Close(uint16_t code, std::string reason) {
  ClientMessage m;
  m.action = ClientMessage::Action::kClose;
  m.close_code = code;
  m.error = std::move(reason);
  return m;
}

ClientMessage Error(std::string text) {
  ClientMessage m;
  m.action = ClientMessage::Action::kError;
  m.error = std::move(text);
  return m;
}

}  // namespace

ClientMessage ParseClientMessage(bool binary, std::string_view payload) {
  if (binary) return Close(1003, "binary frames are not supported");
  nlohmann::json msg = nlohmann::json::parse(payload.begin(), payload.end(), nullptr, false);
  if (msg.is_discarded() || !msg.is_object()) return Close(1003, "invalid json");
  std::string type;
  if (auto it = msg.find("type"); it != msg.end() && it->is_string()) type = it->get<std::string>();
  ClientMessage m;
  if (type == "pong") return m;
  if (type == "ping") {
    m.action = ClientMessage::Action::kPong;
    return m;
  }
  if (type != "subscribe") return Error("unknown op");
  std::vector<std::string> entries;
  auto it = msg.find("topics");
  if (it == msg.end() || it->is_null()) {
    // no topics: everything
  } else if (it->is_string()) {
    entries.push_back(it->get<std::string>());
  } else if (it->is_array()) {
    for (const auto& t : *it) {
      if (!t.is_string()) return Error("topics must be a list of strings");
      entries.push_back(t.get<std::string>());
    }
  } else {
    return Error("topics must be a list of strings");
  }
  std::string error;
  if (!TopicFilter::FromList(entries, &m.topics, &error)) return Error(error);
  m.action = ClientMessage::Action::kSubscribe;
  return m;
}

}  // namespace coderef::gateway
