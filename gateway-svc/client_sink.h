// ClientSink: one WebSocket connection as the fan-out core and the hub see
// it. Drain-driven: nothing is pushed into a connection. The core holds, per
// client, a cursor into the history ring and a few control frames; the
// connection pulls what to write next (FanOut::Take) whenever its socket can
// take more, and reports what the socket took (FanOut::Written). Wake() is
// the core's only nudge: data is waiting for a connection that had nothing
// to write. So live delivery, resume replay and a slow reader are one path,
// and a connection whose socket is full costs nothing until it drains.
// Thread-safety: none; every method runs on the io thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace coderef::gateway {

class ClientSink {
 public:
  virtual ~ClientSink() = default;
  // Data is waiting and the connection was idle (its last Take found
  // nothing). The connection pulls now if its socket is writable (it may
  // write synchronously, inside the caller's loop: it must not remove the
  // client from the core there; a failing socket is reported later), or
  // when the socket drains. Not called again until a Take finds nothing.
  virtual void Wake() = 0;
  // Queues a transport-level ping frame (FanOut::Push). The hub times the
  // answer; a pong, like any client frame, comes back through the hub.
  virtual void Ping() = 0;
  // Starts the close handshake (FanOut::Finish: frames not yet begun are
  // dropped, the close frame follows the one being written, if any). The
  // transport calls Hub::Disconnect when the connection is gone.
  virtual void Close(uint16_t code, std::string_view reason) = 0;
  // What the peer's TCP has acknowledged of this connection: bytes in all,
  // and whether that is everything written (the kernel's send queue is
  // empty). The pong timeout asks this: a peer that keeps acknowledging is
  // reading, however far behind; one that acknowledges nothing is dead.
  struct Acks {
    uint64_t bytes = 0;
    bool all = true;
  };
  virtual Acks Acknowledged() const = 0;
  // For logs: the remote address.
  virtual std::string Describe() const = 0;
};

}  // namespace coderef::gateway
