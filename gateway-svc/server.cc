// The transport glue between standalone Asio and the plain-C++ Hub, RestApi
// and FeedClient: the acceptor, the gateway's checks on WebSocket upgrades
// (path, Origin, token, --max-clients, query), and the hand-over of an
// upgraded socket to a WsSession. HTTP itself is HttpConnection's.
#include "gateway-svc/server.h"

#include <dirent.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <unordered_map>

#include "common/log.h"
#include "common/text.h"
#include "gateway-svc/access.h"
#include "gateway-svc/event_json.h"
#include "gateway-svc/feed_client.h"
#include "gateway-svc/gateway_metrics.h"
#include "gateway-svc/http_codec.h"
#include "gateway-svc/http_connection.h"
#include "gateway-svc/hub.h"
#include "gateway-svc/query.h"
#include "gateway-svc/rest_api.h"
#include "gateway-svc/static_files.h"
#include "gateway-svc/ws_session.h"
#include "gateway-svc/ws_wire.h"

namespace coderef::gateway {
namespace {

// Every server frame is framed once (WireFrame: header + payload) and shared
// by the connections it is queued to.
FramePtr MakeWsFrame(std::string json) { return WireFrame::Text(json); }

// The client's parameters from an upgrade's query (topics, epoch/since).
// False with *error naming the bad one.
bool ParseConnectRequest(const QueryParams& query, ConnectRequest* req, std::string* error) {
  if (auto topics = query.Get("topics")) {
    if (!TopicFilter::Parse(*topics, &req->topics, error)) return false;
  }
  if (auto since = query.Get("since"); since && !since->empty()) {
    uint64_t n = 0;
    bool ok = since->size() <= 19;
    for (char c : *since) {
      if (c < '0' || c > '9') ok = false;
      else n = n * 10 + static_cast<uint64_t>(c - '0');
    }
    if (!ok) {
      *error = "since must be a non-negative integer";
      return false;
    }
    req->resume.has_since = true;
    req->resume.since = n;
  }
  req->resume.epoch = query.Get("epoch").value_or("");
  return true;
}

int64_t CountOpenFds() {
  int64_t n = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (::readdir(d)) ++n;
    ::closedir(d);
    n -= 3;  // ".", "..", the DIR itself
  }
  return n;
}

}  // namespace

class GatewayServer::Impl final : public HttpConnectionHost {
 public:
  explicit Impl(GatewayOptions options)
      : options_(std::move(options)),
        acceptor_(io_),
        static_files_(options_.static_dir),
        ping_timer_(io_),
        timeout_timer_(io_),
        accept_timer_(io_),
        shutdown_timer_(io_),
        signals_(io_, SIGTERM, SIGINT) {
    http_settings_.request_timeout_ms = options_.handshake_timeout_ms;
    http_settings_.idle_timeout_ms = options_.http_idle_timeout_ms;
    http_settings_.linger_ms = options_.close_timeout_ms;
  }

  bool Listen(std::string* error);
  int port() const { return port_; }
  void Run();
  void Stop() {
    asio::post(io_, [this] { BeginShutdown("stop requested"); });
  }

  // HttpConnectionHost.
  HttpResponse Serve(const HttpRequest& request) override { return rest_->Handle(request); }
  bool AdmitUpgrade(const HttpRequest& request, HttpResponse* refusal) override;
  void Upgraded(TcpSocket socket, const HttpRequest& request, std::string read_ahead) override;
  void UpgradeAbandoned() override { --pending_upgrades_; }
  bool KeepAlive() const override { return !stopping_; }
  void Finished(HttpConnection* connection) override { http_connections_.erase(connection); }

 private:
  void AcceptNext();
  void OnAccept(const asio::error_code& ec, TcpSocket socket);
  void RetryAcceptLater();
  HttpResponse Refuse(const HttpRequest& request, int status, std::string_view error,
                      std::string_view reason);
  void SchedulePing();
  void ArmTimeoutCheck(std::chrono::steady_clock::time_point due);
  void PostDrain();
  void DrainFeed();
  void BeginShutdown(std::string_view why);
  void ArmShutdownCheck();
  GatewayOptions options_;
  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_;
  HttpConnectionHost::Settings http_settings_;
  // Connections not (yet) upgraded, for shutdown; each is owned by its
  // pending Asio handlers.
  std::unordered_map<HttpConnection*, std::weak_ptr<HttpConnection>> http_connections_;
  RealClock clock_;
  GatewayMetrics metrics_;
  StaticFiles static_files_;
  std::unique_ptr<Hub> hub_;
  // What every WsSession shares. Sessions outlive it only inside pending
  // Asio handlers, which never run after the loop stops.
  SessionHost sessions_;
  std::unique_ptr<RestApi> rest_;
  std::unique_ptr<FeedClient> feed_;
  // The hub's way to the watcher's history: FeedClient::FetchHistory, its
  // answer (on the feed thread) posted to the io thread.
  class FeedHistory final : public HistorySource {
   public:
    FeedHistory(asio::io_context* io, FeedClient* feed) : io_(io), feed_(feed) {}
    void Fetch(const std::string& epoch, uint64_t after_seq, uint64_t until_seq,
               HistoryCallback done) override {
      asio::io_context* io = io_;
      feed_->FetchHistory(epoch, after_seq, until_seq,
                          [io, done = std::move(done)](std::shared_ptr<const HistoryRange> r) {
                            asio::post(*io, [done, r] { done(r); });
                          });
    }

   private:
    asio::io_context* io_;
    FeedClient* feed_;
  };
  std::unique_ptr<FeedHistory> feed_history_;
  asio::steady_timer ping_timer_;
  // Pong and stuck deadlines (Hub::CheckTimeouts), armed for the earliest.
  asio::steady_timer timeout_timer_;
  bool timeout_armed_ = false;
  std::chrono::steady_clock::time_point timeout_due_{};
  asio::steady_timer accept_timer_;
  asio::steady_timer shutdown_timer_;
  asio::signal_set signals_;
  // Feed updates not yet applied, in order (see DrainFeed); io thread only.
  std::deque<FeedUpdate> feed_queue_;
  size_t feed_cursor_ = 0;     // events of feed_queue_.front() already applied
  bool drain_posted_ = false;  // a DrainFeed continuation is queued
  bool stopping_ = false;
  int pending_upgrades_ = 0;  // admitted upgrades whose 101 is not yet out
  int port_ = 0;
  std::chrono::steady_clock::time_point shutdown_deadline_;
  std::chrono::steady_clock::time_point last_accept_error_log_{};
};

bool GatewayServer::Impl::Listen(std::string* error) {
  asio::error_code aec;
  asio::ip::address addr = asio::ip::make_address(
      options_.listen_host == "localhost" ? "127.0.0.1" : options_.listen_host, aec);
  if (aec) {
    *error = "bad listen address " + options_.listen_host + ": " + aec.message();
    return false;
  }
  asio::ip::tcp::endpoint endpoint(addr, static_cast<unsigned short>(options_.listen_port));
  const std::string where = options_.listen_host + ":" + std::to_string(options_.listen_port);
  if (acceptor_.open(endpoint.protocol(), aec) ||
      acceptor_.set_option(asio::socket_base::reuse_address(true), aec) ||
      acceptor_.bind(endpoint, aec) || acceptor_.listen(1024, aec)) {
    *error = "cannot listen on " + where + ": " + aec.message();
    return false;
  }
  asio::ip::tcp::endpoint local = acceptor_.local_endpoint(aec);
  if (aec) {
    *error = "cannot read the bound port: " + aec.message();
    return false;
  }
  port_ = local.port();
  if (options_.gateway_id.empty()) {
    char host[256] = {0};
    if (::gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "gateway");
    options_.gateway_id = std::string(host) + ":" + std::to_string(port_);
  }

  HubOptions hub_options;
  hub_options.history = options_.history;
  hub_options.max_queue_bytes = options_.max_queue_bytes;
  hub_options.ping_ms = options_.ping_ms;
  hub_options.pong_timeout_ms = options_.pong_timeout_ms;
  hub_options.stuck_ms = options_.stuck_ms;
  hub_options.gateway_id = options_.gateway_id;
  hub_ = std::make_unique<Hub>(hub_options, MakeWsFrame, &metrics_, &clock_);
  hub_->set_on_deadline([this](std::chrono::steady_clock::time_point due) { ArmTimeoutCheck(due); });
  sessions_.hub = hub_.get();
  sessions_.metrics = &metrics_;
  sessions_.close_timeout_ms = options_.close_timeout_ms;
  rest_ = std::make_unique<RestApi>(hub_.get(), &metrics_, &static_files_, &clock_, options_.token);

  FeedClientOptions feed_options;
  feed_options.feed_endpoint = options_.feed;
  feed_options.snapshot_endpoint = options_.snapshot;
  feed_options.curve = options_.curve;
  feed_options.sync.watcher_timeout_ms = options_.watcher_timeout_ms;
  feed_options.sync.snapshot_timeout_ms = std::max(1000, options_.watcher_timeout_ms);
  feed_ = std::make_unique<FeedClient>(
      feed_options,
      [this](std::vector<FeedUpdate>&& updates) {
        auto batch = std::make_shared<std::vector<FeedUpdate>>(std::move(updates));
        asio::post(io_, [this, batch] {
          if (stopping_) return;
          for (FeedUpdate& u : *batch) feed_queue_.push_back(std::move(u));
          PostDrain();
        });
      },
      &metrics_, &clock_);
  feed_history_ = std::make_unique<FeedHistory>(&io_, feed_.get());
  hub_->set_history_source(feed_history_.get());
  return true;
}

void GatewayServer::Impl::Run() {
  signals_.async_wait([this](const asio::error_code& ec, int signo) {
    if (!ec) BeginShutdown(signo == SIGTERM ? "SIGTERM" : "SIGINT");
  });
  AcceptNext();
  SchedulePing();
  feed_->Start();
  LogInfo("gateway.started")
      .Kv("gateway", options_.gateway_id)
      .Kv("port", port_)
      .Kv("feed", options_.feed)
      .Kv("snapshot", options_.snapshot)
      .Kv("max_clients", options_.max_clients)
      .Kv("history", static_cast<uint64_t>(options_.history));
  io_.run();
  feed_->Stop();
  LogInfo("gateway.stopped").Kv("clients_left", static_cast<uint64_t>(hub_->client_count()));
}

void GatewayServer::Impl::AcceptNext() {
  if (stopping_) return;
  acceptor_.async_accept(io_, [this](const asio::error_code& ec, TcpSocket socket) {
    OnAccept(ec, std::move(socket));
  });
}

void GatewayServer::Impl::OnAccept(const asio::error_code& ec, TcpSocket socket) {
  if (stopping_ || ec == asio::error::operation_aborted) return;
  if (!ec) {
    metrics_.tcp_connections->Add();
    asio::error_code sec;
    socket.set_option(asio::ip::tcp::no_delay(true), sec);
    auto connection =
        std::make_shared<HttpConnection>(this, &http_settings_, &metrics_, std::move(socket));
    http_connections_.emplace(connection.get(), connection);
    connection->Start();
    AcceptNext();
    return;
  }
  metrics_.accept_errors->Add();
  auto now = std::chrono::steady_clock::now();
  if (now - last_accept_error_log_ > std::chrono::seconds(1)) {
    last_accept_error_log_ = now;
    struct rlimit rl {};
    ::getrlimit(RLIMIT_NOFILE, &rl);
    LogWarn("accept.failed")
        .Kv("error", ec.message())
        .Kv("open_fds", CountOpenFds())
        .Kv("fd_limit", static_cast<uint64_t>(rl.rlim_cur))
        .Kv("reason", "accept() failed (likely EMFILE); backing off 100 ms");
  }
  RetryAcceptLater();
}

// Re-arming at once after an error would spin the CPU while accept() fails
// with EMFILE (the pending connection stays in the backlog): back off.
void GatewayServer::Impl::RetryAcceptLater() {
  accept_timer_.expires_after(std::chrono::milliseconds(100));
  accept_timer_.async_wait([this](const asio::error_code& e) {
    if (!e) AcceptNext();
  });
}

HttpResponse GatewayServer::Impl::Refuse(const HttpRequest& request, int status,
                                         std::string_view error, std::string_view reason) {
  HttpResponse resp = HttpErrorResponse(status, error);
  if (status == 401) resp.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"coderef-live\"");
  if (status == 503) resp.headers.emplace_back("Retry-After", "5");
  metrics_.Rejected(reason)->Add();
  LogInfo("upgrade.rejected")
      .Kv("status", status)
      .Kv("reason", reason)
      .Kv("origin", request.origin);
  return resp;
}

bool GatewayServer::Impl::AdmitUpgrade(const HttpRequest& request, HttpResponse* refusal) {
  auto refuse = [&](int status, std::string_view error, std::string_view reason) {
    *refusal = Refuse(request, status, error, reason);
    return false;
  };
  if (stopping_) return refuse(503, "gateway shutting down", "max_clients");
  RequestTarget target;
  if (!ParseTarget(request.target, &target)) return refuse(400, "malformed request target", "bad_request");
  if (target.path != "/orchestrator/ws") return refuse(404, "not found", "not_found");
  if (!OriginAllowed(request.origin, request.host, options_.allowed_origins))
    return refuse(403, "origin not allowed", "origin");
  auto query_token = target.query.Get("token");
  if (!TokenAllowed(options_.token, request.authorization, request.token_header,
                    query_token ? *query_token : std::string(), request.cookie))
    return refuse(401, "unauthorized", "token");
  if (static_cast<int64_t>(hub_->client_count()) + pending_upgrades_ >= options_.max_clients)
    return refuse(503, "too many clients", "max_clients");
  ConnectRequest req;
  std::string error;
  if (!ParseConnectRequest(target.query, &req, &error)) return refuse(400, error, "bad_request");
  ++pending_upgrades_;
  return true;
}

void GatewayServer::Impl::Upgraded(TcpSocket socket, const HttpRequest& request,
                                   std::string read_ahead) {
  --pending_upgrades_;
  // Checked by AdmitUpgrade: parsed again rather than carried.
  RequestTarget target;
  ConnectRequest connect;
  std::string error;
  ParseTarget(request.target, &target);
  ParseConnectRequest(target.query, &connect, &error);
  if (stopping_) {  // admitted just before the shutdown began
    std::string close = WsCloseFrame(1001, "gateway shutting down");
    ::send(socket.native_handle(), close.data(), close.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    return;  // the socket closes here
  }
  auto session = std::make_shared<WsSession>(&sessions_, std::move(socket));
  Hub::ClientId id = hub_->Connect(session, std::move(connect));
  session->Start(id, std::move(read_ahead));
}

// Every slice runs in a handler of its own, behind the writes the previous
// one started (feed batches that arrived back to back only append).
void GatewayServer::Impl::PostDrain() {
  if (drain_posted_) return;
  drain_posted_ = true;
  asio::post(io_, [this] {
    drain_posted_ = false;
    if (!stopping_) DrainFeed();
  });
}

// Applies feed updates a slice at a time: at most 64 events (and 128 KiB
// of frames, or a quarter of --max-queue-bytes if smaller) per turn of the
// io loop, then yields. Each slice is appended to the history (however many
// feed batches it spans), then wakes the clients that were idle once; each
// pulls its frames from the fan-out core (up to 64 per sendmsg) now, or
// when its socket drains. Nobody is dropped for a burst however large: the
// slice only keeps the loop fair (other clients' writes and reads run
// between slices) and is the unit of coalescing (a client that keeps up
// gets one sendmsg per slice: waking per feed batch instead took the
// 1,000 x 1,000 burst from 16 to 40 writes per client and 0.43 to 0.60 us
// of CPU per delivery).
void GatewayServer::Impl::DrainFeed() {
  constexpr size_t kSliceBytes = 128 * 1024;
  constexpr size_t kSliceEvents = 64;
  const size_t budget = std::clamp<size_t>(options_.max_queue_bytes / 4, 1, kSliceBytes);
  size_t bytes = 0, events = 0;
  while (!feed_queue_.empty()) {
    FeedUpdate& u = feed_queue_.front();
    if (u.type != FeedUpdate::Type::kEvents) {
      hub_->Publish();  // the events before it go first
      std::vector<FeedUpdate> one;
      one.push_back(std::move(u));
      feed_queue_.pop_front();
      hub_->Apply(std::move(one));
      continue;
    }
    while (feed_cursor_ < u.events.size()) {
      if (bytes >= budget || events >= kSliceEvents) {
        hub_->Publish();
        PostDrain();
        return;
      }
      bytes += hub_->Ingest(std::move(u.events[feed_cursor_++]));
      ++events;
    }
    feed_cursor_ = 0;
    feed_queue_.pop_front();
  }
  hub_->Publish();
}

void GatewayServer::Impl::SchedulePing() {
  ping_timer_.expires_after(std::chrono::milliseconds(options_.ping_ms));
  ping_timer_.async_wait([this](const asio::error_code& ec) {
    if (ec || stopping_) return;
    hub_->PingAll();
    if (auto next = hub_->CheckTimeouts()) ArmTimeoutCheck(*next);
    SchedulePing();
  });
}

// One timer for every connection's pong and stuck deadlines
// (Hub::CheckTimeouts), armed for the earliest.
void GatewayServer::Impl::ArmTimeoutCheck(std::chrono::steady_clock::time_point due) {
  if (timeout_armed_ && timeout_due_ <= due) return;
  timeout_armed_ = true;
  timeout_due_ = due;
  timeout_timer_.expires_at(due);
  timeout_timer_.async_wait([this](const asio::error_code& ec) {
    if (ec) return;  // re-armed for an earlier deadline, or shutting down
    timeout_armed_ = false;
    if (stopping_) return;
    if (auto next = hub_->CheckTimeouts()) ArmTimeoutCheck(*next);
  });
}

void GatewayServer::Impl::BeginShutdown(std::string_view why) {
  if (stopping_) return;
  stopping_ = true;
  LogInfo("shutdown.begin")
      .Kv("reason", why)
      .Kv("clients", static_cast<uint64_t>(hub_->client_count()));
  asio::error_code ec;
  acceptor_.close(ec);
  accept_timer_.cancel();
  ping_timer_.cancel();
  timeout_timer_.cancel();
  signals_.cancel();
  hub_->CloseAll(1001, "gateway shutting down");
  // Connections between requests, or still reading one, just close (an
  // answer being written ends with "Connection: close" semantics: cut).
  std::vector<std::shared_ptr<HttpConnection>> open;
  for (auto& [raw, weak] : http_connections_)
    if (auto c = weak.lock()) open.push_back(std::move(c));
  for (auto& c : open) c->Close("gateway shutting down");
  shutdown_deadline_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
  // Wait for the close handshakes (clients that do not answer are cut off
  // at the deadline), then stop the loop.
  ArmShutdownCheck();
}

void GatewayServer::Impl::ArmShutdownCheck() {
  shutdown_timer_.expires_after(std::chrono::milliseconds(20));
  shutdown_timer_.async_wait([this](const asio::error_code& e) {
    if (e) return;
    if (hub_->client_count() == 0 || std::chrono::steady_clock::now() >= shutdown_deadline_) {
      io_.stop();
      return;
    }
    ArmShutdownCheck();
  });
}

GatewayServer::GatewayServer(GatewayOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}
GatewayServer::~GatewayServer() = default;
bool GatewayServer::Listen(std::string* error) { return impl_->Listen(error); }
int GatewayServer::port() const { return impl_->port(); }
void GatewayServer::Run() { impl_->Run(); }
void GatewayServer::Stop() { impl_->Stop(); }

}  // namespace coderef::gateway
