// The gateway's WebSocket wire format for open connections: server frame
// headers, close frames, and the client frame reader (masking, reserved
// bits and opcodes, control-frame rules, fragments, 64 KiB, UTF-8, close
// codes), fed in every possible split.
#include "gateway-svc/ws_wire.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/text.h"
#include "tests/support/ws_client.h"

namespace coderef::gateway {
namespace {

// A masked client frame of `opcode`; `extra_b0` sets reserved bits.
std::string ClientFrame(uint8_t opcode, std::string_view payload, bool fin = true, uint8_t extra_b0 = 0) {
  return testsupport::MaskedFrame(static_cast<uint8_t>((fin ? 0x80 : 0) | extra_b0 | opcode), payload);
}

struct Seen {
  WsReader::Kind kind;
  std::string payload;
  uint16_t code;
  bool operator==(const Seen& o) const { return kind == o.kind && payload == o.payload && code == o.code; }
};

// Feeds `bytes` in pieces of `step` bytes; returns what came out and
// whether the reader accepted everything.
std::vector<Seen> Read(WsReader& r, const std::string& bytes, size_t step, bool* ok) {
  std::vector<Seen> out;
  *ok = true;
  std::string copy = bytes;
  for (size_t p = 0; p < copy.size() && *ok; p += step) {
    size_t n = std::min(step, copy.size() - p);
    *ok = r.Feed(copy.data() + p, n, [&](const WsReader::Message& m) {
      out.push_back({m.kind, std::string(m.payload), m.close_code});
      return true;
    });
  }
  return out;
}

TEST(WsWireTest, HeadersUseTheShortestLengthForm) {
  EXPECT_EQ(WsFrameHeader(0x1, 0), std::string("\x81\x00", 2));
  EXPECT_EQ(WsFrameHeader(0x1, 125), std::string("\x81\x7d", 2));
  EXPECT_EQ(WsFrameHeader(0x1, 126), std::string("\x81\x7e\x00\x7e", 4));
  EXPECT_EQ(WsFrameHeader(0x2, 65535), std::string("\x82\x7e\xff\xff", 4));
  EXPECT_EQ(WsFrameHeader(0x1, 65536), std::string("\x81\x7f\x00\x00\x00\x00\x00\x01\x00\x00", 10));
  FramePtr f = WireFrame::Text("{\"a\":1}");
  const auto& w = static_cast<const WireFrame&>(*f);
  EXPECT_EQ(w.payload(), "{\"a\":1}");
  EXPECT_EQ(w.wire(), std::string("\x81\x07{\"a\":1}", 9));
  FramePtr raw = WireFrame::Raw("xyz");
  EXPECT_EQ(raw->payload(), "xyz");
}

TEST(WsWireTest, CloseFramesCarryTheCodeAndACutReason) {
  EXPECT_EQ(WsCloseFrame(4000, "slow client"), std::string("\x88\x0d\x0f\xa0slow client", 15));
  // 200 bytes of two-byte characters: cut to at most 123, on a boundary.
  std::string reason;
  for (int i = 0; i < 100; ++i) reason += "\xc3\xa9";
  std::string f = WsCloseFrame(1000, reason);
  ASSERT_LE(f.size(), 2u + 125u);
  EXPECT_EQ(static_cast<unsigned char>(f[1]), f.size() - 2);
  EXPECT_EQ((f.size() - 4) % 2, 0u) << "no half character";
  EXPECT_TRUE(IsValidUtf8(f.substr(4)));
}

TEST(WsWireTest, ControlFramesAndLongTextFramesAreBuiltByTheProcessor) {
  EXPECT_EQ(WsPingFrame(""), std::string("\x89\x00", 2));
  EXPECT_EQ(WsPongFrame("are you there"), std::string("\x8a\x0d" "are you there", 15));
  EXPECT_EQ(WsPongFrame(std::string(200, 'p')).size(), 2u + 125u) << "cut to a control frame's 125 bytes";
  EXPECT_EQ(WsCloseFrame(0, "ignored"), std::string("\x88\x00", 2)) << "no code: an empty close";
  EXPECT_EQ(WsCloseFrame(1005, "x").substr(0, 4), std::string("\x88\x03\x03\xf3", 4))
      << "a code no peer may send becomes 1011";
  std::string json = "{\"s\":\"" + std::string(70000, 'a') + "\"}";
  FramePtr f = WireFrame::Text(json);
  const auto& w = static_cast<const WireFrame&>(*f);
  EXPECT_EQ(w.wire().substr(0, 10), WsFrameHeader(0x1, json.size()));
  EXPECT_EQ(w.payload(), json);
}

TEST(WsWireTest, CloseCodesFollowRfc6455) {
  for (uint16_t ok : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 4000, 4999})
    EXPECT_TRUE(WsValidCloseCode(ok)) << ok;
  for (uint16_t bad : {0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000})
    EXPECT_FALSE(WsValidCloseCode(bad)) << bad;
}

TEST(WsWireTest, EveryMessageSurvivesEverySplit) {
  std::string big(70000, 'x');  // a fragmented message may be big in total...
  big.resize(60000);            // ...but under 64 KiB
  std::string stream = ClientFrame(0x1, "{\"type\":\"ping\"}") +
                       ClientFrame(0x9, "hello") +
                       ClientFrame(0x1, "caf\xc3", false) +  // a character split across fragments
                       ClientFrame(0xA, "") +                 // a control frame between fragments
                       ClientFrame(0x0, "\xa9!", true) +
                       ClientFrame(0x2, std::string("\x00\x01", 2)) +
                       ClientFrame(0x1, big, false) +
                       ClientFrame(0x0, "", true) +
                       ClientFrame(0x8, std::string("\x03\xe8", 2) + "bye");
  const std::vector<Seen> want = {
      {WsReader::Kind::kText, "{\"type\":\"ping\"}", 0},
      {WsReader::Kind::kPing, "hello", 0},
      {WsReader::Kind::kPong, "", 0},
      {WsReader::Kind::kText, "caf\xc3\xa9!", 0},
      {WsReader::Kind::kBinary, std::string("\x00\x01", 2), 0},
      {WsReader::Kind::kText, big, 0},
      {WsReader::Kind::kClose, "bye", 1000},
  };
  for (size_t step : {stream.size(), size_t{1}, size_t{2}, size_t{3}, size_t{7}, size_t{125},
                      size_t{4096}}) {
    WsReader r;
    bool ok = false;
    EXPECT_EQ(Read(r, stream, step, &ok), want) << "step " << step;
    EXPECT_TRUE(ok) << "step " << step << ": " << r.error_reason();
    EXPECT_EQ(r.held_bytes(), 0u) << "step " << step;
  }
}

TEST(WsWireTest, ReadingStopsWhenTheHandlerSaysSo) {
  std::string stream = ClientFrame(0x8, "") + ClientFrame(0x1, "after the close");
  WsReader r;
  int calls = 0;
  std::string copy = stream;
  EXPECT_TRUE(r.Feed(copy.data(), copy.size(), [&](const WsReader::Message& m) {
    ++calls;
    EXPECT_EQ(m.kind, WsReader::Kind::kClose);
    EXPECT_EQ(m.close_code, 0) << "no code sent";
    return false;
  }));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(r.held_bytes(), 0u);
}

struct BadCase {
  const char* name;
  std::string bytes;
  uint16_t code;
};

TEST(WsWireTest, ProtocolViolationsNameTheirCloseCode) {
  std::string unmasked = ClientFrame(0x1, "hi");
  unmasked[1] = static_cast<char>(unmasked[1] & 0x7F);
  unmasked.erase(2, 4);
  std::string huge_len = ClientFrame(0x1, "x");
  huge_len[1] = static_cast<char>(0x80 | 127);
  huge_len.insert(2, std::string("\x80\x00\x00\x00\x00\x00\x00\x01", 8));
  const std::vector<BadCase> cases = {
      {"unmasked", unmasked, 1002},
      {"reserved bit", ClientFrame(0x1, "hi", true, 0x40), 1002},
      {"reserved opcode", ClientFrame(0x3, "hi"), 1002},
      {"reserved control opcode", ClientFrame(0xB, ""), 1002},
      {"fragmented ping", ClientFrame(0x9, "a", false), 1002},
      {"ping over 125 bytes", ClientFrame(0x9, std::string(126, 'a')), 1002},
      {"orphan continuation", ClientFrame(0x0, "x"), 1002},
      {"new message inside a fragmented one", ClientFrame(0x1, "a", false) + ClientFrame(0x1, "b"), 1002},
      {"length over 2^63", huge_len, 1002},
      {"one frame over 64 KiB", ClientFrame(0x1, std::string(64 * 1024 + 1, 'a')), 1009},
      {"fragments over 64 KiB", ClientFrame(0x1, std::string(40000, 'a'), false) +
                                    ClientFrame(0x0, std::string(40000, 'a')), 1009},
      {"text not UTF-8", ClientFrame(0x1, "\xff\xfe"), 1007},
      {"fragmented text not UTF-8", ClientFrame(0x1, "a\xc3", false) + ClientFrame(0x0, "(", true), 1007},
      {"1-byte close", ClientFrame(0x8, "\x03"), 1002},
      {"close code 1005", ClientFrame(0x8, "\x03\xed"), 1002},
      {"close code 999", ClientFrame(0x8, "\x03\xe7"), 1002},
      {"close reason not UTF-8", ClientFrame(0x8, "\x03\xe8\xff"), 1007},
  };
  for (const BadCase& c : cases) {
    for (size_t step : {c.bytes.size(), size_t{1}}) {
      WsReader r;
      bool ok = true;
      std::vector<Seen> seen = Read(r, c.bytes, step, &ok);
      EXPECT_FALSE(ok) << c.name << " (step " << step << ")";
      EXPECT_EQ(r.error_code(), c.code) << c.name << " (step " << step << "): " << r.error_reason();
      EXPECT_STRNE(r.error_reason(), "") << c.name;
      EXPECT_TRUE(seen.empty()) << c.name << ": nothing is handed on";
      // After an error, nothing more is read.
      std::string more = ClientFrame(0x1, "ok");
      EXPECT_FALSE(r.Feed(more.data(), more.size(), [](const WsReader::Message&) { return true; }));
    }
  }
}

TEST(WsWireTest, AnOversizedFrameIsRefusedFromItsHeaderAlone) {
  std::string f = ClientFrame(0x2, std::string(1 << 20, 'a'));
  WsReader r;
  // Only the header: the reader must not wait for (and buffer) a megabyte.
  EXPECT_FALSE(r.Feed(f.data(), 14, [](const WsReader::Message&) { return true; }));
  EXPECT_EQ(r.error_code(), 1009);
  EXPECT_EQ(r.held_bytes(), 0u);
}

}  // namespace
}  // namespace coderef::gateway
