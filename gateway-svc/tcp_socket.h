// TcpSocket: the socket of one gateway connection, the same object first in
// an HttpConnection and, after an upgrade, in a WsSession; and its peer's
// address as logs show it.
// Thread-safety: a socket belongs to the io thread.
#pragma once

#include <asio.hpp>
#include <string>

namespace coderef::gateway {

using TcpSocket = asio::basic_stream_socket<asio::ip::tcp, asio::io_context::executor_type>;

// "127.0.0.1:53422" or "[::1]:53422"; "unknown" once the socket is closed.
inline std::string RemoteAddress(const TcpSocket& socket) {
  asio::error_code ec;
  asio::ip::tcp::endpoint ep = socket.remote_endpoint(ec);
  if (ec) return "unknown";
  std::string addr = ep.address().to_string();
  if (ep.address().is_v6()) addr = "[" + addr + "]";
  return addr + ":" + std::to_string(ep.port());
}

}  // namespace coderef::gateway
