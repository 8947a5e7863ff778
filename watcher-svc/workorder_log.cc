#include "watcher-svc/workorder_log.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <system_error>

#include "common/text.h"

namespace coderef::watcher {
namespace {

// How much of the file's head is compared to detect an in-place rewrite.
constexpr uint64_t kPrefixBytes = 4096;
// One Read call at most (PosixFileSystem caps a single read at 64 MiB).
constexpr uint64_t kReadChunk = 16ull << 20;
constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

std::string ErrnoText(int err) { return std::generic_category().message(err); }

// Reads [offset, offset + len) in chunks. Stops early (without error) when
// the file turns out shorter than expected, e.g. truncated since its stat.
bool ReadRange(FileSystem& fs, const std::string& path, uint64_t offset, uint64_t len,
               std::string* out, int* err) {
  out->clear();
  while (out->size() < len) {
    std::string chunk;
    uint64_t want = std::min<uint64_t>(len - out->size(), kReadChunk);
    if (!fs.Read(path, offset + out->size(), want, &chunk, err)) return false;
    if (chunk.empty()) break;
    out->append(chunk);
  }
  if (out->size() > len) out->resize(static_cast<size_t>(len));
  return true;
}

std::string Hex8(uint64_t h) {
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", static_cast<unsigned>(h & 0xffffffffu));
  return buf;
}

}  // namespace

std::optional<LogLine> ParseLogLine(std::string_view line) {
  std::string_view t = Trim(line);  // also drops a trailing '\r'
  if (!StartsWith(t, "WO-")) return std::nullopt;
  std::vector<std::string_view> parts = Split(t, '|');
  if (parts.size() < 3) return std::nullopt;

  LogLine out;
  out.workorder_id = std::string(Trim(parts[0]));
  out.project = std::string(Trim(parts[1]));
  if (parts.size() == 3) {
    out.description = std::string(Trim(parts[2]));
  } else {
    // The description runs from the third part up to the last '|', so any
    // '|' inside it is kept as written; the last part is the timestamp.
    const char* begin = parts[2].data();
    const char* last_sep = parts.back().data() - 1;
    out.description = std::string(Trim(std::string_view(begin, static_cast<size_t>(last_sep - begin))));
    std::string_view ts = Trim(parts.back());
    if (!ts.empty()) out.timestamp = std::string(ts);
  }
  out.raw = std::string(t);
  return out;
}

LogTailer::LogTailer(std::string abs_path, std::string file_path, std::string owner_project)
    : abs_path_(std::move(abs_path)),
      // Shown in keys and items (protobuf strings): must be UTF-8.
      file_path_(EscapeInvalidUtf8(file_path)),
      owner_project_(std::move(owner_project)) {}

void LogTailer::Reset() {
  known_ = false;
  ino_ = dev_ = 0;
  offset_ = 0;
  prefix_hash_ = 0;
  lines_ = 0;
  occurrences_.clear();
  entries_.clear();
  mtime_ms_ = 0;
}

bool LogTailer::Update(FileSystem& fs, std::string* error) {
  auto fail = [&](const char* what, int err) {
    if (error) *error = std::string(what) + " " + abs_path_ + ": " + ErrnoText(err);
    return false;
  };
  FileStat st;
  int err = 0;
  if (!fs.Stat(abs_path_, &st, &err)) {
    if (err == ENOENT || err == ENOTDIR) {
      Reset();
      return true;
    }
    return fail("stat", err);
  }
  if (!st.is_file) {
    if (error) *error = abs_path_ + ": not a regular file";
    return false;
  }

  bool full = !known_ || st.ino != ino_ || st.dev != dev_ || st.size < offset_;
  std::string prefix;  // the bytes [0, min(offset_, 4096)) when tailing
  if (!full && offset_ > 0) {
    uint64_t n = std::min(offset_, kPrefixBytes);
    if (!ReadRange(fs, abs_path_, 0, n, &prefix, &err)) {
      if (err == ENOENT) {
        Reset();
        return true;
      }
      return fail("read", err);
    }
    if (prefix.size() != n || Hash64(prefix) != prefix_hash_) full = true;
  }
  if (!full && st.size == offset_) return true;  // nothing new

  uint64_t start = full ? 0 : offset_;
  std::string data;
  if (st.size > start && !ReadRange(fs, abs_path_, start, st.size - start, &data, &err)) {
    if (err == ENOENT) {
      Reset();
      return true;
    }
    return fail("read", err);
  }
  // Only complete lines are consumed; an unterminated tail waits.
  size_t last_nl = data.rfind('\n');
  size_t consumed = last_nl == std::string::npos ? 0 : last_nl + 1;

  std::map<std::string, v1::Item> previous;
  if (full) {
    // Re-read from scratch: occurrence counting restarts, so unchanged lines
    // get the keys they had.
    previous.swap(entries_);
    Reset();
    known_ = true;
    ino_ = st.ino;
    dev_ = st.dev;
  }
  mtime_ms_ = st.mtime_ns / 1'000'000;

  size_t pos = 0;
  while (pos < consumed) {
    size_t nl = data.find('\n', pos);
    std::string_view line(data.data() + pos, nl - pos);
    if (start + pos == 0 && StartsWith(line, kUtf8Bom)) line.remove_prefix(kUtf8Bom.size());
    AddLine(line, ++lines_);
    pos = nl + 1;
  }
  offset_ = start + consumed;

  size_t head = static_cast<size_t>(std::min(offset_, kPrefixBytes));
  if (full) {
    prefix_hash_ = Hash64(std::string_view(data).substr(0, head));
  } else if (start < kPrefixBytes) {
    prefix.append(data, 0, consumed);
    prefix_hash_ = Hash64(std::string_view(prefix).substr(0, head));
  }

  if (full) {
    // A line that was already known keeps its item as first published (its
    // line_number and mtime), so a rewrite that keeps it publishes nothing.
    for (auto& [key, item] : entries_) {
      auto it = previous.find(key);
      if (it != previous.end()) item = std::move(it->second);
    }
  }
  return true;
}

void LogTailer::AddLine(std::string_view line, uint32_t line_number) {
  std::optional<LogLine> parsed = ParseLogLine(line);
  if (!parsed) {
    if (!Trim(line).empty()) ++skipped_;  // blank lines are not malformed
    return;
  }
  // The log's bytes need not be UTF-8; protobuf strings must be.
  std::string id = EscapeInvalidUtf8(parsed->workorder_id);
  std::string base = file_path_ + "#" + id + "#" + Hex8(Hash64(parsed->raw));
  int n = ++occurrences_[base];
  std::string key = n == 1 ? base : base + "#" + std::to_string(n);

  std::string project = owner_project_;
  if (project.empty()) {
    project = resolver_ ? resolver_->Resolve(parsed->project) : Slugify(parsed->project);
  }

  v1::Item item;
  item.set_kind(v1::KIND_WORKORDER);
  item.set_project(project);
  item.set_key(key);
  item.set_file_path(file_path_);
  item.set_last_modified_ms(mtime_ms_);
  item.set_valid(true);
  item.set_size_bytes(parsed->raw.size());
  item.set_content_hash(Hash64(parsed->raw));
  v1::WorkorderDetail* d = item.mutable_workorder();
  d->set_source("log");
  d->set_workorder_id(id);
  d->set_description(EscapeInvalidUtf8(parsed->description));
  if (parsed->timestamp) d->set_timestamp(EscapeInvalidUtf8(*parsed->timestamp));
  d->set_line(EscapeInvalidUtf8(parsed->raw));
  d->set_project_field(EscapeInvalidUtf8(parsed->project));
  d->set_line_number(line_number);
  entries_[key] = std::move(item);
}

}  // namespace coderef::watcher
