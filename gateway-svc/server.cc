// The only translation unit that includes websocketpp (slow to compile):
// the transport glue between websocketpp/Asio and the plain-C++ Hub,
// RestApi and FeedClient.
#include "gateway-svc/server.h"

#include <dirent.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <websocketpp/config/asio_no_tls.hpp>
#include <websocketpp/server.hpp>

#include "common/log.h"
#include "common/text.h"
#include "gateway-svc/access.h"
#include "gateway-svc/event_json.h"
#include "gateway-svc/feed_client.h"
#include "gateway-svc/gateway_metrics.h"
#include "gateway-svc/hub.h"
#include "gateway-svc/query.h"
#include "gateway-svc/rest_api.h"
#include "gateway-svc/static_files.h"
#include "gateway-svc/ws_session.h"
#include "gateway-svc/ws_wire.h"

namespace coderef::gateway {
namespace {

// Per-connection state kept inside websocketpp's connection object.
struct ConnState {
  // Parsed at validation, handed to the hub at open (a pointer: every
  // connection object holds this struct for its whole life).
  std::unique_ptr<ConnectRequest> request;
  bool pending = false;      // counted against --max-clients before open
};

struct GwConfig : public websocketpp::config::asio {
  typedef GwConfig type;
  typedef websocketpp::config::asio base;
  typedef ConnState connection_base;

  // The read buffer lives in every connection object, but a connection
  // object lives only until the upgrade is done (then the socket moves to a
  // WsSession): big enough for a usual upgrade request in one read.
  static const size_t connection_read_buffer_size = 1024;
  // No websocketpp logging at all: access logging off on the hot path; our
  // own structured logs name every drop.
  static const websocketpp::log::level elog_level = websocketpp::log::elevel::none;
  static const websocketpp::log::level alog_level = websocketpp::log::alevel::none;
  // Over 64 KiB: websocketpp closes with 1009.
  static const size_t max_message_size = 64 * 1024;
  static const size_t max_http_body_size = 64 * 1024;

  struct transport_config : public base::transport_config {
    // One io thread: no strands needed.
    static bool const enable_multithreading = false;
  };
  typedef websocketpp::transport::asio::endpoint<transport_config> transport_type;
};

using WsServer = websocketpp::server<GwConfig>;
using ConnPtr = WsServer::connection_ptr;
using websocketpp::connection_hdl;

// Every server frame is framed once (WireFrame: header + payload) and shared
// by the connections it is queued to.
FramePtr MakeWsFrame(std::string json) { return WireFrame::Text(json); }

// At open, the socket leaves websocketpp for a WsSession (ws_session.h says
// why). What websocketpp read past the upgrade request sits in two private
// members of websocketpp::connection, read through the explicit-instantiation
// access rule ([temp.spec]: names in an explicit instantiation are not
// access-checked); the compiler checks their names and types against the
// installed websocketpp, so an upgrade that renames them fails to build.
using WsConn = WsServer::connection_type;
template <typename Tag, typename Tag::type Member>
struct PrivateMember {
  friend typename Tag::type Get(Tag) { return Member; }
};
// Declares Name, a tag whose Get(Name{}) is the pointer to member
// Class::member of type Type.
#define CODEREF_WS_MEMBER(Name, Class, Type, member) \
  struct Name {                                      \
    using type = Type Class::*;                      \
    friend type Get(Name);                           \
  };                                                 \
  template struct PrivateMember<Name, &Class::member>
using WsReadBuffer = char[GwConfig::connection_read_buffer_size];
CODEREF_WS_MEMBER(ReadBufferTag, WsConn, WsReadBuffer, m_buf);
CODEREF_WS_MEMBER(ReadCursorTag, WsConn, size_t, m_buf_cursor);
#undef CODEREF_WS_MEMBER

// Takes what websocketpp read past the upgrade request (it would parse it
// as frames right after the open handler) and leaves it nothing.
std::string TakeReadAhead(WsConn& con) {
  size_t& cursor = con.*Get(ReadCursorTag{});
  std::string bytes(con.*Get(ReadBufferTag{}), std::min(cursor, sizeof(WsReadBuffer)));
  cursor = 0;
  return bytes;
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

class GatewayServer::Impl {
 public:
  explicit Impl(GatewayOptions options)
      : options_(std::move(options)),
        static_files_(options_.static_dir),
        ping_timer_(io_),
        timeout_timer_(io_),
        accept_timer_(io_),
        shutdown_timer_(io_),
        signals_(io_, SIGTERM, SIGINT) {}

  bool Listen(std::string* error);
  int port() const { return port_; }
  void Run();
  void Stop() {
    asio::post(io_, [this] { BeginShutdown("stop requested"); });
  }

 private:
  void AcceptNext();
  void OnAccept(ConnPtr con, websocketpp::lib::error_code const& ec);
  bool OnValidate(connection_hdl hdl);
  void OnHttp(connection_hdl hdl);
  void OnOpen(connection_hdl hdl);
  void OnClosed(connection_hdl hdl);
  void Reject(const ConnPtr& con, int status, std::string_view error, std::string_view reason);
  void SchedulePing();
  void ArmTimeoutCheck(std::chrono::steady_clock::time_point due);
  void PostDrain();
  void DrainFeed();
  void BeginShutdown(std::string_view why);
  void ArmShutdownCheck();
  GatewayOptions options_;
  asio::io_context io_;
  WsServer server_;
  RealClock clock_;
  GatewayMetrics metrics_;
  StaticFiles static_files_;
  std::unique_ptr<Hub> hub_;
  // What every WsSession shares. Sessions outlive it only inside pending
  // Asio handlers, which never run after the loop stops.
  SessionHost sessions_;
  std::unique_ptr<RestApi> rest_;
  std::unique_ptr<FeedClient> feed_;
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
  size_t avg_frame_bytes_ = 1024;  // of the last run of events (sizes runs)
  bool stopping_ = false;
  int pending_upgrades_ = 0;
  int port_ = 0;
  std::chrono::steady_clock::time_point shutdown_deadline_;
  std::chrono::steady_clock::time_point last_accept_error_log_{};
};

bool GatewayServer::Impl::Listen(std::string* error) {
  websocketpp::lib::error_code ec;
  server_.init_asio(&io_, ec);
  if (ec) {
    *error = "init: " + ec.message();
    return false;
  }
  server_.set_user_agent("coderef-gateway");
  server_.set_reuse_addr(true);
  server_.set_listen_backlog(1024);
  server_.set_open_handshake_timeout(options_.handshake_timeout_ms);
  server_.set_close_handshake_timeout(options_.close_timeout_ms);
  server_.set_max_message_size(64 * 1024);
  server_.set_max_http_body_size(64 * 1024);

  server_.set_socket_init_handler([](connection_hdl, asio::ip::tcp::socket& s) {
    asio::error_code sec;
    s.set_option(asio::ip::tcp::no_delay(true), sec);
  });
  server_.set_validate_handler([this](connection_hdl h) { return OnValidate(h); });
  server_.set_http_handler([this](connection_hdl h) { OnHttp(h); });
  server_.set_open_handler([this](connection_hdl h) { OnOpen(h); });
  server_.set_close_handler([this](connection_hdl h) { OnClosed(h); });
  server_.set_fail_handler([this](connection_hdl h) { OnClosed(h); });
  // No message, ping or pong handlers: open connections leave websocketpp
  // for a WsSession (OnOpen).

  asio::error_code aec;
  asio::ip::address addr = asio::ip::make_address(
      options_.listen_host == "localhost" ? "127.0.0.1" : options_.listen_host, aec);
  if (aec) {
    *error = "bad listen address " + options_.listen_host + ": " + aec.message();
    return false;
  }
  server_.listen(asio::ip::tcp::endpoint(addr, static_cast<unsigned short>(options_.listen_port)),
                 ec);
  if (ec) {
    *error = "cannot listen on " + options_.listen_host + ":" +
             std::to_string(options_.listen_port) + ": " + ec.message();
    return false;
  }
  asio::ip::tcp::endpoint local = server_.get_local_endpoint(aec);
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

// websocketpp's own accept loop re-arms immediately after an error, which
// spins the CPU while accept() fails with EMFILE (the pending connection
// stays in the backlog). Ours backs off instead.
void GatewayServer::Impl::AcceptNext() {
  if (stopping_) return;
  websocketpp::lib::error_code ec;
  ConnPtr con = server_.get_connection();
  if (!con) {
    accept_timer_.expires_after(std::chrono::milliseconds(100));
    accept_timer_.async_wait([this](const asio::error_code& e) {
      if (!e) AcceptNext();
    });
    return;
  }
  server_.async_accept(
      con, [this, con](websocketpp::lib::error_code const& e) { OnAccept(con, e); }, ec);
  if (ec) {
    con->terminate(ec);
    if (ec == websocketpp::error::async_accept_not_listening) return;
    accept_timer_.expires_after(std::chrono::milliseconds(100));
    accept_timer_.async_wait([this](const asio::error_code& e) {
      if (!e) AcceptNext();
    });
  }
}

void GatewayServer::Impl::OnAccept(ConnPtr con, websocketpp::lib::error_code const& ec) {
  if (!ec) {
    con->start();
    AcceptNext();
    return;
  }
  con->terminate(ec);
  if (stopping_ || ec == websocketpp::error::operation_canceled) return;
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
  accept_timer_.expires_after(std::chrono::milliseconds(100));
  accept_timer_.async_wait([this](const asio::error_code& e) {
    if (!e) AcceptNext();
  });
}

void GatewayServer::Impl::Reject(const ConnPtr& con, int status, std::string_view error,
                                 std::string_view reason) {
  con->set_status(static_cast<websocketpp::http::status_code::value>(status));
  std::string body = "{\"error\":\"" + JsonEscape(error) + "\"}";
  con->set_body(body);
  con->replace_header("Content-Type", "application/json");
  if (status == 401) con->replace_header("WWW-Authenticate", "Bearer realm=\"coderef-live\"");
  if (status == 503) con->replace_header("Retry-After", "5");
  metrics_.Rejected(reason)->Add();
  LogInfo("upgrade.rejected")
      .Kv("status", status)
      .Kv("reason", reason)
      .Kv("remote", con->get_remote_endpoint())
      .Kv("origin", con->get_request_header("Origin"));
}

bool GatewayServer::Impl::OnValidate(connection_hdl hdl) {
  ConnPtr con = server_.get_con_from_hdl(hdl);
  if (stopping_) {
    Reject(con, 503, "gateway shutting down", "max_clients");
    return false;
  }
  RequestTarget target;
  if (!ParseTarget(con->get_resource(), &target)) {
    Reject(con, 400, "malformed request target", "bad_request");
    return false;
  }
  if (target.path != "/orchestrator/ws") {
    Reject(con, 404, "not found", "not_found");
    return false;
  }
  if (!OriginAllowed(con->get_request_header("Origin"), con->get_request_header("Host"),
                     options_.allowed_origins)) {
    Reject(con, 403, "origin not allowed", "origin");
    return false;
  }
  auto query_token = target.query.Get("token");
  if (!TokenAllowed(options_.token, con->get_request_header("Authorization"),
                    con->get_request_header("X-Coderef-Token"),
                    query_token ? *query_token : std::string(),
                    con->get_request_header("Cookie"))) {
    Reject(con, 401, "unauthorized", "token");
    return false;
  }
  if (static_cast<int64_t>(hub_->client_count()) + pending_upgrades_ >= options_.max_clients) {
    Reject(con, 503, "too many clients", "max_clients");
    return false;
  }
  ConnectRequest req;
  std::string error;
  if (auto topics = target.query.Get("topics")) {
    if (!TopicFilter::Parse(*topics, &req.topics, &error)) {
      Reject(con, 400, error, "bad_request");
      return false;
    }
  }
  if (auto since = target.query.Get("since"); since && !since->empty()) {
    uint64_t n = 0;
    bool ok = since->size() <= 19;
    for (char c : *since) {
      if (c < '0' || c > '9') ok = false;
      else n = n * 10 + static_cast<uint64_t>(c - '0');
    }
    if (!ok) {
      Reject(con, 400, "since must be a non-negative integer", "bad_request");
      return false;
    }
    req.resume.has_since = true;
    req.resume.since = n;
  }
  req.resume.epoch = target.query.Get("epoch").value_or("");
  con->request = std::make_unique<ConnectRequest>(std::move(req));
  con->pending = true;
  ++pending_upgrades_;
  return true;
}

void GatewayServer::Impl::OnOpen(connection_hdl hdl) {
  ConnPtr con = server_.get_con_from_hdl(hdl);
  if (con->pending) {
    con->pending = false;
    --pending_upgrades_;
  }
  if (stopping_) {
    websocketpp::lib::error_code ec;
    con->close(1001, "gateway shutting down", ec);
    return;
  }
  // The socket leaves websocketpp: released from its Asio socket (which
  // deregisters it and leaves websocketpp a closed socket; its next read
  // fails and it drops its connection object, calling OnClosed, which finds
  // no client) and assigned to a WsSession's.
  std::string read_ahead = TakeReadAhead(*con);
  asio::error_code ec;
  auto& theirs = con->get_socket();
  asio::ip::tcp protocol = theirs.local_endpoint(ec).protocol();
  int fd = ec ? -1 : theirs.release(ec);
  if (ec || fd < 0) {
    LogWarn("client.detach_failed").Kv("error", ec.message()).Kv("remote", con->get_remote_endpoint());
    websocketpp::lib::error_code wec;
    con->close(1011, "internal error", wec);
    return;
  }
  WsSession::Socket socket(io_);
  socket.assign(protocol, fd, ec);
  if (ec) {
    ::close(fd);
    LogWarn("client.detach_failed").Kv("error", ec.message());
    return;
  }
  ConnectRequest request = con->request ? std::move(*con->request) : ConnectRequest();
  con->request.reset();
  auto session = std::make_shared<WsSession>(&sessions_, std::move(socket));
  Hub::ClientId id = hub_->Connect(session, std::move(request));
  session->Start(id, std::move(read_ahead));
}

void GatewayServer::Impl::OnClosed(connection_hdl hdl) {
  websocketpp::lib::error_code ec;
  ConnPtr con = server_.get_con_from_hdl(hdl, ec);
  if (!con) return;
  if (con->pending) {
    con->pending = false;
    --pending_upgrades_;
  }
}

void GatewayServer::Impl::OnHttp(connection_hdl hdl) {
  ConnPtr con = server_.get_con_from_hdl(hdl);
  metrics_.http_requests->Add();
  HttpRequest req;
  req.method = con->get_request().get_method();
  req.target = con->get_resource();
  req.authorization = con->get_request_header("Authorization");
  req.token_header = con->get_request_header("X-Coderef-Token");
  req.cookie = con->get_request_header("Cookie");
  HttpResponse resp = rest_->Handle(req);
  con->set_status(static_cast<websocketpp::http::status_code::value>(resp.status));
  con->set_body(std::move(resp.body));
  con->replace_header("Content-Type", resp.content_type);
  for (const auto& [k, v] : resp.headers) con->replace_header(k, v);
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
// io loop, then yields. Each slice is appended to the history and wakes the
// clients that were idle; each pulls its frames from the fan-out core (up to
// 64 per sendmsg) now, or when its socket drains. Nobody is dropped for a
// burst however large: the slice only keeps the loop fair (other clients'
// writes and reads run between slices) and is the unit of coalescing (a
// client that keeps up gets one sendmsg per slice).
void GatewayServer::Impl::DrainFeed() {
  constexpr size_t kSliceBytes = 128 * 1024;
  constexpr size_t kSliceEvents = 64;
  const size_t budget = std::clamp<size_t>(options_.max_queue_bytes / 4, 1, kSliceBytes);
  size_t queued = 0, events = 0;
  while (!feed_queue_.empty()) {
    FeedUpdate& u = feed_queue_.front();
    if (u.type != FeedUpdate::Type::kEvents) {
      std::vector<FeedUpdate> one;
      one.push_back(std::move(u));
      feed_queue_.pop_front();
      hub_->Apply(std::move(one));
      continue;
    }
    while (feed_cursor_ < u.events.size()) {
      if (queued >= budget || events >= kSliceEvents) {
        PostDrain();
        return;
      }
      // A run of events goes to each live client as one write. Its length
      // comes from the frame size seen so far (events' JSON sizes vary
      // little), so the run stays within the budget.
      size_t fit = (budget - queued) / std::max<size_t>(1, avg_frame_bytes_);
      size_t n = std::clamp<size_t>(fit, 1, kSliceEvents - events);
      n = std::min(n, u.events.size() - feed_cursor_);
      std::vector<ReceivedEvent> run;
      run.reserve(n);
      for (size_t i = 0; i < n; ++i) run.push_back(std::move(u.events[feed_cursor_++]));
      events += n;
      size_t bytes = hub_->OnEvents(std::move(run));
      queued += bytes;
      if (bytes > 0) avg_frame_bytes_ = bytes / n;
    }
    feed_cursor_ = 0;
    feed_queue_.pop_front();
  }
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
  websocketpp::lib::error_code ec;
  server_.stop_listening(ec);
  accept_timer_.cancel();
  ping_timer_.cancel();
  timeout_timer_.cancel();
  signals_.cancel();
  hub_->CloseAll(1001, "gateway shutting down");
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
