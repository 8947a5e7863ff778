// LoaderPool: the watcher's one pool of loader threads, for the parts of a
// large batch that touch nothing but the file system (listing the feature
// folders of a scan, reading and parsing files). Everything else stays on
// the loop thread. Threads live for one ForEach call (a large batch is rare
// and long: the start-up scan, a rescan, a checkout); the calling thread is
// one of them, so a small batch starts no thread at all. Thread-safety:
// ForEach may be called from one thread at a time.
#pragma once

#include <cstddef>
#include <functional>

namespace coderef::watcher {

class LoaderPool {
 public:
  // At least one thread (the caller's).
  explicit LoaderPool(int threads) : threads_(threads < 1 ? 1 : threads) {}

  // Calls fn(i) once for every i in [0, n), on up to threads() threads but
  // never more than one per `min_per_thread` items; returns when all are
  // done. REQUIRES: fn is safe to call concurrently for different i.
  void ForEach(size_t n, size_t min_per_thread, const std::function<void(size_t)>& fn) const;
  int threads() const { return threads_; }

 private:
  int threads_;
};

}  // namespace coderef::watcher
