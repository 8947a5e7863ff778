#include "watcher-svc/event_history.h"

#include <algorithm>

namespace coderef::watcher {

void MemoryHistory::Append(const std::vector<v1::ChangeEvent>& events) {
  for (const auto& ev : events) {
    size_t b = ev.ByteSizeLong();
    ring_.push_back(ev);
    sizes_.push_back(b);
    bytes_ += b;
    next_seq_ = ev.seq() + 1;
    while (!ring_.empty() && (ring_.size() > max_events_ || bytes_ > max_bytes_)) {
      bytes_ -= sizes_.front();
      ring_.pop_front();
      sizes_.pop_front();
    }
  }
}

void MemoryHistory::Reset(uint64_t next_seq) {
  ring_.clear();
  sizes_.clear();
  bytes_ = 0;
  next_seq_ = next_seq;
}

bool MemoryHistory::Read(uint64_t after_seq, size_t max, std::vector<v1::ChangeEvent>* out) {
  if (ring_.empty() || after_seq + 1 < ring_.front().seq()) return true;
  size_t start = static_cast<size_t>(after_seq + 1 - ring_.front().seq());
  for (size_t i = start; i < ring_.size() && max > 0; ++i, --max) out->push_back(ring_[i]);
  return true;
}

}  // namespace coderef::watcher
