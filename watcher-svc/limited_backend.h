// LimitedBackend: wraps a WatchBackend and refuses watches past a limit
// with ENOSPC, the test seam for "inotify watch limit reached"
// (--max-watches; chosen in main.cpp). Not thread-safe, like the backend.
#pragma once

#include <cerrno>
#include <string>
#include <vector>

#include "watcher-svc/watch_backend.h"

namespace coderef::watcher {

class LimitedBackend final : public WatchBackend {
 public:
  // `inner` must outlive this.
  LimitedBackend(WatchBackend& inner, size_t limit) : inner_(inner), limit_(limit) {}
  int fd() const override { return inner_.fd(); }
  int poll_interval_ms() const override { return inner_.poll_interval_ms(); }
  bool AddWatch(const std::string& dir, bool entries_only, int* err) override {
    if (!inner_.IsWatched(dir) && inner_.watch_count() >= limit_) {
      *err = ENOSPC;
      return false;
    }
    return inner_.AddWatch(dir, entries_only, err);
  }
  void RemoveWatch(const std::string& dir) override { inner_.RemoveWatch(dir); }
  bool IsWatched(const std::string& dir) const override { return inner_.IsWatched(dir); }
  void ReadEvents(std::vector<RawEvent>* out) override { inner_.ReadEvents(out); }
  size_t watch_count() const override { return inner_.watch_count(); }

 private:
  WatchBackend& inner_;
  size_t limit_;
};

}  // namespace coderef::watcher
