// FeedState: what the gateway knows of the watcher, read by both REST and
// the fan-out core: the replica (the read model behind REST), the history
// ring of prepared event frames (what live delivery and resume replay
// write), and whether the watcher is up. The feed side changes it; nothing
// here knows of clients or sockets.
// Thread-safety: none; owned by the io thread.
#pragma once

#include <algorithm>
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
  // The ring always holds at least this many events (one slice of the feed,
  // server.cc DrainFeed), so a live client never falls out of it between
  // two writes, whatever --history.
  static constexpr size_t kMinRing = 64;

  // `history`: how far back a resume may reach (--history). `metrics` must
  // outlive the state.
  FeedState(size_t history, FrameFactory factory, GatewayMetrics* metrics);

  // Replaces replica and history with a snapshot at (epoch, seq).
  void Reset(std::string epoch, uint64_t seq, std::vector<v1::Item> items);
  // Applies the next event to the replica, translates it to JSON once and
  // appends the frame to the history. False (logged) when it is not the
  // next event of the current epoch: the feed client only hands over
  // contiguous events, so that is a bug.
  bool Ingest(ReceivedEvent&& received);
  // An event older than the history (fetched from the watcher's history)
  // as a history entry: translated once, with the event's own item and the
  // project's current name. Touches neither replica nor history.
  HistoryEntry RenderPast(const v1::ChangeEvent& ev) const;
  // Returns true when the state changed.
  bool SetWatcher(WatcherState s);

  const Replica& replica() const { return replica_; }
  const HistoryRing& history() const { return history_; }
  // The oldest position a resume is served from (--history events back, or
  // the ring's base if later).
  uint64_t resume_base() const {
    const uint64_t seq = replica_.seq();
    return std::max(history_.base_seq(), seq - std::min<uint64_t>(seq, history_limit_));
  }
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
  size_t history_limit_;
  WatcherState watcher_ = WatcherState::kUnknown;
};

}  // namespace coderef::gateway
