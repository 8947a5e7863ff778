// watcher-svc: watches the projects in projects.json and publishes numbered
// change events on ZeroMQ. This file only parses flags and wires the
// service; everything else lives in the coderef::watcher library.
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <memory>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "common/flags.h"
#include "common/log.h"
#include "watcher-svc/curve_auth.h"
#include "watcher-svc/file_system.h"
#include "watcher-svc/inotify_backend.h"
#include "watcher-svc/limited_backend.h"
#include "watcher-svc/poll_backend.h"
#include "watcher-svc/watcher_service.h"

int main(int argc, char** argv) {
  using namespace coderef;
  watcher::BlockTerminationSignals();

  std::string projects = "projects.json";
  std::vector<std::string> workorder_logs;
  std::string log_format = "text", log_level = "info";
  std::string curve_secret, curve_public;
  watcher::ServiceOptions o;
  int64_t max_file_bytes = 1 << 20;
  int max_hold_ms = 2000;
  int max_watches = 0;

  FlagSet flags("watcher-svc: publishes changes to coderef/ plans, stubs and workorders on ZeroMQ",
                "WATCHER_");
  flags.Add("projects", projects, "Path of projects.json (the registry of tracked projects)");
  flags.Add("pub", o.pub, "ZeroMQ PUB endpoint for events and heartbeats");
  flags.Add("snapshot", o.snapshot, "ZeroMQ ROUTER endpoint answering snapshot requests");
  flags.Add("http", o.http, "host:port for /healthz and /metrics (empty disables)");
  flags.Add("settle-ms", o.settle_ms, "Flush a batch after this long without a new change")
      ->check(CLI::Range(1, 600000));
  flags.Add("debounce-ms", o.debounce_ms, "Flush a batch at the latest this long after its first change")
      ->check(CLI::Range(1, 600000));
  flags.Add("quiet-ms", o.quiet_ms,
            "Flush a batch whose every change is a complete write (closed, or renamed into place) after this long without a new change")
      ->check(CLI::Range(0, 600000));
  flags.Add("max-hold-ms", max_hold_ms,
            "Hold a file being written (not yet closed) at most this long from its first change, then publish it as it is")
      ->check(CLI::Range(0, 3600000));
  flags.Add("heartbeat-ms", o.heartbeat_ms, "Heartbeat interval on topic hb")
      ->check(CLI::Range(10, 600000));
  flags.Add("max-file-bytes", max_file_bytes, "Raw file text is published up to this size")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 30));
  flags.Add("poll-ms", o.poll_ms, "Poll every N ms instead of inotify (0 = inotify)")
      ->check(CLI::Range(0, 3600000));
  flags.Add("workorder-log", workorder_logs, "Extra workorder log file to tail (repeatable)");
  flags.Add("pub-hwm", o.pub_hwm, "Feed queue per subscriber (messages); a full one holds publishing back")
      ->check(CLI::Range(0, 100000000));
  flags.Add("pub-block-ms", o.pub_block_ms,
            "How long a subscriber with a full queue may hold publishing back before it is dropped from")
      ->check(CLI::Range(0, 60000));
  flags.Add("snapshot-chunk-items", o.snapshot_chunk_items, "Items per snapshot chunk")
      ->check(CLI::Range(1u, 1000000u));
  flags.Add("max-watches", max_watches, "Refuse watches past this count (testing the watch-limit path; 0 = kernel limit)")
      ->check(CLI::Range(0, 100000000));
  flags.Add("curve-secret-key", curve_secret, "CURVE server secret key (Z85 or key file): encrypt and authenticate the feed");
  flags.Add("curve-public-key", curve_public, "CURVE server public key (Z85 or key file), for logging");
  flags.Add("curve-allowed-clients", o.curve_allowed_clients,
            "File (one Z85 client public key per line, # comments) or directory of such files: only these "
            "CURVE clients are accepted; re-read on SIGHUP and when it changes");
  std::string state_sync = "normal";
  uint64_t history_events = o.durable.history_events;
  flags.Add("state-dir", o.durable.state_dir,
            "Folder of the durable state (epoch, seq, published state, event history): restarts keep "
            "the epoch and publish what changed while down (empty: a new epoch at each start)");
  flags.Add("history-events", history_events, "Events kept for history requests and re-sends")
      ->check(CLI::Range(uint64_t{1}, uint64_t{100000000}));
  flags.Add("state-sync", state_sync,
            "normal: a commit survives a crash of the process; full: also a power loss (fsync per batch)")
      ->check(CLI::IsMember({"normal", "full"}));
  flags.Add("state-fail-after", o.durable.fail_after_commits,
            "Testing: commits to --state-dir fail as an I/O error after this many (0 = never)");
  flags.Add("log-format", log_format, "Log format: text or json")->check(CLI::IsMember({"text", "json"}));
  flags.Add("log-level", log_level, "Log level: debug, info, warn, error")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
  flags.ParseOrExit(argc, argv);

  if (o.settle_ms > o.debounce_ms) FlagError("--settle-ms", "must not exceed --debounce-ms");
  o.durable.history_events = static_cast<size_t>(history_events);
  o.durable.sync = state_sync == "full";
  LogFormat lf;
  LogLevel ll;
  ParseLogFormat(log_format, &lf);
  ParseLogLevel(log_level, &ll);
  SetLogFormat(lf);
  SetLogLevel(ll);
  SetLogComponent("watcher");

  auto absolute = [](const std::string& p) {
    if (!p.empty() && p[0] == '/') return watcher::NormalizePath(p);
    char buf[PATH_MAX];
    std::string cwd = ::getcwd(buf, sizeof buf) ? buf : "/";
    return watcher::NormalizePath(cwd + "/" + p);
  };
  o.watcher.projects_file = absolute(projects);
  for (const auto& l : workorder_logs) o.watcher.workorder_logs.push_back(absolute(l));
  if (!o.durable.state_dir.empty()) o.durable.state_dir = absolute(o.durable.state_dir);
  o.watcher.max_file_bytes = static_cast<uint64_t>(max_file_bytes);
  o.watcher.max_hold = std::chrono::milliseconds(max_hold_ms);
  // Large batches (start-up, rescans) are read and parsed on up to 4 threads.
  o.watcher.load_threads = static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 4u));
  if (!curve_secret.empty()) {
    std::string err;
    o.curve.server_secret = LoadCurveKey(curve_secret, &err);
    if (o.curve.server_secret.empty()) FlagError("--curve-secret-key", err);
  }
  if (!o.curve_allowed_clients.empty()) {
    if (o.curve.server_secret.empty()) FlagError("--curve-allowed-clients", "needs --curve-secret-key (CURVE)");
    o.curve_allowed_clients = absolute(o.curve_allowed_clients);  // SIGHUP reloads from the same file
    std::string err;
    if (!watcher::LoadCurveAllowList(o.curve_allowed_clients, &o.curve_allowed_keys, &err))
      FlagError("--curve-allowed-clients", err);
  }
  if (!o.http.empty()) {
    std::string host;
    int port;
    if (!ParseHostPort(o.http, &host, &port)) FlagError("--http", "expected host:port, got \"" + o.http + "\"");
  }

  // The real seams: chosen here, so the service (a library) runs as well on
  // a fake clock, file system and backend in unit tests.
  RealClock clock;
  watcher::PosixFileSystem fs;
  std::unique_ptr<watcher::WatchBackend> backend;
  if (o.poll_ms > 0) {
    backend = std::make_unique<watcher::PollBackend>(fs, o.poll_ms);
  } else {
    auto ino = std::make_unique<watcher::InotifyBackend>();
    if (!ino->ok()) {
      LogError("inotify.unavailable")
          .Kv("error", std::strerror(ino->init_error()))
          .Kv("hint", "raise fs.inotify.max_user_instances or run with --poll-ms");
      return 1;
    }
    backend = std::move(ino);
  }
  // --max-watches: refuse watches past a count (the watch-limit test seam).
  std::unique_ptr<watcher::WatchBackend> limited;
  if (max_watches > 0) {
    limited = std::make_unique<watcher::LimitedBackend>(*backend, static_cast<size_t>(max_watches));
  }
  zmq::context_t ctx(1);
  watcher::WatcherService service(o, {clock, fs, limited ? *limited : *backend, ctx});
  if (!service.Init()) return 1;
  return service.Run();
}
