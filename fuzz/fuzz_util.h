// Shared helpers for the libFuzzer targets in fuzz/: a small reader that
// turns the fuzzer's bytes into choices (GCC has no FuzzedDataProvider, and
// the same target sources are built by GCC for the regression replay), a
// check macro that aborts loudly (so libFuzzer records a crash), and a quiet
// logger. Header-only; one reader per input, single thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/log.h"

// An invariant of the code under test. On failure: a message and abort(),
// which libFuzzer reports as a crash and saves the input.
#define FUZZ_CHECK(cond, what)                                                     \
  do {                                                                             \
    if (!(cond)) {                                                                 \
      std::fprintf(stderr, "FUZZ_CHECK failed at %s:%d: %s\n  %s\n", __FILE__, \
                   __LINE__, #cond, std::string(what).c_str());                    \
      std::abort();                                                                \
    }                                                                              \
  } while (0)

namespace coderef::fuzz {

// Logs of the code under test would dominate the run time: errors only.
inline void QuietLogs() {
  static bool done = [] {
    SetLogLevel(LogLevel::kError);
    return true;
  }();
  (void)done;
}

// Consumes the input front to back. Every accessor returns a value even when
// the input is exhausted (zeros / empty), so targets need no length checks.
class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t size)
      : p_(reinterpret_cast<const char*>(data)), left_(size) {}

  bool empty() const { return left_ == 0; }
  size_t left() const { return left_; }

  uint8_t Byte() {
    if (left_ == 0) return 0;
    --left_;
    return static_cast<uint8_t>(*p_++);
  }
  uint32_t U16() { return static_cast<uint32_t>(Byte()) | (static_cast<uint32_t>(Byte()) << 8); }
  // A value in [0, n) (n > 0).
  uint32_t Below(uint32_t n) { return n <= 256 ? Byte() % n : U16() % n; }
  bool Bool() { return Byte() & 1; }

  // Up to `max` bytes, length-prefixed by one or two bytes.
  std::string_view Bytes(size_t max) {
    size_t n = max <= 255 ? Byte() : U16();
    if (n > max) n = max;
    return Take(n);
  }
  std::string_view Rest() { return Take(left_); }

 private:
  std::string_view Take(size_t n) {
    if (n > left_) n = left_;
    std::string_view out(p_, n);
    p_ += n;
    left_ -= n;
    return out;
  }

  const char* p_;
  size_t left_;
};

}  // namespace coderef::fuzz
