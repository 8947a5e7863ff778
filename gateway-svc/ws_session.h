// WsSession: one open WebSocket connection, after the upgrade. The gateway's
// HttpConnection (http_connection.h) reads the HTTP request, runs the
// opening handshake and writes the 101; then the socket moves here, with
// whatever the client sent right behind its request. A WsSession reads
// client frames (WsReader), answers pings, runs the closing handshake and
// writes: it holds no write queue of its own but pulls the shared prepared
// frames from the fan-out core (fan_out.h) as its socket drains.
//
// Why so little state: an idle open connection in websocketpp's own
// connection object cost about 3.2 KiB of the gateway's memory (13 handler
// slots, the request and response objects, a processor, an Asio transport
// with its own handlers and a read buffer), more than the Node.js peer's
// whole connection. A WsSession holds the socket, a few flags and
// an empty reader; reads go into one buffer shared by every session (the io
// thread is single). See docs/PERFORMANCE.md, idle memory.
//
// Thread-safety: none; everything runs on the io thread.
#pragma once

#include <asio.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gateway-svc/gateway_metrics.h"
#include "gateway-svc/hub.h"
#include "gateway-svc/tcp_socket.h"
#include "gateway-svc/ws_wire.h"

namespace coderef::gateway {

// What every session shares: the hub, the metrics, settings and the read
// buffer. Owned by the server; outlives the hub's clients.
struct SessionHost {
  Hub* hub = nullptr;
  GatewayMetrics* metrics = nullptr;
  int close_timeout_ms = 1000;
  std::vector<char> read_buffer = std::vector<char>(64 * 1024 + 64);
};

class WsSession final : public ClientSink, public std::enable_shared_from_this<WsSession> {
 public:
  using Socket = TcpSocket;

  WsSession(SessionHost* host, Socket socket);
  // Starts reading as hub client `id`; `already_read` is what the client
  // sent right behind its upgrade request (a client should not send before
  // the upgrade's answer, so this is normally empty).
  void Start(Hub::ClientId id, std::string already_read);

  // ClientSink.
  void Wake() override;
  void Ping() override;
  void Close(uint16_t code, std::string_view reason) override;
  Acks Acknowledged() const override;
  std::string Describe() const override;

 private:
  enum class State : uint8_t { kOpen, kClosing, kGone };

  // Queues a control frame (a pong) behind what the client already has.
  void Write(const FramePtr& frame);
  // Waits until the socket can take more, then Flush.
  void ArmWrite();
  // Pulls frames from the fan-out core (FanOut::Take, up to 64 per
  // sendmsg) and writes them until the core has nothing more or the socket
  // is full; then waits for the socket to drain. Never ends the session
  // synchronously (it runs inside the hub's loops): failures are posted.
  void Flush();
  void ArmRead();
  void OnReadable(const asio::error_code& ec);
  // Handles `n` bytes in the read buffer; false once the session is gone.
  bool Consume(char* data, size_t n);
  bool OnMessage(const WsReader::Message& m);
  // Sends a close frame (once) and waits for the client's, or the timeout.
  void StartClose(uint16_t code, std::string_view reason);
  // Cuts the connection off after --close-timeout-ms (once).
  void ArmCloseTimer();
  // The connection is over: the socket is closed and the hub told. Called
  // from ClientSink methods (inside the hub's loops), it is posted.
  void Gone(std::string_view why);
  void GoneLater(std::string_view why);

  SessionHost* host_;
  Socket socket_;
  Hub::ClientId id_ = 0;
  State state_ = State::kOpen;
  bool read_armed_ = false;
  bool write_armed_ = false;
  bool flushing_ = false;
  bool gone_posted_ = false;  // a failure is being reported: nothing more is written
  uint64_t written_ = 0;      // bytes the socket took, in all
  // After the last byte is written, close the socket (the answer to a
  // client's close has gone out).
  bool shut_after_write_ = false;
  WsReader reader_;
  std::unique_ptr<asio::steady_timer> close_timer_;  // only while closing
};

}  // namespace coderef::gateway
