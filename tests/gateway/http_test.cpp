// HTTP/1.1 against the real gateway-svc binary (PROTOCOL.md section 4,
// "HTTP"): the client libraries that reuse connections (Node's keep-alive
// agent, Python's http.client and requests.Session), pipelining, the
// Connection header both ways, the idle timeout, request size limits and
// slowloris on a persistent connection. Raw sockets where the bytes matter.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "tests/gateway/fake_watcher.h"
#include "tests/gateway/gateway_process.h"

namespace coderef::gateway::testing {
namespace {

using Clock = std::chrono::steady_clock;
using testsupport::MakeTempDir;
using testsupport::RemoveTree;

// A raw client connection: what it sends is exactly what is written.
class RawHttp {
 public:
  explicit RawHttp(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~RawHttp() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool ok() const { return fd_ >= 0; }
  bool Send(const std::string& bytes) {
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
  }
  // One response: status, headers (names lower-cased) and the body by its
  // Content-Length. False on timeout or EOF before it is complete.
  struct Response {
    int status = 0;
    std::map<std::string, std::string> headers;
    std::string body;
  };
  // A HEAD answer (`head_only`) has the GET's Content-Length but no body.
  bool Read(Response* r, int timeout_ms = 5000, bool head_only = false) {
    auto end = Clock::now() + std::chrono::milliseconds(timeout_ms);
    size_t head_end;
    while ((head_end = buf_.find("\r\n\r\n")) == std::string::npos)
      if (!Fill(end)) return false;
    std::string head = buf_.substr(0, head_end);
    *r = Response();
    if (head.rfind("HTTP/1.1 ", 0) != 0) return false;
    r->status = std::atoi(head.c_str() + 9);
    size_t pos = head.find("\r\n");
    while (pos != std::string::npos && pos < head.size()) {
      size_t next = head.find("\r\n", pos + 2);
      std::string line = head.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
      size_t colon = line.find(':');
      if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        size_t v = line.find_first_not_of(' ', colon + 1);
        r->headers[name] = v == std::string::npos ? "" : line.substr(v);
      }
      pos = next;
    }
    size_t length = r->headers.count("content-length") && !head_only ? std::stoul(r->headers["content-length"]) : 0;
    while (buf_.size() < head_end + 4 + length)
      if (!Fill(end)) return false;
    r->body = buf_.substr(head_end + 4, length);
    buf_.erase(0, head_end + 4 + length);
    return true;
  }
  // True once the server has closed the connection within `timeout_ms`.
  bool WaitEof(int timeout_ms) {
    auto end = Clock::now() + std::chrono::milliseconds(timeout_ms);
    while (!eof_ && Clock::now() < end) Fill(end);
    return eof_;
  }
  const std::string& unread() const { return buf_; }

 private:
  bool Fill(Clock::time_point end) {
    if (eof_) return false;
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now()).count());
    if (left <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, std::min(left, 50)) <= 0) return Clock::now() < end;
    char b[65536];
    ssize_t n = ::recv(fd_, b, sizeof b, 0);
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    buf_.append(b, static_cast<size_t>(n));
    return true;
  }
  int fd_ = -1;
  std::string buf_;
  bool eof_ = false;
};

std::string Get(const std::string& path, const std::string& extra = "") {
  return "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra + "\r\n";
}

class GatewayHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir("gateway_http_");
    ASSERT_FALSE(dir_.empty());
    site_ = dir_ + "/site";
    ASSERT_EQ(::mkdir(site_.c_str(), 0755), 0);
    testsupport::WriteFile(site_ + "/index.html", "<html>dashboard</html>");
    watcher_ = std::make_unique<FakeWatcher>();
    watcher_->SetHeartbeatMs(50);
  }
  void TearDown() override {
    if (gateway_) gateway_->proc().Kill();
    if (HasFailure() && gateway_) std::fprintf(stderr, "---- gateway log ----\n%s\n", gateway_->Log().c_str());
    watcher_.reset();
    RemoveTree(dir_);
  }
  GatewayProcess& StartGateway(std::vector<std::string> extra = {}) {
    gateway_ = std::make_unique<GatewayProcess>();
    std::vector<std::string> flags = {"--watcher-timeout-ms", "500", "--static-dir", site_};
    flags.insert(flags.end(), extra.begin(), extra.end());
    EXPECT_TRUE(gateway_->Start(watcher_->pub_endpoint(), watcher_->snapshot_endpoint(), dir_, "gw", flags))
        << gateway_->Log();
    EXPECT_TRUE(gateway_->WaitReady()) << gateway_->Log();
    return *gateway_;
  }
  // Runs a client script against the gateway; its exit status and output.
  int RunClient(const std::vector<std::string>& argv, std::string* output) {
    testsupport::Subprocess p;
    std::string log = dir_ + "/client.log";
    if (!p.Start(argv, {}, log)) return -1;
    int status = -1;
    if (!p.WaitExit(30000, &status)) status = -2;
    *output = testsupport::ReadFile(log);
    return status;
  }

  std::string dir_, site_;
  std::unique_ptr<FakeWatcher> watcher_;
  std::unique_ptr<GatewayProcess> gateway_;
};

TEST_F(GatewayHttpTest, NodeKeepAliveAgentGetsEveryAnswerOnOneConnection) {
  GatewayProcess& g = StartGateway();
  std::string out;
  int status = RunClient({"/usr/bin/node", std::string(CODEREF_SOURCE_DIR) + "/tests/gateway/keepalive_node.js",
                          std::to_string(g.port())}, &out);
  EXPECT_EQ(status, 0) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 6) << out;
  EXPECT_EQ(out.find("error"), std::string::npos) << out;
}

TEST_F(GatewayHttpTest, PythonHttpClientAndRequestsSessionReuseOneConnection) {
  GatewayProcess& g = StartGateway();
  std::string out;
  int status = RunClient({"/usr/bin/python3", std::string(CODEREF_SOURCE_DIR) + "/tests/gateway/keepalive_python.py",
                          std::to_string(g.port())}, &out);
  EXPECT_EQ(status, 0) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 12) << out;
}

TEST_F(GatewayHttpTest, PipelinedRequestsInOneWriteAreAnsweredInOrder) {
  GatewayProcess& g = StartGateway();
  RawHttp c(g.port());
  ASSERT_TRUE(c.ok());
  // Different answers, so their order shows: 200 JSON, 404, 200 HTML, 200
  // JSON, and HEAD of that: its headers only.
  ASSERT_TRUE(c.Send(Get("/healthz") + Get("/no/such/thing") + Get("/index.html") +
                     Get("/orchestrator/stats") + "HEAD /orchestrator/stats HTTP/1.1\r\nHost: x\r\n\r\n"));
  RawHttp::Response r;
  ASSERT_TRUE(c.Read(&r));
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("\"status\":\"ok\""), std::string::npos) << r.body;
  EXPECT_EQ(r.headers["connection"], "keep-alive");
  ASSERT_TRUE(c.Read(&r));
  EXPECT_EQ(r.status, 404);
  ASSERT_TRUE(c.Read(&r));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "<html>dashboard</html>");
  ASSERT_TRUE(c.Read(&r));
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("\"seq\""), std::string::npos) << r.body;
  RawHttp::Response head;
  ASSERT_TRUE(c.Read(&head, 5000, true));
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.headers["content-length"], std::to_string(r.body.size()));
  EXPECT_FALSE(c.WaitEof(300)) << "the connection stays open after pipelined requests";
  EXPECT_EQ(c.unread(), "") << "HEAD carried a body";
  // Still usable.
  ASSERT_TRUE(c.Send(Get("/healthz")));
  ASSERT_TRUE(c.Read(&r));
  EXPECT_EQ(r.status, 200);
}

TEST_F(GatewayHttpTest, ConnectionCloseAndHttp10AreHonoured) {
  GatewayProcess& g = StartGateway();
  {
    // Client says close: the answer says so and the server closes.
    RawHttp c(g.port());
    ASSERT_TRUE(c.Send(Get("/healthz", "Connection: close\r\n")));
    RawHttp::Response r;
    ASSERT_TRUE(c.Read(&r));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.headers["connection"], "close");
    EXPECT_TRUE(c.WaitEof(3000));
  }
  {
    // A close in the middle of a pipeline: answered, the rest is not.
    RawHttp c(g.port());
    ASSERT_TRUE(c.Send(Get("/healthz") + Get("/readyz", "Connection: close\r\n") + Get("/healthz")));
    RawHttp::Response r;
    ASSERT_TRUE(c.Read(&r));
    EXPECT_EQ(r.headers["connection"], "keep-alive");
    ASSERT_TRUE(c.Read(&r));
    EXPECT_EQ(r.headers["connection"], "close");
    EXPECT_TRUE(c.WaitEof(3000));
    EXPECT_EQ(c.unread(), "") << "nothing is answered after Connection: close";
  }
  {
    // HTTP/1.0 closes unless it asks for keep-alive.
    RawHttp c(g.port());
    ASSERT_TRUE(c.Send("GET /healthz HTTP/1.0\r\nHost: x\r\n\r\n"));
    RawHttp::Response r;
    ASSERT_TRUE(c.Read(&r));
    EXPECT_EQ(r.headers["connection"], "close");
    EXPECT_TRUE(c.WaitEof(3000));
  }
  {
    RawHttp c(g.port());
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(c.Send("GET /healthz HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n"));
      RawHttp::Response r;
      ASSERT_TRUE(c.Read(&r)) << i;
      EXPECT_EQ(r.status, 200);
      EXPECT_EQ(r.headers["connection"], "keep-alive");
    }
  }
}

TEST_F(GatewayHttpTest, IdleConnectionsCloseAfterTheIdleTimeout) {
  GatewayProcess& g = StartGateway({"--http-idle-timeout-ms", "600"});
  RawHttp c(g.port());
  // Requests 300 ms apart keep it open past the timeout...
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(c.Send(Get("/healthz")));
    RawHttp::Response r;
    ASSERT_TRUE(c.Read(&r)) << "request " << i << " on a connection used every 300 ms";
    EXPECT_EQ(r.status, 200);
    EXPECT_FALSE(c.WaitEof(300));
  }
  // ...then idle: closed after about 600 ms, without an answer.
  auto t0 = Clock::now();
  EXPECT_TRUE(c.WaitEof(5000));
  auto took = Clock::now() - t0;
  EXPECT_GE(took, std::chrono::milliseconds(250));
  EXPECT_LT(took, std::chrono::milliseconds(3000));
  EXPECT_EQ(c.unread(), "");
}

TEST_F(GatewayHttpTest, OversizedRequestsGetAClear4xxAndAreClosed) {
  GatewayProcess& g = StartGateway();
  struct Case {
    std::string name, bytes;
    int status;
  };
  std::vector<Case> cases = {
      {"20 KB of headers", Get("/healthz", "X-Big: " + std::string(20000, 'a') + "\r\n"), 431},
      {"a 100 KB body", "POST /orchestrator/plans HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" +
                            std::string(100000, 'b'), 413},
      {"chunked body", "POST /orchestrator/plans HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "5\r\nhello\r\n0\r\n\r\n", 501},
      {"HTTP/2.0 request line", "GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n", 505},
  };
  for (const Case& k : cases) {
    RawHttp c(g.port());
    ASSERT_TRUE(c.Send(k.bytes)) << k.name;
    RawHttp::Response r;
    ASSERT_TRUE(c.Read(&r)) << k.name;
    EXPECT_EQ(r.status, k.status) << k.name << ": " << r.body;
    EXPECT_NE(r.body.find("\"error\""), std::string::npos) << k.name << ": the body names the problem";
    EXPECT_EQ(r.headers["connection"], "close") << k.name;
    EXPECT_TRUE(c.WaitEof(3000)) << k.name;
  }
  EXPECT_NE(g.Log().find("http.bad_request"), std::string::npos);
  EXPECT_EQ(g.Get("/healthz").status, 200);
}

TEST_F(GatewayHttpTest, ASlowRequestOnAPersistentConnectionIsStillCutOff) {
  GatewayProcess& g = StartGateway({"--handshake-timeout-ms", "500", "--http-idle-timeout-ms", "60000"});
  RawHttp c(g.port());
  ASSERT_TRUE(c.Send(Get("/healthz")));
  RawHttp::Response r;
  ASSERT_TRUE(c.Read(&r));
  EXPECT_EQ(r.status, 200);
  // The next request starts but never ends: the request timeout (not the
  // minute of idle time) ends the connection.
  ASSERT_TRUE(c.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n"));
  auto t0 = Clock::now();
  EXPECT_TRUE(c.WaitEof(5000));
  EXPECT_LT(Clock::now() - t0, std::chrono::milliseconds(3000));
  EXPECT_TRUE(WaitFor([&] { return g.Log().find("http.request_timeout") != std::string::npos; }, 3000));
}

TEST_F(GatewayHttpTest, AnUpgradeAfterPlainRequestsOnTheSameConnectionWorks) {
  GatewayProcess& g = StartGateway();
  RawHttp c(g.port());
  ASSERT_TRUE(c.Send(Get("/healthz")));
  RawHttp::Response r;
  ASSERT_TRUE(c.Read(&r));
  EXPECT_EQ(r.status, 200);
  ASSERT_TRUE(c.Send(Get("/orchestrator/ws", "Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n"
                                             "Sec-WebSocket-Version: 13\r\n"
                                             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n")));
  ASSERT_TRUE(c.Read(&r));
  EXPECT_EQ(r.status, 101);
  EXPECT_EQ(r.headers["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  // Then WebSocket frames: the hello.
  EXPECT_TRUE(WaitFor([&] {
    c.WaitEof(20);
    return c.unread().find("\"type\":\"hello\"") != std::string::npos;
  }, 5000)) << c.unread();
}

}  // namespace
}  // namespace coderef::gateway::testing
