#include "watcher-svc/state_store.h"

#include "common/names.h"

namespace coderef::watcher {

std::string StateStore::TopicOf(const v1::Item& item) {
  return Topic(item.kind(), item.project());
}

std::string StateStore::ItemId(const v1::Item& item) {
  std::string id = TopicOf(item);
  id += '\n';
  id += item.key();
  return id;
}

const v1::Item* StateStore::Find(const std::string& id) const {
  auto it = items_.find(id);
  return it == items_.end() ? nullptr : &it->second;
}

void StateStore::ForEach(const std::string& prefix,
                         const std::function<bool(const v1::Item&)>& fn) const {
  for (auto it = items_.lower_bound(prefix); it != items_.end(); ++it) {
    if (it->first.compare(0, prefix.size(), prefix) != 0) break;
    // The prefix must match the topic part only (not run into the key).
    if (it->first.find('\n') < prefix.size()) break;
    if (!fn(it->second)) return;
  }
}

const std::vector<std::string>& StateStore::SourceItems(const std::string& source) const {
  static const std::vector<std::string> kEmpty;
  auto it = sources_.find(source);
  return it == sources_.end() ? kEmpty : it->second;
}

void StateStore::SetSourceItems(const std::string& source, std::vector<std::string> ids) {
  if (ids.empty()) sources_.erase(source);
  else sources_[source] = std::move(ids);
}

std::vector<std::string> StateStore::SourcesUnder(const std::string& dir) const {
  std::vector<std::string> out;
  std::string prefix = dir == "/" ? "/" : dir + "/";
  auto exact = sources_.find(dir);
  if (exact != sources_.end()) out.push_back(dir);
  for (auto it = sources_.lower_bound(prefix); it != sources_.end(); ++it) {
    if (it->first.compare(0, prefix.size(), prefix) != 0) break;
    out.push_back(it->first);
  }
  return out;
}

std::vector<std::string> StateStore::AllSources() const {
  std::vector<std::string> out;
  out.reserve(sources_.size());
  for (const auto& [k, v] : sources_) out.push_back(k);
  return out;
}

}  // namespace coderef::watcher
