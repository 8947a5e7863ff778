#include "watcher-svc/batcher.h"

#include <algorithm>

namespace coderef::watcher {

void Batcher::OnChange(SteadyTime now, int64_t unix_us) {
  if (!open_) {
    open_ = true;
    first_ = now;
    first_unix_us_ = unix_us;
  }
  last_ = now;
}

SteadyTime Batcher::Deadline() const { return std::min(last_ + settle_, first_ + max_age_); }

}  // namespace coderef::watcher
