#include "watcher-svc/scanner.h"

#include <cerrno>
#include <cstring>

#include "common/log.h"
#include "common/text.h"
#include "watcher-svc/item_parser.h"

namespace coderef::watcher {

namespace {

// The only file names ClassifyPath can accept.
bool IsTrackedFileName(std::string_view n) {
  return n == "plan.json" || n == "stub.json" || n == "communication.json" ||
         n == "workorder-log.txt";
}

void LogListFailed(const std::string& dir, int err) {
  if (err != ENOENT && err != ENOTDIR)
    LogWarn("scan.list_failed").Kv("dir", EscapeForDisplay(dir)).Kv("error", std::strerror(err));
}

}  // namespace

void Scanner::Scan(const std::string& abs_dir, const std::string& rel_dir, int depth,
                   std::vector<Deferred>* defer) {
  int mode = WatchPlan::ModeFor(rel_dir);
  if (mode == 0 || depth > 8) return;
  plan_.Watch(abs_dir, mode == 1);
  if (defer && mode == 2 && depth > 0) {
    // A feature folder during a large scan: listed later, on several
    // threads. It is watched already, so nothing is missed.
    defer->push_back(Deferred{abs_dir, rel_dir, depth, {}, 0, false});
    return;
  }
  std::vector<DirEntry> entries;
  int err = 0;
  if (!fs_.ListDir(abs_dir, &entries, &err)) {
    LogListFailed(abs_dir, err);
    return;
  }
  ScanEntries(abs_dir, rel_dir, depth, defer, entries);
}

void Scanner::ScanNew(const std::string& abs_dir, const std::string& rel_dir, SteadyTime now) {
  probe_writers_ = true;
  now_ = now;
  Scan(abs_dir, rel_dir);
  probe_writers_ = false;
}

void Scanner::ScanEntries(const std::string& abs_dir, const std::string& rel_dir, int depth,
                          std::vector<Deferred>* defer, const std::vector<DirEntry>& entries) {
  for (const auto& e : entries) {
    // Most files in a feature folder are not tracked (notes, code): skip
    // them before building any path.
    if (!e.is_dir && !IsTrackedFileName(e.name)) continue;
    std::string child_rel = rel_dir + "/" + e.name;
    std::string child_abs = JoinPath(abs_dir, e.name);
    if (e.is_dir) {
      if (WatchPlan::ModeFor(child_rel) != 0) Scan(child_abs, child_rel, depth + 1, defer);
    } else if (auto info = ClassifyPath(child_rel)) {
      // Regular files, and also what only looks like one (a dangling or
      // looping symlink, a FIFO): the core logs why those are skipped.
      if (!probe_writers_ || !e.is_file) {  // (a FIFO is not opened to ask)
        dirty_.MarkFound(child_abs);
        continue;
      }
      switch (fs_.Writers(child_abs)) {
        case WriterState::kNone:
          dirty_.Mark(child_abs, Completion::kComplete, false, !info->is_log, now_);
          break;
        case WriterState::kOpen:
          dirty_.Mark(child_abs, Completion::kInProgress, false, !info->is_log, now_);
          break;
        case WriterState::kUnknown:
          dirty_.MarkFound(child_abs);
          break;
      }
    }
  }
}

void Scanner::ListDeferred(std::vector<Deferred>* dirs) {
  // Listing the (already watched) feature folders is most of a large
  // scan's system time; it touches only the file system.
  loaders_.ForEach(dirs->size(), LoaderPool::kMinItemsPerThread, [&](size_t k) {
    Deferred& d = (*dirs)[k];
    d.ok = fs_.ListDir(d.abs_dir, &d.entries, &d.err);
  });
  for (Deferred& d : *dirs) {
    if (!d.ok) {
      LogListFailed(d.abs_dir, d.err);
      continue;
    }
    ScanEntries(d.abs_dir, d.rel_dir, d.depth, nullptr, d.entries);
  }
}

}  // namespace coderef::watcher
