// Scanner: walks a project's coderef/ tree the way WatchPlan says (watch
// first, then list: a file created between the two is seen twice, which is
// harmless, never missed) and marks every tracked file it finds dirty, with
// an unknown completion (DirtyFiles::MarkFound), or, for a folder that just
// appeared (ScanNew), with the completion its writers tell. A large scan (start-up, a
// rescan) defers the listing of feature folders, which are watched at once,
// and lists them together on the LoaderPool. Not thread-safe: the loop
// thread (only the deferred listing runs on the pool).
#pragma once

#include <string>
#include <vector>

#include "watcher-svc/dirty_files.h"
#include "watcher-svc/file_system.h"
#include "watcher-svc/loader_pool.h"
#include "watcher-svc/watch_plan.h"

namespace coderef::watcher {

class Scanner {
 public:
  // A watched feature folder whose listing waits for ListDeferred.
  struct Deferred {
    std::string abs_dir, rel_dir;
    int depth = 0;
    std::vector<DirEntry> entries;
    int err = 0;
    bool ok = false;
  };

  // The references must outlive this.
  Scanner(FileSystem& fs, WatchPlan& plan, const LoaderPool& loaders, DirtyFiles& dirty)
      : fs_(fs), plan_(plan), loaders_(loaders), dirty_(dirty) {}

  // Watches and lists `abs_dir` (`rel_dir` relative to its project root)
  // and what is watched below it. `defer`: feature folders are watched now
  // and appended there to be listed by ListDeferred; nullptr lists them now.
  void Scan(const std::string& abs_dir, const std::string& rel_dir, int depth = 0,
            std::vector<Deferred>* defer = nullptr);
  // Scan() of a folder that just appeared (IN_CREATE / IN_MOVED_TO of a
  // folder): each file found is asked FileSystem::Writers, so one nobody
  // has open for writing is complete and one being written is held, as if
  // its events had been seen. A file the probe cannot judge stays unknown.
  void ScanNew(const std::string& abs_dir, const std::string& rel_dir, SteadyTime now);
  // Lists the deferred folders on the loader pool, then scans their entries.
  void ListDeferred(std::vector<Deferred>* dirs);

 private:
  void ScanEntries(const std::string& abs_dir, const std::string& rel_dir, int depth,
                   std::vector<Deferred>* defer, const std::vector<DirEntry>& entries);

  // Set during ScanNew: probe the writers of the files found.
  bool probe_writers_ = false;
  SteadyTime now_{};
  FileSystem& fs_;
  WatchPlan& plan_;
  const LoaderPool& loaders_;
  DirtyFiles& dirty_;
};

}  // namespace coderef::watcher
