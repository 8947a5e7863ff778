// FloodWindow: counts one client's frames per one-second window; more than
// the limit (--max-client-frames-per-second, default 100) is a flood and the
// hub closes the client with 1008. Pure value type.
#pragma once

#include <chrono>

#include "common/clock.h"

namespace coderef::gateway {

class FloodWindow {
 public:
  // Counts a frame received at `now`; false when it is one too many for the
  // current window.
  bool Count(SteadyTime now, int max_per_second) {
    if (now - start_ >= std::chrono::seconds(1)) {
      start_ = now;
      frames_ = 0;
    }
    return ++frames_ <= max_per_second;
  }
  int frames() const { return frames_; }

 private:
  SteadyTime start_{};
  int frames_ = 0;
};

}  // namespace coderef::gateway
