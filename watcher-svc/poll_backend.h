// PollBackend: WatchBackend that lists every watched directory every
// --poll-ms and reports differences as the same RawEvents inotify would
// (for Docker Desktop bind mounts and network shares, which deliver no
// inotify events). Change detection per entry: (type, size, mtime, inode).
// A file that changed is in progress until a later poll finds its size and
// mtime unchanged; that poll reports it complete (a kChanged with
// Completion::kComplete), the poll backend's IN_CLOSE_WRITE.
// Not thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "watcher-svc/file_system.h"
#include "watcher-svc/watch_backend.h"

namespace coderef::watcher {

class PollBackend final : public WatchBackend {
 public:
  PollBackend(FileSystem& fs, int interval_ms) : fs_(fs), interval_ms_(interval_ms) {}

  int fd() const override { return -1; }
  int poll_interval_ms() const override { return interval_ms_; }
  bool AddWatch(const std::string& dir, bool entries_only, int* err) override;
  void RemoveWatch(const std::string& dir) override { dirs_.erase(dir); }
  bool IsWatched(const std::string& dir) const override { return dirs_.count(dir) > 0; }
  void ReadEvents(std::vector<RawEvent>* out) override;
  size_t watch_count() const override { return dirs_.size(); }

 private:
  struct EntrySig {
    bool is_dir = false;
    uint64_t size = 0;
    int64_t mtime_ns = 0;
    uint64_t ino = 0;
    bool unsettled = false;  // changed at the last poll (not part of ==)
    bool operator==(const EntrySig& o) const {
      return is_dir == o.is_dir && size == o.size && mtime_ns == o.mtime_ns && ino == o.ino;
    }
  };
  struct DirState {
    bool entries_only = false;
    uint64_t ino = 0;
    std::map<std::string, EntrySig> entries;
  };
  bool List(const std::string& dir, bool entries_only, DirState* st, int* err);

  FileSystem& fs_;
  int interval_ms_;
  std::map<std::string, DirState> dirs_;
};

}  // namespace coderef::watcher
