// GatewayServer: the gateway process minus main(): the listening socket and
// the transport on standalone Asio (HTTP/1.1 and WebSocket on one port:
// HttpConnection, then WsSession), the io thread that owns the Hub, and the
// FeedClient thread.
// Thread-safety: construct, Start and Run from one thread; Stop from any.
#pragma once

#include <memory>
#include <string>

#include "gateway-svc/gateway_options.h"

namespace coderef::gateway {

class GatewayServer {
 public:
  explicit GatewayServer(GatewayOptions options);
  ~GatewayServer();
  GatewayServer(const GatewayServer&) = delete;
  GatewayServer& operator=(const GatewayServer&) = delete;

  // Binds the listening socket. False with *error when it cannot.
  bool Listen(std::string* error);
  // The bound port (after Listen).
  int port() const;
  // Starts the feed thread and runs the io loop in the calling thread until
  // SIGTERM/SIGINT or Stop(); then closes every client with 1001 and
  // returns within ~1.5 s.
  void Run();
  // Asks Run() to shut down (thread-safe).
  void Stop();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace coderef::gateway
