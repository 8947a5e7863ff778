// Batcher: when to flush a batch of raw changes (contract section 2).
// A batch opens at the first raw change and is due when no change has come
// for `settle` or when it is `max_age` old, whichever comes first. Explicit
// state on a steady clock; no threads, no timers of its own: the loop asks
// Deadline() for its poll timeout and Due() when it wakes. Not thread-safe.
#pragma once

#include <cstdint>

#include "common/clock.h"

namespace coderef::watcher {

class Batcher {
 public:
  Batcher(Millis settle, Millis max_age) : settle_(settle), max_age_(max_age) {}

  // Records a raw change at `now` (and its wall-clock time, for the events'
  // first-change timestamp).
  void OnChange(SteadyTime now, int64_t unix_us);
  bool open() const { return open_; }
  // When the open batch becomes due. REQUIRES: open().
  SteadyTime Deadline() const;
  bool Due(SteadyTime now) const { return open_ && now >= Deadline(); }
  // Wall-clock time of the first change of the open batch.
  int64_t first_change_unix_us() const { return first_unix_us_; }
  // Closes the batch (after flushing it).
  void Reset() { open_ = false; }

 private:
  Millis settle_, max_age_;
  bool open_ = false;
  SteadyTime first_{}, last_{};
  int64_t first_unix_us_ = 0;
};

}  // namespace coderef::watcher
