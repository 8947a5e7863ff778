// Replica: the gateway's copy of the watcher's state (the read model behind
// REST), built from a snapshot and kept current by applying feed events in
// seq order. Items are stored per kind, sorted by (project, key), so lists
// come out in a stable order.
// Thread-safety: none; owned by the io thread.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "coderef/v1/feed.pb.h"

namespace coderef::gateway {

class Replica {
 public:
  using Key = std::pair<std::string, std::string>;  // (project, key)
  using ItemMap = std::map<Key, v1::Item>;

  // Replaces the whole state with a snapshot consistent with (epoch, seq).
  void Reset(std::string epoch, uint64_t seq, std::vector<v1::Item> items);

  // Applies one event. REQUIRES: has_snapshot(), ev.epoch() == epoch() and
  // ev.seq() == seq() + 1 (the feed client guarantees it); otherwise the
  // event is ignored and false returned. On success the item is moved out of
  // `ev` into the replica; *stored points at it (nullptr for a deletion).
  bool Apply(v1::ChangeEvent& ev, const v1::Item** stored);

  bool has_snapshot() const { return has_snapshot_; }
  const std::string& epoch() const { return epoch_; }
  uint64_t seq() const { return seq_; }
  size_t size() const;

  const ItemMap& items(v1::Kind kind) const { return items_[Index(kind)]; }
  const v1::Item* Find(v1::Kind kind, const std::string& project, const std::string& key) const;
  // The display name of a project (its registry "name"), else the id.
  std::string ProjectName(const std::string& project_id) const;
  // A file item (plan, stub or hand-off) of `project` at `file_path`.
  const v1::Item* FindFile(const std::string& project, const std::string& file_path) const;

  // The event's item identity: ev.key(), else the item's key, else file_path.
  static std::string EventKey(const v1::ChangeEvent& ev);

 private:
  static size_t Index(v1::Kind kind) {
    int k = static_cast<int>(kind);
    return (k >= 0 && k < 5) ? static_cast<size_t>(k) : 0;
  }

  bool has_snapshot_ = false;
  std::string epoch_;
  uint64_t seq_ = 0;
  std::array<ItemMap, 5> items_;  // indexed by v1::Kind
};

}  // namespace coderef::gateway
