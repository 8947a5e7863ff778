// Test harness for black-box tests of watcher-svc: start the real binary on
// free ports (read back from its start-up log line), a real ZeroMQ SUB and
// DEALER speaking the feed protocol, temp workspaces, and "wait for a
// condition with a timeout" helpers. Header-only; used by one test thread.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "coderef/v1/feed.pb.h"
#include "common/names.h"

extern char** environ;

namespace coderef::testing {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Polls `cond` every 5 ms until it holds or `timeout` passes.
inline bool WaitFor(const std::function<bool()>& cond,
                    std::chrono::milliseconds timeout = std::chrono::milliseconds(10000)) {
  auto end = Clock::now() + timeout;
  while (Clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return cond();
}

inline std::string ReadFileText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void WriteFileText(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

// Editor-style save: write a temp file next to it, rename over.
inline void AtomicWrite(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp~";
  WriteFileText(tmp, text);
  fs::rename(tmp, path);
}

// A fresh temp folder, removed at destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "coderef-test-XXXXXX").string();
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    path_ = ::mkdtemp(buf.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

// A child process with stderr (and stdout) captured in a file.
class Process {
 public:
  Process(const std::string& binary, const std::vector<std::string>& args,
          const std::vector<std::string>& extra_env = {}) {
    log_path_ = (fs::temp_directory_path() /
                 ("coderef-proc-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++) + ".log"))
                    .string();
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 2, log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 2, 1);
    std::vector<std::string> argv_s{binary};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_s;
    for (char** e = environ; *e; ++e) env_s.emplace_back(*e);
    for (const auto& e : extra_env) env_s.push_back(e);
    std::vector<char*> envp;
    for (auto& e : env_s) envp.push_back(e.data());
    envp.push_back(nullptr);
    // Children start with default signal dispositions and an empty mask.
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t empty, all;
    sigemptyset(&empty);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &empty);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    int rc = posix_spawn(&pid_, binary.c_str(), &fa, &attr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) pid_ = -1;
  }
  ~Process() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      int st;
      ::waitpid(pid_, &st, 0);
    }
    std::error_code ec;
    if (!keep_log_) fs::remove(log_path_, ec);
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  std::string Log() const { return ReadFileText(log_path_); }
  const std::string& log_path() const { return log_path_; }
  bool WaitForLog(const std::string& needle,
                  std::chrono::milliseconds timeout = std::chrono::milliseconds(10000)) const {
    return WaitFor([&] { return Log().find(needle) != std::string::npos; }, timeout);
  }
  void Signal(int sig) const { ::kill(pid_, sig); }
  // Waits for exit; returns the exit status (128+signal when killed), or -1
  // on timeout.
  int Wait(std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
    if (exited_) return status_;
    auto end = Clock::now() + timeout;
    while (Clock::now() < end) {
      int st = 0;
      pid_t r = ::waitpid(pid_, &st, WNOHANG);
      if (r == pid_) {
        exited_ = true;
        status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        return status_;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return -1;
  }
  bool Alive() {
    if (exited_) return false;
    int st = 0;
    pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      exited_ = true;
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      return false;
    }
    return true;
  }
  void KeepLog() { keep_log_ = true; }

 private:
  static int& counter() {
    static int c = 0;
    return c;
  }
  pid_t pid_ = -1;
  bool exited_ = false;
  int status_ = -1;
  bool keep_log_ = false;
  std::string log_path_;
};

// CODEREF_WATCHER_BIN runs the same tests against another build (e.g. the
// baseline, to show a test fails there).
inline std::string WatcherBinary() {
  if (const char* bin = std::getenv("CODEREF_WATCHER_BIN"); bin && *bin) return bin;
  return std::string(CODEREF_BINARY_DIR) + "/watcher-svc/watcher-svc";
}

// The real watcher on free ports. Endpoints are read from its start log.
class WatcherUnderTest {
 public:
  WatcherUnderTest(const std::string& projects_json, std::vector<std::string> extra = {},
                   std::vector<std::string> env = {}) {
    std::vector<std::string> args{"--projects", projects_json, "--pub", "tcp://127.0.0.1:*",
                                  "--snapshot", "tcp://127.0.0.1:*", "--http", "127.0.0.1:0",
                                  "--heartbeat-ms", "200"};
    args.insert(args.end(), extra.begin(), extra.end());
    proc_ = std::make_unique<Process>(WatcherBinary(), args, env);
    started_ = proc_->WaitForLog("watcher.started", std::chrono::milliseconds(20000));
    if (started_) {
      std::string log = proc_->Log();
      std::smatch m;
      if (std::regex_search(log, m, std::regex("pub=(tcp://[0-9.]+:[0-9]+)"))) pub_ = m[1];
      if (std::regex_search(log, m, std::regex("snapshot=(tcp://[0-9.]+:[0-9]+)"))) snapshot_ = m[1];
      if (std::regex_search(log, m, std::regex("http_port=([0-9]+)"))) http_port_ = std::stoi(m[1]);
      if (std::regex_search(log, m, std::regex("epoch=([0-9a-f]+)"))) epoch_ = m[1];
    }
  }
  bool started() const { return started_ && !pub_.empty(); }
  const std::string& pub() const { return pub_; }
  const std::string& snapshot() const { return snapshot_; }
  const std::string& epoch() const { return epoch_; }
  int http_port() const { return http_port_; }
  Process& proc() { return *proc_; }

 private:
  std::unique_ptr<Process> proc_;
  bool started_ = false;
  std::string pub_, snapshot_, epoch_;
  int http_port_ = 0;
};

struct Snapshot {
  std::string epoch;
  uint64_t seq = 0;
  std::vector<v1::Item> items;
  int chunks = 0;
};

// A subscriber following the Clone pattern with real ZeroMQ sockets.
class FeedProbe {
 public:
  // rcvhwm 0 queues everything the watcher sends; a small rcvhwm and rcvbuf
  // (> 0) make a subscriber whose queue fills when the test stops reading.
  FeedProbe(const std::string& pub, const std::string& snapshot, const std::string& topic = "",
            int rcvhwm = 0, int rcvbuf = 0)
      : sub_(ctx_, zmq::socket_type::sub), dealer_(ctx_, zmq::socket_type::dealer) {
    sub_.set(zmq::sockopt::rcvhwm, rcvhwm);
    if (rcvbuf > 0) sub_.set(zmq::sockopt::rcvbuf, rcvbuf);
    sub_.set(zmq::sockopt::subscribe, topic);
    sub_.connect(pub);
    dealer_.set(zmq::sockopt::linger, 0);
    dealer_.connect(snapshot);
  }

  // Waits until the subscription is live (a heartbeat arrives).
  bool WaitConnected(std::chrono::milliseconds timeout = std::chrono::milliseconds(10000)) {
    auto end = Clock::now() + timeout;
    while (Clock::now() < end) {
      auto m = Recv(std::chrono::milliseconds(100));
      if (!m) continue;
      if (m->has_heartbeat()) {
        last_hb_ = m->heartbeat();
        return true;
      }
      if (m->has_event()) events_.push_back(m->event());
    }
    return false;
  }

  std::optional<v1::FeedMessage> Recv(std::chrono::milliseconds timeout) {
    zmq::pollitem_t item{sub_.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, timeout) <= 0) return std::nullopt;
    std::vector<zmq::message_t> parts;
    if (!zmq::recv_multipart(sub_, std::back_inserter(parts))) return std::nullopt;
    if (parts.size() != 2) return std::nullopt;
    v1::FeedMessage msg;
    if (!msg.ParseFromArray(parts[1].data(), static_cast<int>(parts[1].size()))) return std::nullopt;
    topics_.push_back(parts[0].to_string());
    return msg;
  }

  // Receives until `n` events (not heartbeats) have been collected in total
  // or the timeout passes. Returns all events so far.
  const std::vector<v1::ChangeEvent>& CollectEvents(size_t n,
                                                    std::chrono::milliseconds timeout = std::chrono::milliseconds(10000)) {
    auto end = Clock::now() + timeout;
    while (events_.size() < n && Clock::now() < end) {
      auto m = Recv(std::chrono::milliseconds(50));
      if (!m) continue;
      if (m->has_event()) events_.push_back(m->event());
      else if (m->has_heartbeat()) last_hb_ = m->heartbeat();
    }
    return events_;
  }
  // Receives for `window`, collecting everything (to prove nothing came).
  const std::vector<v1::ChangeEvent>& Drain(std::chrono::milliseconds window) {
    auto end = Clock::now() + window;
    while (Clock::now() < end) {
      auto m = Recv(std::chrono::milliseconds(20));
      if (m && m->has_event()) events_.push_back(m->event());
      else if (m && m->has_heartbeat()) last_hb_ = m->heartbeat();
    }
    return events_;
  }
  // Waits for a heartbeat whose seq is at least `seq`.
  bool WaitHeartbeatSeq(uint64_t seq, std::chrono::milliseconds timeout = std::chrono::milliseconds(10000)) {
    auto end = Clock::now() + timeout;
    while (Clock::now() < end) {
      auto m = Recv(std::chrono::milliseconds(50));
      if (!m) continue;
      if (m->has_event()) events_.push_back(m->event());
      if (m->has_heartbeat()) {
        last_hb_ = m->heartbeat();
        if (m->heartbeat().seq() >= seq) return true;
      }
    }
    return false;
  }

  std::optional<Snapshot> TakeSnapshot(const std::string& prefix = "", uint32_t per_chunk = 0,
                                       std::chrono::milliseconds timeout = std::chrono::milliseconds(20000)) {
    v1::SnapshotRequest req;
    req.set_prefix(prefix);
    req.set_request_id("t" + std::to_string(++req_counter_));
    req.set_max_items_per_chunk(per_chunk);
    std::string body;
    req.SerializeToString(&body);
    dealer_.send(zmq::buffer(body));
    Snapshot snap;
    auto end = Clock::now() + timeout;
    while (Clock::now() < end) {
      zmq::pollitem_t item{dealer_.handle(), 0, ZMQ_POLLIN, 0};
      if (zmq::poll(&item, 1, std::chrono::milliseconds(100)) <= 0) continue;
      zmq::message_t m;
      if (!dealer_.recv(m)) continue;
      v1::SnapshotChunk c;
      if (!c.ParseFromArray(m.data(), static_cast<int>(m.size()))) return std::nullopt;
      if (c.request_id() != req.request_id()) continue;
      snap.chunks++;
      snap.epoch = c.epoch();
      snap.seq = c.seq();
      for (const auto& it : c.items()) snap.items.push_back(it);
      if (c.last()) return snap;
    }
    return std::nullopt;
  }

  std::vector<v1::ChangeEvent>& events() { return events_; }
  const std::vector<std::string>& topics() const { return topics_; }
  const v1::Heartbeat& last_heartbeat() const { return last_hb_; }
  void Clear() { events_.clear(); }

 private:
  zmq::context_t ctx_{1};
  zmq::socket_t sub_;
  zmq::socket_t dealer_;
  std::vector<v1::ChangeEvent> events_;
  std::vector<std::string> topics_;
  v1::Heartbeat last_hb_;
  int req_counter_ = 0;
};

inline std::string TypeName(const v1::ChangeEvent& e) { return std::string(EventTypeName(e.type())); }

// Minimal HTTP GET on loopback; returns the body ("" on failure), status in *status.
inline std::string HttpGet(int port, const std::string& path, int* status = nullptr) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a {};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  struct timeval tv {5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    if (status) *status = 0;
    return "";
  }
  std::string req = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  ::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  std::string resp;
  char buf[65536];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    resp.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  if (status) *status = resp.size() > 12 ? std::atoi(resp.c_str() + 9) : 0;
  auto p = resp.find("\r\n\r\n");
  return p == std::string::npos ? "" : resp.substr(p + 4);
}

}  // namespace coderef::testing
