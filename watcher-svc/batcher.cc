#include "watcher-svc/batcher.h"

#include <algorithm>

namespace coderef::watcher {

void Batcher::OnChange(SteadyTime now, int64_t unix_us, bool complete) {
  if (!open_) {
    open_ = true;
    first_ = now;
    first_unix_us_ = unix_us;
  }
  last_ = now;
  complete_ = complete;
}

SteadyTime Batcher::Deadline() const {
  SteadyTime due = std::min(last_ + settle_, first_ + max_age_);
  if (complete_) due = std::min(due, last_ + quiet_);
  return due;
}

}  // namespace coderef::watcher
