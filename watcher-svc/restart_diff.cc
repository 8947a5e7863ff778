#include "watcher-svc/restart_diff.h"

#include "common/names.h"
#include "watcher-svc/differ.h"

namespace coderef::watcher {

std::vector<v1::ChangeEvent> RestartDiff(const std::map<std::string, v1::Item>& stored,
                                         const StateStore& now) {
  std::vector<v1::ChangeEvent> projects, items, removed;
  auto changed = [](const v1::Item& a, const v1::Item& b) {
    return a.content_hash() != b.content_hash() || a.valid() != b.valid();
  };
  // Both sides in id order: one merge pass.
  auto old_it = stored.begin();
  auto emit_gone = [&](const v1::Item& old) {
    auto& out = old.kind() == v1::KIND_PROJECT ? removed : items;
    Differ::AddEvent(EventTypeFor(old.kind(), Change::kDeleted), old, false, &out);
  };
  now.ForEach("", [&](const v1::Item& item) {
    std::string id = StateStore::ItemId(item);
    for (; old_it != stored.end() && old_it->first < id; ++old_it) emit_gone(old_it->second);
    auto& out = item.kind() == v1::KIND_PROJECT ? projects : items;
    if (old_it == stored.end() || old_it->first != id) {
      Differ::AddEvent(EventTypeFor(item.kind(), Change::kAdded), item, true, &out);
    } else {
      if (changed(old_it->second, item))
        Differ::AddEvent(EventTypeFor(item.kind(), Change::kUpdated), item, true, &out);
      ++old_it;
    }
    return true;
  });
  for (; old_it != stored.end(); ++old_it) emit_gone(old_it->second);
  for (auto& ev : items) projects.push_back(std::move(ev));
  for (auto& ev : removed) projects.push_back(std::move(ev));
  return projects;
}

}  // namespace coderef::watcher
