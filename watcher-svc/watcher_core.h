// WatcherCore: from raw change notifications to classified events.
//
// It owns the registry (projects.json, reloaded live), decides which
// directories to watch (each project's coderef/ tree to the depth where
// tracked files live, the folders holding projects.json and the workorder
// logs, and "anchor" folders for projects whose folder does not exist yet),
// records what became dirty, and on Flush() compares the final state on disk
// with the state last published (content hash), producing added / updated /
// deleted events. The loop (WatcherService) decides when to flush (Batcher),
// asking batch_complete() whether every dirty file is complete (then the
// batch may go out after --quiet-ms).
//
// No torn reads: a file being written (created or modified, not yet closed)
// is held in DirtyFiles and not read until it is closed or --max-hold-ms
// has passed. And a file is read, then the backend is drained once more:
// a file that changed again while it was read is not published from that
// read (it stays dirty for the next batch), so a read that raced a
// truncate-and-write never reaches the feed.
//
// Races: a directory that appears gets its watch and a scan at once, in
// OnRawEvents, so files created in it before the watch existed are found.
// Overflow (IN_Q_OVERFLOW) or a lost watch schedules a rescan that diffs
// the whole disk against the published state, so the final state is right.
//
// Its parts, one concept per file: WatchPlan (which folders are watched,
// anchors, failed watches), DirtyFiles (what changed, complete or
// being written), LoaderPool (the loader threads of large batches),
// LogTailers (the workorder logs, resolving global logs' project columns),
// Differ (final state vs StateStore: the events, and every change to the
// published state). Hooks for a durable state store: every change to the
// published state goes through Differ; a batch is complete when Flush()
// returns (WatcherService then publishes it); the initial scan classifies
// the disk against the StateStore in Start() (FlushBatch with emit=false:
// a store loaded before Start would turn it into the events since the last
// run).
//
// Not thread-safe: everything runs on the watcher's loop thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "coderef/v1/feed.pb.h"
#include "common/metrics.h"
#include "common/clock.h"
#include "watcher-svc/dirty_files.h"
#include "watcher-svc/differ.h"
#include "watcher-svc/file_system.h"
#include "watcher-svc/item_parser.h"
#include "watcher-svc/loader_pool.h"
#include "watcher-svc/log_tailers.h"
#include "watcher-svc/registry.h"
#include "watcher-svc/state_store.h"
#include "watcher-svc/watch_plan.h"
#include "watcher-svc/watch_backend.h"
#include "watcher-svc/workorder_log.h"

namespace coderef::watcher {

struct WatcherOptions {
  std::string projects_file;                // absolute path of projects.json
  std::vector<std::string> workorder_logs;  // absolute paths (--workorder-log)
  uint64_t max_file_bytes = 1 << 20;        // raw text kept up to this size
  uint64_t max_parse_bytes = 16 << 20;      // files larger than this are not read
  // Threads that read and parse the files of a large batch (the initial
  // scan, rescans). 1: all on the loop thread. REQUIRES (> 1): a FileSystem
  // that allows concurrent calls.
  int load_threads = 1;
  // A file being written is held (not read) at most this long from its
  // first change, then published as it is (--max-hold-ms).
  Millis max_hold{2000};
};

struct WatcherMetrics {
  Metric* raw_events = nullptr;
  Metric* overflows = nullptr;
  Metric* rescans = nullptr;
  Metric* watch_errors = nullptr;
  Metric* watch_limit_errors = nullptr;
  Metric* watches = nullptr;
  Metric* unwatched_dirs = nullptr;
  Metric* registry_errors = nullptr;
  Metric* files_read = nullptr;
  Metric* items = nullptr;
  Metric* projects = nullptr;
  Metric* bad_names = nullptr;
  // Registers all metrics in `reg`.
  static WatcherMetrics Register(MetricsRegistry& reg);
};

class WatcherCore {
 public:
  WatcherCore(WatcherOptions options, FileSystem& fs, WatchBackend& backend,
              WatcherMetrics metrics);
  WatcherCore(const WatcherCore&) = delete;
  WatcherCore& operator=(const WatcherCore&) = delete;

  // Loads the registry, sets up watches and reads the initial state (no
  // events: the initial state is what a snapshot at seq 0 shows). Returns
  // false when projects.json could not be loaded at all (the service still
  // runs and picks it up when it becomes valid).
  bool Start(SteadyTime now = SteadyTime{});

  // Takes raw notifications: adds watches for new directories and scans them
  // at once, and records what is dirty. Returns true when anything relevant
  // to the published state may have changed (the batch should open/extend).
  bool OnRawEvents(const std::vector<RawEvent>& events, SteadyTime now = SteadyTime{});

  // Compares the final state of everything dirty with the published state,
  // updates the published state, and returns the events in publish order
  // (epoch, seq and times are stamped by the publisher).
  // Files still held at `now` (being written) stay dirty for a later flush.
  std::vector<v1::ChangeEvent> Flush(SteadyTime now = SteadyTime{});

  // True when something is dirty (held files included).
  bool dirty() const;
  // True when a flush at `now` would do work (something dirty and not held).
  bool ready(SteadyTime now) const;
  // Every change waiting for the next flush is a complete write of a
  // tracked file (closed or renamed into place) and nothing was removed
  // (no file or folder deleted or moved away), no rescan or registry reload
  // is due: the batch may
  // go out once --quiet-ms passes without a new change.
  bool batch_complete() const;
  // When the earliest held file's hold runs out (SteadyTime::max(): none).
  SteadyTime next_hold_expiry() const { return dirty_files_.NextHoldExpiry(); }
  size_t dirty_file_count() const { return dirty_files_.size(); }
  // Directories whose watch could not be added (e.g. the watch limit): they
  // are retried and rescanned by RetryFailedWatches() every few seconds.
  bool has_failed_watches() const { return watch_plan_.has_failed(); }
  // Retries failed watches; rescans those dirs (marks dirty). Returns true
  // when something became dirty.
  bool RetryFailedWatches();
  // Schedules a full rescan (as on overflow) with a logged reason.
  void ScheduleRescan(const std::string& reason);

  const StateStore& state() const { return state_; }
  // Files read and compared by the last Flush() (a rescan reads them all).
  size_t last_flush_files() const { return last_flush_files_; }
  const std::vector<ProjectEntry>& projects() const { return projects_; }

 private:
  // Registry.
  void ReloadRegistry(std::vector<v1::ChangeEvent>* events,
                      std::vector<v1::ChangeEvent>* trailing);
  v1::Item ProjectItem(const ProjectEntry& p);
  const ProjectEntry* ProjectFor(const std::string& abs_path, std::string* rel) const;
  const ProjectEntry* ProjectById(const std::string& id) const;
  // Watches.
  void EnsureBaseWatches();
  // A watched folder whose listing waits for ListDeferred.
  struct DeferredList;
  // Watches and lists `abs_dir`, marking the tracked files in it dirty and
  // recursing into sub-folders that are watched. `defer` (a large scan):
  // feature folders are watched now and listed later, together, on the
  // loader pool (ListDeferred); nullptr lists them at once.
  void ScanDir(const std::string& abs_dir, const std::string& rel_dir, int depth,
               std::vector<DeferredList>* defer = nullptr);
  void ScanEntries(const std::string& abs_dir, const std::string& rel_dir, int depth, std::vector<DeferredList>* defer,
                   const std::vector<DirEntry>& entries);
  struct DeferredList {
    std::string abs_dir, rel_dir;
    int depth = 0;
    std::vector<DirEntry> entries;
    int err = 0;
    bool ok = false;
  };
  // Lists `dirs` on options_.load_threads threads, then scans the entries.
  void ListDeferred(std::vector<DeferredList>* dirs);
  void ScanProject(const ProjectEntry& p, std::vector<DeferredList>* defer);
  void MarkFile(const std::string& abs_path) { dirty_files_.MarkFound(abs_path); }
  // Reads what the backend has queued since the flush began (inotify only:
  // polling would list every folder again) into the dirty set.
  void DrainLateEvents(SteadyTime now);
  bool IsTrackedFileEvent(const std::string& abs_path, bool is_dir) const;
  // Items.
  // A plain tracked file read and parsed; produced on any thread.
  struct LoadedFile {
    std::optional<v1::Item> item;  // none: gone, not a file, not a workorder
    std::string read_error;        // logged by the loop thread
    std::string skip_reason;       // why there is no item (logged), "" when simply gone
    bool counted = false;          // a files_read
    bool preloaded = false;        // LoadFilesInParallel handled this source
  };
  enum class SourceClass { kGlobalLog, kNoProject, kUntracked, kBadName, kLog, kFile };
  static constexpr size_t kMinFilesPerThread = 128;
  SourceClass ClassifySource(const std::string& source, const ProjectEntry** project,
                             std::string* rel, std::optional<PathInfo>* info) const;
  // Thread-safe: reads only fs_ and options_.
  LoadedFile LoadFile(const std::string& source, const std::string& project_id,
                      const std::string& rel, const PathInfo& info) const;
  // LoadFile for every plain file among `sources`, on options_.load_threads
  // threads; one result per source (preloaded=false: not a plain file).
  std::vector<LoadedFile> LoadFilesInParallel(const std::vector<const std::string*>& sources);
  std::map<std::string, v1::Item> ComputeItems(const std::string& source, LoadedFile* preloaded);
  void DiffSource(const std::string& source, LoadedFile* preloaded,
                  std::vector<v1::ChangeEvent>* events);
  // Flush proper; `emit` false builds the state without events (Start).
  std::vector<v1::ChangeEvent> FlushBatch(SteadyTime now, bool emit);

  WatcherOptions options_;
  FileSystem& fs_;
  WatchBackend& backend_;
  WatcherMetrics metrics_;

  std::vector<ProjectEntry> projects_;
  std::map<std::string, size_t> root_index_;  // project root -> index in projects_
  bool registry_loaded_ = false;
  std::string registry_dir_;
  std::string registry_name_;
  std::set<std::string> global_logs_;
  LogTailers logs_{fs_, projects_};
  LoaderPool loaders_;

  DirtyFiles dirty_files_;
  WatchPlan watch_plan_;
  std::set<std::string> dirty_dirs_;
  std::set<std::string> rescan_projects_;
  bool registry_dirty_ = false;
  bool full_rescan_ = false;
  size_t last_flush_files_ = 0;

  StateStore state_;
  Differ differ_{state_};
};

}  // namespace coderef::watcher
