#include "gateway-svc/topic_filter.h"

#include "common/names.h"
#include "common/text.h"

namespace coderef::gateway {

bool TopicFilter::Add(std::string_view entry, std::string* error) {
  entry = Trim(entry);
  if (entry.empty()) return true;
  if (entry == "*" || entry == "all") {
    kinds_ = kAll;
    return true;
  }
  std::string_view kind_name = entry;
  std::string_view project;
  auto slash = entry.find('/');
  if (slash != std::string_view::npos) {
    kind_name = entry.substr(0, slash);
    project = entry.substr(slash + 1);
  }
  v1::Kind kind;
  if (!ParseKind(kind_name, &kind)) {
    *error = "unknown topic \"" + EscapeForDisplay(entry) +
             "\" (expected plan, stub, workorder, project, optionally /<project id>)";
    return false;
  }
  if (project.empty()) {
    kinds_ |= Bit(kind);
  } else {
    projects_.emplace_back(kind, std::string(project));
  }
  return true;
}

bool TopicFilter::Parse(std::string_view list, TopicFilter* out, std::string* error) {
  std::vector<std::string> entries;
  for (std::string_view e : Split(list, ',')) entries.emplace_back(e);
  return FromList(entries, out, error);
}

bool TopicFilter::FromList(const std::vector<std::string>& entries, TopicFilter* out,
                           std::string* error) {
  TopicFilter f;
  f.kinds_ = 0;
  bool any = false;
  for (const auto& e : entries) {
    if (Trim(e).empty()) continue;
    any = true;
    if (!f.Add(e, error)) return false;
  }
  if (!any) f.kinds_ = kAll;
  *out = std::move(f);
  return true;
}

}  // namespace coderef::gateway
