// Workorder logs: parsing lines ("WO-ID | project | description | timestamp")
// and tailing a log file so that each new complete line yields one entry,
// partial lines wait for their newline, and a truncated or replaced file is
// re-read without repeating lines already present. PROTOCOL §0-1.
// Not thread-safe (owned by the watcher loop).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "coderef/v1/feed.pb.h"
#include "watcher-svc/file_system.h"

namespace coderef::watcher {

struct LogLine {
  std::string workorder_id;
  std::string project;
  std::string description;
  std::optional<std::string> timestamp;  // nullopt for a 3-part line
  std::string raw;                       // the trimmed line (no CR/LF)
};

// Parses one line (without its '\n'; a trailing '\r' is ignored). Only lines
// whose trimmed text starts with "WO-" and has at least 3 '|'-separated
// parts count; parts are trimmed; a description containing '|' keeps them
// when there are more than 4 parts (the last part is the timestamp).
// An empty last part of a 4+-part line is a null timestamp, like a 3-part
// line. Returns nullopt otherwise. Fields keep the line's bytes (which need
// not be UTF-8); LogTailer escapes them for the Item.
std::optional<LogLine> ParseLogLine(std::string_view line);

// Resolves the project id for a line of a log that belongs to no project
// (a --workorder-log file): maps the line's project column to an id.
class ProjectResolver {
 public:
  virtual ~ProjectResolver() = default;
  virtual std::string Resolve(const std::string& column) const = 0;
};

// Tails one log file. Entries are items of kind WORKORDER, source "log",
// keyed "<file_path>#<workorder_id>#<8 hex of Hash64(raw)>", with "#2", "#3"
// ... appended for repeated identical lines (in file order). The 8 hex digits
// are the low 32 bits of the hash. Without an owner project or a resolver, a
// line's project id is Slugify(its project column).
// On a full re-read (truncated / replaced file), a line whose key was already
// present keeps its previous Item unchanged (line_number and last_modified_ms
// as first read), so rewriting a log with the same lines publishes nothing and
// a prepended line is the only change.
class LogTailer {
 public:
  // `abs_path`: where to read. `file_path`: the path to show (relative to the
  // project for coderef/workorder-log.txt, absolute for --workorder-log).
  // `owner_project`: the project id for entries, or "" to take it from each
  // line via `resolve` (global logs).
  LogTailer(std::string abs_path, std::string file_path, std::string owner_project);

  // Brings the entries up to date with the file. When the file has the same
  // inode and grew, only the new bytes are read (complete lines only; an
  // unterminated last line waits). Otherwise (truncated, replaced, first
  // read) the whole file is re-read. A missing file means no entries.
  // Returns false (with *error) on a read error other than ENOENT; the
  // entries then stay as they were.
  bool Update(FileSystem& fs, std::string* error);

  // Current entries by key (the state to publish).
  const std::map<std::string, v1::Item>& entries() const { return entries_; }

  // For global logs: how project ids are derived from the line's column.
  // `resolver` must outlive the tailer (nullptr: Slugify the column).
  void set_resolver(const ProjectResolver* resolver) { resolver_ = resolver; }

  // Lines skipped as malformed so far (not starting with WO-, too few parts).
  // Blank lines are not counted; a full re-read counts its lines again.
  uint64_t skipped_lines() const { return skipped_; }

 private:
  void Reset();
  void AddLine(std::string_view line, uint32_t line_number);

  std::string abs_path_, file_path_, owner_project_;
  const ProjectResolver* resolver_ = nullptr;
  bool known_ = false;           // ino_/dev_/offset_ describe a file read before
  uint64_t ino_ = 0, dev_ = 0;
  uint64_t offset_ = 0;          // bytes consumed (up to the last '\n')
  uint64_t prefix_hash_ = 0;     // Hash64 of the first min(offset,4096) bytes
  uint32_t lines_ = 0;           // lines consumed
  std::map<std::string, int> occurrences_;  // base key -> count
  std::map<std::string, v1::Item> entries_;
  uint64_t skipped_ = 0;
  int64_t mtime_ms_ = 0;
};

}  // namespace coderef::watcher
