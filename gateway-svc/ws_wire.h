// The WebSocket wire format (RFC 6455) of open connections: server frames
// (WireFrame, built once by websocketpp's hybi13 processor and shared by
// every connection they go to; control frames likewise) and an incremental
// reader of client frames (WsReader) that enforces masking, no reserved bits
// or opcodes, control-frame rules, 64 KiB messages, UTF-8 text and valid
// close codes. WsReader is ours rather than hybi13's consume(): 168 bytes of
// processor state per idle connection against 80, a heap message per client
// frame, and no close-code checks (websocketpp does those in its connection,
// which the gateway does not use); docs/ARCHITECTURE.md, "Gateway transport".
// Thread-safety: WireFrame is immutable; a WsReader belongs to one
// connection (io thread only).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/text.h"
#include "gateway-svc/frame.h"

namespace coderef::gateway {

// The frame header for an unmasked, final frame of `opcode` and `size` bytes.
std::string WsFrameHeader(uint8_t opcode, uint64_t size);
// A close frame with `code` and `reason` (cut to fit a control frame's 125
// bytes at a UTF-8 character boundary); code 0: a close frame without code.
std::string WsCloseFrame(uint16_t code, std::string_view reason);
// Ping and pong frames carrying `payload` (at most 125 bytes are kept).
std::string WsPingFrame(std::string_view payload);
std::string WsPongFrame(std::string_view payload);
// A close code a peer may send (RFC 6455 section 7.4).
bool WsValidCloseCode(uint16_t code);

// Reads client frames from the byte stream, as it arrives in any split.
class WsReader {
 public:
  enum class Kind { kText, kBinary, kPing, kPong, kClose };

  // What Feed hands on: a whole message (fragments joined), a control frame,
  // or a close (payload: the code as sent, 0 for none, and the reason).
  struct Message {
    Kind kind;
    std::string_view payload;
    uint16_t close_code = 0;
  };

  static constexpr size_t kMaxMessage = 64 * 1024;

  // Feeds the bytes read (unmasked in place). Calls on(message) for each
  // complete message or control frame, in order; if on returns false
  // reading stops (the connection is going away). Returns false on a
  // protocol violation, with error_code()/error_reason() saying which close
  // to send; nothing after it is read.
  template <typename On>
  bool Feed(char* data, size_t size, On&& on);

  uint16_t error_code() const { return error_code_; }
  const char* error_reason() const { return error_reason_; }
  // Bytes held between calls (an incomplete frame, or message fragments).
  size_t held_bytes() const { return partial_.size() + message_.size(); }

 private:
  enum class Step { kNeedMore, kFrame, kError };
  struct Header {
    bool fin;
    uint8_t opcode;
    size_t header_size;
    uint64_t payload_size;
    uint8_t mask[4];
  };
  // Parses one frame header from `p` (of `n` bytes).
  Step ParseHeader(const unsigned char* p, size_t n, Header* h);
  // Handles one complete frame whose payload (unmasked) is `payload`.
  // Returns 1 to go on, 0 when `on` said stop, -1 on a protocol error.
  template <typename On>
  int OnFrame(const Header& h, char* payload, On& on);
  bool Fail(uint16_t code, const char* reason) {
    error_code_ = code;
    error_reason_ = reason;
    return false;
  }
  int FailFrame(uint16_t code, const char* reason) {
    Fail(code, reason);
    return -1;
  }

  std::string partial_;  // bytes of an incomplete frame
  std::string message_;  // fragments of the current message so far
  int message_opcode_ = -1;  // its opcode (1 text, 2 binary), -1 if none
  uint16_t error_code_ = 0;
  const char* error_reason_ = "";
};

// Unmasks `n` bytes of `p` in place with `mask`.
void WsUnmask(char* p, size_t n, const uint8_t mask[4]);

template <typename On>
bool WsReader::Feed(char* data, size_t size, On&& on) {
  if (error_code_) return false;
  // Parse from the caller's buffer when nothing is held (the common case),
  // otherwise from partial_ with the new bytes appended.
  char* buf = data;
  size_t n = size;
  if (!partial_.empty()) {
    partial_.append(data, size);
    buf = partial_.data();
    n = partial_.size();
  }
  size_t p = 0;
  bool keep_going = true;
  while (p < n && keep_going) {
    Header h{};
    Step s = ParseHeader(reinterpret_cast<const unsigned char*>(buf + p), n - p, &h);
    if (s == Step::kError) return false;
    if (s == Step::kNeedMore) break;
    if (n - p - h.header_size < h.payload_size) break;  // payload incomplete
    char* payload = buf + p + h.header_size;
    WsUnmask(payload, static_cast<size_t>(h.payload_size), h.mask);
    int r = OnFrame(h, payload, on);
    if (r < 0) return false;
    keep_going = r > 0;
    p += h.header_size + static_cast<size_t>(h.payload_size);
  }
  if (buf == data) {
    if (keep_going) partial_.assign(data + p, size - p);
  } else if (!keep_going || p == n) {
    std::string().swap(partial_);  // idle connections hold no buffer
  } else {
    partial_.erase(0, p);
  }
  return true;
}

template <typename On>
int WsReader::OnFrame(const Header& h, char* payload, On& on) {
  std::string_view data(payload, static_cast<size_t>(h.payload_size));
  switch (h.opcode) {
    case 0x8: {  // close
      uint16_t code = 0;
      std::string_view reason;
      if (data.size() == 1) return FailFrame(1002, "close frame with a 1-byte payload");
      if (data.size() >= 2) {
        code = static_cast<uint16_t>((static_cast<unsigned char>(data[0]) << 8) |
                                     static_cast<unsigned char>(data[1]));
        if (!WsValidCloseCode(code)) return FailFrame(1002, "invalid close code");
        reason = data.substr(2);
        if (!IsValidUtf8(reason)) return FailFrame(1007, "close reason is not UTF-8");
      }
      return on(Message{Kind::kClose, reason, code}) ? 1 : 0;
    }
    case 0x9:
      return on(Message{Kind::kPing, data, 0}) ? 1 : 0;
    case 0xA:
      return on(Message{Kind::kPong, data, 0}) ? 1 : 0;
    default:
      break;
  }
  // Data frames: 0 continuation, 1 text, 2 binary (ParseHeader refused the rest).
  if (h.opcode == 0x0) {
    if (message_opcode_ < 0) return FailFrame(1002, "continuation frame without a message");
    message_.append(data);
  } else {
    if (message_opcode_ >= 0) return FailFrame(1002, "new message inside a fragmented one");
    if (!h.fin) {
      message_opcode_ = h.opcode;
      message_.assign(data);
      return 1;
    }
    if (h.opcode == 0x1 && !IsValidUtf8(data)) return FailFrame(1007, "text message is not UTF-8");
    return on(Message{h.opcode == 0x1 ? Kind::kText : Kind::kBinary, data, 0}) ? 1 : 0;
  }
  if (!h.fin) return 1;
  std::string whole;
  whole.swap(message_);
  const bool text = message_opcode_ == 0x1;
  message_opcode_ = -1;
  if (text && !IsValidUtf8(whole)) return FailFrame(1007, "text message is not UTF-8");
  return on(Message{text ? Kind::kText : Kind::kBinary, whole, 0}) ? 1 : 0;
}

}  // namespace coderef::gateway
