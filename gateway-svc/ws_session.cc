#include "gateway-svc/ws_session.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstring>

#include "common/log.h"

namespace coderef::gateway {
namespace {

std::string_view WireOf(const FramePtr& f) { return static_cast<const WireFrame&>(*f).wire(); }

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
  if (!already_read.empty() && !Consume(already_read.data(), already_read.size())) return;
  ArmRead();
}

void WsSession::Send(const FramePtr& frame) {
  if (state_ != State::kOpen) return;  // closing: nothing more goes out
  Write(frame, WireOf(frame));
}

void WsSession::Ping() {
  static const FramePtr kPing = WireFrame::Raw(WsPingFrame(""));
  if (state_ != State::kOpen) return;
  Write(kPing, WireOf(kPing));
}

void WsSession::Close(uint16_t code, std::string_view reason) { StartClose(code, reason); }

std::string WsSession::Describe() const { return RemoteAddress(socket_); }

// Nothing queued: one non-blocking send straight away (no handler, no
// allocation); what the socket does not take waits for room in order.
void WsSession::Write(const FramePtr& owner, std::string_view wire) {
  if (state_ == State::kGone) return;
  if (out_head_ < out_.size() || write_armed_) {
    host_->metrics->writes_queued->Add();
    out_.push_back(owner);
    queued_bytes_ += wire.size();
    return;
  }
  iovec iov{const_cast<char*>(wire.data()), wire.size()};
  const ssize_t n = SendNow(socket_.native_handle(), &iov, 1);
  if (n == static_cast<ssize_t>(wire.size())) {
    host_->metrics->writes_direct->Add();
    return;
  }
  if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
    GoneLater("write failed: " + ErrnoText(errno));
    return;
  }
  const size_t sent = n > 0 ? static_cast<size_t>(n) : 0;
  if (sent > 0) host_->metrics->writes_partial->Add();
  else host_->metrics->writes_queued->Add();
  out_.clear();
  out_head_ = 0;
  out_.push_back(owner);
  out_offset_ = sent;
  queued_bytes_ += wire.size() - sent;
  ArmWrite();
}

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

// Writes queued frames, up to 64 buffers per sendmsg, until the queue is
// empty or the socket is full.
void WsSession::Flush() {
  constexpr size_t kMaxIov = 64;
  while (out_head_ < out_.size()) {
    iovec iov[kMaxIov];
    size_t k = 0, total = 0;
    for (size_t i = out_head_; i < out_.size() && k < kMaxIov; ++i, ++k) {
      std::string_view w = WireOf(out_[i]);
      if (i == out_head_) w.remove_prefix(out_offset_);
      iov[k] = {const_cast<char*>(w.data()), w.size()};
      total += w.size();
    }
    const ssize_t n = SendNow(socket_.native_handle(), iov, k);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        ArmWrite();
        return;
      }
      Gone("write failed: " + ErrnoText(errno));
      return;
    }
    size_t left = static_cast<size_t>(n);
    queued_bytes_ -= left;
    while (left > 0) {
      size_t rest = WireOf(out_[out_head_]).size() - out_offset_;
      if (left < rest) {
        out_offset_ += left;
        break;
      }
      left -= rest;
      out_[out_head_++].reset();
      out_offset_ = 0;
    }
    if (static_cast<size_t>(n) < total) {
      ArmWrite();  // the socket is full
      break;
    }
  }
  if (out_head_ == out_.size()) {
    std::vector<FramePtr>().swap(out_);  // an idle connection holds no queue
    out_head_ = 0;
    if (shut_after_write_) Gone("close handshake complete");
  } else if (out_head_ >= 64 && out_head_ * 2 >= out_.size()) {
    out_.erase(out_.begin(), out_.begin() + static_cast<std::ptrdiff_t>(out_head_));
    out_head_ = 0;
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
      if (host_->after_client_message) host_->after_client_message();
      return state_ != State::kGone;
    case WsReader::Kind::kPing:
      host_->hub->OnClientControlFrame(id_);
      if (state_ == State::kOpen) {
        FramePtr pong = WireFrame::Raw(WsPongFrame(m.payload));
        Write(pong, WireOf(pong));
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
  // The client closes: frames not yet started are dropped (it reads no
  // more), its close is answered, then the socket is closed.
  state_ = State::kClosing;
  size_t keep = out_head_ + ((out_head_ < out_.size() && out_offset_ > 0) ? 1 : 0);
  for (size_t i = keep; i < out_.size(); ++i) queued_bytes_ -= WireOf(out_[i]).size();
  out_.resize(keep);
  shut_after_write_ = true;
  FramePtr f = WireFrame::Raw(WsCloseFrame(m.close_code, ""));
  Write(f, WireOf(f));
  if (state_ != State::kGone && out_head_ == out_.size() && !write_armed_) {
    Gone("closed by the client");
    return false;
  }
  ArmCloseTimer();
  return false;
}

void WsSession::StartClose(uint16_t code, std::string_view reason) {
  if (state_ == State::kGone) return;
  if (state_ == State::kOpen) {
    state_ = State::kClosing;
    FramePtr f = WireFrame::Raw(WsCloseFrame(code, reason));
    Write(f, WireOf(f));
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
  if (state_ == State::kGone) return;
  state_ = State::kClosing;  // nothing more is written
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
  std::vector<FramePtr>().swap(out_);
  out_head_ = out_offset_ = queued_bytes_ = 0;
  LogDebug("client.gone").Kv("client", id_).Kv("why", why);
  host_->hub->Disconnect(id_);
}

}  // namespace coderef::gateway
