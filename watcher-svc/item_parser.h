// Turning tracked files into items: which paths are tracked (ClassifyPath),
// and what a plan.json / stub.json / communication.json says (ParseFileItem).
// Pure functions, thread-safe. PROTOCOL §0.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "coderef/v1/feed.pb.h"

namespace coderef::watcher {

// What a path inside a project is, if it is tracked.
struct PathInfo {
  v1::Kind kind = v1::KIND_UNSPECIFIED;
  std::string location;  // "working", "archived", "stubs" or "" (the log)
  std::string feature;   // the <feature> folder name ("" for the log)
  bool is_log = false;   // coderef/workorder-log.txt
};

// `rel_path` is relative to the project root with '/' separators, e.g.
// "coderef/working/auth/plan.json". Returns nullopt for untracked paths:
//   coderef/{working,archived}/<f>/plan.json           -> plan
//   coderef/{working,archived,stubs}/<f>/stub.json     -> stub
//   coderef/{working,archived}/<f>/communication.json  -> workorder (hand-off)
//   coderef/workorder-log.txt                          -> workorder, is_log
std::optional<PathInfo> ClassifyPath(std::string_view rel_path);

// Facts about the file that are not in its bytes.
struct FileFacts {
  std::string project_id;
  std::string rel_path;       // as given to ClassifyPath
  int64_t mtime_ms = 0;
  uint64_t size = 0;          // size on disk
  uint64_t content_hash = 0;  // Hash64 of the whole file (computed by the caller)
};

// Builds the item for a plan/stub/hand-off file.
// `content` is the file's bytes when the caller read them whole; it is
// nullopt when the file was too large to read (then the item is
// valid:false with a parse_error saying so, text_omitted:true).
// `max_text_bytes`: the raw text is put in Item.text when size <= this and
// the bytes are valid UTF-8; otherwise text_omitted = true.
// Returns nullopt only for a communication.json that is valid JSON but has
// no "handoff" object (not a workorder). Invalid JSON never returns nullopt:
// the item has valid:false and parse_error, with fields from the path
// (feature_name = folder name, status "unknown").
// Details of the mapping:
// - parse_error is nlohmann's message without its tag, e.g. "parse error at
//   line 3, column 1: syntax error while parsing object - unexpected end of
//   input; expected '}'". Valid JSON that is not an object: "expected a JSON
//   object" (for communication.json too: it is reported, not dropped).
// - A string field holding a number or bool is rendered ("3", "true"); null,
//   an object or an array, or a blank string, counts as absent (fallback).
// - Missing statuses are "unknown" for plans, stubs and hand-offs alike.
// - A communication.json whose "handoff" is not an object (or absent) -> nullopt.
// - Invalid UTF-8 bytes in rel_path/feature are shown as "\xNN" in key,
//   file_path and feature_name (protobuf strings must be UTF-8).
// - Returns nullopt for the log (info.is_log): LogTailer builds those items.
std::optional<v1::Item> ParseFileItem(const PathInfo& info, const FileFacts& facts,
                                      const std::optional<std::string>& content,
                                      uint64_t max_text_bytes);

}  // namespace coderef::watcher
