// ws_load: the benchmarks' WebSocket load client. Opens --clients
// connections (spread over several 127.0.0.x source addresses so tens of
// thousands fit in the ephemeral port range), on one or more epoll loops,
// then records every event's arrival at every client (the kernel's receive
// timestamp on its socket, and when the loop read it; CLOCK_REALTIME) and
// checks each stream: seq strictly increasing (a repeat is a duplicate),
// gaps, and events missing against --expect. It answers WebSocket pings
// (and, with --app-pong, the JSON pings). At the end it matches events to
// the writer's save times (--saves) and writes one JSON result (--out).
//
// It stops when every client has --expect events (plus --linger-ms to catch
// duplicates), after --hold-s (idle scenarios), on SIGTERM/SIGINT, when no
// event has come for --idle-timeout-ms after the first one, or at
// --timeout-s.
//
// Threads: --threads event loops, each owning its connections and its own
// statistics; merged at the end. Control flags are atomics.
#include <arpa/inet.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "bench/ws_client_conn.h"

namespace coderef::bench {
namespace {

std::atomic<bool> g_stop{false};

int64_t NowUs() {
  timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

int64_t MonoMs() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

// Value of a JSON string member `"key":"..."` (first occurrence; no
// unescaping: the fields used here are plain ASCII).
std::string_view StrField(std::string_view json, std::string_view quoted_key_colon_quote) {
  size_t at = json.find(quoted_key_colon_quote);
  if (at == std::string_view::npos) return {};
  size_t start = at + quoted_key_colon_quote.size();
  size_t end = json.find('"', start);
  if (end == std::string_view::npos) return {};
  return json.substr(start, end - start);
}

bool UIntField(std::string_view json, std::string_view key_colon, uint64_t* out) {
  size_t at = json.find(key_colon);
  if (at == std::string_view::npos) return false;
  size_t i = at + key_colon.size();
  uint64_t v = 0;
  bool any = false;
  while (i < json.size() && json[i] >= '0' && json[i] <= '9') {
    v = v * 10 + static_cast<uint64_t>(json[i] - '0');
    ++i;
    any = true;
  }
  *out = v;
  return any;
}

struct Options {
  std::string host = "127.0.0.1";
  int port = 8000;
  std::string path = "/orchestrator/ws";
  std::string origin;  // default http://host:port
  int clients = 100;
  int threads = 1;
  std::vector<std::string> src_ips;  // round robin
  int concurrency = 256;             // handshakes in flight per loop
  uint64_t expect = 0;               // events per client
  double hold_s = 0;                 // idle: hold the connections this long
  int idle_timeout_ms = 10000;
  int linger_ms = 300;
  double timeout_s = 300;
  bool app_pong = false;
  bool busy_poll = false;
  // A slow reader: each open connection reads at most this many bytes per
  // second (0: as fast as it can), with SO_RCVBUF `rcvbuf` (0: default).
  double read_bytes_per_s = 0;
  int rcvbuf = 0;
  std::string ready_file;
  std::string saves_file;
  std::string out_file;
  bool keep_arrivals = true;
};

struct Arrival {
  uint64_t seq;
  int64_t us;       // kernel receipt on the client's socket (see OnText)
  int64_t user_us;  // this load client's loop read it
};

// What the first client to see an event learnt about it.
struct EventMeta {
  std::string key;           // project \t file_path
  int64_t published_us = 0;  // the "published" field (ms precision), 0 if absent
};

// "2026-11-25T10:00:00.123Z" -> Unix us (0 when malformed).
int64_t ParseIsoMillis(std::string_view s) {
  if (s.size() < 24 || s[4] != '-' || s[10] != 'T' || s[19] != '.') return 0;
  auto num = [&](size_t at, size_t n) {
    int v = 0;
    for (size_t i = at; i < at + n; ++i) v = v * 10 + (s[i] - '0');
    return v;
  };
  struct tm tm {};
  tm.tm_year = num(0, 4) - 1900;
  tm.tm_mon = num(5, 2) - 1;
  tm.tm_mday = num(8, 2);
  tm.tm_hour = num(11, 2);
  tm.tm_min = num(14, 2);
  tm.tm_sec = num(17, 2);
  return static_cast<int64_t>(::timegm(&tm)) * 1'000'000 + num(20, 3) * 1000;
}

// Per-client record (kept in the loop, not in the connection object).
struct ClientStats {
  bool opened = false;
  bool done = false;
  bool have_pos = false;
  uint64_t last_seq = 0;
  uint64_t events = 0;
  uint64_t duplicates = 0;  // seq <= last seen seq (repeat or reorder)
  uint64_t gap_events = 0;  // seqs skipped without a resync_required
  uint64_t resyncs = 0;
  int64_t done_us = 0;
  std::vector<Arrival> arrivals;
};

class Loop final : public WsClientConn::Handler {
 public:
  Loop(const Options& o, int first_client, int count, int thread_index)
      : o_(o), first_(first_client), count_(count), thread_index_(thread_index) {
    conns_.resize(static_cast<size_t>(count));
    stats_.resize(static_cast<size_t>(count));
    for (int i = 0; i < count; ++i) {
      conns_[static_cast<size_t>(i)] = std::make_unique<WsClientConn>();
      conns_[static_cast<size_t>(i)]->index = static_cast<uint32_t>(i);
    }
    interest_.assign(static_cast<size_t>(count), EPOLLOUT | EPOLLIN);
    scratch_.resize(256 * 1024);
    std::string origin = o.origin.empty() ? "http://" + o.host + ":" + std::to_string(o.port) : o.origin;
    std::mt19937_64 rng(static_cast<uint64_t>(NowUs()) ^ static_cast<uint64_t>(thread_index));
    static const char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string key;
    for (int i = 0; i < 21; ++i) key += kB64[rng() % 64];
    key += "A==";  // 16 random-ish bytes in base64 form (the server only echoes a hash)
    request_ = "GET " + o.path + " HTTP/1.1\r\nHost: " + o.host + ":" + std::to_string(o.port) +
               "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
               "\r\nSec-WebSocket-Version: 13\r\nOrigin: " + origin + "\r\n\r\n";
  }

  // Connects everything (bounded concurrency), then runs until stopped.
  void Run(std::atomic<int>* connect_phases_left, std::atomic<int64_t>* last_event_ms) {
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    last_event_ms_ = last_event_ms;
    std::vector<epoll_event> evs(1024);
    int next = 0;
    bool connect_done = false;
    int64_t linger_until = 0;
    while (!g_stop.load(std::memory_order_relaxed)) {
      while (!connect_done && in_flight_ < o_.concurrency && next < count_) StartConnect(next++);
      if (!connect_done && next >= count_ && in_flight_ == 0) {
        connect_done = true;
        connect_end_us_ = NowUs();
        connect_phases_left->fetch_sub(1);
      }
      const bool throttled = o_.read_bytes_per_s > 0;
      int n = ::epoll_wait(ep_, evs.data(), static_cast<int>(evs.size()),
                           throttled ? 5 : o_.busy_poll && connect_done ? 0 : 50);
      for (int i = 0; i < n; ++i) {
        auto* c = static_cast<WsClientConn*>(evs[static_cast<size_t>(i)].data.ptr);
        uint32_t e = evs[static_cast<size_t>(i)].events;
        if (c->fd() < 0) continue;
        if (e & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
          if (c->state() == WsClientConn::State::kConnecting || c->WantsWrite()) c->OnWritable(*this);
        }
        // A throttled connection, once open, reads on the clock (ReadThrottled).
        const bool on_clock = throttled && c->state() == WsClientConn::State::kOpen;
        if (c->fd() >= 0 && !on_clock && (e & (EPOLLIN | EPOLLERR | EPOLLHUP)))
          c->OnReadable(*this, scratch_.data(), scratch_.size());
        if (c->fd() >= 0) UpdateInterest(*c);
      }
      if (throttled) ReadThrottled();
      if (o_.expect > 0 && connect_done && done_ + failed_ + abandoned_ >= count_ && opened_ > 0) {
        if (linger_until == 0) linger_until = MonoMs() + o_.linger_ms;
        if (MonoMs() >= linger_until) break;
      }
    }
    for (auto& c : conns_) c->Abort();
    ::close(ep_);
  }

  // Handler.
  void OnOpen(WsClientConn& c) override {
    --in_flight_;
    ++opened_;
    stats_[c.index].opened = true;
  }

  void OnClosed(WsClientConn& c, std::string_view why, bool was_open) override {
    std::string key(why.substr(0, std::min<size_t>(why.size(), 60)));
    if (was_open) {
      ++closed_after_open_;
      if (!stats_[c.index].done) ++abandoned_;
      close_reasons_[key]++;
    } else {
      --in_flight_;
      ++failed_;
      fail_reasons_[key]++;
    }
  }

  void OnText(WsClientConn& c, std::string_view msg, int64_t now_us, int64_t user_us) override {
    ClientStats& s = stats_[c.index];
    std::string_view type = StrField(msg, "\"type\":\"");
    if (type == "hello") {
      uint64_t seq = 0;
      UIntField(msg, "\"seq\":", &seq);
      s.last_seq = seq;
      s.have_pos = true;
      return;
    }
    if (type == "ping") {
      ++app_pings_;
      if (o_.app_pong) c.SendText("{\"type\":\"pong\"}");
      return;
    }
    if (type == "resync_required") {
      ++s.resyncs;
      uint64_t seq = 0;
      if (UIntField(msg, "\"seq\":", &seq)) {
        s.last_seq = seq;
        s.have_pos = true;
      }
      return;
    }
    uint64_t seq = 0;
    if (!UIntField(msg, "\"seq\":", &seq)) {
      ++other_messages_;
      return;
    }
    if (s.have_pos && seq <= s.last_seq) {
      ++s.duplicates;
      return;
    }
    if (s.have_pos && seq > s.last_seq + 1) s.gap_events += seq - s.last_seq - 1;
    s.last_seq = seq;
    s.have_pos = true;
    ++s.events;
    if (o_.keep_arrivals) s.arrivals.push_back(Arrival{seq, now_us, user_us});
    if (seq_meta_.find(seq) == seq_meta_.end()) {
      std::string_view project = StrField(msg, "\"project\":\"");
      std::string_view file = StrField(msg, "\"file_path\":\"");
      EventMeta m;
      m.key.reserve(project.size() + file.size() + 1);
      m.key.append(project).append("\t").append(file);
      m.published_us = ParseIsoMillis(StrField(msg, "\"published\":\""));
      seq_meta_.emplace(seq, std::move(m));
    }
    last_event_ms_->store(MonoMs(), std::memory_order_relaxed);
    if (first_event_us_ == 0) first_event_us_ = now_us;
    if (o_.expect > 0 && !s.done && s.events >= o_.expect) {
      s.done = true;
      s.done_us = now_us;
      ++done_;
    }
  }

  const std::vector<ClientStats>& stats() const { return stats_; }
  const std::unordered_map<uint64_t, EventMeta>& seq_meta() const { return seq_meta_; }
  int opened() const { return opened_; }
  int failed() const { return failed_; }
  int closed_after_open() const { return closed_after_open_; }
  uint64_t app_pings() const { return app_pings_; }
  uint64_t other_messages() const { return other_messages_; }
  int64_t connect_end_us() const { return connect_end_us_; }
  const std::map<std::string, int>& fail_reasons() const { return fail_reasons_; }
  const std::map<std::string, int>& close_reasons() const { return close_reasons_; }

 private:
  void StartConnect(int i) {
    WsClientConn& c = *conns_[static_cast<size_t>(i)];
    const std::string src =
        o_.src_ips.empty() ? std::string()
                           : o_.src_ips[static_cast<size_t>(first_ + i) % o_.src_ips.size()];
    ++in_flight_;
    if (!c.Connect(src, o_.host, o_.port, request_, o_.rcvbuf)) {
      OnClosed(c, std::string("socket/bind/connect: ") + std::strerror(errno), false);
      return;
    }
    epoll_event ev{};
    ev.events = EPOLLOUT | EPOLLIN;
    ev.data.ptr = &c;
    ::epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd(), &ev);
    interest_[c.index] = EPOLLOUT | EPOLLIN;
  }

  // Slow readers: every open connection may read read_bytes_per_s times
  // the time since its last read (at most a tenth of a second's worth).
  void ReadThrottled() {
    const int64_t now = NowUs();
    if (last_tick_us_ == 0) last_tick_us_ = now;
    const double dt = static_cast<double>(now - last_tick_us_) / 1e6;
    last_tick_us_ = now;
    if (tokens_.size() != conns_.size()) tokens_.assign(conns_.size(), 0);
    const double cap = std::max(1024.0, o_.read_bytes_per_s / 10);
    for (size_t i = 0; i < conns_.size(); ++i) {
      WsClientConn& c = *conns_[i];
      if (c.fd() < 0 || c.state() != WsClientConn::State::kOpen) continue;
      tokens_[i] = std::min(cap, tokens_[i] + dt * o_.read_bytes_per_s);
      if (tokens_[i] < 512) continue;
      size_t want = std::min(scratch_.size(), static_cast<size_t>(tokens_[i]));
      tokens_[i] -= static_cast<double>(c.OnReadable(*this, scratch_.data(), want, 1));
      if (c.fd() >= 0) UpdateInterest(c);
    }
  }

  void UpdateInterest(WsClientConn& c) {
    bool want = c.WantsWrite();
    // A throttled open connection is not woken for reading (ERR/HUP only).
    const uint32_t in = o_.read_bytes_per_s > 0 && c.state() == WsClientConn::State::kOpen
                            ? 0u
                            : static_cast<uint32_t>(EPOLLIN);
    const uint32_t events = (want ? static_cast<uint32_t>(EPOLLOUT) : 0u) | in;
    if (interest_[c.index] == events) return;
    interest_[c.index] = events;
    epoll_event ev{};
    ev.events = events;
    ev.data.ptr = &c;
    ::epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd(), &ev);
  }

  const Options& o_;
  int first_, count_, thread_index_;
  int ep_ = -1;
  std::vector<std::unique_ptr<WsClientConn>> conns_;
  std::vector<ClientStats> stats_;
  std::vector<uint32_t> interest_;  // epoll events registered per connection
  std::vector<double> tokens_;       // throttled reading: bytes each may read now
  int64_t last_tick_us_ = 0;
  std::vector<char> scratch_;
  std::string request_;
  int in_flight_ = 0, opened_ = 0, failed_ = 0, closed_after_open_ = 0, done_ = 0, abandoned_ = 0;
  uint64_t app_pings_ = 0, other_messages_ = 0;
  int64_t first_event_us_ = 0, connect_end_us_ = 0;
  std::atomic<int64_t>* last_event_ms_ = nullptr;
  std::unordered_map<uint64_t, EventMeta> seq_meta_;
  std::map<std::string, int> fail_reasons_, close_reasons_;
};

double Percentile(const std::vector<int64_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t i = static_cast<size_t>(p / 100.0 * static_cast<double>(sorted.size() - 1) + 0.5);
  return static_cast<double>(sorted[std::min(i, sorted.size() - 1)]);
}

// Expands "127.0.0.2-127.0.0.9" or "a,b,c".
std::vector<std::string> ExpandIps(const std::string& spec) {
  std::vector<std::string> out;
  size_t dash = spec.find('-');
  if (dash != std::string::npos) {
    in_addr a{}, b{};
    if (::inet_pton(AF_INET, spec.substr(0, dash).c_str(), &a) == 1 &&
        ::inet_pton(AF_INET, spec.substr(dash + 1).c_str(), &b) == 1) {
      for (uint32_t x = ntohl(a.s_addr); x <= ntohl(b.s_addr); ++x) {
        in_addr ia{};
        ia.s_addr = htonl(x);
        char buf[INET_ADDRSTRLEN];
        out.emplace_back(::inet_ntop(AF_INET, &ia, buf, sizeof buf));
      }
    }
    return out;
  }
  size_t start = 0;
  while (start <= spec.size()) {
    size_t comma = spec.find(',', start);
    std::string part = spec.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!part.empty()) out.push_back(part);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

int Main(int argc, char** argv) {
  Options o;
  std::string url, src_spec;
  CLI::App app("ws_load: WebSocket load client for the coderef-live benchmarks");
  app.add_option("--url", url, "ws://host:port/path")->required();
  app.add_option("--origin", o.origin, "Origin header (default http://host:port)");
  app.add_option("--clients", o.clients, "connections to hold");
  app.add_option("--threads", o.threads, "event loops");
  app.add_option("--src-ips", src_spec, "source addresses: 127.0.0.2-127.0.0.9 or a,b,c");
  app.add_option("--concurrency", o.concurrency, "handshakes in flight per loop");
  app.add_option("--expect", o.expect, "events each client must receive (0: none)");
  app.add_option("--hold-s", o.hold_s, "idle mode: hold the connections this long after connecting");
  app.add_option("--idle-timeout-ms", o.idle_timeout_ms, "stop when no event came for this long (after the first)");
  app.add_option("--linger-ms", o.linger_ms, "after all are done, keep reading this long (duplicates)");
  app.add_option("--timeout-s", o.timeout_s, "hard stop");
  app.add_flag("--busy-poll", o.busy_poll,
               "once connected, poll epoll without sleeping: no message has to wake the loop (on "
               "loopback that wake-up runs on the sender's CPU and can preempt the server); "
               "spins one core per loop, so use it with one loop");
  app.add_option("--read-bytes-per-s", o.read_bytes_per_s,
                 "slow readers: each connection reads at most this many bytes per second (0: unlimited)");
  app.add_option("--rcvbuf", o.rcvbuf, "SO_RCVBUF of every connection (0: the default)");
  app.add_flag("--app-pong", o.app_pong, "answer {\"type\":\"ping\"} with {\"type\":\"pong\"}");
  app.add_option("--ready-file", o.ready_file, "written once every connection attempt is settled");
  app.add_option("--saves", o.saves_file, "writer's log: project<TAB>file_path<TAB>save_unix_us per line");
  app.add_option("--out", o.out_file, "JSON result file (default stdout)");
  CLI11_PARSE(app, argc, argv);

  // ws://host:port/path
  std::string rest = url;
  if (rest.rfind("ws://", 0) == 0) rest = rest.substr(5);
  size_t slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  o.path = slash == std::string::npos ? "/" : rest.substr(slash);
  size_t colon = hostport.rfind(':');
  o.host = hostport.substr(0, colon);
  if (colon != std::string::npos) o.port = std::stoi(hostport.substr(colon + 1));
  if (!src_spec.empty()) o.src_ips = ExpandIps(src_spec);
  o.threads = std::max(1, std::min(o.threads, o.clients));

  struct rlimit rl {};
  ::getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
  ::signal(SIGPIPE, SIG_IGN);
  struct sigaction sa {};
  sa.sa_handler = [](int) { g_stop = true; };
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);

  int64_t start_us = NowUs();
  std::vector<std::unique_ptr<Loop>> loops;
  int per = o.clients / o.threads, extra = o.clients % o.threads, first = 0;
  for (int t = 0; t < o.threads; ++t) {
    int n = per + (t < extra ? 1 : 0);
    loops.push_back(std::make_unique<Loop>(o, first, n, t));
    first += n;
  }
  std::atomic<int> connect_left{o.threads};
  std::atomic<int64_t> last_event_ms{0};
  std::vector<std::thread> threads;
  for (auto& l : loops) {
    Loop* lp = l.get();
    threads.emplace_back([lp, &connect_left, &last_event_ms] { lp->Run(&connect_left, &last_event_ms); });
  }

  // Supervisor: ready file, hold time, idle timeout, hard timeout.
  int64_t t0 = MonoMs();
  int64_t ready_ms = 0;
  std::atomic<int> finished{0};
  std::thread joiner([&] {
    for (auto& t : threads) t.join();
    finished = 1;
  });
  std::string stop_reason = "all clients done";
  while (!finished.load()) {
    ::usleep(20'000);
    int64_t now = MonoMs();
    if (ready_ms == 0 && connect_left.load() == 0) {
      ready_ms = now;
      int opened = 0, failed = 0;
      for (auto& l : loops) {
        opened += l->opened();
        failed += l->failed();
      }
      std::fprintf(stderr, "ws_load: %d/%d connected (%d failed) in %.2f s\n", opened, o.clients,
                   failed, static_cast<double>(now - t0) / 1000.0);
      if (!o.ready_file.empty()) {
        std::string tmp = o.ready_file + ".tmp";
        std::ofstream(tmp) << "{\"connected\":" << opened << ",\"failed\":" << failed << "}\n";
        std::rename(tmp.c_str(), o.ready_file.c_str());
      }
    }
    if (g_stop.load()) {
      stop_reason = "signal";
      break;
    }
    int64_t le = last_event_ms.load();
    if (ready_ms && o.hold_s > 0 && now - ready_ms >= static_cast<int64_t>(o.hold_s * 1000)) {
      stop_reason = "hold time over";
    } else if (o.expect > 0 && le > 0 && now - le > o.idle_timeout_ms) {
      stop_reason = "idle timeout (events missing)";
    } else if (now - t0 > static_cast<int64_t>(o.timeout_s * 1000)) {
      stop_reason = "hard timeout";
    } else {
      continue;
    }
    g_stop = true;
    break;
  }
  g_stop = true;
  joiner.join();

  // Saves: project \t file_path \t unix_us.
  std::unordered_map<std::string, int64_t> saves;
  int64_t first_save_us = 0;
  if (!o.saves_file.empty()) {
    std::ifstream in(o.saves_file);
    std::string line;
    while (std::getline(in, line)) {
      size_t a = line.find('\t'), b = line.rfind('\t');
      if (a == std::string::npos || b == a) continue;
      int64_t t = std::stoll(line.substr(b + 1));
      saves[line.substr(0, b)] = t;
      if (first_save_us == 0 || t < first_save_us) first_save_us = t;
    }
  }

  // Merge.
  nlohmann::json out;
  std::unordered_map<uint64_t, const EventMeta*> meta;
  for (auto& l : loops)
    for (auto& [seq, k] : l->seq_meta()) meta.emplace(seq, &k);
  std::vector<int64_t> lat, lat_user, client_wait, to_publish, from_publish;
  std::map<uint64_t, std::vector<int64_t>> per_event;  // seq -> save->receipt at each client
  uint64_t deliveries = 0, duplicates = 0, gap_events = 0, resyncs = 0, missing = 0,
           unmatched = 0, done_clients = 0, app_pings = 0, other = 0;
  uint64_t min_events = UINT64_MAX, max_events = 0;
  int64_t first_us = 0, last_us = 0, last_done_us = 0;
  int opened = 0, failed = 0, closed = 0;
  std::map<std::string, int> fail_reasons, close_reasons;
  for (auto& l : loops) {
    opened += l->opened();
    failed += l->failed();
    closed += l->closed_after_open();
    app_pings += l->app_pings();
    other += l->other_messages();
    for (auto& [k, v] : l->fail_reasons()) fail_reasons[k] += v;
    for (auto& [k, v] : l->close_reasons()) close_reasons[k] += v;
    for (const ClientStats& s : l->stats()) {
      if (!s.opened) continue;
      deliveries += s.events;
      duplicates += s.duplicates;
      gap_events += s.gap_events;
      resyncs += s.resyncs;
      min_events = std::min(min_events, s.events);
      max_events = std::max(max_events, s.events);
      if (o.expect > 0 && s.events < o.expect) missing += o.expect - s.events;
      if (s.done) {
        ++done_clients;
        last_done_us = std::max(last_done_us, s.done_us);
      }
      for (const Arrival& a : s.arrivals) {
        if (first_us == 0 || a.us < first_us) first_us = a.us;
        last_us = std::max(last_us, a.us);
        if (saves.empty()) continue;
        auto m = meta.find(a.seq);
        auto sv = m == meta.end() ? saves.end() : saves.find(m->second->key);
        if (sv == saves.end()) {
          ++unmatched;
          continue;
        }
        lat.push_back(a.us - sv->second);
        per_event[a.seq].push_back(a.us - sv->second);
        lat_user.push_back(a.user_us - sv->second);
        client_wait.push_back(a.user_us - a.us);
        if (m->second->published_us > 0) from_publish.push_back(a.us - m->second->published_us);
      }
    }
  }
  if (min_events == UINT64_MAX) min_events = 0;
  struct rusage ru {};
  ::getrusage(RUSAGE_SELF, &ru);
  out["client_cpu_s"] = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                        static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  std::sort(lat.begin(), lat.end());
  std::sort(lat_user.begin(), lat_user.end());
  std::sort(client_wait.begin(), client_wait.end());
  std::sort(from_publish.begin(), from_publish.end());
  // Save -> the server's publish time, once per event (ms precision).
  for (auto& [seq, m] : meta) {
    auto sv = saves.find(m->key);
    if (sv != saves.end() && m->published_us > 0) to_publish.push_back(m->published_us - sv->second);
  }
  std::sort(to_publish.begin(), to_publish.end());
  out["clients"] = o.clients;
  out["threads"] = o.threads;
  out["connected"] = opened;
  out["failed_connects"] = failed;
  out["closed_by_server"] = closed;
  out["fail_reasons"] = fail_reasons;
  out["close_reasons"] = close_reasons;
  out["stop_reason"] = stop_reason;
  out["connect_s"] = ready_ms ? static_cast<double>(ready_ms - t0) / 1000.0 : 0.0;
  out["expect_per_client"] = o.expect;
  out["deliveries"] = deliveries;
  out["distinct_events"] = meta.size();
  out["min_events_per_client"] = min_events;
  out["max_events_per_client"] = max_events;
  out["clients_complete"] = done_clients;
  out["missing"] = missing;
  out["duplicates"] = duplicates;
  out["gap_events"] = gap_events;
  out["resyncs"] = resyncs;
  out["unmatched_deliveries"] = unmatched;
  out["app_pings"] = app_pings;
  out["other_messages"] = other;
  out["start_unix_us"] = start_us;
  out["first_arrival_unix_us"] = first_us;
  out["last_arrival_unix_us"] = last_us;
  out["last_client_complete_unix_us"] = last_done_us;
  out["first_save_unix_us"] = first_save_us;
  double span_s = last_us > first_us ? static_cast<double>(last_us - first_us) / 1e6 : 0.0;
  out["fanout_span_s"] = span_s;
  out["deliveries_per_s_fanout"] = span_s > 0 ? static_cast<double>(deliveries) / span_s : 0.0;
  if (first_save_us > 0 && last_us > first_save_us) {
    double e2e_s = static_cast<double>(last_us - first_save_us) / 1e6;
    out["save_to_last_delivery_s"] = e2e_s;
    out["deliveries_per_s"] = static_cast<double>(deliveries) / e2e_s;
  }
  nlohmann::json l;
  l["count"] = lat.size();
  if (!lat.empty()) {
    l["p50_ms"] = Percentile(lat, 50) / 1000.0;
    l["p90_ms"] = Percentile(lat, 90) / 1000.0;
    l["p99_ms"] = Percentile(lat, 99) / 1000.0;
    l["max_ms"] = static_cast<double>(lat.back()) / 1000.0;
    l["min_ms"] = static_cast<double>(lat.front()) / 1000.0;
  }
  out["latency"] = l;
  // Where the time goes, when the server stamps "published" (ms precision):
  // save -> published (the watcher: inotify, settle window, read, publish)
  // and published -> arrival (the gateway and the fan-out, per delivery).
  auto dist = [](const std::vector<int64_t>& v) {
    nlohmann::json d;
    d["count"] = v.size();
    if (!v.empty()) {
      d["p50_ms"] = Percentile(v, 50) / 1000.0;
      d["p99_ms"] = Percentile(v, 99) / 1000.0;
      d["max_ms"] = static_cast<double>(v.back()) / 1000.0;
    }
    return d;
  };
  // "latency" ends at the kernel's receipt on the client's socket; this one
  // ends when the load client's loop got to it (one loop serves hundreds of
  // sockets, so it adds a queue no real client has), and client_wait is the
  // difference.
  out["latency_read_by_client"] = dist(lat_user);
  out["client_wait"] = dist(client_wait);
  out["arrival_clock"] = "kernel receive timestamp (SO_TIMESTAMPNS), CLOCK_REALTIME";
  out["save_to_published"] = dist(to_publish);
  // Per event (lone saves): where its fan-out tail was, to tell a slow
  // event from a uniformly slow fan-out.
  nlohmann::json events = nlohmann::json::array();
  for (auto& [seq, v] : per_event) {
    std::sort(v.begin(), v.end());
    nlohmann::json e = dist(v);
    e["seq"] = seq;
    e["min_ms"] = static_cast<double>(v.front()) / 1000.0;
    events.push_back(e);
  }
  if (per_event.size() <= 100) out["per_event"] = events;  // lone saves; not bursts
  out["published_to_arrival"] = dist(from_publish);
  std::string text = out.dump(1);
  if (o.out_file.empty()) {
    std::printf("%s\n", text.c_str());
  } else {
    std::ofstream(o.out_file) << text << "\n";
  }
  std::fprintf(stderr,
               "ws_load: %s; %d connected, %llu deliveries, missing %llu, duplicates %llu, "
               "gaps %llu\n",
               stop_reason.c_str(), opened, static_cast<unsigned long long>(deliveries),
               static_cast<unsigned long long>(missing), static_cast<unsigned long long>(duplicates),
               static_cast<unsigned long long>(gap_events));
  return 0;
}

}  // namespace
}  // namespace coderef::bench

int main(int argc, char** argv) { return coderef::bench::Main(argc, argv); }
