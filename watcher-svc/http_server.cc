#include "watcher-svc/http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace coderef::watcher {

namespace {
const char* Reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 400: return "Bad Request";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}
}  // namespace

MiniHttpServer::~MiniHttpServer() {
  for (auto& [fd, c] : clients_) ::close(fd);
  if (listen_fd_ >= 0) ::close(listen_fd_);
}

bool MiniHttpServer::Listen(const std::string& host, int port, std::string* error) {
  struct addrinfo hints {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  struct addrinfo* res = nullptr;
  std::string port_s = std::to_string(port);
  int rc = ::getaddrinfo(host.c_str(), port_s.c_str(), &hints, &res);
  if (rc != 0) {
    *error = std::string("cannot resolve ") + host + ": " + gai_strerror(rc);
    return false;
  }
  int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (fd < 0 || ::bind(fd, res->ai_addr, res->ai_addrlen) != 0 || ::listen(fd, 64) != 0) {
    *error = "cannot listen on " + host + ":" + port_s + ": " + std::strerror(errno);
    if (fd >= 0) ::close(fd);
    ::freeaddrinfo(res);
    return false;
  }
  ::freeaddrinfo(res);
  struct sockaddr_storage ss {};
  socklen_t len = sizeof ss;
  ::getsockname(fd, reinterpret_cast<struct sockaddr*>(&ss), &len);
  port_ = ss.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                                   : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  listen_fd_ = fd;
  return true;
}

void MiniHttpServer::AddPollItems(std::vector<zmq::pollitem_t>* items) const {
  if (listen_fd_ >= 0) items->push_back({nullptr, listen_fd_, ZMQ_POLLIN, 0});
  for (const auto& [fd, c] : clients_) {
    short ev = c.out.empty() ? ZMQ_POLLIN : ZMQ_POLLOUT;
    items->push_back({nullptr, fd, ev, 0});
  }
}

void MiniHttpServer::OnPoll(const std::vector<zmq::pollitem_t>& items) {
  auto now = std::chrono::steady_clock::now();
  for (const auto& it : items) {
    if (it.socket != nullptr || it.revents == 0) continue;
    if (it.fd == listen_fd_) {
      Accept();
      continue;
    }
    auto c = clients_.find(it.fd);
    if (c == clients_.end()) continue;
    if (it.revents & ZMQ_POLLERR) {
      Close(it.fd);
    } else if (c->second.out.empty()) {
      Read(it.fd, c->second);
    } else {
      Write(it.fd, c->second);
    }
  }
  for (auto it = clients_.begin(); it != clients_.end();) {
    if (now - it->second.started > std::chrono::seconds(5)) {
      ::close(it->first);
      it = clients_.erase(it);
    } else {
      ++it;
    }
  }
}

void MiniHttpServer::Accept() {
  for (int i = 0; i < 16; ++i) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN, or EMFILE: retried on the next readiness
    if (clients_.size() >= 64) {
      ::close(fd);
      continue;
    }
    Client c;
    c.started = std::chrono::steady_clock::now();
    clients_[fd] = std::move(c);
  }
}

void MiniHttpServer::Read(int fd, Client& c) {
  char buf[4096];
  ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  if (n <= 0) {
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    Close(fd);
    return;
  }
  c.in.append(buf, static_cast<size_t>(n));
  if (c.in.size() > 8192) {
    Close(fd);
    return;
  }
  auto end = c.in.find("\r\n\r\n");
  if (end == std::string::npos) end = c.in.find("\n\n");
  if (end == std::string::npos) return;
  HttpResponse resp;
  auto line_end = c.in.find_first_of("\r\n");
  std::string line = c.in.substr(0, line_end);
  auto sp1 = line.find(' ');
  auto sp2 = line.find(' ', sp1 == std::string::npos ? 0 : sp1 + 1);
  if (sp1 == std::string::npos || sp2 == std::string::npos) {
    resp.status = 400;
    resp.body = "{\"error\":\"malformed request line\"}";
  } else {
    std::string method = line.substr(0, sp1);
    std::string target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    std::string path = target.substr(0, target.find('?'));
    resp = handler_(method, path);
  }
  c.out = "HTTP/1.0 " + std::to_string(resp.status) + " " + Reason(resp.status) +
          "\r\nContent-Type: " + resp.content_type +
          "\r\nContent-Length: " + std::to_string(resp.body.size()) +
          "\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n" + resp.body;
  Write(fd, c);
}

void MiniHttpServer::Write(int fd, Client& c) {
  while (c.written < c.out.size()) {
    ssize_t n = ::send(fd, c.out.data() + c.written, c.out.size() - c.written, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return;
      Close(fd);
      return;
    }
    c.written += static_cast<size_t>(n);
  }
  Close(fd);
}

void MiniHttpServer::Close(int fd) {
  ::close(fd);
  clients_.erase(fd);
}

}  // namespace coderef::watcher
