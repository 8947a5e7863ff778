#include "gateway-svc/http_connection.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "common/log.h"
#include "gateway-svc/ws_handshake.h"

namespace coderef::gateway {
namespace {

// Bytes read ahead of the request being answered (a client pipelining
// faster than it reads answers): past this, reading waits.
constexpr size_t kMaxReadAhead = 64 * 1024;

// REST answers keep the connection, except to a method the read-only API
// does not serve: that client is not one keep-alive is for.
bool EndsConnection(int status) { return status == 405; }

}  // namespace

HttpConnection::HttpConnection(HttpConnectionHost* host, const HttpConnectionHost::Settings* settings,
                               GatewayMetrics* metrics, TcpSocket socket)
    : host_(host),
      settings_(settings),
      metrics_(metrics),
      socket_(std::move(socket)),
      timer_(socket_.get_executor()) {}

void HttpConnection::Start() {
  SetDeadline(Wait::kRequest, settings_->request_timeout_ms);
  ArmRead();
}

void HttpConnection::ArmRead() {
  if (read_armed_ || state_ == State::kGone || eof_) return;
  read_armed_ = true;
  socket_.async_wait(TcpSocket::wait_read, [self = shared_from_this()](const asio::error_code& ec) {
    self->read_armed_ = false;
    self->OnReadable(ec);
  });
}

void HttpConnection::OnReadable(const asio::error_code& ec) {
  if (state_ == State::kGone) return;
  if (ec) {
    Gone("read wait failed: " + ec.message());
    return;
  }
  char buf[16 * 1024];
  for (int round = 0; round < 4 && in_.size() < kMaxReadAhead; ++round) {
    ssize_t n;
    do {
      n = ::recv(socket_.native_handle(), buf, sizeof buf, MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n == 0) {
      eof_ = true;
      break;
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      Gone(std::string("read failed: ") + std::strerror(errno));
      return;
    }
    if (state_ == State::kOpen) in_.append(buf, static_cast<size_t>(n));  // lingering: discarded
    if (static_cast<size_t>(n) < sizeof buf) break;
  }
  if (state_ == State::kLingering) {
    if (eof_) Gone("closed after the last answer");
    else ArmRead();
    return;
  }
  Process();
}

void HttpConnection::Process() {
  while (state_ == State::kOpen) {
    if (!out_.empty()) {
      if (!WriteOut()) return;  // waits for room, or gone
      if (upgrade_pending_) {
        HandOver();
        return;
      }
      if (close_after_write_) {
        Linger();
        return;
      }
    }
    if (in_.empty()) break;
    if (parser_.state() == HttpRequestParser::State::kIdle)
      SetDeadline(Wait::kRequest, settings_->request_timeout_ms);
    in_.erase(0, parser_.Feed(in_.data(), in_.size()));
    switch (parser_.state()) {
      case HttpRequestParser::State::kIdle:
      case HttpRequestParser::State::kPartial:
        continue;  // all of in_ taken: wait for more
      case HttpRequestParser::State::kError:
        metrics_->Rejected("bad_request")->Add();
        LogInfo("http.bad_request")
            .Kv("status", parser_.error_status())
            .Kv("reason", parser_.error())
            .Kv("remote", Remote());
        Answer(HttpErrorResponse(parser_.error_status(), parser_.error()), false, false);
        in_.clear();  // nothing after a request that could not be read is trusted
        parser_.Reset();
        continue;
      case HttpRequestParser::State::kReady:
        Handle(parser_.request());
        parser_.Reset();
        continue;
    }
  }
  if (state_ != State::kOpen) return;
  if (parser_.state() == HttpRequestParser::State::kIdle && out_.empty()) {
    if (eof_) {
      Gone("the client closed the connection");
      return;
    }
    SetDeadline(Wait::kIdle, settings_->idle_timeout_ms);
  }
  if (eof_ && parser_.state() == HttpRequestParser::State::kPartial) {
    Gone("the client closed the connection within a request");
    return;
  }
  if (in_.size() < kMaxReadAhead) ArmRead();
}

void HttpConnection::Handle(const HttpRequest& request) {
  const bool head = request.method == "HEAD";
  if (!request.websocket_upgrade) {
    metrics_->http_requests->Add();
    HttpResponse response = host_->Serve(request);
    Answer(response, request.keep_alive && host_->KeepAlive() && !EndsConnection(response.status), head);
    return;
  }
  HttpResponse response;
  if (!WsHandshake(*parser_.parsed(), &response)) {
    metrics_->Rejected("bad_request")->Add();
    LogInfo("upgrade.rejected")
        .Kv("status", response.status)
        .Kv("reason", "bad_handshake")
        .Kv("remote", Remote());
    Answer(response, false, false);
    return;
  }
  HttpResponse refusal;
  if (!host_->AdmitUpgrade(request, &refusal)) {
    Answer(refusal, false, false);
    return;
  }
  upgrade_pending_ = true;
  upgrade_ = request;
  Answer(response, false, false);
}

void HttpConnection::Answer(const HttpResponse& response, bool keep_alive, bool head) {
  out_ = SerializeResponse(response, keep_alive, head);
  out_offset_ = 0;
  close_after_write_ = !keep_alive;
}

bool HttpConnection::WriteOut() {
  while (out_offset_ < out_.size()) {
    ssize_t n;
    do {
      n = ::send(socket_.native_handle(), out_.data() + out_offset_, out_.size() - out_offset_,
                 MSG_DONTWAIT | MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        Gone(std::string("write failed: ") + std::strerror(errno));
        return false;
      }
      SetDeadline(Wait::kAnswer, settings_->idle_timeout_ms);
      if (!write_armed_) {
        write_armed_ = true;
        socket_.async_wait(TcpSocket::wait_write, [self = shared_from_this()](const asio::error_code& ec) {
          self->write_armed_ = false;
          if (self->state_ != State::kOpen) return;
          if (ec) {
            self->Gone("write wait failed: " + ec.message());
            return;
          }
          self->Process();
        });
      }
      return false;
    }
    out_offset_ += static_cast<size_t>(n);
  }
  out_.clear();
  out_offset_ = 0;
  return true;
}

void HttpConnection::HandOver() {
  upgrade_pending_ = false;
  state_ = State::kGone;
  asio::error_code ec;
  socket_.cancel(ec);  // pending waits end (operation_aborted) before the socket moves
  timer_.cancel();
  host_->Upgraded(std::move(socket_), upgrade_, std::move(in_));
  host_->Finished(this);
}

// After the last answer: no more writes, and what the client still sends is
// read and dropped until it closes (or linger_ms), so closing with unread
// bytes does not reset the connection under the answer still in flight.
void HttpConnection::Linger() {
  state_ = State::kLingering;
  in_.clear();
  asio::error_code ec;
  socket_.shutdown(asio::socket_base::shutdown_send, ec);
  if (ec || eof_) {
    Gone("closed after the last answer");
    return;
  }
  SetDeadline(Wait::kLinger, settings_->linger_ms);
  ArmRead();
}

void HttpConnection::SetDeadline(Wait wait, int ms) {
  wait_ = wait;
  deadline_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  // A wait armed for no later than the new deadline re-arms when it fires,
  // so moving the deadline on at every request costs no cancel.
  if (timer_armed_ && timer_.expiry() <= deadline_) return;
  ArmTimer();
}

void HttpConnection::ArmTimer() {
  if (state_ == State::kGone) return;
  timer_armed_ = true;
  const uint64_t generation = ++timer_generation_;
  timer_.expires_at(deadline_);  // also ends a wait armed for later
  timer_.async_wait([self = shared_from_this(), generation](const asio::error_code& ec) {
    if (generation != self->timer_generation_) return;  // superseded
    self->timer_armed_ = false;
    if (ec || self->state_ == State::kGone) return;
    if (std::chrono::steady_clock::now() < self->deadline_) {
      self->ArmTimer();
      return;
    }
    self->OnDeadline();
  });
}

void HttpConnection::OnDeadline() {
  switch (wait_) {
    case Wait::kRequest:
      LogInfo("http.request_timeout")
          .Kv("remote", Remote())
          .Kv("reason", parser_.state() == HttpRequestParser::State::kIdle
                            ? "no request within --handshake-timeout-ms"
                            : "request not complete within --handshake-timeout-ms");
      Gone("request timeout");
      return;
    case Wait::kIdle:
      Gone("idle for --http-idle-timeout-ms");
      return;
    case Wait::kAnswer:
      LogInfo("http.write_timeout").Kv("remote", Remote()).Kv("reason", "answer not taken within --http-idle-timeout-ms");
      Gone("answer not taken");
      return;
    case Wait::kLinger:
      Gone("lingering close done");
      return;
  }
}

void HttpConnection::Gone(std::string_view why) {
  if (state_ == State::kGone) return;
  state_ = State::kGone;
  LogDebug("http.closed").Kv("remote", Remote()).Kv("why", why);
  asio::error_code ec;
  socket_.close(ec);  // pending waits end with operation_aborted
  timer_.cancel();
  if (upgrade_pending_) {
    upgrade_pending_ = false;
    host_->UpgradeAbandoned();
  }
  host_->Finished(this);
}

}  // namespace coderef::gateway
