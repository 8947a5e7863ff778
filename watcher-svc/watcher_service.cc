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
#include "watcher-svc/publisher.h"

namespace coderef::watcher {

namespace {
constexpr Millis kRetryWatch{2000};  // failed watches are retried and rescanned this often
constexpr Millis kOutboxRetry{2};    // a full subscriber: try the outbox again this soon
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

WatcherService::WatcherService(ServiceOptions options, ServiceSeams seams)
    : options_(std::move(options)), seams_(seams) {}
WatcherService::~WatcherService() = default;

bool WatcherService::Init() {
  const Clock& clock = seams_.clock;
  if (!options_.curve_allowed_clients.empty()) {
    try {
      zap_ = std::make_unique<ZapAuthenticator>(seams_.ctx, options_.curve_allowed_clients,
                                                options_.curve_allowed_keys, metrics_);
    } catch (const zmq::error_t& e) {
      LogError("curve.zap_bind_failed").Kv("error", e.what());
      return false;
    }
  }
  try {
    PublisherOptions po;
    po.pub_endpoint = options_.pub;
    po.snapshot_endpoint = options_.snapshot;
    po.pub_hwm = options_.pub_hwm;
    po.block_ms = options_.pub_block_ms;
    po.chunk_items = options_.snapshot_chunk_items;
    po.curve = options_.curve;
    publisher_ = std::make_unique<Publisher>(seams_.ctx, po, clock, metrics_);
  } catch (const zmq::error_t& e) {
    LogError("zmq.bind_failed").Kv("pub", options_.pub).Kv("snapshot", options_.snapshot).Kv("error", e.what());
    return false;
  }

  WatcherMetrics wm = WatcherMetrics::Register(metrics_);
  metrics_.GaugeFn("coderef_watcher_rss_bytes", "Resident set size",
                   [] { return static_cast<double>(ProcessRssBytes()); });
  metrics_.GaugeFn("coderef_watcher_cpu_seconds", "User+system CPU time",
                   [] { return ProcessCpuSeconds(); });
  batches_ = metrics_.Counter("coderef_watcher_batches_total", "Batches flushed");

  core_ = std::make_unique<WatcherCore>(options_.watcher, seams_.fs, seams_.backend, wm);
  auto start = clock.Now();
  bool loaded = core_->Start(start);
  double start_ms = std::chrono::duration<double, std::milli>(clock.Now() - start).count();
  ::malloc_trim(0);  // the initial scan's temporaries: give them back

  // The epoch: resumed from --state-dir (re-sending what may not have gone
  // out, then what changed while down) or new.
  durable_ = std::make_unique<DurableState>(options_.durable, metrics_);
  {
    DurableState::Resume resume = durable_->Start(core_->state());
    ResumeFeed(*publisher_, *durable_, &resume, clock.UnixMicros());
  }
  ::malloc_trim(0);  // the stored items read back (or written) for the restart's diff
  double ready_ms = std::chrono::duration<double, std::milli>(clock.Now() - start).count();

  if (!options_.http.empty()) {
    http_ = std::make_unique<MiniHttpServer>([this](const std::string& method, const std::string& path) {
      HttpResponse r;
      if (method != "GET" && method != "HEAD") {
        r.status = 405;
        r.body = "{\"error\":\"method not allowed\"}";
      } else if (path == "/healthz") {
        r.body = Healthz();
      } else if (path == "/metrics") {
        r.content_type = "text/plain; version=0.0.4";
        r.body = metrics_.Render();
      } else {
        r.status = 404;
        r.body = "{\"error\":\"not found\"}";
      }
      return r;
    });
    std::string host, err;
    int port = 0;
    ParseHostPort(options_.http, &host, &port);
    if (!http_->Listen(host, port, &err)) {
      LogError("http.listen_failed").Kv("http", options_.http).Kv("error", err);
      return false;
    }
    http_port_ = http_->port();
  }

  LogInfo("watcher.started")
      .Kv("epoch", publisher_->epoch())
      .Kv("seq", publisher_->seq())
      .Kv("state", durable_->status())
      .Kv("pub", publisher_->pub_endpoint())
      .Kv("snapshot", publisher_->snapshot_endpoint())
      .Kv("http_port", http_port_)
      .Kv("backend", options_.poll_ms > 0 ? "poll" : "inotify")
      .Kv("read_leases", seams_.fs.lease_scope())
      .Kv("projects", static_cast<uint64_t>(core_->projects().size()))
      .Kv("items", static_cast<uint64_t>(core_->state().size()))
      .Kv("watches", static_cast<uint64_t>(seams_.backend.watch_count()))
      .Kv("registry_loaded", loaded)
      .Kv("startup_ms", start_ms)
      .Kv("ready_ms", ready_ms);
  if (const std::string scope = seams_.fs.lease_scope(); scope == "owned" || scope == "off")
    LogWarn("watcher.read_leases_limited")
        .Kv("read_leases", scope)
        .Kv("note", scope == "off" ? "fs.leases-enable is 0: files rewritten in place may rarely be read mid-write"
                                   : "files of other users are read without a lease: one rewritten in place may "
                                     "rarely be read mid-write")
        .Kv("hint", scope == "off" ? "set fs.leases-enable=1" : "grant CAP_LEASE or run as the files' owner");

  batcher_ = std::make_unique<Batcher>(Millis(options_.settle_ms), Millis(options_.debounce_ms),
                                       Millis(options_.quiet_ms));
  auto now = clock.Now();
  next_hb_ = now;
  next_poll_ = now + Millis(std::max(1, seams_.backend.poll_interval_ms()));
  next_retry_ = now + kRetryWatch;
  last_step_ = now;
  return true;
}

std::string WatcherService::Healthz() const {
  return "{\"status\":\"ok\",\"epoch\":\"" + publisher_->epoch() + "\",\"seq\":" +
         std::to_string(publisher_->seq()) + ",\"durable\":" + (durable_->durable() ? "true" : "false") +
         ",\"state\":\"" + JsonEscape(durable_->status()) + "\",\"projects\":" + std::to_string(core_->projects().size()) +
         ",\"items\":" + std::to_string(core_->state().size()) + ",\"batch_open\":" +
         (batch_open() ? "true" : "false") + ",\"dirty_files\":" + std::to_string(core_->dirty_file_count()) +
         ",\"outbox_empty\":" + (outbox_empty() ? "true" : "false") + ",\"read_leases\":\"" +
         JsonEscape(seams_.fs.lease_scope()) + "\"}";
}

bool WatcherService::batch_open() const { return batcher_->open(); }
bool WatcherService::outbox_empty() const { return !publisher_->pending(); }

void WatcherService::Step(SteadyTime now, bool backend_readable) {
  const Clock& clock = seams_.clock;
  WatchBackend& backend = seams_.backend;
  last_step_ = now;
  if (now >= next_hb_) {
    publisher_->Heartbeat(static_cast<uint32_t>(options_.heartbeat_ms));
    next_hb_ = now + Millis(options_.heartbeat_ms);
  }
  publisher_->DrainSubscriptions();
  if (publisher_->pending()) publisher_->Flush();
  raw_.clear();
  if (backend.fd() >= 0) {
    if (backend_readable) backend.ReadEvents(&raw_);
  } else if (now >= next_poll_) {
    backend.ReadEvents(&raw_);
    next_poll_ = now + Millis(backend.poll_interval_ms());
  }
  if (!raw_.empty() && core_->OnRawEvents(raw_, now) && (batcher_->open() || core_->ready(now)))
    batcher_->OnChange(now, clock.UnixMicros(), core_->batch_complete());
  if (core_->has_failed_watches() && now >= next_retry_) {
    if (core_->RetryFailedWatches()) batcher_->OnChange(now, clock.UnixMicros(), core_->batch_complete());
    next_retry_ = now + kRetryWatch;
  }
  // Held files whose hold ran out, and whatever became dirty while the
  // last batch was flushed, open the next batch.
  if (!batcher_->open() && core_->ready(now))
    batcher_->OnChange(now, clock.UnixMicros(), core_->batch_complete());
  if (batcher_->Due(now) || (stop_ && batcher_->open())) FlushBatch(now);
  // One chunk of a history answer per turn: live events go out between
  // chunks (PROTOCOL "History requests").
  publisher_->ServeHistory(durable_.get());
}

void WatcherService::FlushBatch(SteadyTime now) {
  const Clock& clock = seams_.clock;
  auto events = core_->Flush(now);
  PublishDurably(*publisher_, *durable_, &events, batcher_->first_change_unix_us());
  // A large batch (a checkout, a rescan) leaves its temporaries in the
  // malloc arenas of the loop and the loader threads: give them back.
  if (events.size() >= 10000 || core_->last_flush_files() >= 10000) {
    std::vector<v1::ChangeEvent>().swap(events);
    ::malloc_trim(0);
  }
  batcher_->Reset();
  batches_->Add();
  // Anything that became dirty during the flush (scans of new folders,
  // files changed while they were read) opens the next batch.
  if (!stop_ && core_->ready(now)) batcher_->OnChange(now, clock.UnixMicros(), core_->batch_complete());
}

SteadyTime WatcherService::NextDeadline() const {
  SteadyTime wake = next_hb_;
  if (batcher_->open()) wake = std::min(wake, stop_ ? last_step_ : batcher_->Deadline());
  // A held file (being written) goes out when its hold runs out.
  wake = std::min(wake, core_->next_hold_expiry());
  if (seams_.backend.fd() < 0) wake = std::min(wake, next_poll_);
  if (core_->has_failed_watches()) wake = std::min(wake, next_retry_);
  // A full subscriber holds the outbox back: try again shortly.
  if (publisher_->pending()) wake = std::min(wake, last_step_ + kOutboxRetry);
  // A history answer in progress: the next chunk at the next turn, no sleep.
  if (publisher_->history_pending()) wake = std::min(wake, last_step_);
  return wake;
}

void WatcherService::RequestStop() { stop_ = true; }

bool WatcherService::StepShutdown(SteadyTime now) {
  if (!shutdown_started_) {
    shutdown_started_ = true;
    // What a slow subscriber still holds back gets up to one block_ms.
    give_up_ = now + Millis(options_.pub_block_ms);
  }
  last_step_ = now;
  if (publisher_->pending()) publisher_->Flush();
  if (publisher_->pending() && now < give_up_) return false;
  if (publisher_->pending())
    LogWarn("watcher.unsent_at_exit")
        .Kv("messages", static_cast<uint64_t>(publisher_->outbox_size()))
        .Kv("reason", "a subscriber's queue stayed full until exit");
  // What went out need not be re-sent at the next start.
  durable_->Stop(publisher_->sent_seq());
  return true;
}

void WatcherService::ServeSnapshots() { publisher_->ServeSnapshots(core_->state(), durable_.get()); }

int WatcherService::Run() {
  const Clock& clock = seams_.clock;
  WatchBackend& backend = seams_.backend;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  int sig_fd = ::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);

  std::vector<zmq::pollitem_t> items;
  while (!stop_) {
    auto now = clock.Now();
    long timeout_ms = std::max<long>(
        0, std::chrono::duration_cast<std::chrono::milliseconds>(NextDeadline() - now).count() + 1);
    items.clear();
    items.push_back({publisher_->router().handle(), 0, ZMQ_POLLIN, 0});
    items.push_back({nullptr, sig_fd, ZMQ_POLLIN, 0});
    if (backend.fd() >= 0) items.push_back({nullptr, backend.fd(), ZMQ_POLLIN, 0});
    size_t fixed = items.size();
    if (http_) http_->AddPollItems(&items);
    try {
      zmq::poll(items.data(), items.size(), std::chrono::milliseconds(timeout_ms));
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) LogError("poll.failed").Kv("error", e.what());
      continue;
    }
    if (items[1].revents & ZMQ_POLLIN) {
      struct signalfd_siginfo si;
      if (::read(sig_fd, &si, sizeof si) == sizeof si) {
        if (si.ssi_signo == SIGHUP && zap_) {
          LogInfo("watcher.reload").Kv("signal", static_cast<int>(si.ssi_signo)).Kv("what", "curve allow-list");
          zap_->RequestReload();
        } else {
          LogInfo("watcher.stopping").Kv("signal", static_cast<int>(si.ssi_signo));
          RequestStop();
        }
      }
    }
    Step(clock.Now(), backend.fd() >= 0 && (items[2].revents & ZMQ_POLLIN));
    if (items[0].revents & ZMQ_POLLIN) ServeSnapshots();
    if (http_ && items.size() > fixed)
      http_->OnPoll(std::vector<zmq::pollitem_t>(items.begin() + fixed, items.end()));
  }
  while (!StepShutdown(clock.Now()))
    zmq::poll(static_cast<zmq::pollitem_t*>(nullptr), 0, kOutboxRetry);
  ::close(sig_fd);
  LogInfo("watcher.stopped").Kv("epoch", publisher_->epoch()).Kv("seq", publisher_->seq());
  return 0;
}

}  // namespace coderef::watcher
