#include "common/log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

#include "common/text.h"

namespace coderef {
namespace {

std::atomic<LogFormat> g_format{LogFormat::kText};
std::atomic<LogLevel> g_level{LogLevel::kInfo};
std::string g_component = "coderef";
std::mutex g_mu;

const char* LevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
  }
  return "info";
}

}  // namespace

void SetLogFormat(LogFormat format) { g_format = format; }
void SetLogLevel(LogLevel level) { g_level = level; }
void SetLogComponent(std::string_view name) { g_component = std::string(name); }

bool ParseLogFormat(std::string_view s, LogFormat* out) {
  if (s == "text") { *out = LogFormat::kText; return true; }
  if (s == "json") { *out = LogFormat::kJson; return true; }
  return false;
}

bool ParseLogLevel(std::string_view s, LogLevel* out) {
  if (s == "debug") { *out = LogLevel::kDebug; return true; }
  if (s == "info") { *out = LogLevel::kInfo; return true; }
  if (s == "warn") { *out = LogLevel::kWarn; return true; }
  if (s == "error") { *out = LogLevel::kError; return true; }
  return false;
}

LogRecord::LogRecord(LogLevel level, std::string_view msg)
    : enabled_(level >= g_level.load()), level_(level) {
  if (enabled_) msg_ = std::string(msg);
}

void LogRecord::Raw(std::string_view key, std::string_view value, bool quote) {
  if (!enabled_) return;
  if (g_format.load() == LogFormat::kJson) {
    fields_ += ",\"";
    fields_ += JsonEscape(key);
    fields_ += "\":";
    if (quote) {
      fields_ += '"';
      fields_ += JsonEscape(value);
      fields_ += '"';
    } else {
      fields_ += value;
    }
  } else {
    fields_ += ' ';
    fields_ += key;
    fields_ += '=';
    bool needs_quotes = value.empty() || value.find_first_of(" \"=\t\n\r") != std::string_view::npos;
    if (quote && needs_quotes) {
      fields_ += '"';
      fields_ += JsonEscape(value);
      fields_ += '"';
    } else if (quote) {
      fields_ += EscapeForDisplay(value);
    } else {
      fields_ += value;
    }
  }
}

LogRecord& LogRecord::Kv(std::string_view key, std::string_view value) {
  Raw(key, value, true);
  return *this;
}
LogRecord& LogRecord::Kv(std::string_view key, int64_t value) {
  if (enabled_) Raw(key, std::to_string(value), false);
  return *this;
}
LogRecord& LogRecord::Kv(std::string_view key, uint64_t value) {
  if (enabled_) Raw(key, std::to_string(value), false);
  return *this;
}
LogRecord& LogRecord::Kv(std::string_view key, double value) {
  if (enabled_) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6g", value);
    Raw(key, buf, false);
  }
  return *this;
}
LogRecord& LogRecord::Kv(std::string_view key, bool value) {
  Raw(key, value ? "true" : "false", false);
  return *this;
}

LogRecord::~LogRecord() {
  if (!enabled_) return;
  int64_t us = std::chrono::duration_cast<std::chrono::microseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
  std::string ts = FormatIsoMillis(us);
  std::string line;
  line.reserve(64 + msg_.size() + fields_.size());
  if (g_format.load() == LogFormat::kJson) {
    line += "{\"ts\":\"" + ts + "\",\"level\":\"" + LevelName(level_) +
            "\",\"component\":\"" + JsonEscape(g_component) + "\",\"msg\":\"" +
            JsonEscape(msg_) + "\"" + fields_ + "}\n";
  } else {
    line += ts + " " + LevelName(level_) + " " + g_component + " " +
            EscapeForDisplay(msg_) + fields_ + "\n";
  }
  std::lock_guard<std::mutex> lock(g_mu);
  // One write() per record so lines from several processes sharing stderr
  // stay whole.
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(2, p, left);
    if (n <= 0) break;
    p += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace coderef
