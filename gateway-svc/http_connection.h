// HttpConnection: one accepted TCP connection of the gateway, from accept
// until it closes or becomes a WebSocket session (PROTOCOL.md section 4,
// "HTTP"). HTTP/1.1 as clients expect it: persistent connections, any number
// of requests per connection, pipelined requests answered one at a time in
// order, "Connection: close" on the last answer before the gateway closes
// (and a lingering close, so that answer is not lost to a reset). Requests
// are parsed by HttpRequestParser (http_codec.h, websocketpp's parser); an
// upgrade is checked by WsHandshake and the host, answered with 101 here,
// then the socket and what the client sent behind its request go to the
// host (which makes a WsSession).
//
// Time limits (one timer per connection): a request must be complete
// within `request_timeout_ms` of its first byte (and the first within that
// of the accept): slowloris; an idle persistent connection is closed after
// `idle_timeout_ms`; an answer the client does not take for that long ends
// the connection; after "Connection: close" the gateway reads and discards
// for at most `linger_ms`.
//
// Thread-safety: none; everything runs on the io thread.
#pragma once

#include <asio.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "gateway-svc/gateway_metrics.h"
#include "gateway-svc/http_codec.h"
#include "gateway-svc/http_types.h"
#include "gateway-svc/tcp_socket.h"

namespace coderef::gateway {

class HttpConnection;

// What a connection asks of the server. Called on the io thread.
class HttpConnectionHost {
 public:
  struct Settings {
    int request_timeout_ms = 5000;  // --handshake-timeout-ms
    int idle_timeout_ms = 75000;    // --http-idle-timeout-ms
    int linger_ms = 1000;           // --close-timeout-ms
  };

  virtual ~HttpConnectionHost() = default;
  // The answer to a plain (not upgrade) request.
  virtual HttpResponse Serve(const HttpRequest& request) = 0;
  // A WebSocket upgrade whose handshake is valid: true to accept it (a
  // client slot is then held until Upgraded or UpgradeAbandoned), or false
  // with the refusal in *refusal.
  virtual bool AdmitUpgrade(const HttpRequest& request, HttpResponse* refusal) = 0;
  // The 101 for `request` is written: the socket is the host's now, with
  // `read_ahead`, what the client sent behind its request.
  virtual void Upgraded(TcpSocket socket, const HttpRequest& request, std::string read_ahead) = 0;
  // An admitted upgrade ended before its 101 was written.
  virtual void UpgradeAbandoned() = 0;
  // False once connections should close after their current answer.
  virtual bool KeepAlive() const = 0;
  // The connection is over (closed, or upgraded); called once.
  virtual void Finished(HttpConnection* connection) = 0;
};

class HttpConnection final : public std::enable_shared_from_this<HttpConnection> {
 public:
  // `host`, `settings` and `metrics` must outlive the connection's handlers.
  HttpConnection(HttpConnectionHost* host, const HttpConnectionHost::Settings* settings,
                 GatewayMetrics* metrics, TcpSocket socket);
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  void Start();
  // Closes now (shutdown); the host hears Finished.
  void Close(std::string_view why) { Gone(why); }

 private:
  enum class State { kOpen, kLingering, kGone };
  enum class Wait { kRequest, kIdle, kAnswer, kLinger };

  void ArmRead();
  void OnReadable(const asio::error_code& ec);
  // Answers what is complete in in_, one request at a time, then waits.
  void Process();
  void Handle(const HttpRequest& request);
  void Answer(const HttpResponse& response, bool keep_alive, bool head);
  // Writes out_; true once all of it is out (else a write wait is armed, or
  // the connection is gone).
  bool WriteOut();
  void HandOver();
  void Linger();
  void SetDeadline(Wait wait, int ms);
  void ArmTimer();
  void OnDeadline();
  void Gone(std::string_view why);
  std::string Remote() const { return RemoteAddress(socket_); }

  HttpConnectionHost* host_;
  const HttpConnectionHost::Settings* settings_;
  GatewayMetrics* metrics_;
  TcpSocket socket_;
  asio::steady_timer timer_;
  std::chrono::steady_clock::time_point deadline_{};
  Wait wait_ = Wait::kRequest;
  State state_ = State::kOpen;
  bool timer_armed_ = false;
  uint64_t timer_generation_ = 0;  // a wait of an older generation was superseded
  bool read_armed_ = false;
  bool write_armed_ = false;
  bool eof_ = false;               // the client sent FIN
  bool close_after_write_ = false;
  bool upgrade_pending_ = false;   // an admitted upgrade whose 101 is in out_
  HttpRequestParser parser_;
  HttpRequest upgrade_;            // that upgrade's request
  std::string in_;                 // read, not yet parsed (pipelined requests)
  std::string out_;                // the answer being written
  size_t out_offset_ = 0;
};

}  // namespace coderef::gateway
