// WireFrame: one server-to-client WebSocket message as it goes on the
// socket (header then unmasked payload), translated to JSON and framed once,
// then shared by the history ring and every connection that writes it. The
// one frame type of the gateway: the fan-out core, the transport and the
// tests all use it (WireFrame::Text / WireFrame::Raw, built in ws_wire.cc).
// Thread-safety: immutable once built; shared across the connections of the
// one io thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace coderef::gateway {

class WireFrame;
using FramePtr = std::shared_ptr<const WireFrame>;

class WireFrame final {
 public:
  // One text message: the header is prepended to `json` once.
  static FramePtr Text(std::string_view json);
  // Bytes already framed (a control frame): written as they are; payload()
  // is all of them.
  static FramePtr Raw(std::string bytes);

  WireFrame(std::string wire, size_t header) : wire_(std::move(wire)), header_(header) {}
  // The message's text (JSON), or for a raw frame all of its bytes.
  std::string_view payload() const { return std::string_view(wire_).substr(header_); }
  // What is written to the socket.
  std::string_view wire() const { return wire_; }

 private:
  std::string wire_;
  size_t header_;
};

}  // namespace coderef::gateway
