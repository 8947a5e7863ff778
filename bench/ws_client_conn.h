// WsClientConn: one client-side WebSocket connection as a plain state
// machine over a non-blocking socket, for the load client (ws_load). It is
// deliberately minimal: the HTTP/1.1 upgrade (with an Origin header), masked
// client frames, unmasked server frames (text, continuation, ping, pong,
// close), and nothing else (no extensions, no TLS). It knows nothing of
// epoll: the owner calls OnWritable/OnReadable and asks WantsWrite().
// Thread-safety: none; a connection belongs to one event loop.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace coderef::bench {

class WsClientConn {
 public:
  enum class State : uint8_t { kConnecting, kHandshake, kOpen, kClosed };

  // What the owner is told about incoming messages.
  class Handler {
   public:
    virtual ~Handler() = default;
    // A complete text message (reassembled if fragmented), with two
    // CLOCK_REALTIME times for the read that completed it: `rx_us`, when the
    // kernel received its last bytes on this socket (SO_TIMESTAMPNS; the
    // receipt time, before any wait for this loop's turn), and `user_us`,
    // when this loop read it (rx_us = user_us if the kernel gave no stamp).
    virtual void OnText(WsClientConn& c, std::string_view payload, int64_t rx_us,
                        int64_t user_us) = 0;
    // The upgrade succeeded (101).
    virtual void OnOpen(WsClientConn& c) = 0;
    // The connection ended: `why` is a short reason ("close 1001 ...",
    // "handshake: HTTP/1.1 503 ...", "reset", ...).
    virtual void OnClosed(WsClientConn& c, std::string_view why, bool was_open) = 0;
  };

  WsClientConn() = default;
  WsClientConn(const WsClientConn&) = delete;
  WsClientConn& operator=(const WsClientConn&) = delete;

  // Starts a non-blocking connect to ip:port from source address `src_ip`
  // (empty: any). Returns false (with errno set) when the socket could not
  // even be created or bound.
  // `rcvbuf` > 0 sets SO_RCVBUF first (a small one makes a slow reader's
  // backpressure reach the server sooner).
  bool Connect(const std::string& src_ip, const std::string& ip, int port,
               const std::string& request, int rcvbuf = 0);

  // Readiness callbacks. `scratch` is a large buffer shared by all
  // connections of a loop.
  void OnWritable(Handler& h);
  // Reads up to `rounds` times (scratch_size bytes each); returns the bytes
  // read.
  size_t OnReadable(Handler& h, char* scratch, size_t scratch_size, int rounds = 4);

  // Queues a masked text frame (e.g. {"type":"pong"}).
  void SendText(std::string_view payload);
  // Starts a clean close (1000) and stops reading events.
  void SendClose(uint16_t code);

  bool WantsWrite() const { return state_ == State::kConnecting || !out_.empty(); }
  State state() const { return state_; }
  int fd() const { return fd_; }
  // Closes the socket without a handshake (end of run).
  void Abort();

  // Owner's per-connection data (index into its tables).
  uint32_t index = 0;

 private:
  void Fail(Handler& h, std::string_view why);
  void Flush(Handler& h);
  void QueueFrame(uint8_t opcode, std::string_view payload);
  // Parses frames from [data, data+n); returns bytes consumed.
  size_t ParseFrames(Handler& h, const char* data, size_t n, int64_t rx_us, int64_t user_us);
  size_t ParseHandshake(Handler& h, const char* data, size_t n);

  int fd_ = -1;
  State state_ = State::kClosed;
  std::string in_;    // unparsed bytes (a partial frame or response)
  std::string out_;   // unsent bytes
  std::string frag_;  // a fragmented message being assembled
  bool in_fragment_ = false;
  uint32_t mask_seed_ = 0x9e3779b9u;
};

}  // namespace coderef::bench
