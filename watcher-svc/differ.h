// Differ: classification by final state (PROTOCOL §1). It compares
// the items a source yields now with the items it yielded at the last
// publish, as the StateStore holds them, updates the store and says what
// changed as events: a new id is `_added`, the same id with another content
// hash (or validity) `_updated`, an id gone `_deleted`. Project items (from
// the registry) go through Put/Remove here too, so every change to the
// published state passes through this one class: the place a durable store
// records a batch. Not thread-safe (the loop thread).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "coderef/v1/feed.pb.h"
#include "watcher-svc/state_store.h"

namespace coderef::watcher {

class Differ {
 public:
  // `state` must outlive this.
  explicit Differ(StateStore& state) : state_(state) {}

  // `now`: every item `source` yields at this flush (by item id). Appends
  // the events to *events; `events` nullptr only updates the state (the
  // initial scan: the state at start is what a snapshot at seq 0 shows).
  void DiffSource(const std::string& source, std::map<std::string, v1::Item> now,
                  std::vector<v1::ChangeEvent>* events);
  enum class Put { kUnchanged, kAdded, kUpdated };
  // A project item added or changed: `added_type` when it is new,
  // `updated_type` when its content hash differs, nothing when equal.
  Put PutItem(const v1::Item& item, v1::EventType added_type, v1::EventType updated_type,
               std::vector<v1::ChangeEvent>* events);
  // A project item removed (no-op when it was never published).
  void RemoveItem(const std::string& id, v1::EventType type, std::vector<v1::ChangeEvent>* events);

  static void AddEvent(v1::EventType type, const v1::Item& item, bool with_item,
                       std::vector<v1::ChangeEvent>* events);

 private:
  StateStore& state_;
};

}  // namespace coderef::watcher
