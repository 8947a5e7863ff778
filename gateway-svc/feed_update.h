// FeedUpdate: what the feed thread hands to the io thread (via asio::post),
// in order: a snapshot to replace the replica, a run of contiguous events,
// or a change of the watcher's liveness. Plain data.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "coderef/v1/feed.pb.h"

namespace coderef::gateway {

// Why a snapshot was taken.
enum class SnapshotCause {
  kInitial,  // first state since start
  kGap,      // events were lost on the feed (seq gap or heartbeat ahead)
  kEpoch,    // the watcher restarted (new epoch)
};
std::string_view SnapshotCauseName(SnapshotCause c);

// A watcher process that restarted and resumed its stored epoch (from its
// heartbeats, watcher_instance.h): nothing to resync.
struct WatcherRestart {
  uint64_t changes = 0;        // changes made while it was down, published at start
  uint64_t caught_up_seq = 0;  // the seq at which they are all out
};

struct ReceivedEvent {
  v1::ChangeEvent event;
  int64_t received_us = 0;  // Unix us when the feed thread received it
};

struct FeedUpdate {
  enum class Type { kSnapshot, kEvents, kWatcherDown, kWatcherUp };
  Type type = Type::kEvents;
  // kSnapshot
  std::string epoch;  // also kWatcherUp
  std::optional<WatcherRestart> restart;  // kWatcherUp of a restarted watcher (same epoch)
  uint64_t seq = 0;
  std::vector<v1::Item> items;
  SnapshotCause cause = SnapshotCause::kInitial;
  // kEvents: contiguous (seq n, n+1, ...) and newer than the last snapshot
  std::vector<ReceivedEvent> events;
};

}  // namespace coderef::gateway
