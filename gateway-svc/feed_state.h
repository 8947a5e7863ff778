// FeedState: what the gateway knows of the watcher, read by both REST and
// the fan-out core: the replica (the read model behind REST), the history
// ring of prepared event frames (what live delivery and resume replay
// write), and whether the watcher is up. The feed side changes it; nothing
// here knows of clients or sockets.
// Thread-safety: none; owned by the io thread.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway-svc/feed_update.h"
#include "gateway-svc/frame.h"
#include "gateway-svc/gateway_metrics.h"
#include "gateway-svc/history_ring.h"
#include "gateway-svc/replica.h"

namespace coderef::gateway {

// Builds the shared frame for a JSON text (framed once).
using FrameFactory = std::function<FramePtr(std::string json)>;

enum class WatcherState { kUnknown, kUp, kDown };
std::string_view WatcherStateName(WatcherState s);

class FeedState {
 public:
  // `metrics` must outlive the state.
  FeedState(size_t history, FrameFactory factory, GatewayMetrics* metrics);

  // Replaces replica and history with a snapshot at (epoch, seq).
  void Reset(std::string epoch, uint64_t seq, std::vector<v1::Item> items);
  // Applies the next event to the replica, translates it to JSON once and
  // appends the frame to the history. False (logged) when it is not the
  // next event of the current epoch: the feed client only hands over
  // contiguous events, so that is a bug.
  bool Ingest(ReceivedEvent&& received);
  // Returns true when the state changed.
  bool SetWatcher(WatcherState s);

  const Replica& replica() const { return replica_; }
  const HistoryRing& history() const { return history_; }
  const std::string& epoch() const { return replica_.epoch(); }
  uint64_t seq() const { return replica_.seq(); }
  WatcherState watcher() const { return watcher_; }
  // A snapshot is applied and the watcher's heartbeat is live.
  bool ready() const { return replica_.has_snapshot() && watcher_ == WatcherState::kUp; }
  const FrameFactory& factory() const { return factory_; }

 private:
  FrameFactory factory_;
  GatewayMetrics* metrics_;
  Replica replica_;
  HistoryRing history_;
  WatcherState watcher_ = WatcherState::kUnknown;
};

}  // namespace coderef::gateway
