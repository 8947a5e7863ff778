// CloneSync: the subscriber side of the ZeroMQ guide's Clone pattern as a
// socket-free state machine (PROTOCOL section 1, "late joiner recipe").
// The feed thread subscribes first, then feeds every received message and
// snapshot chunk in here; CloneSync asks for snapshots, buffers events while
// one is outstanding, applies only events newer than it, detects seq gaps
// (seq > last+1, or a heartbeat ahead of the last seq: the missing range is
// fetched from the watcher's history, PROTOCOL §1 (restarts), and only when the
// watcher answers "gone" or cannot answer is a fresh snapshot taken) and new
// epochs (a fresh snapshot), times out unanswered requests, and
// watches the heartbeat (silence past the timeout: watcher down; a new
// watcher process that kept the epoch: watcher_up with the restart, see
// watcher_instance.h, whether or not it was seen down). Its output
// is an ordered list of FeedUpdates for the io thread.
// Thread-safety: none; owned by the feed thread. Time comes from a Clock, so
// tests step it by hand.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "coderef/v1/feed.pb.h"
#include "common/clock.h"
#include "gateway-svc/feed_update.h"
#include "gateway-svc/gateway_metrics.h"
#include "gateway-svc/watcher_instance.h"

namespace coderef::gateway {

struct CloneSyncOptions {
  int watcher_timeout_ms = 3000;   // heartbeat silence that means "watcher down"
  int snapshot_timeout_ms = 3000;  // an unanswered snapshot request is re-sent,
                                   // backing off (x2) up to max_snapshot_timeout_ms
  int max_snapshot_timeout_ms = 10000;
  size_t max_buffered = 500000;    // events held while a snapshot is pending
};

class CloneSync {
 public:
  // `metrics` may be null; `clock` must outlive this.
  CloneSync(CloneSyncOptions options, const Clock* clock, GatewayMetrics* metrics);

  // Requests the first snapshot. Call once, after subscribing.
  void Start();

  // A message from the SUB socket (event or heartbeat).
  void OnFeedMessage(v1::FeedMessage&& msg, int64_t received_us);
  // A reply chunk from the snapshot socket.
  void OnSnapshotChunk(v1::SnapshotChunk&& chunk);
  // Timers: watchdog and snapshot timeout. Call after each poll.
  void Tick();

  // A request to send on the snapshot socket (a snapshot, or a history
  // request for a gap), if one is due. *reset_socket is true when an earlier
  // request went unanswered: the caller should use a fresh DEALER so a stale
  // request or reply cannot linger.
  bool TakeRequest(v1::SnapshotRequest* request, bool* reset_socket);
  // The same, for callers that only need the request id.
  bool TakeRequest(std::string* request_id, bool* reset_socket);
  // Updates for the io thread, in order (consecutive events are batched).
  std::vector<FeedUpdate> TakeUpdates();
  // How long the caller may wait before the next Tick() matters.
  Millis TimeUntilNextTick() const;

  bool live() const { return state_ == State::kLive; }
  // A gap's range is being fetched from the watcher's history.
  bool fetching_history() const { return state_ == State::kAwaiting && history_; }
  const std::string& epoch() const { return epoch_; }
  uint64_t last_seq() const { return last_seq_; }
  size_t buffered() const { return buffer_.size(); }

 private:
  enum class State { kIdle, kAwaiting, kLive };
  struct Buffered {
    v1::FeedMessage msg;
    int64_t received_us;
  };

  void StartSnapshot(SnapshotCause cause, bool reset_socket);
  // A gap after last_seq_: ask the watcher's history for what follows it.
  void StartHistory(const char* why, bool reset_socket);
  void OnHistoryChunk(v1::SnapshotChunk&& chunk);
  // Live again after a snapshot or a filled gap: applies what was buffered.
  void GoLive();
  void Dispatch(v1::FeedMessage&& msg, int64_t received_us);
  void Complete();
  void Buffer(v1::FeedMessage&& msg, int64_t received_us);
  void EmitWatcherUp(const v1::FeedMessage& msg, const std::optional<WatcherRestart>& restart);
  void EmitEvent(v1::ChangeEvent&& ev, int64_t received_us);

  CloneSyncOptions options_;
  const Clock* clock_;
  GatewayMetrics* metrics_;
  State state_ = State::kIdle;
  bool ever_live_ = false;

  // Outstanding snapshot.
  uint64_t request_counter_ = 0;
  std::string request_id_;
  bool request_pending_ = false;
  bool reset_socket_ = false;
  SteadyTime deadline_{};
  int timeout_ms_ = 0;  // current snapshot timeout (backs off while unanswered)
  SnapshotCause cause_ = SnapshotCause::kInitial;
  bool history_ = false;  // the outstanding request is a history request
  uint32_t next_chunk_ = 0;
  std::string snap_epoch_;
  uint64_t snap_seq_ = 0;
  std::vector<v1::Item> snap_items_;
  std::vector<Buffered> buffer_;

  // Live position.
  std::string epoch_;
  uint64_t last_seq_ = 0;

  // Watchdog.
  SteadyTime last_message_{};
  enum class Liveness { kUnknown, kUp, kDown } liveness_ = Liveness::kUnknown;
  bool up_pending_ = false;  // back on an event: watcher_up at the next heartbeat
  WatcherInstance instance_;

  std::vector<FeedUpdate> out_;
};

}  // namespace coderef::gateway
