// InotifyBackend: WatchBackend over Linux inotify. One inotify instance,
// non-blocking; a map wd <-> directory path. A directory moved or deleted
// reports kSelfGone and its watch is dropped (a moved directory keeps its
// inode and wd, so the old path would otherwise be wrong). IN_Q_OVERFLOW
// reports kOverflow. Not thread-safe.
#pragma once

#include <map>
#include <string>
#include <unordered_map>

#include "watcher-svc/watch_backend.h"

namespace coderef::watcher {

class InotifyBackend final : public WatchBackend {
 public:
  InotifyBackend();
  ~InotifyBackend() override;
  InotifyBackend(const InotifyBackend&) = delete;
  InotifyBackend& operator=(const InotifyBackend&) = delete;

  // False when inotify_init1 failed (errno in init_error()).
  bool ok() const { return fd_ >= 0; }
  int init_error() const { return init_errno_; }

  int fd() const override { return fd_; }
  bool AddWatch(const std::string& dir, bool entries_only, int* err) override;
  void RemoveWatch(const std::string& dir) override;
  bool IsWatched(const std::string& dir) const override { return by_path_.count(dir) > 0; }
  void ReadEvents(std::vector<RawEvent>* out) override;
  size_t watch_count() const override { return by_path_.size(); }

 private:
  int fd_ = -1;
  int init_errno_ = 0;
  std::unordered_map<int, std::string> by_wd_;
  std::map<std::string, int> by_path_;
};

}  // namespace coderef::watcher
