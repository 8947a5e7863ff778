// FakeBackend: a WatchBackend whose events the test scripts (header-only).
// It remembers the watched folders (and whether each is entries-only) and
// can refuse watches past a limit, as the kernel's max_user_watches does.
// Emit() queues an event as inotify would report it, with its completion
// (see Completion in watch_backend.h); ReadEvents() hands them out. The
// on_read hook runs inside ReadEvents (a test can change the disk exactly
// when the core drains the queue). Not thread-safe: one test thread.
#pragma once

#include <cerrno>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "watcher-svc/file_system.h"
#include "watcher-svc/watch_backend.h"

namespace coderef::watcher {

class FakeBackend final : public WatchBackend {
 public:
  int fd() const override { return 0; }
  bool AddWatch(const std::string& dir, bool entries_only, int* err) override {
    if (!dirs.count(dir) && limit > 0 && dirs.size() >= limit) {
      *err = ENOSPC;
      return false;
    }
    dirs.insert(dir);
    entries_only_dirs[dir] = entries_only;
    return true;
  }
  void RemoveWatch(const std::string& dir) override {
    dirs.erase(dir);
    entries_only_dirs.erase(dir);
  }
  bool IsWatched(const std::string& dir) const override { return dirs.count(dir) > 0; }
  void ReadEvents(std::vector<RawEvent>* out) override {
    ++reads;
    if (on_read) on_read();
    for (auto& e : pending) out->push_back(e);
    pending.clear();
  }
  size_t watch_count() const override { return dirs.size(); }

  void Emit(RawEvent::Type t, const std::string& path, bool is_dir = false,
            Completion completion = Completion::kUnknown) {
    RawEvent e;
    e.type = t;
    e.dir = DirName(path);
    e.name = BaseName(path);
    e.is_dir = is_dir;
    e.completion = completion;
    pending.push_back(e);
  }
  // What inotify reports for the usual ways of writing a file.
  void EmitCreate(const std::string& path) {  // open(O_CREAT)
    Emit(RawEvent::Type::kCreated, path, false, Completion::kInProgress);
  }
  void EmitModify(const std::string& path) {  // write(), truncate
    Emit(RawEvent::Type::kChanged, path, false, Completion::kInProgress);
  }
  void EmitClose(const std::string& path) {  // close() after writing
    Emit(RawEvent::Type::kChanged, path, false, Completion::kComplete);
  }
  void EmitMovedTo(const std::string& path) {  // rename() into place
    Emit(RawEvent::Type::kCreated, path, false, Completion::kComplete);
  }
  void EmitRemoved(const std::string& path) {  // unlink() or rename() away
    Emit(RawEvent::Type::kDeleted, path);
  }

  std::set<std::string> dirs;
  std::map<std::string, bool> entries_only_dirs;
  std::vector<RawEvent> pending;
  size_t limit = 0;
  int reads = 0;
  std::function<void()> on_read;
};

}  // namespace coderef::watcher
