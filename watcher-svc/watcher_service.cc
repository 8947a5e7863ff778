#include "watcher-svc/watcher_service.h"

#include <malloc.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/flags.h"
#include "common/log.h"
#include "common/text.h"
#include "watcher-svc/batcher.h"
#include "watcher-svc/curve_auth.h"
#include "watcher-svc/durable_publish.h"
#include "watcher-svc/http_server.h"
#include "watcher-svc/inotify_backend.h"
#include "watcher-svc/poll_backend.h"
#include "watcher-svc/publisher.h"

namespace coderef::watcher {

namespace {

// Wraps a backend and refuses watches past a limit with ENOSPC: the test
// seam for "watch limit reached" (--max-watches).
class LimitedBackend final : public WatchBackend {
 public:
  LimitedBackend(WatchBackend& inner, size_t limit) : inner_(inner), limit_(limit) {}
  int fd() const override { return inner_.fd(); }
  int poll_interval_ms() const override { return inner_.poll_interval_ms(); }
  bool AddWatch(const std::string& dir, bool entries_only, int* err) override {
    if (!inner_.IsWatched(dir) && inner_.watch_count() >= limit_) {
      *err = ENOSPC;
      return false;
    }
    return inner_.AddWatch(dir, entries_only, err);
  }
  void RemoveWatch(const std::string& dir) override { inner_.RemoveWatch(dir); }
  bool IsWatched(const std::string& dir) const override { return inner_.IsWatched(dir); }
  void ReadEvents(std::vector<RawEvent>* out) override { inner_.ReadEvents(out); }
  size_t watch_count() const override { return inner_.watch_count(); }

 private:
  WatchBackend& inner_;
  size_t limit_;
};

constexpr int kRetryWatchMs = 2000;

}  // namespace

void BlockTerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

WatcherService::WatcherService(ServiceOptions options) : options_(std::move(options)) {}
WatcherService::~WatcherService() = default;

int WatcherService::Run() {
  RealClock clock;
  MetricsRegistry metrics;
  PosixFileSystem fs;

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  int sig_fd = ::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);

  std::unique_ptr<WatchBackend> real_backend;
  if (options_.poll_ms > 0) {
    real_backend = std::make_unique<PollBackend>(fs, options_.poll_ms);
  } else {
    auto ino = std::make_unique<InotifyBackend>();
    if (!ino->ok()) {
      LogError("inotify.unavailable")
          .Kv("error", std::strerror(ino->init_error()))
          .Kv("hint", "raise fs.inotify.max_user_instances or run with --poll-ms");
      return 1;
    }
    real_backend = std::move(ino);
  }
  std::unique_ptr<WatchBackend> limited;
  WatchBackend* backend = real_backend.get();
  if (options_.max_watches > 0) {
    limited = std::make_unique<LimitedBackend>(*real_backend, options_.max_watches);
    backend = limited.get();
  }

  zmq::context_t ctx(1);
  // The ZAP handler is bound before the feed sockets and destroyed after
  // them (declaration order), so no CURVE client ever gets in unchecked.
  std::unique_ptr<ZapAuthenticator> zap;
  if (!options_.curve_allowed_clients.empty()) {
    try {
      zap = std::make_unique<ZapAuthenticator>(ctx, options_.curve_allowed_clients,
                                               options_.curve_allowed_keys, metrics);
    } catch (const zmq::error_t& e) {
      LogError("curve.zap_bind_failed").Kv("error", e.what());
      return 1;
    }
  }
  std::unique_ptr<Publisher> publisher;
  try {
    PublisherOptions po;
    po.pub_endpoint = options_.pub;
    po.snapshot_endpoint = options_.snapshot;
    po.pub_hwm = options_.pub_hwm;
    po.block_ms = options_.pub_block_ms;
    po.chunk_items = options_.snapshot_chunk_items;
    po.curve = options_.curve;
    publisher = std::make_unique<Publisher>(ctx, po, clock, metrics);
  } catch (const zmq::error_t& e) {
    LogError("zmq.bind_failed").Kv("pub", options_.pub).Kv("snapshot", options_.snapshot).Kv("error", e.what());
    return 1;
  }

  WatcherMetrics wm = WatcherMetrics::Register(metrics);
  metrics.GaugeFn("coderef_watcher_rss_bytes", "Resident set size",
                  [] { return static_cast<double>(ProcessRssBytes()); });
  metrics.GaugeFn("coderef_watcher_cpu_seconds", "User+system CPU time",
                  [] { return ProcessCpuSeconds(); });
  Metric* batches = metrics.Counter("coderef_watcher_batches_total", "Batches flushed");

  WatcherCore core(options_.watcher, fs, *backend, wm);
  auto start = clock.Now();
  bool loaded = core.Start(start);
  double start_ms = std::chrono::duration<double, std::milli>(clock.Now() - start).count();
  ::malloc_trim(0);  // the initial scan's temporaries: give them back

  // The epoch: resumed from --state-dir (re-sending what may not have gone
  // out, then what changed while down) or new.
  DurableState durable(options_.durable, metrics);
  {
    DurableState::Resume resume = durable.Start(core.state());
    ResumeFeed(*publisher, durable, &resume, clock.UnixMicros());
  }
  double ready_ms = std::chrono::duration<double, std::milli>(clock.Now() - start).count();
  bool batcher_open = false;  // mirrors batcher.open() for /healthz
  MiniHttpServer http([&](const std::string& method, const std::string& path) {
    HttpResponse r;
    if (method != "GET" && method != "HEAD") {
      r.status = 405;
      r.body = "{\"error\":\"method not allowed\"}";
    } else if (path == "/healthz") {
      r.body = "{\"status\":\"ok\",\"epoch\":\"" + publisher->epoch() + "\",\"seq\":" +
               std::to_string(publisher->seq()) + ",\"durable\":" +
               (durable.durable() ? "true" : "false") + ",\"state\":\"" + JsonEscape(durable.status()) +
               "\",\"projects\":" +
               std::to_string(core.projects().size()) + ",\"items\":" +
               std::to_string(core.state().size()) + ",\"batch_open\":" +
               (batcher_open ? "true" : "false") + ",\"dirty_files\":" +
               std::to_string(core.dirty_file_count()) + ",\"outbox_empty\":" +
               (publisher->pending() ? "false" : "true") + "}";
    } else if (path == "/metrics") {
      r.content_type = "text/plain; version=0.0.4";
      r.body = metrics.Render();
    } else {
      r.status = 404;
      r.body = "{\"error\":\"not found\"}";
    }
    return r;
  });
  int http_port = 0;
  if (!options_.http.empty()) {
    std::string host, err;
    int port = 0;
    ParseHostPort(options_.http, &host, &port);
    if (!http.Listen(host, port, &err)) {
      LogError("http.listen_failed").Kv("http", options_.http).Kv("error", err);
      return 1;
    }
    http_port = http.port();
  }

  LogInfo("watcher.started")
      .Kv("epoch", publisher->epoch())
      .Kv("seq", publisher->seq())
      .Kv("state", durable.status())
      .Kv("pub", publisher->pub_endpoint())
      .Kv("snapshot", publisher->snapshot_endpoint())
      .Kv("http_port", http_port)
      .Kv("backend", options_.poll_ms > 0 ? "poll" : "inotify")
      .Kv("projects", static_cast<uint64_t>(core.projects().size()))
      .Kv("items", static_cast<uint64_t>(core.state().size()))
      .Kv("watches", static_cast<uint64_t>(backend->watch_count()))
      .Kv("registry_loaded", loaded)
      .Kv("startup_ms", start_ms)
      .Kv("ready_ms", ready_ms);

  Batcher batcher(Millis(options_.settle_ms), Millis(options_.debounce_ms), Millis(options_.quiet_ms));
  auto next_hb = clock.Now();
  auto next_poll = clock.Now() + Millis(std::max(1, backend->poll_interval_ms()));
  auto next_retry = clock.Now() + Millis(kRetryWatchMs);
  std::vector<RawEvent> raw;
  std::vector<zmq::pollitem_t> items;
  bool stop = false;
  while (!stop) {
    auto now = clock.Now();
    if (now >= next_hb) {
      publisher->Heartbeat(static_cast<uint32_t>(options_.heartbeat_ms));
      next_hb = now + Millis(options_.heartbeat_ms);
    }
    auto wake = next_hb;
    if (batcher.open()) wake = std::min(wake, batcher.Deadline());
    // A held file (being written) goes out when its hold runs out.
    wake = std::min(wake, core.next_hold_expiry());
    if (backend->fd() < 0) wake = std::min(wake, next_poll);
    if (core.has_failed_watches()) wake = std::min(wake, next_retry);
    // A full subscriber holds the outbox back: try again shortly.
    if (publisher->pending()) wake = std::min(wake, now + Millis(2));
    long timeout_ms = std::max<long>(
        0, std::chrono::duration_cast<std::chrono::milliseconds>(wake - now).count() + 1);

    items.clear();
    items.push_back({publisher->router().handle(), 0, ZMQ_POLLIN, 0});
    items.push_back({nullptr, sig_fd, ZMQ_POLLIN, 0});
    if (backend->fd() >= 0) items.push_back({nullptr, backend->fd(), ZMQ_POLLIN, 0});
    size_t fixed = items.size();
    http.AddPollItems(&items);
    try {
      zmq::poll(items.data(), items.size(), std::chrono::milliseconds(timeout_ms));
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) LogError("poll.failed").Kv("error", e.what());
      continue;
    }
    if (items[1].revents & ZMQ_POLLIN) {
      struct signalfd_siginfo si;
      if (::read(sig_fd, &si, sizeof si) == sizeof si) {
        if (si.ssi_signo == SIGHUP && zap) {
          LogInfo("watcher.reload").Kv("signal", static_cast<int>(si.ssi_signo)).Kv("what", "curve allow-list");
          zap->RequestReload();
        } else {
          LogInfo("watcher.stopping").Kv("signal", static_cast<int>(si.ssi_signo));
          stop = true;
        }
      }
    }
    publisher->DrainSubscriptions();
    if (publisher->pending()) publisher->Flush();
    now = clock.Now();
    raw.clear();
    if (backend->fd() >= 0 && (items[2].revents & ZMQ_POLLIN)) {
      backend->ReadEvents(&raw);
    } else if (backend->fd() < 0 && now >= next_poll) {
      backend->ReadEvents(&raw);
      next_poll = now + Millis(backend->poll_interval_ms());
    }
    if (!raw.empty() && core.OnRawEvents(raw, now) && (batcher.open() || core.ready(now)))
      batcher.OnChange(now, clock.UnixMicros(), core.batch_complete());
    if (core.has_failed_watches() && now >= next_retry) {
      if (core.RetryFailedWatches()) batcher.OnChange(now, clock.UnixMicros(), core.batch_complete());
      next_retry = now + Millis(kRetryWatchMs);
    }
    // Held files whose hold ran out, and whatever became dirty while the
    // last batch was flushed, open the next batch.
    if (!batcher.open() && core.ready(now))
      batcher.OnChange(now, clock.UnixMicros(), core.batch_complete());
    if (batcher.Due(clock.Now()) || (stop && batcher.open())) {
      auto events = core.Flush(clock.Now());
      PublishDurably(*publisher, durable, &events, batcher.first_change_unix_us());
      // A large batch (a checkout, a rescan) leaves its temporaries in the
      // malloc arenas of the loop and the loader threads: give them back.
      if (events.size() >= 10000 || core.last_flush_files() >= 10000) {
        std::vector<v1::ChangeEvent>().swap(events);
        ::malloc_trim(0);
      }
      batcher.Reset();
      batches->Add();
      // Anything that became dirty during the flush (e.g. scans of new
      // folders, files changed while they were read) opens the next batch.
      if (core.ready(clock.Now()))
        batcher.OnChange(clock.Now(), clock.UnixMicros(), core.batch_complete());
    }
    batcher_open = batcher.open();
    if (items[0].revents & ZMQ_POLLIN) publisher->ServeSnapshots(core.state(), &durable);
    if (items.size() > fixed)
      http.OnPoll(std::vector<zmq::pollitem_t>(items.begin() + fixed, items.end()));
  }
  // What a slow subscriber still holds back gets up to one block_ms to go out.
  auto give_up = clock.Now() + Millis(options_.pub_block_ms);
  while (publisher->pending() && clock.Now() < give_up) {
    zmq::poll(static_cast<zmq::pollitem_t*>(nullptr), 0, std::chrono::milliseconds(2));
    publisher->Flush();
  }
  if (publisher->pending())
    LogWarn("watcher.unsent_at_exit")
        .Kv("messages", static_cast<uint64_t>(publisher->outbox_size()))
        .Kv("reason", "a subscriber's queue stayed full until exit");
  durable.Stop(publisher->sent_seq());
  ::close(sig_fd);
  LogInfo("watcher.stopped").Kv("epoch", publisher->epoch()).Kv("seq", publisher->seq());
  return 0;
}

}  // namespace coderef::watcher
