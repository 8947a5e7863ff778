#include "gateway-svc/ws_wire.h"

#include <cstring>
#include <memory>

#include "gateway-svc/ws_protocol.h"

namespace coderef::gateway {

namespace {

// Server frames come from websocketpp's RFC 6455 processor: one per thread
// (frames are built on the io thread; tests build them anywhere), in server
// mode (no masking).
struct FrameBuilder {
  WsProtocolConfig::rng_type rng;
  std::shared_ptr<WsProtocolConfig::con_msg_manager_type> messages =
      std::make_shared<WsProtocolConfig::con_msg_manager_type>();
  WsProcessor processor{false, true, messages, rng};

  static FrameBuilder& Get() {
    thread_local FrameBuilder builder;
    return builder;
  }
  WsProtocolConfig::message_type::ptr Out() { return messages->get_message(); }
};

std::string Wire(const WsProtocolConfig::message_type::ptr& m) {
  std::string wire;
  wire.reserve(m->get_header().size() + m->get_payload().size());
  wire += m->get_header();
  wire += m->get_payload();
  return wire;
}

// A control frame (ping, pong) with `payload` cut to a control frame's 125
// bytes.
template <typename Prepare>
std::string ControlFrame(std::string_view payload, Prepare prepare) {
  FrameBuilder& b = FrameBuilder::Get();
  auto out = b.Out();
  std::string p(payload.substr(0, 125));
  websocketpp::lib::error_code ec = prepare(b.processor, p, out);
  return ec ? std::string() : Wire(out);
}

}  // namespace

std::string WsFrameHeader(uint8_t opcode, uint64_t size) {
  namespace frame = websocketpp::frame;
  frame::basic_header h(static_cast<frame::opcode::value>(opcode & 0x0F), size, true, false);
  return frame::prepare_header(h, frame::extended_header(size));
}

FramePtr WireFrame::Text(std::string_view json) {
  FrameBuilder& b = FrameBuilder::Get();
  auto in = b.messages->get_message(websocketpp::frame::opcode::text, json.size());
  in->get_raw_payload().assign(json.data(), json.size());
  auto out = b.Out();
  if (b.processor.prepare_data_frame(in, out)) {
    // Not UTF-8 (the JSON writer escapes everything, so never expected):
    // framed as it is rather than lost.
    std::string header = WsFrameHeader(0x1, json.size());
    return std::make_shared<WireFrame>(header + std::string(json), header.size());
  }
  const size_t header = out->get_header().size();
  return std::make_shared<WireFrame>(Wire(out), header);
}

FramePtr WireFrame::Raw(std::string bytes) { return std::make_shared<WireFrame>(std::move(bytes), 0); }

std::string WsPingFrame(std::string_view payload) {
  return ControlFrame(payload, [](WsProcessor& p, const std::string& s, auto out) {
    return p.prepare_ping(s, out);
  });
}

std::string WsPongFrame(std::string_view payload) {
  return ControlFrame(payload, [](WsProcessor& p, const std::string& s, auto out) {
    return p.prepare_pong(s, out);
  });
}

std::string WsCloseFrame(uint16_t code, std::string_view reason) {
  // A control frame carries at most 125 bytes: the code and 123 of reason,
  // cut back to the start of a UTF-8 character.
  if (reason.size() > 123) {
    size_t n = 123;
    while (n > 0 && (static_cast<unsigned char>(reason[n]) & 0xC0) == 0x80) --n;
    reason = reason.substr(0, n);
  }
  namespace close = websocketpp::close;
  // No code (0): an empty close frame; a code no peer may send: 1011.
  close::status::value c = code == 0 ? close::status::no_status : code;
  if (code == 0) reason = {};
  else if (!WsValidCloseCode(code)) c = close::status::internal_endpoint_error;
  FrameBuilder& b = FrameBuilder::Get();
  auto out = b.Out();
  if (b.processor.prepare_close(c, std::string(reason), out)) return std::string("\x88\x00", 2);
  return Wire(out);
}

bool WsValidCloseCode(uint16_t code) {
  // RFC 6455 section 7.4: websocketpp's table of codes that are reserved
  // (1004, 1016-2999) or never sent (below 1000, 1005, 1006, 1015, 5000 up).
  namespace status = websocketpp::close::status;
  return !status::reserved(code) && !status::invalid(code);
}

void WsUnmask(char* p, size_t n, const uint8_t mask[4]) {
  // Eight bytes at a time, then the tail.
  uint64_t m8;
  uint8_t m[8] = {mask[0], mask[1], mask[2], mask[3], mask[0], mask[1], mask[2], mask[3]};
  std::memcpy(&m8, m, 8);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v;
    std::memcpy(&v, p + i, 8);
    v ^= m8;
    std::memcpy(p + i, &v, 8);
  }
  for (; i < n; ++i) p[i] = static_cast<char>(p[i] ^ mask[i & 3]);
}

WsReader::Step WsReader::ParseHeader(const unsigned char* p, size_t n, Header* h) {
  if (n < 2) return Step::kNeedMore;
  const uint8_t b0 = p[0], b1 = p[1];
  h->fin = (b0 & 0x80) != 0;
  h->opcode = b0 & 0x0F;
  if (b0 & 0x70) return Fail(1002, "reserved bits set"), Step::kError;
  if (!(b1 & 0x80)) return Fail(1002, "client frame not masked"), Step::kError;
  const bool control = h->opcode & 0x8;
  if (h->opcode > 0x2 && !(h->opcode >= 0x8 && h->opcode <= 0xA))
    return Fail(1002, "reserved opcode"), Step::kError;
  uint64_t len = b1 & 0x7F;
  size_t hs = 2;
  if (len == 126) {
    if (n < 4) return Step::kNeedMore;
    len = (static_cast<uint64_t>(p[2]) << 8) | p[3];
    hs = 4;
  } else if (len == 127) {
    if (n < 10) return Step::kNeedMore;
    len = 0;
    for (int i = 0; i < 8; ++i) len = (len << 8) | p[2 + i];
    if (len >> 63) return Fail(1002, "frame length over 2^63"), Step::kError;
    hs = 10;
  }
  if (control) {
    if (!h->fin) return Fail(1002, "fragmented control frame"), Step::kError;
    if (len > 125) return Fail(1002, "control frame over 125 bytes"), Step::kError;
  } else if (len > kMaxMessage || message_.size() + len > kMaxMessage) {
    // Refused from the header alone: nothing of it is buffered.
    return Fail(1009, "message over 64 KiB"), Step::kError;
  }
  if (n < hs + 4) return Step::kNeedMore;
  std::memcpy(h->mask, p + hs, 4);
  h->header_size = hs + 4;
  h->payload_size = len;
  return Step::kFrame;
}

}  // namespace coderef::gateway
