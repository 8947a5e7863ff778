// Frame: one server-to-client WebSocket message, translated to JSON and
// framed once, then shared by every connection it is queued to and by the
// history ring. The transport (websocketpp, in server.cc) subclasses it to
// carry its prepared message; tests use StringFrame.
// Thread-safety: immutable once built; shared across connections of the one
// io thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace coderef::gateway {

class Frame {
 public:
  virtual ~Frame() = default;
  // The JSON text of the message.
  virtual std::string_view payload() const = 0;
};

using FramePtr = std::shared_ptr<const Frame>;

// A frame that is only its text (unit tests, or a transport that frames on
// send).
class StringFrame final : public Frame {
 public:
  explicit StringFrame(std::string text) : text_(std::move(text)) {}
  std::string_view payload() const override { return text_; }

 private:
  std::string text_;
};

}  // namespace coderef::gateway
