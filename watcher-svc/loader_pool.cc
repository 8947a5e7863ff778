#include "watcher-svc/loader_pool.h"

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

namespace coderef::watcher {

void LoaderPool::ForEach(size_t n, size_t min_per_thread, const std::function<void(size_t)>& fn) const {
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t k; (k = next.fetch_add(1, std::memory_order_relaxed)) < n;) fn(k);
  };
  size_t by_size = min_per_thread == 0 ? n : n / min_per_thread;
  int extra = static_cast<int>(std::min<size_t>(static_cast<size_t>(threads_), by_size)) - 1;
  std::vector<std::thread> threads;
  for (int t = 0; t < extra; ++t) threads.emplace_back(work);
  work();
  for (auto& t : threads) t.join();
}

}  // namespace coderef::watcher
