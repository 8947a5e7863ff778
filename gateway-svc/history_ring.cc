#include "gateway-svc/history_ring.h"

namespace coderef::gateway {

HistoryRing::HistoryRing(size_t capacity) : ring_(capacity) {}

void HistoryRing::Reset(uint64_t base_seq) {
  for (auto& e : ring_) e = HistoryEntry{};
  head_ = 0;
  size_ = 0;
  base_ = base_seq;
}

void HistoryRing::Append(HistoryEntry entry) {
  if (ring_.empty()) {
    base_ = entry.seq;
    return;
  }
  if (size_ == ring_.size()) {
    // Full: overwrite the oldest.
    ring_[head_] = std::move(entry);
    head_ = (head_ + 1) % ring_.size();
    ++base_;
    return;
  }
  ring_[(head_ + size_) % ring_.size()] = std::move(entry);
  ++size_;
}

const HistoryEntry* HistoryRing::At(uint64_t seq) const {
  if (seq <= base_ || seq > last_seq()) return nullptr;
  size_t offset = static_cast<size_t>(seq - base_ - 1);
  return &ring_[(head_ + offset) % ring_.size()];
}

}  // namespace coderef::gateway
