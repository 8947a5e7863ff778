#include "tests/support/ws_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <random>

namespace coderef::testsupport {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string Base64(const unsigned char* data, size_t n) {
  static const char kTable[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = static_cast<uint32_t>(data[i]) << 16;
    if (i + 1 < n) v |= static_cast<uint32_t>(data[i + 1]) << 8;
    if (i + 2 < n) v |= data[i + 2];
    out += kTable[(v >> 18) & 63];
    out += kTable[(v >> 12) & 63];
    out += i + 1 < n ? kTable[(v >> 6) & 63] : '=';
    out += i + 2 < n ? kTable[v & 63] : '=';
  }
  return out;
}

// Connects a TCP socket with a timeout. -1 on failure (error set).
int ConnectTcp(const std::string& host, int port, int rcvbuf, int timeout_ms, std::string* error) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = std::string("socket: ") + std::strerror(errno);
    return -1;
  }
  if (rcvbuf > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host.c_str(), &addr.sin_addr);
  int flags = ::fcntl(fd, F_GETFL);
  ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  if (rc != 0 && errno != EINPROGRESS) {
    *error = std::string("connect: ") + std::strerror(errno);
    ::close(fd);
    return -1;
  }
  if (rc != 0) {
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, timeout_ms) != 1) {
      *error = "connect: timeout";
      ::close(fd);
      return -1;
    }
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      *error = std::string("connect: ") + std::strerror(err);
      ::close(fd);
      return -1;
    }
  }
  ::fcntl(fd, F_SETFL, flags);  // back to blocking; reads use poll()
  return fd;
}

bool WriteAllFd(int fd, const std::string& data, int timeout_ms) {
  size_t off = 0;
  int64_t deadline = NowMs() + timeout_ms;
  while (off < data.size()) {
    pollfd p{fd, POLLOUT, 0};
    int left = static_cast<int>(deadline - NowMs());
    if (left <= 0 || ::poll(&p, 1, left) != 1) return false;
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return false;
    }
    off += static_cast<size_t>(n);
  }
  return true;
}

// Reads until "\r\n\r\n"; parses status and headers. Leftover bytes stay in *buf.
bool ReadHead(int fd, int64_t deadline, std::string* buf, int* status,
              std::map<std::string, std::string>* headers, std::string* error) {
  size_t end;
  while ((end = buf->find("\r\n\r\n")) == std::string::npos) {
    pollfd p{fd, POLLIN, 0};
    int left = static_cast<int>(deadline - NowMs());
    if (left <= 0 || ::poll(&p, 1, left) != 1) {
      *error = "timeout reading the response head";
      return false;
    }
    char tmp[4096];
    ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
    if (n <= 0) {
      *error = n == 0 ? "connection closed before the response head" : std::strerror(errno);
      return false;
    }
    buf->append(tmp, static_cast<size_t>(n));
  }
  std::string head = buf->substr(0, end);
  buf->erase(0, end + 4);
  size_t line_end = head.find("\r\n");
  std::string status_line = head.substr(0, line_end);
  if (status_line.size() < 12 || status_line.compare(0, 5, "HTTP/") != 0) {
    *error = "bad status line: " + status_line;
    return false;
  }
  *status = std::atoi(status_line.c_str() + 9);
  size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    size_t e = head.find("\r\n", pos);
    if (e == std::string::npos) e = head.size();
    std::string line = head.substr(pos, e - pos);
    size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string v = line.substr(colon + 1);
      while (!v.empty() && v.front() == ' ') v.erase(v.begin());
      (*headers)[Lower(line.substr(0, colon))] = v;
    }
    pos = e + 2;
  }
  return true;
}

void ReadBody(int fd, int64_t deadline, std::string* buf,
              const std::map<std::string, std::string>& headers, std::string* body) {
  size_t want = std::string::npos;
  auto it = headers.find("content-length");
  if (it != headers.end()) want = static_cast<size_t>(std::atoll(it->second.c_str()));
  while (want == std::string::npos || buf->size() < want) {
    pollfd p{fd, POLLIN, 0};
    int left = static_cast<int>(deadline - NowMs());
    if (left <= 0 || ::poll(&p, 1, left) != 1) break;
    char tmp[8192];
    ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
    if (n <= 0) break;
    buf->append(tmp, static_cast<size_t>(n));
  }
  *body = want == std::string::npos ? *buf : buf->substr(0, std::min(want, buf->size()));
}

}  // namespace

HttpResult HttpGet(int port, const std::string& target, const Headers& headers, int timeout_ms,
                   const std::string& method) {
  HttpResult r;
  int fd = ConnectTcp("127.0.0.1", port, 0, timeout_ms, &r.error);
  if (fd < 0) return r;
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1:" +
                    std::to_string(port) + "\r\nConnection: close\r\n";
  for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
  req += "\r\n";
  int64_t deadline = NowMs() + timeout_ms;
  std::string buf;
  if (!WriteAllFd(fd, req, timeout_ms)) {
    r.error = "write failed";
  } else if (ReadHead(fd, deadline, &buf, &r.status, &r.headers, &r.error)) {
    ReadBody(fd, deadline, &buf, r.headers, &r.body);
  }
  ::close(fd);
  return r;
}

WsClient::~WsClient() { Abort(); }

void WsClient::Abort() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool WsClient::Connect(const Options& o) {
  Abort();
  auto_pong_ = o.auto_pong;
  fd_ = ConnectTcp(o.host, o.port, o.rcvbuf, o.timeout_ms, &error_);
  if (fd_ < 0) return false;
  std::random_device rd;
  unsigned char nonce[16];
  for (auto& b : nonce) b = static_cast<unsigned char>(rd());
  std::string req = "GET " + o.target + " HTTP/1.1\r\nHost: " + o.host + ":" +
                    std::to_string(o.port) +
                    "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " +
                    Base64(nonce, sizeof nonce) + "\r\nSec-WebSocket-Version: 13\r\n";
  for (const auto& [k, v] : o.headers) req += k + ": " + v + "\r\n";
  req += "\r\n";
  if (!WriteAll(req)) {
    error_ = "handshake write failed";
    return false;
  }
  std::map<std::string, std::string> headers;
  int64_t deadline = NowMs() + o.timeout_ms;
  if (!ReadHead(fd_, deadline, &buf_, &status_, &headers, &error_)) return false;
  if (status_ != 101) {
    ReadBody(fd_, deadline, &buf_, headers, &response_body_);
    buf_.clear();
    error_ = "handshake refused with HTTP " + std::to_string(status_);
    Abort();
    return false;
  }
  return true;
}

bool WsClient::WriteAll(const std::string& data) {
  return fd_ >= 0 && WriteAllFd(fd_, data, 5000);
}

std::string MaskedFrame(uint8_t b0, std::string_view payload) {
  std::string f;
  f += static_cast<char>(b0);
  size_t n = payload.size();
  if (n < 126) {
    f += static_cast<char>(0x80 | n);
  } else if (n <= 0xffff) {
    f += static_cast<char>(0x80 | 126);
    f += static_cast<char>((n >> 8) & 0xff);
    f += static_cast<char>(n & 0xff);
  } else {
    f += static_cast<char>(0x80 | 127);
    for (int i = 7; i >= 0; --i) f += static_cast<char>((static_cast<uint64_t>(n) >> (8 * i)) & 0xff);
  }
  static thread_local std::mt19937 rng{std::random_device{}()};
  unsigned char key[4];
  for (auto& k : key) k = static_cast<unsigned char>(rng());
  f.append(reinterpret_cast<char*>(key), 4);
  size_t start = f.size();
  f.append(payload.data(), payload.size());
  for (size_t i = 0; i < n; ++i) f[start + i] = static_cast<char>(f[start + i] ^ key[i % 4]);
  return f;
}

bool WsClient::SendFrame(uint8_t opcode, std::string_view payload, bool fin) {
  return WriteAll(MaskedFrame(static_cast<uint8_t>((fin ? 0x80 : 0) | (opcode & 0x0f)), payload));
}

bool WsClient::SendClose(uint16_t code, std::string_view reason) {
  std::string p;
  p += static_cast<char>(code >> 8);
  p += static_cast<char>(code & 0xff);
  p.append(reason.data(), reason.size());
  sent_close_ = true;
  return SendFrame(0x8, p, true);
}

WsClient::Result WsClient::Fill(int64_t deadline_ms) {
  if (fd_ < 0) return Result::kError;
  pollfd p{fd_, POLLIN, 0};
  int left = static_cast<int>(deadline_ms - NowMs());
  if (left < 0) left = 0;
  int rc = ::poll(&p, 1, left);
  if (rc == 0) return Result::kTimeout;
  if (rc < 0) return Result::kError;
  char tmp[16384];
  ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
  if (n == 0 || (n < 0 && (errno == ECONNRESET || errno == EPIPE))) {
    closed_ = true;
    return Result::kClosed;
  }
  if (n < 0) return errno == EINTR || errno == EAGAIN ? Result::kTimeout : Result::kError;
  buf_.append(tmp, static_cast<size_t>(n));
  return Result::kMessage;
}

WsClient::Result WsClient::Next(std::string* message, int timeout_ms) {
  int64_t deadline = NowMs() + timeout_ms;
  for (;;) {
    if (closed_) return Result::kClosed;
    // Parse one frame if complete.
    if (buf_.size() >= 2) {
      auto b = reinterpret_cast<const unsigned char*>(buf_.data());
      bool fin = b[0] & 0x80;
      uint8_t op = b[0] & 0x0f;
      bool masked = b[1] & 0x80;
      uint64_t len = b[1] & 0x7f;
      size_t hdr = 2;
      if (len == 126) {
        if (buf_.size() < 4) goto need_more;
        len = (static_cast<uint64_t>(b[2]) << 8) | b[3];
        hdr = 4;
      } else if (len == 127) {
        if (buf_.size() < 10) goto need_more;
        len = 0;
        for (int i = 0; i < 8; ++i) len = (len << 8) | b[2 + i];
        hdr = 10;
      }
      if (masked) hdr += 4;
      if (buf_.size() < hdr + len) goto need_more;
      std::string payload = buf_.substr(hdr, static_cast<size_t>(len));
      if (masked) {
        const unsigned char* key = b + hdr - 4;
        for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(payload[i] ^ key[i % 4]);
      }
      buf_.erase(0, hdr + static_cast<size_t>(len));
      switch (op) {
        case 0x0:  // continuation
        case 0x1:
        case 0x2:
          partial_ += payload;
          if (fin) {
            *message = std::move(partial_);
            partial_.clear();
            return Result::kMessage;
          }
          continue;
        case 0x8:
          if (payload.size() >= 2) {
            close_code_ = (static_cast<unsigned char>(payload[0]) << 8) |
                          static_cast<unsigned char>(payload[1]);
            close_reason_ = payload.substr(2);
          } else {
            close_code_ = 1005;
          }
          if (!sent_close_) SendClose(close_code_ == 1005 ? 1000 : static_cast<uint16_t>(close_code_));
          closed_ = true;
          return Result::kClosed;
        case 0x9:
          ++pings_;
          if (auto_pong_) SendFrame(0xA, payload, true);
          continue;
        case 0xA:
          continue;
        default:
          error_ = "unknown opcode";
          return Result::kError;
      }
    }
  need_more:
    if (NowMs() >= deadline) return Result::kTimeout;
    Result r = Fill(deadline);
    if (r != Result::kMessage) return r;
  }
}

bool WsClient::WaitClosed(int timeout_ms) {
  int64_t deadline = NowMs() + timeout_ms;
  std::string ignored;
  for (;;) {
    int left = static_cast<int>(deadline - NowMs());
    if (left <= 0) return closed_;
    Result r = Next(&ignored, left);
    if (r == Result::kClosed) return true;
    if (r == Result::kError) return closed_;
    if (r == Result::kTimeout) return false;
  }
}

}  // namespace coderef::testsupport
