// Structured logging to stderr, one line per record, as text or JSON lines.
//
//   LogInfo("watch.overflow").Kv("reason", "IN_Q_OVERFLOW").Kv("dirs", 12);
//
// The record is written when the temporary is destroyed (end of the full
// expression). Thread-safe: records from several threads never interleave.
#pragma once

#include <cstdint>
#include <sstream>
#include <string>
#include <string_view>

namespace coderef {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
enum class LogFormat { kText, kJson };

// Process-wide settings; call once at start-up, before other threads run.
void SetLogFormat(LogFormat format);
void SetLogLevel(LogLevel level);
// Parses "text"/"json"; returns false for anything else.
bool ParseLogFormat(std::string_view s, LogFormat* out);
bool ParseLogLevel(std::string_view s, LogLevel* out);
// The component name printed in every record ("watcher", "gateway").
void SetLogComponent(std::string_view name);

class LogRecord {
 public:
  LogRecord(LogLevel level, std::string_view msg);
  ~LogRecord();
  LogRecord(const LogRecord&) = delete;
  LogRecord& operator=(const LogRecord&) = delete;

  LogRecord& Kv(std::string_view key, std::string_view value);
  LogRecord& Kv(std::string_view key, const std::string& value) {
    return Kv(key, std::string_view(value));
  }
  LogRecord& Kv(std::string_view key, const char* value) {
    return Kv(key, std::string_view(value));
  }
  LogRecord& Kv(std::string_view key, int64_t value);
  LogRecord& Kv(std::string_view key, uint64_t value);
  LogRecord& Kv(std::string_view key, int value) { return Kv(key, int64_t{value}); }
  LogRecord& Kv(std::string_view key, unsigned value) { return Kv(key, uint64_t{value}); }
  LogRecord& Kv(std::string_view key, long long value) { return Kv(key, int64_t(value)); }
  LogRecord& Kv(std::string_view key, unsigned long long value) {
    return Kv(key, uint64_t(value));
  }
  LogRecord& Kv(std::string_view key, double value);
  LogRecord& Kv(std::string_view key, bool value);

 private:
  void Raw(std::string_view key, std::string_view value, bool quote);
  bool enabled_;
  LogLevel level_;
  std::string msg_;
  std::string fields_;  // pre-rendered " k=v" or ",\"k\":v"
};

inline LogRecord LogDebug(std::string_view m) { return LogRecord(LogLevel::kDebug, m); }
inline LogRecord LogInfo(std::string_view m) { return LogRecord(LogLevel::kInfo, m); }
inline LogRecord LogWarn(std::string_view m) { return LogRecord(LogLevel::kWarn, m); }
inline LogRecord LogError(std::string_view m) { return LogRecord(LogLevel::kError, m); }

}  // namespace coderef
