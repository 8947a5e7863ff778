// Metrics: named counters and gauges rendered as Prometheus text.
// Register at start-up (not thread-safe); Add/Set/Render are thread-safe
// afterwards (atomics), so any thread may bump a counter.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>

namespace coderef {

class Metric {
 public:
  void Add(int64_t d = 1) { v_.fetch_add(d, std::memory_order_relaxed); }
  void Set(int64_t v) { v_.store(v, std::memory_order_relaxed); }
  int64_t Get() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> v_{0};
};

class MetricsRegistry {
 public:
  // Returns a metric that lives as long as the registry. `name` is the full
  // Prometheus name (e.g. "coderef_watcher_events_published_total").
  Metric* Counter(const std::string& name, const std::string& help);
  Metric* Gauge(const std::string& name, const std::string& help);
  // A gauge computed at render time (e.g. RSS). `fn` must be thread-safe.
  void GaugeFn(const std::string& name, const std::string& help, std::function<double()> fn);
  std::string Render() const;

 private:
  struct Entry {
    std::string name, help, type;
    Metric metric;
    std::function<double()> fn;
  };
  std::deque<Entry> entries_;  // deque: stable addresses
};

// Resident set size of this process in bytes (from /proc/self/statm).
int64_t ProcessRssBytes();
// User+system CPU seconds of this process.
double ProcessCpuSeconds();

}  // namespace coderef
