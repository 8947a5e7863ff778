#include "watcher-svc/differ.h"

#include "common/names.h"

namespace coderef::watcher {

void Differ::AddEvent(v1::EventType type, const v1::Item& item, bool with_item,
                      std::vector<v1::ChangeEvent>* events) {
  if (!events) return;
  v1::ChangeEvent ev;
  ev.set_type(type);
  ev.set_kind(item.kind());
  ev.set_project(item.project());
  ev.set_file_path(item.file_path());
  ev.set_feature_name(item.feature_name());
  ev.set_location(item.location());
  ev.set_key(item.key());
  if (with_item) *ev.mutable_item() = item;
  events->push_back(std::move(ev));
}

void Differ::DiffSource(const std::string& source, std::map<std::string, v1::Item> now,
                        std::vector<v1::ChangeEvent>* events) {
  std::vector<std::string> old_ids = state_.SourceItems(source);
  std::vector<std::string> new_ids;
  new_ids.reserve(now.size());
  for (auto& [id, item] : now) {
    new_ids.push_back(id);
    const v1::Item* old = state_.Find(id);
    if (!old) {
      AddEvent(EventTypeFor(item.kind(), Change::kAdded), item, true, events);
      state_.Put(id, std::move(item));
    } else if (old->content_hash() != item.content_hash() || old->valid() != item.valid()) {
      AddEvent(EventTypeFor(item.kind(), Change::kUpdated), item, true, events);
      state_.Put(id, std::move(item));
    }
  }
  for (const auto& id : old_ids) {
    if (now.count(id)) continue;
    if (const v1::Item* old = state_.Find(id)) {
      AddEvent(EventTypeFor(old->kind(), Change::kDeleted), *old, false, events);
      state_.Erase(id);
    }
  }
  state_.SetSourceItems(source, std::move(new_ids));
}

Differ::Put Differ::PutItem(const v1::Item& item, v1::EventType added_type, v1::EventType updated_type,
                            std::vector<v1::ChangeEvent>* events) {
  std::string id = StateStore::ItemId(item);
  const v1::Item* published = state_.Find(id);
  if (!published) {
    state_.Put(id, item);
    AddEvent(added_type, item, true, events);
    return Put::kAdded;
  }
  if (published->content_hash() != item.content_hash()) {
    state_.Put(id, item);
    AddEvent(updated_type, item, true, events);
    return Put::kUpdated;
  }
  return Put::kUnchanged;
}

void Differ::RemoveItem(const std::string& id, v1::EventType type, std::vector<v1::ChangeEvent>* events) {
  if (const v1::Item* published = state_.Find(id)) {
    AddEvent(type, *published, false, events);
    state_.Erase(id);
  }
}

}  // namespace coderef::watcher
