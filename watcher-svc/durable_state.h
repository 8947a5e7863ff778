// DurableState: the watcher's side of PROTOCOL §1 (restarts) ("restarts without
// resync"), between the core (what changed) and the publisher (what goes
// out). It owns the StateDb under --state-dir and decides, at start, whether
// the watcher resumes its stored epoch (re-sending stored events that may not
// have gone out, then publishing what changed on disk while it was down) or
// starts a new one (no --state-dir; a store that is missing, unreadable,
// corrupt or of a foreign version: logged with the reason). While running,
// every batch is committed before it is published (write-ahead); a commit
// that fails abandons the store: the watcher goes on in a new epoch kept in
// memory, logged, counted and shown in /healthz, and never publishes an
// event it could not store under an epoch that claims durability.
//
// It is also the EventHistory history requests are answered from: the store
// while durable, else a MemoryHistory ring of the current epoch.
// Not thread-safe: owned by the watcher loop thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "coderef/v1/feed.pb.h"
#include "common/metrics.h"
#include "watcher-svc/event_history.h"
#include "watcher-svc/state_db.h"
#include "watcher-svc/state_store.h"

namespace coderef::watcher {

struct DurableOptions {
  std::string state_dir;                // "" = no durable state (new epoch at each start)
  size_t history_events = 100000;       // --history-events
  bool sync = false;                    // --state-sync full: fsync each commit
  size_t memory_history_bytes = 64 << 20;  // cap of the in-memory ring
  leveldb::Env* env = nullptr;          // file system seam for the store (tests)
  // Test seam (--state-fail-after): commits after this many fail as an I/O
  // error would. 0 = never.
  uint64_t fail_after_commits = 0;
};

class DurableState final : public EventHistory {
 public:
  DurableState(DurableOptions options, MetricsRegistry& metrics);
  DurableState(const DurableState&) = delete;
  DurableState& operator=(const DurableState&) = delete;

  struct Resume {
    std::string epoch;   // publish under this epoch
    uint64_t seq = 0;    // its last seq (the next event is seq + 1)
    bool resumed = false;  // the stored epoch goes on
    // Stored events after the last one known sent: publish them as they are.
    std::vector<v1::ChangeEvent> resend;
    // What changed on disk while down: publish as one ordinary batch.
    std::vector<v1::ChangeEvent> missed;
    std::string reason;  // why a new epoch ("" when resumed)
  };
  // Called once, after the core read the disk (`disk` is its state).
  Resume Start(const StateStore& disk);

  // Write-ahead: stores stamped `events` (and that everything up to
  // `sent_seq` went out). True when durable and stored, or when not durable
  // (nothing to do). False when the store just failed: it is abandoned; the
  // caller must switch to a new epoch (NewMemoryEpoch) and re-stamp.
  bool Commit(const std::vector<v1::ChangeEvent>& events, uint64_t sent_seq);
  // After publishing stamped events (feeds the memory ring when not durable).
  void Published(const std::vector<v1::ChangeEvent>& events);
  // After a failed commit: a new epoch in memory; returns its id.
  std::string NewMemoryEpoch();
  // Clean stop: records that everything up to `sent_seq` went out.
  void Stop(uint64_t sent_seq);

  bool durable() const { return db_ != nullptr; }
  // For /healthz: "durable", "memory" (no --state-dir) or "memory: <reason>".
  const std::string& status() const { return status_; }

  // EventHistory.
  uint64_t first_seq() const override;
  bool Read(uint64_t after_seq, size_t max, std::vector<v1::ChangeEvent>* out) override;

 private:
  std::string NewEpoch(const std::string& reason, const StateStore& disk, Resume* r);
  void MoveAside(const std::string& why);
  void Abandon(const DbStatus& s);
  void MarkStarted();
  static std::string BootId();

  DurableOptions options_;
  std::unique_ptr<StateDb> db_;
  MemoryHistory memory_;
  std::string status_;
  uint64_t commits_ = 0;
  std::vector<double> commit_ms_;  // for the p50/p99 logged at Stop
  Metric* failures_ = nullptr;
  Metric* durable_gauge_ = nullptr;
  Metric* commits_total_ = nullptr;
  Metric* commit_us_total_ = nullptr;
  Metric* resent_ = nullptr;
  Metric* missed_ = nullptr;
};

}  // namespace coderef::watcher
