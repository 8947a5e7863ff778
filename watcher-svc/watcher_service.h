// WatcherService: the watcher's single-threaded loop. Step(now) does one
// turn's work (heartbeat, backend events, watch retry, the batch when the
// Batcher says so, the outbox) and NextDeadline() says when the next turn
// is due, so unit tests drive it with a fake clock and fake seams, no
// sleeps. Run() is the real loop: it polls the watch backend's fd (or lists
// folders every --poll-ms), the snapshot ROUTER, the HTTP port and a
// signalfd, sleeping until NextDeadline(); when nothing happens only the
// heartbeat wakes it. Run() returns on SIGTERM/SIGINT (and SIGHUP, unless
// --curve-allowed-clients is set: then SIGHUP re-reads it).
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/metrics.h"
#include "common/zmq_util.h"
#include "watcher-svc/durable_state.h"
#include "watcher-svc/file_system.h"
#include "watcher-svc/watch_backend.h"
#include "watcher-svc/watcher_core.h"

namespace coderef::watcher {

struct ServiceOptions {
  WatcherOptions watcher;
  std::string pub = "tcp://127.0.0.1:5556";
  std::string snapshot = "tcp://127.0.0.1:5557";
  std::string http = "127.0.0.1:9100";  // "" disables
  int settle_ms = 100;
  int debounce_ms = 500;
  // A batch whose every change is a complete write goes out after this long
  // without a new change (contract: "Early flush of complete writes").
  int quiet_ms = 10;
  int heartbeat_ms = 1000;
  int poll_ms = 0;  // > 0: PollBackend
  int pub_hwm = 100000;
  int pub_block_ms = 1000;
  uint32_t snapshot_chunk_items = 1000;
  CurveKeys curve;
  // --curve-allowed-clients: when not empty, a ZAP handler (curve_auth.h)
  // admits only these client keys (already loaded from that path).
  std::string curve_allowed_clients;
  std::set<std::string> curve_allowed_keys;
  // --state-dir, --history-events, --state-sync (PROTOCOL §1 (restarts)).
  DurableOptions durable;
};

// The seams the service runs on. main.cpp chooses the real ones
// (RealClock, PosixFileSystem, InotifyBackend or PollBackend); unit tests
// pass a FakeClock, FakeFileSystem and FakeBackend and step the loop. Each
// must outlive the service.
struct ServiceSeams {
  const Clock& clock;
  FileSystem& fs;
  WatchBackend& backend;
  zmq::context_t& ctx;
};

class Publisher;
class MiniHttpServer;
class ZapAuthenticator;
class Batcher;

class WatcherService {
 public:
  WatcherService(ServiceOptions options, ServiceSeams seams);
  ~WatcherService();
  WatcherService(const WatcherService&) = delete;
  WatcherService& operator=(const WatcherService&) = delete;

  // Binds the sockets (ZAP, feed, snapshot, HTTP), loads the registry and
  // reads the initial state. False (logged) when something cannot be bound.
  bool Init();
  // One turn of the loop at `now`, never blocking: a heartbeat when due,
  // the backend's events (inotify: when `backend_readable`; polling: when
  // its interval is up), the watch retry, the batch when the Batcher says
  // (or at once after RequestStop), the outbox. REQUIRES: Init() succeeded.
  void Step(SteadyTime now, bool backend_readable);
  // When Step next has work to do even if no fd becomes readable: the
  // heartbeat, the batch's deadline, a held file's hold running out, the
  // next poll, the 2 s watch retry, the 2 ms outbox retry.
  SteadyTime NextDeadline() const;
  // The next Step flushes the open batch (flush-on-stop); then
  // StepShutdown drains the outbox.
  void RequestStop();
  // Sends what the outbox still holds; true when done: the outbox is empty,
  // or --pub-block-ms has passed since the first call (logged).
  bool StepShutdown(SteadyTime now);
  // Answers snapshot requests and HTTP clients that are ready (the real
  // loop calls these when poll says so).
  void ServeSnapshots();

  // Runs the real loop (zmq::poll over the backend fd, the ROUTER, the
  // HTTP port and a signalfd) until SIGTERM/SIGINT. Returns the exit code.
  int Run();

  // State, for /healthz and tests.
  bool batch_open() const;
  bool outbox_empty() const;
  const WatcherCore& core() const { return *core_; }
  const DurableState& durable() const { return *durable_; }
  Publisher& publisher() { return *publisher_; }
  MetricsRegistry& metrics() { return metrics_; }

 private:
  void FlushBatch(SteadyTime now);
  std::string Healthz() const;

  ServiceOptions options_;
  ServiceSeams seams_;
  MetricsRegistry metrics_;
  // Declaration order is destruction order reversed: the ZAP handler
  // outlives the feed sockets (no CURVE client ever gets in unchecked).
  std::unique_ptr<ZapAuthenticator> zap_;
  std::unique_ptr<Publisher> publisher_;
  std::unique_ptr<WatcherCore> core_;
  std::unique_ptr<DurableState> durable_;
  std::unique_ptr<Batcher> batcher_;
  std::unique_ptr<MiniHttpServer> http_;
  int http_port_ = 0;
  Metric* batches_ = nullptr;
  std::vector<RawEvent> raw_;
  SteadyTime next_hb_{}, next_poll_{}, next_retry_{}, last_step_{};
  bool stop_ = false;
  bool shutdown_started_ = false;
  SteadyTime give_up_{};
};

// Blocks SIGTERM/SIGINT/SIGHUP in this thread (call before starting other
// threads, so they inherit the mask) and ignores SIGPIPE.
void BlockTerminationSignals();

}  // namespace coderef::watcher
