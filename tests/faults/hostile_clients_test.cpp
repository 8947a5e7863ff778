// Hostile and broken clients against the real gateway (fed by the real
// watcher): malformed HTTP, wrong or missing Origin, oversized, fragmented,
// binary and unmasked frames, unknown ops, thousands of connect/disconnect
// cycles, slowloris handshakes and clients that never read. For each: a
// status or close code, a log line, the gateway keeps serving, and a
// bystander client receives every event, gap-free, throughout.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <thread>

#include "tests/faults/fault_harness.h"

namespace coderef::faults {
namespace {

int ConnectTcp(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Sends raw bytes, then reads until the server closes or `timeout` passes.
// *closed tells whether the server closed the connection.
std::string RawExchange(int port, const std::string& bytes, bool* closed,
                        std::chrono::milliseconds timeout = 5000ms) {
  int fd = ConnectTcp(port);
  if (fd < 0) return "<connect failed>";
  ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  std::string out;
  *closed = false;
  auto end = Clock::now() + timeout;
  while (Clock::now() < end) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      *closed = true;
      break;
    }
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

int StatusOf(const std::string& response) {
  return response.rfind("HTTP/1.", 0) == 0 && response.size() > 12 ? std::atoi(response.c_str() + 9) : 0;
}

// A raw WebSocket client for the frame-level tests: the upgrade and every
// frame written by hand, frames read back with their opcode.
class RawWs {
 public:
  explicit RawWs(int port) : fd_(ConnectTcp(port)) {}
  ~RawWs() {
    if (fd_ >= 0) ::close(fd_);
  }
  // Sends the upgrade request plus `then` in one write; true on a 101.
  bool Upgrade(const std::string& then = "") {
    std::string req =
        "GET /orchestrator/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n" + then;
    if (!Send(req)) return false;
    auto end = Clock::now() + 5000ms;
    while (buf_.find("\r\n\r\n") == std::string::npos) {
      if (Clock::now() > end || !Fill(50)) return false;
    }
    size_t head = buf_.find("\r\n\r\n") + 4;
    bool ok = buf_.rfind("HTTP/1.1 101", 0) == 0;
    buf_.erase(0, head);
    return ok;
  }
  bool Send(const std::string& bytes) {
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
  }
  // The next server frame within `timeout`: false on timeout or EOF.
  bool Next(int* opcode, std::string* payload, std::chrono::milliseconds timeout = 5000ms) {
    auto end = Clock::now() + timeout;
    for (;;) {
      if (buf_.size() >= 2) {
        size_t len = static_cast<unsigned char>(buf_[1]) & 0x7F, hs = 2;
        if (len == 126 && buf_.size() >= 4) {
          len = (static_cast<unsigned char>(buf_[2]) << 8) | static_cast<unsigned char>(buf_[3]);
          hs = 4;
        } else if (len == 127 && buf_.size() >= 10) {
          len = 0;
          for (int i = 0; i < 8; ++i) len = (len << 8) | static_cast<unsigned char>(buf_[2 + i]);
          hs = 10;
        }
        if (len < 126 || hs > 2) {
          if (buf_.size() >= hs + len) {
            *opcode = static_cast<unsigned char>(buf_[0]) & 0x0F;
            *payload = buf_.substr(hs, len);
            buf_.erase(0, hs + len);
            return true;
          }
        }
      }
      if (Clock::now() > end || !Fill(50)) {
        if (eof_ || Clock::now() > end) return false;
      }
    }
  }
  // The next frame of `opcode`, skipping others (hello, pings...).
  bool NextOf(int opcode, std::string* payload, std::chrono::milliseconds timeout = 5000ms) {
    int op = -1;
    auto end = Clock::now() + timeout;
    while (Clock::now() < end) {
      if (!Next(&op, payload, std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now())))
        return false;
      if (op == opcode) return true;
    }
    return false;
  }
  // True once the server has closed the TCP connection (within `timeout`).
  bool WaitEof(std::chrono::milliseconds timeout) {
    auto end = Clock::now() + timeout;
    while (!eof_ && Clock::now() < end) Fill(50);
    return eof_;
  }
  static int CloseCode(const std::string& payload) {
    return payload.size() >= 2 ? (static_cast<unsigned char>(payload[0]) << 8) | static_cast<unsigned char>(payload[1])
                               : 1005;
  }

 private:
  // Reads what is there within `ms`; false when nothing came.
  bool Fill(int ms) {
    if (eof_) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, ms) <= 0) return false;
    char b[65536];
    ssize_t n = ::recv(fd_, b, sizeof b, 0);
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    buf_.append(b, static_cast<size_t>(n));
    return true;
  }

  int fd_;
  std::string buf_;
  bool eof_ = false;
};

class HostileClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 5; ++i) ws_.WritePlan("f" + std::to_string(i), "0");
    watcher_ = std::make_unique<Watcher>(ws_.projects());
    ASSERT_TRUE(watcher_->started()) << watcher_->proc().Log();
  }
  void TearDown() override {
    if (watcher_) ExpectSanitizerClean(watcher_->proc().Log(), "watcher");
    if (gateway_) ExpectSanitizerClean(gateway_->Log(), "gateway");
    if (HasFailure() && gateway_) {
      std::string log = gateway_->Log();
      std::fprintf(stderr, "---- gateway log ----\n%s\n", log.substr(log.size() > 6000 ? log.size() - 6000 : 0).c_str());
    }
    if (gateway_) gateway_->proc().Kill();
  }
  void StartGateway(std::vector<std::string> extra = {}) {
    gateway_ = std::make_unique<GatewayProcess>();
    ASSERT_TRUE(gateway_->Start(watcher_->pub(), watcher_->snapshot(), logs_.path(), "gw", extra))
        << gateway_->Log();
    ASSERT_TRUE(gateway_->WaitReady(15000)) << gateway_->Log();
    bystander_ = std::make_unique<StreamClient>("bystander");
    ASSERT_TRUE(bystander_->Connect(gateway_->port()));
    ASSERT_TRUE(bystander_->ReadUntil([&] { return !bystander_->types().empty(); }, 5000ms));
  }
  GatewayProcess& g() { return *gateway_; }
  uint64_t Seq() {
    json j = g().GetJson("/orchestrator/stats");
    return j.is_object() && j.contains("seq") ? j["seq"].get<uint64_t>() : 0;
  }
  // Changes a plan and checks the bystander gets it (and everything before).
  void ExpectBystanderFollows(const std::string& why) {
    ws_.WritePlan("probe" + std::to_string(++probes_), why);
    ASSERT_TRUE(WaitFor([&] {
      bystander_->Pump(0);
      return RestPlans(g(), "alpha") == DiskPlans(ws_.root()) && bystander_->position() == Seq();
    }, 10000ms)) << why << ": bystander at " << bystander_->position() << ", gateway at " << Seq();
    EXPECT_EQ(bystander_->violations(), "") << why;
    EXPECT_TRUE(bystander_->connected()) << why;
    EXPECT_TRUE(g().proc().Running()) << why;
  }
  std::unique_ptr<StreamClient> Client(testsupport::Headers headers = {}) {
    auto c = std::make_unique<StreamClient>("client");
    EXPECT_TRUE(c->Connect(g().port(), "/orchestrator/ws", std::move(headers))) << c->ws().error();
    EXPECT_TRUE(c->ReadUntil([&] { return !c->types().empty(); }, 5000ms));
    return c;
  }
  // The next message other than a ping, as JSON (null on timeout/close).
  static json NextOp(StreamClient& c, std::chrono::milliseconds timeout = 5000ms) {
    size_t n = c.types().size();
    std::string msg;
    auto end = Clock::now() + timeout;
    while (Clock::now() < end) {
      auto r = c.ws().Next(&msg, 50);
      if (r == WsClient::Result::kClosed || r == WsClient::Result::kError) return json();
      if (r != WsClient::Result::kMessage) continue;
      c.Check(msg);
      if (c.types().size() > n && c.types().back() != "ping") return json::parse(msg, nullptr, false);
    }
    return json();
  }

  Workspace ws_;
  TempDir logs_;
  std::unique_ptr<Watcher> watcher_;
  std::unique_ptr<GatewayProcess> gateway_;
  std::unique_ptr<StreamClient> bystander_;
  int probes_ = 0;
};

TEST_F(HostileClientTest, MalformedHttpGetsAnErrorOrIsClosed) {
  StartGateway({"--handshake-timeout-ms", "1000"});
  struct Case {
    std::string name, bytes;
    bool lenient = false;  // any answer will do
  };
  const std::string upgrade =
      "GET /orchestrator/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n";
  std::vector<Case> cases{
      {"garbage", "GARBAGE\r\n\r\n"},
      {"binary", std::string("\x00\x01\x02\xff\xfe\r\n\r\n", 9)},
      {"http 0.9", "GET /\r\n\r\n"},
      {"bad version", "GET / HTTP/7.3\r\nHost: x\r\n\r\n", true},
      {"no colon", "GET /healthz HTTP/1.1\r\nHost x\r\nBroken header\r\n\r\n"},
      {"bad content length", "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n"},
      {"huge header", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(300 * 1024, 'a') + "\r\n\r\n"},
      {"many headers", "GET /healthz HTTP/1.1\r\nHost: x\r\n" + [] {
         std::string h;
         for (int i = 0; i < 5000; ++i) h += "X-" + std::to_string(i) + ": v\r\n";
         return h;
       }() + "\r\n"},
      {"upgrade without key", upgrade + "Sec-WebSocket-Version: 13\r\n\r\n"},
      {"upgrade, version 99", upgrade + "Sec-WebSocket-Version: 99\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"},
      {"upgrade, bad escape", "GET /orchestrator/ws?since=%zz HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                              "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"},
      {"upgrade, since not a number", "GET /orchestrator/ws?epoch=e&since=-1 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                              "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"},
      {"upgrade, unknown topic", "GET /orchestrator/ws?topics=plan,secrets HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                              "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"},
      {"POST", "POST /orchestrator/plans HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"},
  };
  for (const auto& c : cases) {
    bool closed = false;
    std::string resp = RawExchange(g().port(), c.bytes, &closed);
    int status = StatusOf(resp);
    EXPECT_TRUE(closed) << c.name << ": the connection is not left open";
    if (!c.lenient) {
      EXPECT_TRUE(status == 0 || status >= 400) << c.name << ": " << resp.substr(0, 200);
    }
    EXPECT_NE(status, 101) << c.name;
    EXPECT_TRUE(g().proc().Running()) << c.name;
    EXPECT_EQ(g().Get("/healthz").status, 200) << c.name;
  }
  bool closed = false;
  EXPECT_EQ(StatusOf(RawExchange(g().port(), "GET /orchestrator/ws?since=x HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                             "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                                             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", &closed)), 400);
  ExpectBystanderFollows("after malformed HTTP");
}

TEST_F(HostileClientTest, OriginsAreCheckedBeforeTheUpgrade) {
  StartGateway();
  struct Case {
    std::string origin;
    int status;  // 101 accepted, else the refusal
  };
  std::vector<Case> cases{
      {"https://evil.example.com", 403},   {"null", 403},
      {"http://localhost.evil.com", 403},  {"http://127.0.0.1.evil.com:8000", 403},
      {"file://", 403},                    {"http://localhost:5173", 101},
      {"HTTP://LOCALHOST", 101},           {"http://127.0.0.1:9", 101},
      {"http://[::1]:3000", 101},          {"http://evil.com/http://localhost", 403},
  };
  for (const auto& c : cases) {
    WsClient ws;
    WsClient::Options o = g().WsOptions();
    o.headers = {{"Origin", c.origin}};
    bool ok = ws.Connect(o);
    EXPECT_EQ(ok ? 101 : ws.status(), c.status) << c.origin;
  }
  // Without an Origin (not a browser): accepted.
  WsClient plain;
  EXPECT_TRUE(plain.Connect(g().WsOptions()));
  EXPECT_NE(g().Log().find("upgrade.rejected"), std::string::npos);
  EXPECT_NE(g().Log().find("reason=origin"), std::string::npos) << "the log names the reason";
  ExpectBystanderFollows("after origins");
}

TEST_F(HostileClientTest, BadFramesAreClosedWithTheirCodeAndOthersGoOn) {
  StartGateway();
  // One frame over 64 KiB: 1009.
  auto big = Client();
  big->ws().SendText(std::string(70 * 1024, 'a'));
  EXPECT_TRUE(big->ws().WaitClosed(5000));
  EXPECT_EQ(big->ws().close_code(), 1009);
  // A message over 64 KiB in fragments that are each small: 1009 too.
  auto frag_big = Client();
  frag_big->ws().SendFrame(0x1, "{\"type\":\"ping\",\"x\":\"" + std::string(40 * 1024, 'a'), false);
  frag_big->ws().SendFrame(0x0, std::string(40 * 1024, 'a') + "\"}", true);
  EXPECT_TRUE(frag_big->ws().WaitClosed(5000));
  EXPECT_EQ(frag_big->ws().close_code(), 1009);
  // A fragmented op, with a ping frame in the middle, is reassembled.
  auto frag = Client();
  frag->ws().SendFrame(0x1, "{\"ty", false);
  frag->ws().SendPing("mid");
  frag->ws().SendFrame(0x0, "pe\":\"pi", false);
  frag->ws().SendFrame(0x0, "ng\"}", true);
  json pong = NextOp(*frag);
  EXPECT_EQ(pong.value("type", ""), "pong") << pong.dump();
  // Binary: 1003.
  auto binary = Client();
  binary->ws().SendBinary(std::string("\x00\x01\x02", 3));
  EXPECT_TRUE(binary->ws().WaitClosed(5000));
  EXPECT_EQ(binary->ws().close_code(), 1003);
  // Not JSON: 1003.
  auto garbage = Client();
  garbage->ws().SendText("{\"type\":");
  EXPECT_TRUE(garbage->ws().WaitClosed(5000));
  EXPECT_EQ(garbage->ws().close_code(), 1003);
  // A continuation without a start, and an unmasked frame: protocol errors.
  auto orphan = Client();
  orphan->ws().SendFrame(0x0, "orphan", true);
  EXPECT_TRUE(orphan->ws().WaitClosed(5000));
  EXPECT_EQ(orphan->ws().close_code(), 1002);
  auto unmasked = Client();
  const char raw[] = "\x81\x02hi";
  ::send(unmasked->ws().fd(), raw, 4, MSG_NOSIGNAL);
  EXPECT_TRUE(unmasked->ws().WaitClosed(5000));
  EXPECT_EQ(unmasked->ws().close_code(), 1002);
  // Unknown ops: an error message, and the connection stays.
  auto polite = Client();
  for (const char* op : {R"({"type":"nope"})", R"({"op":"subscribe"})", R"({"type":42})"}) {
    polite->ws().SendText(op);
    json e = NextOp(*polite);
    EXPECT_EQ(e.value("type", ""), "error") << op << " -> " << e.dump();
  }
  polite->ws().SendText(R"({"type":"subscribe","topics":["bogus"]})");
  EXPECT_EQ(NextOp(*polite).value("type", ""), "error");
  polite->ws().SendText(R"({"type":"ping"})");
  EXPECT_EQ(NextOp(*polite).value("type", ""), "pong");
  EXPECT_TRUE(polite->connected());
  EXPECT_NE(g().Log().find("client.bad_frame"), std::string::npos);
  ExpectBystanderFollows("after bad frames");
  // The polite client still gets events too.
  EXPECT_TRUE(polite->ReadUntil([&] { return polite->position() == Seq(); }, 5000ms));
  EXPECT_EQ(polite->violations(), "");
}

TEST_F(HostileClientTest, ControlFramesAndCloseHandshakesFollowRfc6455) {
  StartGateway({"--close-timeout-ms", "300"});
  const std::string ping_op = testsupport::MaskedFrame(0x81, R"({"type":"ping"})");
  std::string payload;
  {
    // A frame sent right behind the upgrade request, in the same write, is
    // read (the HTTP connection read it along with the request and hands it
    // to the WebSocket session).
    RawWs c(g().port());
    ASSERT_TRUE(c.Upgrade(ping_op));
    std::string text;
    bool pong = false;
    for (int i = 0; i < 4 && !pong; ++i) {
      ASSERT_TRUE(c.NextOf(0x1, &text)) << "no text frame";
      pong = json::parse(text, nullptr, false).value("type", "") == "pong";
    }
    EXPECT_TRUE(pong) << "the op sent with the upgrade was answered";
    // A ping frame is answered with a pong frame carrying its payload, also
    // when the ping arrives a byte at a time.
    std::string ping = testsupport::MaskedFrame(0x89, "are you there");
    for (char ch : ping) ASSERT_TRUE(c.Send(std::string(1, ch)));
    ASSERT_TRUE(c.NextOf(0xA, &payload));
    EXPECT_EQ(payload, "are you there");
    // The client closes: the gateway answers with the same code, then
    // closes the TCP connection.
    ASSERT_TRUE(c.Send(testsupport::MaskedFrame(0x88, std::string("\x0f\xa1", 2) + "done")));  // 4001
    ASSERT_TRUE(c.NextOf(0x8, &payload));
    EXPECT_EQ(RawWs::CloseCode(payload), 4001);
    EXPECT_TRUE(c.WaitEof(2000ms)) << "the server closes the TCP connection after the close handshake";
  }
  {
    // A close with no code is answered with a close with no code.
    RawWs c(g().port());
    ASSERT_TRUE(c.Upgrade());
    ASSERT_TRUE(c.Send(testsupport::MaskedFrame(0x88, "")));
    ASSERT_TRUE(c.NextOf(0x8, &payload));
    EXPECT_EQ(payload, "");
    EXPECT_TRUE(c.WaitEof(2000ms));
  }
  // Protocol violations: a close frame with the code, then the connection
  // ends, also when the client never answers the close (--close-timeout-ms).
  struct Case {
    const char* name;
    std::string frame;
    int code;
  };
  const std::vector<Case> cases = {
      {"reserved bit", testsupport::MaskedFrame(0xC1, "{}"), 1002},
      {"reserved opcode", testsupport::MaskedFrame(0x83, "x"), 1002},
      {"ping over 125 bytes", testsupport::MaskedFrame(0x89, std::string(126, 'p')), 1002},
      {"fragmented ping", testsupport::MaskedFrame(0x09, "p"), 1002},
      {"text not UTF-8", testsupport::MaskedFrame(0x81, "\xc3\x28"), 1007},
      {"close code 1005", testsupport::MaskedFrame(0x88, "\x03\xed"), 1002},
      {"close reason not UTF-8", testsupport::MaskedFrame(0x88, "\x03\xe8\xff"), 1007},
  };
  for (const Case& k : cases) {
    RawWs c(g().port());
    ASSERT_TRUE(c.Upgrade()) << k.name;
    ASSERT_TRUE(c.Send(k.frame)) << k.name;
    ASSERT_TRUE(c.NextOf(0x8, &payload)) << k.name << ": no close frame";
    EXPECT_EQ(RawWs::CloseCode(payload), k.code) << k.name << ": " << payload.substr(2);
    auto t0 = Clock::now();
    EXPECT_TRUE(c.WaitEof(3000ms)) << k.name << ": an unanswered close ends the connection";
    EXPECT_LT(Clock::now() - t0, 2000ms) << k.name;
  }
  EXPECT_NE(g().Log().find("client.protocol_error"), std::string::npos);
  EXPECT_TRUE(WaitFor([&] {
    return g().Get("/metrics").body.find("coderef_gateway_clients 1\n") != std::string::npos;
  }, 5000ms)) << "every closed connection left the hub; only the bystander remains";
  ExpectBystanderFollows("after control frames and close handshakes");
}

TEST_F(HostileClientTest, ThousandsOfConnectDisconnectCyclesLeakNothing) {
  StartGateway();
  ExpectBystanderFollows("warm-up");
  pid_t pid = g().proc().pid();
  int fds_before = OpenFds(pid);
  long rss_before = RssKb(pid);
  constexpr int kCycles = 2000;
  int ok = 0;
  for (int i = 0; i < kCycles; ++i) {
    WsClient c;
    WsClient::Options o = g().WsOptions(i % 4 == 0 ? "/orchestrator/ws?topics=plan" : "/orchestrator/ws");
    if (!c.Connect(o)) continue;
    ++ok;
    switch (i % 3) {
      case 0: c.SendClose(1000); c.WaitClosed(2000); break;   // polite
      case 1: c.Abort(); break;                                // RST / FIN without a close frame
      case 2: { std::string m; c.Next(&m, 1000); c.Abort(); break; }  // read hello, then vanish
    }
    if (i % 500 == 0) bystander_->Pump(0);
  }
  EXPECT_EQ(ok, kCycles);
  ASSERT_TRUE(WaitFor([&] { return g().Metric("coderef_gateway_clients") == 1; }, 10000ms))
      << "clients: " << g().Metric("coderef_gateway_clients");
  EXPECT_TRUE(WaitFor([&] { return OpenFds(pid) <= fds_before + 4; }, 10000ms))
      << "fds " << fds_before << " -> " << OpenFds(pid);
  long rss_after = RssKb(pid);
  std::fprintf(stderr, "gateway after %d cycles: fds %d -> %d, RSS %ld -> %ld KiB\n", kCycles, fds_before,
               OpenFds(pid), rss_before, rss_after);
  EXPECT_LT(rss_after - rss_before, 64 * 1024) << "RSS grew by more than 64 MiB";
  EXPECT_GE(g().Metric("coderef_gateway_connections_total"), kCycles);
  ExpectBystanderFollows("after connect/disconnect cycles");
}

TEST_F(HostileClientTest, UpgradesAbandonedHalfwayDoNotLeakClientSlots) {
  StartGateway({"--max-clients", "4", "--handshake-timeout-ms", "500"});  // the bystander holds one
  const std::string upgrade =
      "GET /orchestrator/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
  for (int i = 0; i < 200; ++i) {
    int fd = ConnectTcp(g().port());
    ASSERT_GE(fd, 0);
    if (i % 2) {
      ::send(fd, upgrade.data(), upgrade.size(), MSG_NOSIGNAL);  // valid, then gone before the 101
    } else {
      ::send(fd, upgrade.data(), upgrade.size() / 2, MSG_NOSIGNAL);  // half a request, then gone
    }
    struct linger lg {1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);  // RST
    ::close(fd);
  }
  ASSERT_TRUE(WaitFor([&] { return g().Metric("coderef_gateway_clients") == 1; }, 5000ms));
  // Every slot is still there: three more clients fit, the fourth is refused.
  std::vector<std::unique_ptr<WsClient>> held;
  EXPECT_TRUE(WaitFor([&] {
    held.clear();
    for (int i = 0; i < 3; ++i) {
      held.push_back(std::make_unique<WsClient>());
      if (!held.back()->Connect(g().WsOptions())) return false;
    }
    return true;
  }, 5000ms)) << "abandoned upgrades still hold slots";
  WsClient extra;
  EXPECT_FALSE(extra.Connect(g().WsOptions()));
  EXPECT_EQ(extra.status(), 503);
  ExpectBystanderFollows("after abandoned upgrades");
}

TEST_F(HostileClientTest, SlowlorisHandshakesAreCutOffAndOthersStillConnect) {
  StartGateway({"--handshake-timeout-ms", "1000"});
  constexpr int kSlow = 40;
  std::vector<int> fds;
  for (int i = 0; i < kSlow; ++i) {
    int fd = ConnectTcp(g().port());
    ASSERT_GE(fd, 0);
    fds.push_back(fd);
  }
  const std::string request = "GET /orchestrator/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n";
  std::vector<bool> closed(kSlow, false);
  auto start = Clock::now();
  size_t sent = 0;
  // One byte per connection every 100 ms, for up to 6 s; a real client
  // connects meanwhile.
  bool other_ok = false;
  std::chrono::milliseconds other_took{};
  while (Clock::now() - start < 6000ms) {
    bool all_closed = true;
    for (int i = 0; i < kSlow; ++i) {
      if (closed[i]) continue;
      char buf[512];
      ssize_t n = ::recv(fds[i], buf, sizeof buf, MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) ||
          ::send(fds[i], request.data() + sent % request.size(), 1, MSG_NOSIGNAL) < 0) {
        closed[i] = true;
        continue;
      }
      all_closed = false;
    }
    ++sent;
    if (sent == 5) {
      auto t0 = Clock::now();
      WsClient c;
      other_ok = c.Connect(g().WsOptions());
      other_took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
    }
    if (all_closed) break;
    std::this_thread::sleep_for(100ms);  // the attacker's pace, not a synchronisation
  }
  auto took = Clock::now() - start;
  for (int fd : fds) ::close(fd);
  int still_open = 0;
  for (bool c : closed) still_open += !c;
  EXPECT_EQ(still_open, 0) << "slowloris connections still open after 6 s";
  EXPECT_LT(took, 4000ms) << "cut off about --handshake-timeout-ms after they started";
  EXPECT_TRUE(other_ok) << "a real client connects while the attack runs";
  EXPECT_LT(other_took, 2000ms);
  ExpectBystanderFollows("after slowloris");
}

TEST_F(HostileClientTest, ClientsThatNeverReadAreDroppedAloneAfterStuckMsAndNothingIsLostForOthers) {
  StartGateway({"--max-queue-bytes", "262144", "--stuck-ms", "500"});
  constexpr int kSlow = 4;
  std::vector<std::unique_ptr<WsClient>> slow;
  for (int i = 0; i < kSlow; ++i) {
    slow.push_back(std::make_unique<WsClient>());
    WsClient::Options o = g().WsOptions();
    o.rcvbuf = 2048;
    ASSERT_TRUE(slow.back()->Connect(o));
  }
  // The bystander reads on its own thread meanwhile.
  std::atomic<bool> stop{false};
  std::thread reader([&] {
    while (!stop) bystander_->Pump(50);
  });
  // ~4 KiB events (a long status is part of the event JSON) until every
  // client that never reads is dropped (its socket fills, then takes nothing
  // for --stuck-ms), at most 40 rounds of 50 changes.
  std::string big(4000, 's');
  for (int round = 0; round < 40 && g().Metric("coderef_gateway_stuck_client_disconnects_total") < kSlow; ++round) {
    for (int i = 0; i < 50; ++i) ws_.WritePlan("big" + std::to_string(i), big + std::to_string(round));
    WaitFor([&] { return RestPlans(g(), "alpha") == DiskPlans(ws_.root()); }, 5000ms);
  }
  stop = true;
  reader.join();
  EXPECT_EQ(g().Metric("coderef_gateway_stuck_client_disconnects_total"), kSlow);
  EXPECT_NE(g().Log().find("client.stuck"), std::string::npos);
  EXPECT_TRUE(WaitFor([&] { return g().Metric("coderef_gateway_clients") == 1; }, 10000ms))
      << "the slow ones are really gone";
  ExpectBystanderFollows("after slow clients");
  EXPECT_GT(bystander_->seqs().size(), 100u);
}

}  // namespace
}  // namespace coderef::faults
