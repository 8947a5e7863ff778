// StateStore: the state last published by the watcher: every item by id,
// plus which source file produced which items. Ids sort by topic, so a
// snapshot filtered by topic prefix is a range scan. Not thread-safe (owned
// by the watcher loop; snapshots are cut from it in the same thread, so a
// snapshot is always consistent with the last published seq).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "coderef/v1/feed.pb.h"

namespace coderef::watcher {

class StateStore {
 public:
  // "<kind>/<project>\n<key>": sorts by topic first.
  static std::string ItemId(const v1::Item& item);
  static std::string TopicOf(const v1::Item& item);

  const v1::Item* Find(const std::string& id) const;
  void Put(const std::string& id, v1::Item item) { items_[id] = std::move(item); }
  void Erase(const std::string& id) { items_.erase(id); }
  size_t size() const { return items_.size(); }

  // Calls fn for every item whose topic starts with `prefix` ("" = all), in
  // id order. Stops early when fn returns false.
  void ForEach(const std::string& prefix, const std::function<bool(const v1::Item&)>& fn) const;

  // Source index: the item ids a source file produced last time.
  const std::vector<std::string>& SourceItems(const std::string& source) const;
  void SetSourceItems(const std::string& source, std::vector<std::string> ids);
  // Sources whose path is `dir` or lies under `dir/`.
  std::vector<std::string> SourcesUnder(const std::string& dir) const;
  std::vector<std::string> AllSources() const;

 private:
  std::map<std::string, v1::Item> items_;
  std::map<std::string, std::vector<std::string>> sources_;
};

}  // namespace coderef::watcher
