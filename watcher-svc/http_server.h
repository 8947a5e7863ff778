// MiniHttpServer: a tiny non-blocking HTTP/1.0 server for the watcher's
// /healthz and /metrics, driven by the watcher loop's poll (no thread of its
// own). One request per connection; requests over 8 KiB or slower than 5 s
// are dropped, so a stuck client never blocks the loop. Not thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>
#include <zmq.hpp>

namespace coderef::watcher {

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

class MiniHttpServer {
 public:
  using Handler = std::function<HttpResponse(const std::string& method, const std::string& path)>;

  explicit MiniHttpServer(Handler handler) : handler_(std::move(handler)) {}
  ~MiniHttpServer();
  MiniHttpServer(const MiniHttpServer&) = delete;
  MiniHttpServer& operator=(const MiniHttpServer&) = delete;

  // Binds and listens; port 0 picks a free port (see port()).
  bool Listen(const std::string& host, int port, std::string* error);
  int port() const { return port_; }

  // Adds the listening socket and client sockets to a zmq poll set.
  void AddPollItems(std::vector<zmq::pollitem_t>* items) const;
  // Handles readiness reported for the items it added (matched by fd), and
  // expires slow clients.
  void OnPoll(const std::vector<zmq::pollitem_t>& items);

 private:
  struct Client {
    std::string in;
    std::string out;
    size_t written = 0;
    std::chrono::steady_clock::time_point started;
  };
  void Accept();
  void Read(int fd, Client& c);
  void Write(int fd, Client& c);
  void Close(int fd);

  Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::map<int, Client> clients_;
};

}  // namespace coderef::watcher
