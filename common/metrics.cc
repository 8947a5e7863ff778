#include "common/metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>

namespace coderef {

Metric* MetricsRegistry::Counter(const std::string& name, const std::string& help) {
  Entry& e = entries_.emplace_back();
  e.name = name; e.help = help; e.type = "counter";
  return &e.metric;
}

Metric* MetricsRegistry::Gauge(const std::string& name, const std::string& help) {
  Entry& e = entries_.emplace_back();
  e.name = name; e.help = help; e.type = "gauge";
  return &e.metric;
}

void MetricsRegistry::GaugeFn(const std::string& name, const std::string& help,
                              std::function<double()> fn) {
  Entry& e = entries_.emplace_back();
  e.name = name; e.help = help; e.type = "gauge"; e.fn = std::move(fn);
}

std::string MetricsRegistry::Render() const {
  std::string out;
  for (const auto& e : entries_) {
    out += "# HELP " + e.name + " " + e.help + "\n";
    out += "# TYPE " + e.name + " " + e.type + "\n";
    if (e.fn) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.17g", e.fn());
      out += e.name + " " + buf + "\n";
    } else {
      out += e.name + " " + std::to_string(e.metric.Get()) + "\n";
    }
  }
  return out;
}

int64_t ProcessRssBytes() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  long size = 0, resident = 0;
  int n = std::fscanf(f, "%ld %ld", &size, &resident);
  std::fclose(f);
  if (n != 2) return 0;
  return static_cast<int64_t>(resident) * sysconf(_SC_PAGESIZE);
}

double ProcessCpuSeconds() {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

}  // namespace coderef
