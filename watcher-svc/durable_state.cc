#include "watcher-svc/durable_state.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <system_error>

#include "common/log.h"
#include "common/text.h"
#include "watcher-svc/restart_diff.h"

namespace coderef::watcher {

namespace {

std::string DbPath(const std::string& state_dir) { return state_dir + "/db"; }

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

DurableState::DurableState(DurableOptions options, MetricsRegistry& metrics)
    : options_(std::move(options)),
      memory_(options_.history_events, options_.memory_history_bytes) {
  failures_ = metrics.Counter("coderef_watcher_state_failures_total",
                              "Times the durable store failed while running (the watcher went on in a new in-memory epoch)");
  durable_gauge_ = metrics.Gauge("coderef_watcher_state_durable", "1 while events are stored in --state-dir before they are published");
  commits_total_ = metrics.Counter("coderef_watcher_state_commits_total", "Batches committed to the durable store");
  commit_us_total_ = metrics.Counter("coderef_watcher_state_commit_us_total", "Time spent committing batches (microseconds)");
  resent_ = metrics.Counter("coderef_watcher_state_resent_total", "Stored events re-sent at start (perhaps not sent before the stop)");
  missed_ = metrics.Counter("coderef_watcher_state_missed_total", "Changes made on disk while the watcher was down, published at start");
}

void DurableState::MoveAside(const std::string& why) {
  // Keep the unusable store for inspection, out of the way of the new one.
  std::string aside = DbPath(options_.state_dir) + "." + why + "." + std::to_string(::time(nullptr));
  std::error_code ec;
  std::filesystem::rename(DbPath(options_.state_dir), aside, ec);
  if (ec) {
    LogWarn("state.move_aside_failed").Kv("path", aside).Kv("error", ec.message());
    std::filesystem::remove_all(DbPath(options_.state_dir), ec);
  } else {
    LogWarn("state.moved_aside").Kv("path", aside).Kv("reason", why);
  }
}

std::string DurableState::NewEpoch(const std::string& reason, const StateStore& disk, Resume* r) {
  r->epoch = RandomHex(16);
  r->seq = 0;
  r->reason = reason;
  memory_.Reset(1);
  if (db_) {
    std::map<std::string, const v1::Item*> items;
    disk.ForEach("", [&](const v1::Item& item) {
      items.emplace(StateStore::ItemId(item), &item);
      return true;
    });
    DbStatus s = db_->Reset(r->epoch, items);
    if (!s.ok()) Abandon(s);
  }
  LogWarn("state.new_epoch")
      .Kv("epoch", r->epoch)
      .Kv("state_dir", options_.state_dir)
      .Kv("durable", durable())
      .Kv("reason", reason);
  return r->epoch;
}

DurableState::Resume DurableState::Start(const StateStore& disk) {
  Resume r;
  // A new epoch, stored when the store is usable (then durable from here).
  auto fresh = [&](const std::string& reason) {
    NewEpoch(reason, disk, &r);
    MarkStarted();
    if (db_) status_ = "durable";
    else if (status_.rfind("memory: state store failed", 0) != 0) status_ = "memory: " + reason;
    durable_gauge_->Set(db_ ? 1 : 0);
    return r;
  };
  if (options_.state_dir.empty()) {
    NewEpoch("no --state-dir: every start is a new epoch", disk, &r);
    status_ = "memory";
    return r;
  }
  std::error_code ec;
  std::filesystem::create_directories(options_.state_dir, ec);
  StateDbOptions so;
  so.dir = DbPath(options_.state_dir);
  so.history_events = options_.history_events;
  so.sync = options_.sync;
  so.env = options_.env;
  // Damaged beyond LevelDB's recovery, or of another version: keep it aside
  // for inspection and start a new store (a new epoch).
  auto replace = [&](const DbStatus& bad) {
    db_.reset();
    MoveAside(bad.CodeName());
    DbStatus again;
    db_ = OpenLevelDbStateDb(so, &again);
    std::string reason = std::string("state store ") + bad.CodeName() + ": " + bad.message;
    if (!db_) reason += "; a new store could not be opened either: " + again.message;
    return fresh(reason);
  };
  DbStatus s;
  db_ = OpenLevelDbStateDb(so, &s);
  if (!db_ && s.code == DbStatus::Code::kCorrupt) return replace(s);
  // Unreadable (a read-only or locked folder, an I/O error): left alone.
  if (!db_) return fresh(std::string("state store ") + s.CodeName() + ": " + s.message);
  StoredState stored;
  s = db_->Load(&stored);
  if (s.code == DbStatus::Code::kCorrupt || s.code == DbStatus::Code::kForeignVersion) return replace(s);
  if (s.code == DbStatus::Code::kMissing) return fresh(std::string("state store missing: ") + s.message);
  if (!s.ok()) {
    db_.reset();
    return fresh(std::string("state store ") + s.CodeName() + ": " + s.message);
  }
  std::string boot = BootId();
  if (!options_.sync && !stored.clean && !stored.boot_id.empty() && stored.boot_id != boot)
    // --state-sync normal: commits reach the page cache, not the disk. The
    // last run was not stopped cleanly and the machine rebooted since: its
    // last batches may be lost, and resuming would reuse their seqs.
    return fresh("the machine rebooted after an unclean stop (power loss or crash of the OS?); with "
                 "--state-sync normal the last batches may be lost, so the epoch is not resumed");
  r.epoch = stored.epoch;
  r.seq = stored.last_seq;
  r.resumed = true;
  // Events committed but perhaps never handed to the feed socket.
  if (stored.sent_seq < stored.last_seq) {
    s = db_->ReadEvents(std::max(stored.sent_seq, db_->first_seq() - 1), SIZE_MAX, &r.resend);
    if (!s.ok()) LogWarn("state.resend_read_failed").Kv("reason", s.message);
  }
  r.missed = RestartDiff(stored.items, disk);
  MarkStarted();
  resent_->Add(static_cast<int64_t>(r.resend.size()));
  missed_->Add(static_cast<int64_t>(r.missed.size()));
  status_ = "durable";
  durable_gauge_->Set(1);
  LogInfo("state.resumed")
      .Kv("epoch", r.epoch)
      .Kv("seq", r.seq)
      .Kv("state_dir", options_.state_dir)
      .Kv("items", static_cast<uint64_t>(stored.items.size()))
      .Kv("resend", static_cast<uint64_t>(r.resend.size()))
      .Kv("changed_while_down", static_cast<uint64_t>(r.missed.size()))
      .Kv("history_from", db_->first_seq());
  return r;
}

std::string DurableState::BootId() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(in, id);
  return id;
}

void DurableState::MarkStarted() {
  if (!db_) return;
  DbStatus s = db_->MarkStarted(BootId());
  if (!s.ok()) Abandon(s);
}

void DurableState::Abandon(const DbStatus& s) {
  failures_->Add();
  durable_gauge_->Set(0);
  status_ = std::string("memory: state store failed (") + s.CodeName() + "): " + s.message;
  LogError("state.store_failed")
      .Kv("state_dir", options_.state_dir)
      .Kv("error", s.message)
      .Kv("reason", "the store failed while running: going on in a new epoch kept in memory (clients resync once); "
                    "restart the watcher once the disk is fixed");
  db_.reset();
}

bool DurableState::Commit(const std::vector<v1::ChangeEvent>& events, uint64_t sent_seq) {
  if (!db_ || events.empty()) return true;
  auto t0 = std::chrono::steady_clock::now();
  DbStatus s;
  if (options_.fail_after_commits && commits_ >= options_.fail_after_commits)
    s = DbStatus::Error(DbStatus::Code::kIoError, "injected failure (--state-fail-after)");
  else
    s = db_->Commit(events, sent_seq);
  if (!s.ok()) {
    Abandon(s);
    return false;
  }
  ++commits_;
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  commits_total_->Add();
  commit_us_total_->Add(static_cast<int64_t>(ms * 1000));
  if (commit_ms_.size() < 1000000) commit_ms_.push_back(ms);
  return true;
}

void DurableState::Published(const std::vector<v1::ChangeEvent>& events) {
  if (!db_) memory_.Append(events);
}

std::string DurableState::NewMemoryEpoch() {
  memory_.Reset(1);
  std::string epoch = RandomHex(16);
  LogWarn("state.new_epoch").Kv("epoch", epoch).Kv("durable", false).Kv("reason", status_);
  return epoch;
}

void DurableState::Stop(uint64_t sent_seq) {
  if (db_) {
    DbStatus s = db_->MarkStopped(sent_seq);
    if (!s.ok()) LogWarn("state.mark_sent_failed").Kv("error", s.message);
  }
  if (!commit_ms_.empty())
    LogInfo("state.commit_stats")
        .Kv("commits", static_cast<uint64_t>(commit_ms_.size()))
        .Kv("p50_ms", Percentile(commit_ms_, 0.5))
        .Kv("p99_ms", Percentile(commit_ms_, 0.99))
        .Kv("max_ms", Percentile(commit_ms_, 1.0));
}

uint64_t DurableState::first_seq() const { return db_ ? db_->first_seq() : memory_.first_seq(); }

bool DurableState::Read(uint64_t after_seq, size_t max, std::vector<v1::ChangeEvent>* out) {
  if (!db_) return memory_.Read(after_seq, max, out);
  DbStatus s = db_->ReadEvents(after_seq, max, out);
  if (!s.ok()) LogWarn("history.read_failed").Kv("error", s.message);
  return s.ok();
}

}  // namespace coderef::watcher
