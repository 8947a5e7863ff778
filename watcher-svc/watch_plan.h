// WatchPlan: which folders the watcher watches, and how (PROTOCOL §0's layout). Inside a project: coderef/ in full, coderef/{working,
// archived,stubs} for entries only, coderef/<loc>/<feature>/ in full; deeper
// folders hold no tracked files and are not watched (ModeFor). A project
// whose folder or coderef/ does not exist yet gets an *anchor*: a watch for
// entries on its nearest existing ancestor, waiting for the next path
// component. A watch the backend refuses (ENOSPC: the watch limit) is
// logged, counted and remembered; TakeRetries() hands those folders back
// every 2 s for a rescan until the watch succeeds. Not thread-safe (the
// loop thread).
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/metrics.h"
#include "watcher-svc/file_system.h"
#include "watcher-svc/registry.h"
#include "watcher-svc/watch_backend.h"

namespace coderef::watcher {

class WatchPlan {
 public:
  struct Anchor {
    std::string project_id;
    std::string child;  // the entry name that matters in this folder
  };
  struct Metrics {
    Metric* watch_errors = nullptr;
    Metric* watch_limit_errors = nullptr;
    Metric* unwatched_dirs = nullptr;
  };

  // `keep_dir` (the folder of projects.json) is never unwatched when an
  // anchor in it goes. The references must outlive this.
  WatchPlan(WatchBackend& backend, FileSystem& fs, Metrics metrics, std::string keep_dir)
      : backend_(backend), fs_(fs), metrics_(metrics), keep_dir_(std::move(keep_dir)) {}

  // The depth rule, for a folder relative to its project root: 0 not
  // watched, 1 entries only, 2 full.
  static int ModeFor(const std::string& rel_dir);

  // Watches `dir`. False when it could not be: gone (ENOENT, ENOTDIR: its
  // parent's events cover it) or refused (remembered for a retry, logged).
  bool Watch(const std::string& dir, bool entries_only);
  // Anchors project `p` on the nearest existing ancestor of its coderef/
  // (replacing its old anchor).
  void AnchorProject(const ProjectEntry& p);
  // Drops a project's anchor and the watches of its coderef/ tree;
  // `watched_sources` are its published sources (their folders are the
  // watched ones).
  void DropProject(const ProjectEntry& p, const std::vector<std::string>& watched_sources);
  // The anchors in `dir` (nullptr: none).
  const std::vector<Anchor>* AnchorsIn(const std::string& dir) const;

  bool has_failed() const { return !failed_.empty(); }
  // The folders whose watch failed (to rescan); those that no longer exist
  // are forgotten. The rest stay for the next retry.
  std::vector<std::string> TakeRetries();
  size_t watch_count() const { return backend_.watch_count(); }

 private:
  void DropAnchor(const std::string& project_id);
  void SetUnwatchedGauge();

  WatchBackend& backend_;
  FileSystem& fs_;
  Metrics metrics_;
  std::string keep_dir_;
  std::map<std::string, std::vector<Anchor>> anchors_;  // dir -> projects waiting on it
  std::map<std::string, std::string> anchor_dir_of_;           // project id -> its anchor dir
  std::set<std::string> failed_;
};

}  // namespace coderef::watcher
