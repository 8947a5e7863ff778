// Batcher: when to flush a batch of raw changes (PROTOCOL §1).
// A batch opens at the first raw change and is due when no change has come
// for `settle` or when it is `max_age` old, whichever comes first; and, when
// every file changed in it is complete (DirtyFiles::AllComplete: closed
// after writing or renamed into place, nothing removed), as soon as no
// change has come for `quiet`. Explicit state on a steady clock; no
// threads, no timers of its own: the loop asks Deadline() for its poll
// timeout and Due() when it wakes. Not thread-safe.
#pragma once

#include <cstdint>

#include "common/clock.h"

namespace coderef::watcher {

class Batcher {
 public:
  Batcher(Millis settle, Millis max_age, Millis quiet = Millis(0))
      : settle_(settle), max_age_(max_age), quiet_(quiet) {}

  // Records a raw change at `now` (and its wall-clock time, for the events'
  // first-change timestamp). `complete`: every change in the batch so far
  // is complete (the latest word wins: a new in-progress change revokes it).
  void OnChange(SteadyTime now, int64_t unix_us, bool complete = false);
  bool open() const { return open_; }
  bool complete() const { return complete_; }
  // When the open batch becomes due. REQUIRES: open().
  SteadyTime Deadline() const;
  bool Due(SteadyTime now) const { return open_ && now >= Deadline(); }
  // Wall-clock time of the first change of the open batch.
  int64_t first_change_unix_us() const { return first_unix_us_; }
  // Closes the batch (after flushing it).
  void Reset() { open_ = complete_ = false; }

 private:
  Millis settle_, max_age_, quiet_;
  bool open_ = false;
  bool complete_ = false;
  SteadyTime first_{}, last_{};
  int64_t first_unix_us_ = 0;
};

}  // namespace coderef::watcher
