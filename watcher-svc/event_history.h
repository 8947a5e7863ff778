// EventHistory: where the watcher answers history requests from ("the events
// after seq N", PROTOCOL §1 (restarts)): the durable store when --state-dir is
// in force, or MemoryHistory, a bounded ring of the same events kept in
// memory (no --state-dir, or a store that failed while running).
// Not thread-safe: owned by the watcher loop thread.
#pragma once

#include <cstdint>
#include <deque>
#include <vector>

#include "coderef/v1/feed.pb.h"

namespace coderef::watcher {

class EventHistory {
 public:
  virtual ~EventHistory() = default;
  // The oldest seq held (last seq + 1 when it holds none).
  virtual uint64_t first_seq() const = 0;
  // Appends to *out up to `max` events with seq > after_seq, in seq order.
  // False on a read error (the reply is then "gone").
  virtual bool Read(uint64_t after_seq, size_t max, std::vector<v1::ChangeEvent>* out) = 0;
};

// The last `max_events` events (and at most `max_bytes` of them) of the
// current epoch, in memory.
class MemoryHistory final : public EventHistory {
 public:
  MemoryHistory(size_t max_events, size_t max_bytes) : max_events_(max_events), max_bytes_(max_bytes) {}
  // REQUIRES: events stamped, seqs following the last one appended.
  void Append(const std::vector<v1::ChangeEvent>& events);
  // A new epoch: forget everything; the next event is `next_seq`.
  void Reset(uint64_t next_seq);
  uint64_t first_seq() const override { return ring_.empty() ? next_seq_ : ring_.front().seq(); }
  bool Read(uint64_t after_seq, size_t max, std::vector<v1::ChangeEvent>* out) override;
  size_t size() const { return ring_.size(); }

 private:
  size_t max_events_, max_bytes_;
  std::deque<v1::ChangeEvent> ring_;
  std::deque<size_t> sizes_;
  size_t bytes_ = 0;
  uint64_t next_seq_ = 1;
};

}  // namespace coderef::watcher
