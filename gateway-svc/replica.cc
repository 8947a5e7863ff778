#include "gateway-svc/replica.h"

#include "common/names.h"

namespace coderef::gateway {

void Replica::Reset(std::string epoch, uint64_t seq, std::vector<v1::Item> items) {
  for (auto& m : items_) m.clear();
  for (auto& item : items) {
    Key key(item.project(), item.key());
    items_[Index(item.kind())][std::move(key)] = std::move(item);
  }
  epoch_ = std::move(epoch);
  seq_ = seq;
  has_snapshot_ = true;
}

std::string Replica::EventKey(const v1::ChangeEvent& ev) {
  if (!ev.key().empty()) return ev.key();
  if (ev.has_item() && !ev.item().key().empty()) return ev.item().key();
  return ev.file_path();
}

bool Replica::Apply(v1::ChangeEvent& ev, const v1::Item** stored) {
  *stored = nullptr;
  if (!has_snapshot_ || ev.epoch() != epoch_ || ev.seq() != seq_ + 1) return false;
  v1::Kind kind = ev.kind() != v1::KIND_UNSPECIFIED ? ev.kind() : KindOf(ev.type());
  ItemMap& map = items_[Index(kind)];
  Key key(ev.project(), EventKey(ev));
  if (IsDeletion(ev.type()) || !ev.has_item()) {
    map.erase(key);
  } else {
    v1::Item& slot = map[std::move(key)];
    slot = std::move(*ev.mutable_item());
    ev.clear_item();
    *stored = &slot;
  }
  seq_ = ev.seq();
  return true;
}

size_t Replica::size() const {
  size_t n = 0;
  for (const auto& m : items_) n += m.size();
  return n;
}

const v1::Item* Replica::Find(v1::Kind kind, const std::string& project,
                              const std::string& key) const {
  const ItemMap& map = items_[Index(kind)];
  auto it = map.find(Key(project, key));
  return it == map.end() ? nullptr : &it->second;
}

std::string Replica::ProjectName(const std::string& project_id) const {
  const ItemMap& projects = items_[Index(v1::KIND_PROJECT)];
  auto it = projects.lower_bound(Key(project_id, ""));
  if (it != projects.end() && it->first.first == project_id && it->second.has_project_info() &&
      !it->second.project_info().name().empty()) {
    return it->second.project_info().name();
  }
  return project_id;
}

const v1::Item* Replica::FindFile(const std::string& project, const std::string& file_path) const {
  for (v1::Kind kind : {v1::KIND_PLAN, v1::KIND_STUB, v1::KIND_WORKORDER}) {
    if (const v1::Item* item = Find(kind, project, file_path)) return item;
  }
  // Keys normally equal file paths; fall back to a scan for odd keys.
  for (v1::Kind kind : {v1::KIND_PLAN, v1::KIND_STUB, v1::KIND_WORKORDER}) {
    const ItemMap& map = items_[Index(kind)];
    for (auto it = map.lower_bound(Key(project, "")); it != map.end() && it->first.first == project;
         ++it) {
      if (it->second.file_path() == file_path) return &it->second;
    }
  }
  return nullptr;
}

}  // namespace coderef::gateway
