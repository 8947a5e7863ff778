#include "watcher-svc/log_tailers.h"

#include "common/log.h"
#include "common/text.h"

namespace coderef::watcher {

std::string LogTailers::Resolve(const std::string& column) const {
  for (const auto& p : projects_)
    if (p.id == column || p.name == column) return p.id;
  std::string slug = Slugify(column);
  for (const auto& p : projects_)
    if (Slugify(p.name) == slug) return p.id;
  return slug.empty() ? std::string("unknown") : slug;
}

const std::map<std::string, v1::Item>& LogTailers::Tail(const std::string& source,
                                                        const std::string& file_path,
                                                        const std::string& project_id) {
  auto it = tailers_.find(source);
  if (it == tailers_.end()) {
    auto t = std::make_unique<LogTailer>(source, file_path, project_id);
    if (project_id.empty()) t->set_resolver(this);
    it = tailers_.emplace(source, std::move(t)).first;
  }
  LogTailer& t = *it->second;
  std::string error;
  uint64_t skipped = t.skipped_lines();
  if (!t.Update(fs_, &error))
    LogWarn("log.read_failed").Kv("file", EscapeForDisplay(source)).Kv("error", error);
  if (t.skipped_lines() > skipped)
    LogWarn("log.lines_skipped")
        .Kv("file", EscapeForDisplay(source))
        .Kv("lines", t.skipped_lines() - skipped)
        .Kv("reason", "malformed: a line must be 'WO-ID | project | description [| timestamp]'");
  return t.entries();
}

}  // namespace coderef::watcher
