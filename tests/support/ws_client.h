// A small, dependency-free, blocking WebSocket client and HTTP GET for tests
// (so tests need not compile websocketpp's client). POSIX sockets, every
// call bounded by a timeout. Supports custom handshake headers (Origin,
// Authorization), masked client frames, fragmented server messages, ping
// (auto-pong, can be disabled), close frames with code and reason, a small
// SO_RCVBUF and a "never read" mode (simply do not call Next()).
// Not thread-safe: one client per thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace coderef::testsupport {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpResult {
  int status = 0;  // 0: no response (error set)
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string error;
};

// One HTTP/1.1 request ("Connection: close"), response read to the end.
HttpResult HttpGet(int port, const std::string& target, const Headers& headers = {},
                   int timeout_ms = 5000, const std::string& method = "GET");

// A masked client frame (random mask). `b0` is the first byte whole: FIN,
// the reserved bits and the opcode, so tests can also build bad frames.
std::string MaskedFrame(uint8_t b0, std::string_view payload);

class WsClient {
 public:
  struct Options {
    std::string host = "127.0.0.1";
    int port = 0;
    std::string target = "/orchestrator/ws";
    Headers headers;        // extra handshake headers, e.g. {"Origin", "..."}
    int rcvbuf = 0;         // SO_RCVBUF before connect (0: default)
    int timeout_ms = 5000;  // connect + handshake
    bool auto_pong = true;  // answer ping frames
  };
  enum class Result { kMessage, kClosed, kTimeout, kError };

  WsClient() = default;
  ~WsClient();
  WsClient(const WsClient&) = delete;
  WsClient& operator=(const WsClient&) = delete;

  // Connects and upgrades. True on "101 Switching Protocols"; otherwise
  // status()/response_body() tell why (403, 401, 503...).
  bool Connect(const Options& options);
  int status() const { return status_; }
  const std::string& response_body() const { return response_body_; }
  const std::string& error() const { return error_; }

  // The next text or binary message, answering pings on the way. kClosed
  // after a close frame or EOF (close_code() tells which).
  Result Next(std::string* message, int timeout_ms);
  bool SendText(std::string_view payload) { return SendFrame(0x1, payload, true); }
  bool SendBinary(std::string_view payload) { return SendFrame(0x2, payload, true); }
  bool SendPing(std::string_view payload = "") { return SendFrame(0x9, payload, true); }
  bool SendFrame(uint8_t opcode, std::string_view payload, bool fin);
  bool SendClose(uint16_t code, std::string_view reason = "");
  // Reads (discarding messages) until closed; true when it happens in time.
  bool WaitClosed(int timeout_ms);
  // Close code from the server's close frame: -1 none yet, 1005 no code.
  int close_code() const { return close_code_; }
  const std::string& close_reason() const { return close_reason_; }
  bool closed() const { return closed_; }
  int pings_received() const { return pings_; }
  int fd() const { return fd_; }
  // Drops the TCP connection without a close frame.
  void Abort();

 private:
  // Reads at least one more byte into buf_ within the deadline.
  Result Fill(int64_t deadline_ms);
  bool WriteAll(const std::string& data);

  int fd_ = -1;
  int status_ = 0;
  bool auto_pong_ = true;
  bool closed_ = false;
  bool sent_close_ = false;
  int close_code_ = -1;
  int pings_ = 0;
  std::string close_reason_;
  std::string response_body_;
  std::string error_;
  std::string buf_;
  std::string partial_;  // fragmented message being assembled
};

}  // namespace coderef::testsupport
