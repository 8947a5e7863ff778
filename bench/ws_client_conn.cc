#include "bench/ws_client_conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <cstring>

namespace coderef::bench {
namespace {

int64_t RealtimeMicros() {
  timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

}  // namespace

bool WsClientConn::Connect(const std::string& src_ip, const std::string& ip, int port,
                           const std::string& request, int rcvbuf) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return false;
  int one = 1;
  if (rcvbuf > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  // Kernel receive timestamps on every read (TCP supports them since 4.13).
  ::setsockopt(fd_, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
  if (!src_ip.empty()) {
    // Let connect() pick the port per 4-tuple: several source addresses
    // then multiply the usable ephemeral ports.
    ::setsockopt(fd_, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    sockaddr_in src{};
    src.sin_family = AF_INET;
    src.sin_port = 0;
    ::inet_pton(AF_INET, src_ip.c_str(), &src.sin_addr);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0) {
      int e = errno;
      ::close(fd_);
      fd_ = -1;
      errno = e;
      return false;
    }
  }
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, ip.c_str(), &dst.sin_addr);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0 && errno != EINPROGRESS) {
    int e = errno;
    ::close(fd_);
    fd_ = -1;
    errno = e;
    return false;
  }
  state_ = State::kConnecting;
  out_ = request;
  mask_seed_ ^= static_cast<uint32_t>(fd_) * 2654435761u;
  return true;
}

void WsClientConn::Abort() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  state_ = State::kClosed;
  std::string().swap(in_);
  std::string().swap(out_);
  std::string().swap(frag_);
}

void WsClientConn::Fail(Handler& h, std::string_view why) {
  bool was_open = state_ == State::kOpen;
  Abort();
  h.OnClosed(*this, why, was_open);
}

void WsClientConn::OnWritable(Handler& h) {
  if (state_ == State::kConnecting) {
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      Fail(h, std::string("connect: ") + std::strerror(err));
      return;
    }
    state_ = State::kHandshake;
  }
  Flush(h);
}

void WsClientConn::Flush(Handler& h) {
  while (!out_.empty() && fd_ >= 0) {
    ssize_t n = ::send(fd_, out_.data(), out_.size(), MSG_NOSIGNAL);
    if (n > 0) {
      out_.erase(0, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n < 0 && errno == EINTR) continue;
    Fail(h, std::string("send: ") + std::strerror(errno));
    return;
  }
}

void WsClientConn::QueueFrame(uint8_t opcode, std::string_view payload) {
  char hdr[14];
  size_t n = 0;
  hdr[n++] = static_cast<char>(0x80 | opcode);
  size_t len = payload.size();
  if (len < 126) {
    hdr[n++] = static_cast<char>(0x80 | len);
  } else if (len < 65536) {
    hdr[n++] = static_cast<char>(0x80 | 126);
    hdr[n++] = static_cast<char>(len >> 8);
    hdr[n++] = static_cast<char>(len & 0xff);
  } else {
    hdr[n++] = static_cast<char>(0x80 | 127);
    for (int i = 7; i >= 0; --i) hdr[n++] = static_cast<char>((static_cast<uint64_t>(len) >> (8 * i)) & 0xff);
  }
  // xorshift: masks need not be secure here, only present (RFC 6455 5.3).
  mask_seed_ ^= mask_seed_ << 13;
  mask_seed_ ^= mask_seed_ >> 17;
  mask_seed_ ^= mask_seed_ << 5;
  char mask[4];
  std::memcpy(mask, &mask_seed_, 4);
  std::memcpy(hdr + n, mask, 4);
  n += 4;
  out_.append(hdr, n);
  size_t base = out_.size();
  out_.append(payload.data(), payload.size());
  for (size_t i = 0; i < len; ++i) out_[base + i] ^= mask[i & 3];
}

void WsClientConn::SendText(std::string_view payload) {
  if (state_ != State::kOpen) return;
  QueueFrame(0x1, payload);
}

void WsClientConn::SendClose(uint16_t code) {
  if (state_ != State::kOpen) return;
  char body[2] = {static_cast<char>(code >> 8), static_cast<char>(code & 0xff)};
  QueueFrame(0x8, std::string_view(body, 2));
}

size_t WsClientConn::ParseHandshake(Handler& h, const char* data, size_t n) {
  std::string_view v(data, n);
  size_t end = v.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    if (n > 16384) Fail(h, "handshake: response too large");
    return 0;
  }
  std::string_view status = v.substr(0, v.find("\r\n"));
  if (status.size() < 12 || status.substr(9, 3) != "101") {
    Fail(h, "handshake: " + std::string(status));
    return 0;
  }
  state_ = State::kOpen;
  h.OnOpen(*this);
  return end + 4;
}

size_t WsClientConn::ParseFrames(Handler& h, const char* data, size_t n, int64_t rx_us,
                                 int64_t user_us) {
  size_t pos = 0;
  while (state_ == State::kOpen && n - pos >= 2) {
    const auto* p = reinterpret_cast<const unsigned char*>(data + pos);
    bool fin = p[0] & 0x80;
    uint8_t op = p[0] & 0x0f;
    bool masked = p[1] & 0x80;
    uint64_t len = p[1] & 0x7f;
    size_t hdr = 2;
    if (len == 126) {
      if (n - pos < 4) break;
      len = (static_cast<uint64_t>(p[2]) << 8) | p[3];
      hdr = 4;
    } else if (len == 127) {
      if (n - pos < 10) break;
      len = 0;
      for (int i = 0; i < 8; ++i) len = (len << 8) | p[2 + i];
      hdr = 10;
    }
    size_t mask_at = hdr;
    if (masked) hdr += 4;
    if (n - pos < hdr || n - pos - hdr < len) break;
    std::string_view payload(data + pos + hdr, static_cast<size_t>(len));
    std::string unmasked;
    if (masked) {  // servers must not mask; tolerate it anyway
      unmasked.assign(payload);
      for (size_t i = 0; i < unmasked.size(); ++i) unmasked[i] ^= static_cast<char>(p[mask_at + (i & 3)]);
      payload = unmasked;
    }
    pos += hdr + static_cast<size_t>(len);
    switch (op) {
      case 0x1:
      case 0x2:
        if (fin) {
          h.OnText(*this, payload, rx_us, user_us);
        } else {
          frag_.assign(payload);
          in_fragment_ = true;
        }
        break;
      case 0x0:
        if (!in_fragment_) break;
        frag_.append(payload);
        if (fin) {
          in_fragment_ = false;
          h.OnText(*this, frag_, rx_us, user_us);
          frag_.clear();
        }
        break;
      case 0x9:
        QueueFrame(0xA, payload);
        break;
      case 0xA:
        break;
      case 0x8: {
        uint16_t code = payload.size() >= 2 ? static_cast<uint16_t>(
                                                  (static_cast<unsigned char>(payload[0]) << 8) |
                                                  static_cast<unsigned char>(payload[1]))
                                            : 1005;
        std::string reason(payload.size() > 2 ? payload.substr(2) : std::string_view());
        QueueFrame(0x8, payload.substr(0, std::min<size_t>(2, payload.size())));
        Flush(h);
        Fail(h, "close " + std::to_string(code) + " " + reason);
        return pos;
      }
      default:
        Fail(h, "bad opcode " + std::to_string(op));
        return pos;
    }
  }
  return pos;
}

size_t WsClientConn::OnReadable(Handler& h, char* scratch, size_t scratch_size, int rounds) {
  // A few reads per readiness: fair among connections, and each read takes
  // many frames at once when a burst is queued.
  size_t total = 0;
  for (int round = 0; round < rounds && fd_ >= 0; ++round) {
    iovec iov{scratch, scratch_size};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(timespec))];
    msghdr mh{};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = control;
    mh.msg_controllen = sizeof control;
    ssize_t n = ::recvmsg(fd_, &mh, 0);
    if (n == 0) {
      Fail(h, "eof");
      return total;
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == EINTR) continue;
      Fail(h, std::string("recv: ") + std::strerror(errno));
      return total;
    }
    total += static_cast<size_t>(n);
    int64_t now_us = RealtimeMicros();
    int64_t rx_us = now_us;
    for (cmsghdr* cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
      if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS) {
        timespec ts;
        std::memcpy(&ts, CMSG_DATA(cm), sizeof ts);
        int64_t us = static_cast<int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
        if (us > 0 && us <= now_us) rx_us = us;
      }
    }
    const char* data = scratch;
    size_t len = static_cast<size_t>(n);
    if (!in_.empty()) {
      in_.append(scratch, len);
      data = in_.data();
      len = in_.size();
    }
    size_t used = 0;
    if (state_ == State::kHandshake) {
      used = ParseHandshake(h, data, len);
      if (fd_ < 0) return total;
    }
    if (state_ == State::kOpen) used += ParseFrames(h, data + used, len - used, rx_us, now_us);
    if (fd_ < 0) return total;
    if (data == scratch) {
      if (used < len) in_.assign(data + used, len - used);
    } else {
      in_.erase(0, used);
      if (in_.empty() && in_.capacity() > 65536) std::string().swap(in_);
    }
    if (static_cast<size_t>(n) < scratch_size) break;
  }
  if (!out_.empty()) Flush(h);
  return total;
}

}  // namespace coderef::bench
