// Clock: the seam through which code reads time. Production code uses
// RealClock; unit tests use FakeClock and advance it by hand, so timing logic
// (batch settle/debounce, heartbeats, watchdogs) is tested without sleeping.
// Thread-safety: RealClock is stateless; FakeClock is not thread-safe.
#pragma once

#include <chrono>
#include <cstdint>

namespace coderef {

using SteadyTime = std::chrono::steady_clock::time_point;
using Millis = std::chrono::milliseconds;

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic time for intervals and deadlines.
  virtual SteadyTime Now() const = 0;
  // Wall-clock time as Unix microseconds, for timestamps on the wire.
  virtual int64_t UnixMicros() const = 0;
};

class RealClock final : public Clock {
 public:
  SteadyTime Now() const override { return std::chrono::steady_clock::now(); }
  int64_t UnixMicros() const override {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

// A clock that only moves when told to.
class FakeClock final : public Clock {
 public:
  SteadyTime Now() const override { return now_; }
  int64_t UnixMicros() const override {
    return unix_base_us_ + std::chrono::duration_cast<std::chrono::microseconds>(
                               now_.time_since_epoch())
                               .count();
  }
  void Advance(Millis d) { now_ += d; }

 private:
  SteadyTime now_{std::chrono::hours(1)};
  int64_t unix_base_us_ = 1'800'000'000'000'000;  // 2027-01-15
};

}  // namespace coderef
