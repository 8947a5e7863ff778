// HistoryRing: the last N events of the current epoch as prepared frames, so
// a resuming client can be replayed exactly what it missed at no
// translation cost. Holds a contiguous seq range (base, last]: a client whose
// position p satisfies base <= p <= last can be served every event after p.
// Thread-safety: none; owned by the io thread.
#pragma once

#include <cstdint>
#include <vector>

#include "coderef/v1/feed.pb.h"
#include "gateway-svc/frame.h"

namespace coderef::gateway {

struct HistoryEntry {
  uint64_t seq = 0;
  v1::Kind kind = v1::KIND_UNSPECIFIED;
  std::string project;
  FramePtr frame;
};

class HistoryRing {
 public:
  // `capacity` 0 keeps nothing (every resume that missed anything resyncs).
  explicit HistoryRing(size_t capacity);

  // Empties the ring; the next appended event must have seq base_seq + 1.
  void Reset(uint64_t base_seq);

  // Appends the event with seq last_seq() + 1 (REQUIRES), dropping the
  // oldest entry when full.
  void Append(HistoryEntry entry);

  // Clients at a position in [base_seq(), last_seq()] can be caught up.
  uint64_t base_seq() const { return base_; }
  uint64_t last_seq() const { return base_ + size_; }
  size_t size() const { return size_; }
  size_t capacity() const { return ring_.size(); }

  // The entry with `seq`, or nullptr when not held.
  const HistoryEntry* At(uint64_t seq) const;

 private:
  std::vector<HistoryEntry> ring_;
  size_t head_ = 0;  // index of the oldest entry
  size_t size_ = 0;
  uint64_t base_ = 0;  // seq of the event just before the oldest held
};

}  // namespace coderef::gateway
