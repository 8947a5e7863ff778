#include "gateway-svc/ws_session.h"

#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstring>

#include "common/log.h"

namespace coderef::gateway {
namespace {

std::string ErrnoText(int e) { return std::strerror(e); }

// One non-blocking sendmsg, retried on EINTR.
ssize_t SendNow(int fd, iovec* iov, size_t n) {
  msghdr mh{};
  mh.msg_iov = iov;
  mh.msg_iovlen = n;
  ssize_t r;
  do {
    r = ::sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
  } while (r < 0 && errno == EINTR);
  return r;
}

}  // namespace

WsSession::WsSession(SessionHost* host, Socket socket) : host_(host), socket_(std::move(socket)) {}

void WsSession::Start(Hub::ClientId id, std::string already_read) {
  id_ = id;
  Flush();  // hello (and any replay) was queued at Connect
  if (!already_read.empty() && !Consume(already_read.data(), already_read.size())) return;
  ArmRead();
}

void WsSession::Wake() {
  // Not started yet (Start flushes), or already pulling / waiting for room.
  if (id_ == 0 || flushing_ || write_armed_) return;
  Flush();
}

void WsSession::Ping() {
  static const FramePtr kPing = WireFrame::Raw(WsPingFrame(""));
  if (state_ != State::kOpen) return;
  Write(kPing);
}

void WsSession::Write(const FramePtr& frame) {
  if (state_ == State::kGone || id_ == 0) return;
  host_->hub->fan_out().Push(id_, frame);  // wakes this session if idle
}

void WsSession::Close(uint16_t code, std::string_view reason) { StartClose(code, reason); }

// The kernel's send queue (SIOCOUTQ) holds what was written and not yet
// acknowledged by the peer.
WsSession::Acks WsSession::Acknowledged() const {
  int unacked = 0;
  if (state_ == State::kGone ||
      ::ioctl(const_cast<Socket&>(socket_).native_handle(), SIOCOUTQ, &unacked) != 0)
    unacked = 0;
  const uint64_t pending = std::min<uint64_t>(written_, static_cast<uint64_t>(std::max(unacked, 0)));
  return Acks{written_ - pending, pending == 0};
}

std::string WsSession::Describe() const { return RemoteAddress(socket_); }

void WsSession::ArmWrite() {
  if (write_armed_ || state_ == State::kGone) return;
  write_armed_ = true;
  socket_.async_wait(Socket::wait_write, [self = shared_from_this()](const asio::error_code& ec) {
    self->write_armed_ = false;
    if (self->state_ == State::kGone) return;
    if (ec) {
      self->Gone("write wait failed: " + ec.message());
      return;
    }
    self->Flush();
  });
}

void WsSession::Flush() {
  if (state_ == State::kGone || gone_posted_ || flushing_ || id_ == 0) return;
  flushing_ = true;
  FanOut& core = host_->hub->fan_out();
  // A few writes per turn at most, so a client catching up on a long
  // history cannot hold the io thread; then it waits its turn (its socket
  // is writable, so the wait ends on the next turn of the loop).
  constexpr int kRounds = 8;
  bool more = false;
  for (int round = 0; round < kRounds; ++round) {
    FanOut::Pull pull;
    core.Take(id_, &pull);
    if (pull.count == 0) break;
    iovec iov[FanOut::kMaxPull];
    for (size_t i = 0; i < pull.count; ++i)
      iov[i] = {const_cast<char*>(pull.data[i].data()), pull.data[i].size()};
    const ssize_t n = SendNow(socket_.native_handle(), iov, pull.count);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      flushing_ = false;
      GoneLater("write failed: " + ErrnoText(errno));
      return;
    }
    const size_t sent = n > 0 ? static_cast<size_t>(n) : 0;
    written_ += sent;
    core.Written(id_, pull, sent);
    if (sent < pull.bytes) {
      // The socket is full: what is left stays in the core (the client's
      // cursor and the offset into the frame begun) until it drains.
      host_->metrics->writes_partial->Add();
      host_->metrics->writes_queued->Add();
      more = true;
      break;
    }
    host_->metrics->writes_direct->Add();
    more = round + 1 == kRounds;
  }
  flushing_ = false;
  if (more) {
    ArmWrite();
  } else if (shut_after_write_) {
    GoneLater("close handshake complete");
  }
}

void WsSession::ArmRead() {
  if (read_armed_ || state_ == State::kGone) return;
  read_armed_ = true;
  socket_.async_wait(Socket::wait_read, [self = shared_from_this()](const asio::error_code& ec) {
    self->read_armed_ = false;
    self->OnReadable(ec);
  });
}

void WsSession::OnReadable(const asio::error_code& ec) {
  if (state_ == State::kGone) return;
  if (ec) {
    Gone("read wait failed: " + ec.message());
    return;
  }
  std::vector<char>& buf = host_->read_buffer;
  // A few reads per wake-up at most, so one chatty client cannot hold the
  // io thread.
  for (int round = 0; round < 4; ++round) {
    ssize_t n;
    do {
      n = ::recv(socket_.native_handle(), buf.data(), buf.size(), MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n == 0) {
      Gone("the client closed the connection");
      return;
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      Gone("read failed: " + ErrnoText(errno));
      return;
    }
    if (!Consume(buf.data(), static_cast<size_t>(n))) return;
    if (static_cast<size_t>(n) < buf.size()) break;
  }
  ArmRead();
}

bool WsSession::Consume(char* data, size_t n) {
  bool ok = reader_.Feed(data, n, [this](const WsReader::Message& m) { return OnMessage(m); });
  if (state_ == State::kGone) return false;
  if (!ok) {
    LogInfo("client.protocol_error")
        .Kv("client", id_)
        .Kv("remote", Describe())
        .Kv("code", reader_.error_code())
        .Kv("reason", reader_.error_reason());
    if (state_ == State::kOpen) {
      StartClose(reader_.error_code(), reader_.error_reason());
    } else {
      Gone(reader_.error_reason());
      return false;
    }
  }
  return state_ != State::kGone;
}

bool WsSession::OnMessage(const WsReader::Message& m) {
  switch (m.kind) {
    case WsReader::Kind::kText:
    case WsReader::Kind::kBinary:
      if (state_ != State::kOpen) return true;  // after our close: ignored
      host_->hub->OnClientFrame(id_, m.kind == WsReader::Kind::kBinary, m.payload);
      return state_ != State::kGone;
    case WsReader::Kind::kPing:
      host_->hub->OnClientControlFrame(id_);
      if (state_ == State::kOpen) {
        Write(WireFrame::Raw(WsPongFrame(m.payload)));
      }
      return state_ != State::kGone;
    case WsReader::Kind::kPong:
      host_->hub->OnClientControlFrame(id_);
      return true;
    case WsReader::Kind::kClose:
      break;
  }
  if (state_ != State::kOpen) {  // the answer to our close
    Gone("close handshake complete");
    return false;
  }
  // The client closes: frames not yet begun are dropped (it reads no more),
  // its close is answered after the frame being written, then the socket is
  // closed (Flush, once the answer is out).
  state_ = State::kClosing;
  shut_after_write_ = true;
  host_->hub->fan_out().Finish(id_, WireFrame::Raw(WsCloseFrame(m.close_code, "")));
  ArmCloseTimer();
  return false;
}

void WsSession::StartClose(uint16_t code, std::string_view reason) {
  if (state_ == State::kGone) return;
  if (state_ == State::kOpen) {
    state_ = State::kClosing;
    // Frames not yet begun are dropped; the close frame follows the one
    // being written (if the socket ever takes it: the close timer decides).
    host_->hub->fan_out().Finish(id_, WireFrame::Raw(WsCloseFrame(code, reason)));
  }
  ArmCloseTimer();
}

void WsSession::ArmCloseTimer() {
  if (close_timer_ || state_ == State::kGone) return;
  close_timer_ = std::make_unique<asio::steady_timer>(socket_.get_executor());
  close_timer_->expires_after(std::chrono::milliseconds(host_->close_timeout_ms));
  close_timer_->async_wait([self = shared_from_this()](const asio::error_code& ec) {
    if (!ec) self->Gone("no close answer within --close-timeout-ms");
  });
}

void WsSession::GoneLater(std::string_view why) {
  if (state_ == State::kGone || gone_posted_) return;
  gone_posted_ = true;  // nothing more is written
  state_ = State::kClosing;
  asio::post(socket_.get_executor(),
             [self = shared_from_this(), why = std::string(why)] { self->Gone(why); });
}

void WsSession::Gone(std::string_view why) {
  if (state_ == State::kGone) return;
  state_ = State::kGone;
  asio::error_code ec;
  socket_.shutdown(asio::socket_base::shutdown_both, ec);
  socket_.close(ec);  // pending waits end with operation_aborted
  if (close_timer_) close_timer_->cancel();
  LogDebug("client.gone").Kv("client", id_).Kv("why", why);
  host_->hub->Disconnect(id_);
}

}  // namespace coderef::gateway
