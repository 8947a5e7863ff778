// WatcherService: the watcher's single-threaded loop. It polls the watch
// backend's fd (or lists folders every --poll-ms), the snapshot ROUTER, the
// HTTP port and a signalfd; flushes batches when the Batcher says so;
// sends heartbeats. When nothing happens, only the heartbeat timer wakes
// it (no polling loop with inotify). Run() returns on SIGTERM/SIGINT (and
// SIGHUP, unless --curve-allowed-clients is set: then SIGHUP re-reads it).
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
  // Test seam: refuse inotify watches past this many (simulates the kernel's
  // max_user_watches). 0 = no limit.
  int max_watches = 0;
  // --state-dir, --history-events, --state-sync (contract section 6).
  DurableOptions durable;
};

class WatcherService {
 public:
  explicit WatcherService(ServiceOptions options);
  ~WatcherService();
  // Runs until SIGTERM/SIGINT. Returns the process exit code.
  int Run();

 private:
  ServiceOptions options_;
};

// Blocks SIGTERM/SIGINT/SIGHUP in this thread (call before starting other
// threads, so they inherit the mask) and ignores SIGPIPE.
void BlockTerminationSignals();

}  // namespace coderef::watcher
