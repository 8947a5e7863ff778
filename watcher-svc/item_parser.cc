#include "watcher-svc/item_parser.h"

#include <nlohmann/json.hpp>

#include <vector>

#include "common/text.h"

namespace coderef::watcher {
namespace {

using nlohmann::json;

constexpr std::string_view kPlanFile = "plan.json";
constexpr std::string_view kStubFile = "stub.json";
constexpr std::string_view kHandoffFile = "communication.json";
constexpr std::string_view kLogFile = "workorder-log.txt";

// A path component that cannot be a real folder name or that could escape
// the project ("..", "." and "" from a doubled or leading '/').
bool BadComponent(std::string_view c) {
  return c.empty() || c == "." || c == "..";
}

// A JSON value as a string: strings as they are, numbers and booleans in
// their JSON spelling. Anything else (null, object, array) is "absent".
std::optional<std::string> AsText(const json* v) {
  if (v == nullptr) return std::nullopt;
  if (v->is_string()) return v->get<std::string>();
  if (v->is_number() || v->is_boolean()) return v->dump();
  return std::nullopt;
}

const json* Member(const json* obj, const char* key) {
  if (obj == nullptr || !obj->is_object()) return nullptr;
  auto it = obj->find(key);
  return it == obj->end() ? nullptr : &*it;
}

// The first of `candidates` that holds a non-blank value, else `fallback`.
std::string FirstText(std::initializer_list<const json*> candidates, std::string fallback) {
  for (const json* c : candidates) {
    auto s = AsText(c);
    if (s && !Trim(*s).empty()) return *s;
  }
  return fallback;
}

// nlohmann's message without the "[json.exception.parse_error.101] " tag:
// "parse error at line 3, column 7: syntax error while parsing ...".
// Made valid UTF-8 (its "last read" excerpt may hold the file's raw bytes)
// because it ends up in a protobuf string.
std::string DescribeParseError(const json::exception& e) {
  std::string_view what = e.what();
  if (!what.empty() && what.front() == '[') {
    auto close = what.find("] ");
    if (close != std::string_view::npos) what.remove_prefix(close + 2);
  }
  return EscapeInvalidUtf8(what);
}

struct Parsed {
  json doc;  // the document, when ok
  bool ok = false;
  std::string error;
};

Parsed ParseObject(const std::optional<std::string>& content, uint64_t size) {
  Parsed p;
  if (!content) {
    p.error = "file too large to parse (" + std::to_string(size) + " bytes)";
    return p;
  }
  try {
    p.doc = json::parse(*content);
  } catch (const json::parse_error& e) {
    p.error = DescribeParseError(e);
    return p;
  } catch (const json::exception& e) {  // out_of_range: "number overflow parsing '1e999'"
    p.error = "parse error: " + DescribeParseError(e);
    return p;
  }
  if (!p.doc.is_object()) {
    p.error = "expected a JSON object";
    return p;
  }
  p.ok = true;
  return p;
}

void FillPlan(const Parsed& p, const PathInfo& info, v1::Item* item) {
  const json* root = p.ok ? &p.doc : nullptr;
  const json* meta = Member(root, "META_DOCUMENTATION");
  const json* upsi_wo =
      Member(Member(Member(root, "UNIVERSAL_PLANNING_STRUCTURE"), "5_task_id_system"), "workorder");
  item->set_feature_name(
      FirstText({Member(meta, "feature_name"), Member(root, "feature_name")}, info.feature));
  v1::PlanDetail* d = item->mutable_plan();
  d->set_status(FirstText({Member(meta, "status"), Member(root, "status")}, "unknown"));
  d->set_workorder_id(FirstText(
      {Member(meta, "workorder_id"), Member(upsi_wo, "id"), Member(root, "workorder_id")}, ""));
  d->set_project_field(FirstText({Member(meta, "project"), Member(root, "project")}, ""));
}

void FillStub(const Parsed& p, const PathInfo& info, v1::Item* item) {
  const json* root = p.ok ? &p.doc : nullptr;
  item->set_feature_name(FirstText({Member(root, "feature_name")}, info.feature));
  v1::StubDetail* d = item->mutable_stub();
  d->set_description(FirstText({Member(root, "description")}, ""));
  d->set_category(FirstText({Member(root, "category")}, ""));
  d->set_priority(FirstText({Member(root, "priority")}, ""));
  d->set_created(FirstText({Member(root, "created")}, ""));
  d->set_status(FirstText({Member(root, "status")}, "unknown"));
  d->set_stub_id(FirstText({Member(root, "stub_id")}, ""));
  d->set_project_field(FirstText({Member(root, "project")}, ""));
}

// `handoff` is the "handoff" object, or nullptr when the file did not parse.
void FillHandoff(const json* root, const json* handoff, const PathInfo& info, v1::Item* item) {
  item->set_feature_name(FirstText({Member(handoff, "feature_name")}, info.feature));
  v1::WorkorderDetail* d = item->mutable_workorder();
  d->set_source("handoff");
  d->set_workorder_id(FirstText({Member(handoff, "workorder_id")}, ""));
  d->set_status(FirstText({Member(handoff, "status")}, "unknown"));
  d->set_handoff_type(FirstText({Member(handoff, "type")}, ""));
  d->set_handoff_from(FirstText({Member(handoff, "from")}, ""));
  d->set_handoff_to(FirstText({Member(handoff, "to")}, ""));
  d->set_initiated_at(FirstText({Member(handoff, "initiated_at")}, ""));
  d->set_project_field(FirstText({Member(handoff, "project"), Member(root, "project")}, ""));
}

}  // namespace

std::optional<PathInfo> ClassifyPath(std::string_view rel_path) {
  if (rel_path.find('\\') != std::string_view::npos) return std::nullopt;
  std::vector<std::string_view> parts = Split(rel_path, '/');
  for (std::string_view c : parts) {
    if (BadComponent(c)) return std::nullopt;
  }
  if (parts.front() != "coderef") return std::nullopt;

  PathInfo info;
  if (parts.size() == 2) {
    if (parts[1] != kLogFile) return std::nullopt;
    info.kind = v1::KIND_WORKORDER;
    info.is_log = true;
    return info;
  }
  if (parts.size() != 4) return std::nullopt;

  std::string_view location = parts[1], file = parts[3];
  bool work_or_archive = location == "working" || location == "archived";
  if (file == kPlanFile && work_or_archive) {
    info.kind = v1::KIND_PLAN;
  } else if (file == kStubFile && (work_or_archive || location == "stubs")) {
    info.kind = v1::KIND_STUB;
  } else if (file == kHandoffFile && work_or_archive) {
    info.kind = v1::KIND_WORKORDER;
  } else {
    return std::nullopt;
  }
  info.location = std::string(location);
  info.feature = std::string(parts[2]);
  return info;
}

std::optional<v1::Item> ParseFileItem(const PathInfo& info, const FileFacts& facts,
                                      const std::optional<std::string>& content,
                                      uint64_t max_text_bytes) {
  if (info.is_log || info.kind == v1::KIND_UNSPECIFIED || info.kind == v1::KIND_PROJECT)
    return std::nullopt;  // not a file item (the log has LogTailer)
  Parsed parsed = ParseObject(content, facts.size);

  // A parsed communication.json without a "handoff" object is not a workorder.
  const json* handoff = nullptr;
  if (info.kind == v1::KIND_WORKORDER && parsed.ok) {
    handoff = Member(&parsed.doc, "handoff");
    if (handoff == nullptr || !handoff->is_object()) return std::nullopt;
  }

  // Paths are byte strings; protobuf strings must be UTF-8. Valid UTF-8
  // paths (all real ones) pass through unchanged.
  std::string path = EscapeInvalidUtf8(facts.rel_path);
  PathInfo shown = info;
  shown.feature = EscapeInvalidUtf8(info.feature);

  v1::Item item;
  item.set_kind(info.kind);
  item.set_project(facts.project_id);
  item.set_key(path);
  item.set_file_path(path);
  item.set_location(info.location);
  item.set_last_modified_ms(facts.mtime_ms);
  item.set_valid(parsed.ok);
  if (!parsed.ok) item.set_parse_error(parsed.error);
  item.set_size_bytes(facts.size);
  item.set_content_hash(facts.content_hash);
  if (content && content->size() <= max_text_bytes && IsValidUtf8(*content)) {
    item.set_text(*content);
  } else {
    item.set_text_omitted(true);
  }

  switch (info.kind) {
    case v1::KIND_PLAN:
      FillPlan(parsed, shown, &item);
      break;
    case v1::KIND_STUB:
      FillStub(parsed, shown, &item);
      break;
    default:
      FillHandoff(parsed.ok ? &parsed.doc : nullptr, handoff, shown, &item);
      break;
  }
  return item;
}

}  // namespace coderef::watcher
