// HttpRequestParser, SerializeResponse and WsHandshake (no sockets): requests
// in any split, pipelined bytes left for the next request, keep-alive rules,
// each limit with its status, response framing for persistent connections,
// and the RFC 6455 handshake answer.
#include "gateway-svc/http_codec.h"

#include <gtest/gtest.h>

#include <string>

#include "gateway-svc/ws_handshake.h"

namespace coderef::gateway {
namespace {

using State = HttpRequestParser::State;

// Feeds `bytes` in pieces of `step`; returns what was left after the first
// complete (or failed) request.
std::string FeedSplit(HttpRequestParser& p, const std::string& bytes, size_t step) {
  size_t pos = 0;
  while (pos < bytes.size()) {
    size_t n = std::min(step, bytes.size() - pos);
    size_t used = p.Feed(bytes.data() + pos, n);
    EXPECT_LE(used, n);
    pos += used;
    if (p.state() == State::kReady || p.state() == State::kError) break;
    EXPECT_EQ(used, n) << "an incomplete request takes every byte";
  }
  return bytes.substr(pos);
}

TEST(HttpCodecTest, ARequestParsesTheSameInEverySplitAndLeavesTheNextOne) {
  const std::string first =
      "GET /orchestrator/plans?project=noted HTTP/1.1\r\nHost: gw:8000\r\nOrigin: http://localhost\r\n"
      "Authorization: Bearer t\r\nX-Coderef-Token: x\r\nCookie: c=1\r\n\r\n";
  const std::string second = "GET /healthz HTTP/1.1\r\nHost: gw\r\n\r\n";
  for (size_t step : {size_t{1}, size_t{2}, size_t{7}, size_t{64}, first.size() + second.size()}) {
    HttpRequestParser p;
    std::string rest = FeedSplit(p, first + second, step);
    ASSERT_EQ(p.state(), State::kReady) << step;
    const HttpRequest& r = p.request();
    EXPECT_EQ(r.method, "GET");
    EXPECT_EQ(r.target, "/orchestrator/plans?project=noted");
    EXPECT_EQ(r.host, "gw:8000");
    EXPECT_EQ(r.origin, "http://localhost");
    EXPECT_EQ(r.authorization, "Bearer t");
    EXPECT_EQ(r.token_header, "x");
    EXPECT_EQ(r.cookie, "c=1");
    EXPECT_TRUE(r.keep_alive);
    EXPECT_FALSE(r.websocket_upgrade);
    // What the last piece held of the second request is left untouched.
    EXPECT_EQ(second.substr(second.size() - rest.size()), rest) << step;
    p.Reset();
    EXPECT_EQ(p.state(), State::kIdle);
  }
}

TEST(HttpCodecTest, KeepAliveFollowsVersionAndConnectionHeader) {
  struct Case {
    std::string version, connection;
    bool keep_alive;
  };
  for (const Case& c : std::vector<Case>{{"HTTP/1.1", "", true},
                                         {"HTTP/1.1", "close", false},
                                         {"HTTP/1.1", "Keep-Alive, CLOSE", false},
                                         {"HTTP/1.1", "closed", true},
                                         {"HTTP/1.0", "", false},
                                         {"HTTP/1.0", "keep-alive", true}}) {
    HttpRequestParser p;
    std::string req = "GET / " + c.version + "\r\nHost: x\r\n" +
                      (c.connection.empty() ? "" : "Connection: " + c.connection + "\r\n") + "\r\n";
    EXPECT_EQ(p.Feed(req.data(), req.size()), req.size());
    ASSERT_EQ(p.state(), State::kReady);
    EXPECT_EQ(p.request().keep_alive, c.keep_alive) << c.version << " / " << c.connection;
  }
}

TEST(HttpCodecTest, BodiesAreReadByContentLengthAndBlankLinesBetweenRequestsSkipped) {
  HttpRequestParser p;
  std::string req = "\r\n\r\nPOST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET";
  EXPECT_EQ(p.Feed(req.data(), req.size()), req.size() - 3);
  ASSERT_EQ(p.state(), State::kReady);
  EXPECT_EQ(p.request().method, "POST");
}

TEST(HttpCodecTest, EveryLimitAndMalformationHasItsStatus) {
  struct Case {
    const char* name;
    std::string bytes;
    int status;
  };
  const std::vector<Case> cases = {
      {"header over 16000 bytes", "GET / HTTP/1.1\r\nHost: x\r\nX: " + std::string(17000, 'a') + "\r\n\r\n", 431},
      {"body over 64 KiB", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n", 413},
      {"negative length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n", 413},
      {"length not a number", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5x\r\n\r\nhello", 400},
      {"chunked", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", 501},
      {"HTTP/2.0", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505},
      {"no Host", "GET / HTTP/1.1\r\n\r\n", 400},
      {"HTTP/0.9", "GET /\r\n\r\n", 400},
      {"header without colon", "GET / HTTP/1.1\r\nHost x\r\n\r\n", 400},
      {"bad method token", "G(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400},
  };
  for (const Case& c : cases) {
    HttpRequestParser p;
    p.Feed(c.bytes.data(), c.bytes.size());
    ASSERT_EQ(p.state(), State::kError) << c.name;
    EXPECT_EQ(p.error_status(), c.status) << c.name << ": " << p.error();
    EXPECT_FALSE(p.error().empty()) << c.name;
    EXPECT_EQ(p.Feed("x", 1), 0u) << c.name << ": nothing more is read";
  }
}

TEST(HttpCodecTest, ResponsesAreFramedForPersistentConnections) {
  HttpResponse r;
  r.body = "{\"a\":1}";
  r.headers.emplace_back("Cache-Control", "no-store");
  std::string keep = SerializeResponse(r, true, false);
  EXPECT_EQ(keep.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << keep;
  EXPECT_NE(keep.find("Connection: keep-alive\r\n"), std::string::npos);
  EXPECT_NE(keep.find("Content-Length: 7\r\n"), std::string::npos);
  EXPECT_NE(keep.find("Cache-Control: no-store\r\n"), std::string::npos);
  EXPECT_EQ(keep.substr(keep.size() - 11), "\r\n\r\n{\"a\":1}");
  EXPECT_NE(SerializeResponse(r, false, false).find("Connection: close\r\n"), std::string::npos);
  // HEAD: the GET's length, no body.
  std::string head = SerializeResponse(r, true, true);
  EXPECT_NE(head.find("Content-Length: 7\r\n"), std::string::npos);
  EXPECT_EQ(head.substr(head.size() - 4), "\r\n\r\n");
  // An empty body still says so (websocketpp's set_body alone would not).
  HttpResponse empty;
  empty.status = 404;
  EXPECT_NE(SerializeResponse(empty, true, false).find("Content-Length: 0\r\n"), std::string::npos);
}

TEST(WsHandshakeTest, AValidUpgradeGetsTheRfc6455AnswerAndOthersAreRefused) {
  auto parse = [](const std::string& extra, const std::string& version = "HTTP/1.1",
                  const std::string& method = "GET") {
    auto p = std::make_unique<HttpRequestParser>();
    std::string req = method + " /orchestrator/ws " + version +
                      "\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" + extra + "\r\n";
    p->Feed(req.data(), req.size());
    EXPECT_EQ(p->state(), State::kReady);
    EXPECT_TRUE(p->request().websocket_upgrade);
    return p;
  };
  const std::string key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
  HttpResponse r;
  // RFC 6455 section 1.3's example key and answer.
  ASSERT_TRUE(WsHandshake(*parse(key + "Sec-WebSocket-Version: 13\r\n")->parsed(), &r));
  EXPECT_EQ(r.status, 101);
  std::string wire = SerializeResponse(r, false, false);
  EXPECT_NE(wire.find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"), std::string::npos) << wire;
  EXPECT_NE(wire.find("Upgrade: websocket\r\n"), std::string::npos) << wire;
  EXPECT_EQ(wire.find("Content-Length"), std::string::npos) << wire;
  EXPECT_FALSE(WsHandshake(*parse(key + "Sec-WebSocket-Version: 8\r\n")->parsed(), &r));
  EXPECT_EQ(r.status, 426);
  EXPECT_FALSE(WsHandshake(*parse(key)->parsed(), &r));
  EXPECT_EQ(r.status, 400);
  EXPECT_FALSE(WsHandshake(*parse("Sec-WebSocket-Version: 13\r\n")->parsed(), &r));
  EXPECT_EQ(r.status, 400);
  EXPECT_FALSE(WsHandshake(*parse(key + "Sec-WebSocket-Version: 13\r\n", "HTTP/1.0")->parsed(), &r));
  EXPECT_EQ(r.status, 400);
  EXPECT_FALSE(WsHandshake(*parse(key + "Sec-WebSocket-Version: 13\r\n", "HTTP/1.1", "POST")->parsed(), &r));
  EXPECT_EQ(r.status, 400);
}

}  // namespace
}  // namespace coderef::gateway
