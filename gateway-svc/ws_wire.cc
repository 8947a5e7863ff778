#include "gateway-svc/ws_wire.h"

#include <cstring>

namespace coderef::gateway {

std::string WsFrameHeader(uint8_t opcode, uint64_t size) {
  std::string h;
  h.push_back(static_cast<char>(0x80 | (opcode & 0x0F)));  // FIN
  if (size < 126) {
    h.push_back(static_cast<char>(size));
  } else if (size <= 0xFFFF) {
    h.push_back(static_cast<char>(126));
    h.push_back(static_cast<char>(size >> 8));
    h.push_back(static_cast<char>(size & 0xFF));
  } else {
    h.push_back(static_cast<char>(127));
    for (int shift = 56; shift >= 0; shift -= 8) h.push_back(static_cast<char>((size >> shift) & 0xFF));
  }
  return h;
}

FramePtr WireFrame::Text(std::string_view json) {
  std::string header = WsFrameHeader(0x1, json.size());
  std::string wire;
  wire.reserve(header.size() + json.size());
  wire += header;
  wire += json;
  return std::make_shared<WireFrame>(std::move(wire), header.size());
}

FramePtr WireFrame::Raw(std::string bytes) { return std::make_shared<WireFrame>(std::move(bytes), 0); }

std::string WsCloseFrame(uint16_t code, std::string_view reason) {
  // A control frame carries at most 125 bytes: the code and 123 of reason,
  // cut back to the start of a UTF-8 character.
  if (reason.size() > 123) {
    size_t n = 123;
    while (n > 0 && (static_cast<unsigned char>(reason[n]) & 0xC0) == 0x80) --n;
    reason = reason.substr(0, n);
  }
  std::string payload;
  payload.push_back(static_cast<char>(code >> 8));
  payload.push_back(static_cast<char>(code & 0xFF));
  payload += reason;
  return WsFrameHeader(0x8, payload.size()) + payload;
}

bool WsValidCloseCode(uint16_t code) {
  if (code < 1000 || code >= 5000) return false;
  if (code >= 3000) return true;  // registered (3000-3999) and private (4000-4999) use
  switch (code) {
    case 1000: case 1001: case 1002: case 1003: case 1007: case 1008:
    case 1009: case 1010: case 1011: case 1012: case 1013: case 1014:
      return true;
    default:
      return false;  // 1004-1006 and 1015 are never sent; the rest is reserved
  }
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
