#include "gateway-svc/clone_sync.h"

#include <algorithm>

#include "common/log.h"

namespace coderef::gateway {

CloneSync::CloneSync(CloneSyncOptions options, const Clock* clock, GatewayMetrics* metrics)
    : options_(options), clock_(clock), metrics_(metrics) {
  last_message_ = clock_->Now();
}

void CloneSync::Start() {
  last_message_ = clock_->Now();
  StartSnapshot(SnapshotCause::kInitial, false);
}

void CloneSync::StartSnapshot(SnapshotCause cause, bool reset_socket) {
  state_ = State::kAwaiting;
  history_ = false;
  cause_ = ever_live_ ? cause : SnapshotCause::kInitial;
  request_id_ = "gw-" + std::to_string(++request_counter_);
  request_pending_ = true;
  reset_socket_ = reset_socket;
  // A retry waits longer each time (the watcher may be down for a while);
  // the watcher's return triggers an immediate retry (OnFeedMessage).
  timeout_ms_ = reset_socket ? std::min(std::max(timeout_ms_, options_.snapshot_timeout_ms) * 2,
                                        options_.max_snapshot_timeout_ms)
                             : options_.snapshot_timeout_ms;
  deadline_ = clock_->Now() + Millis(timeout_ms_);
  next_chunk_ = 0;
  snap_epoch_.clear();
  snap_seq_ = 0;
  snap_items_.clear();
  LogInfo("snapshot.request")
      .Kv("request_id", request_id_)
      .Kv("cause", SnapshotCauseName(cause_))
      .Kv("retry", reset_socket);
}

void CloneSync::StartHistory(const char* why, bool reset_socket) {
  state_ = State::kAwaiting;
  history_ = true;
  cause_ = SnapshotCause::kGap;
  request_id_ = "gw-h" + std::to_string(++request_counter_);
  request_pending_ = true;
  reset_socket_ = reset_socket;
  timeout_ms_ = options_.snapshot_timeout_ms;
  deadline_ = clock_->Now() + Millis(timeout_ms_);
  next_chunk_ = 0;
  LogInfo("feed.gap_fetch")
      .Kv("request_id", request_id_)
      .Kv("epoch", epoch_)
      .Kv("after_seq", last_seq_)
      .Kv("reason", why);
}

bool CloneSync::TakeRequest(v1::SnapshotRequest* request, bool* reset_socket) {
  if (!request_pending_) return false;
  request_pending_ = false;
  request->Clear();
  request->set_request_id(request_id_);
  if (history_) {
    request->mutable_history()->set_epoch(epoch_);
    request->mutable_history()->set_after_seq(last_seq_);
  }
  *reset_socket = reset_socket_;
  reset_socket_ = false;
  return true;
}

bool CloneSync::TakeRequest(std::string* request_id, bool* reset_socket) {
  v1::SnapshotRequest req;
  if (!TakeRequest(&req, reset_socket)) return false;
  *request_id = req.request_id();
  return true;
}

std::vector<FeedUpdate> CloneSync::TakeUpdates() {
  std::vector<FeedUpdate> out;
  out.swap(out_);
  return out;
}

Millis CloneSync::TimeUntilNextTick() const {
  SteadyTime now = clock_->Now();
  SteadyTime next = now + Millis(1000);
  if (liveness_ != Liveness::kDown)
    next = std::min(next, last_message_ + Millis(options_.watcher_timeout_ms) + Millis(1));
  if (state_ == State::kAwaiting) next = std::min(next, deadline_);
  auto d = std::chrono::duration_cast<Millis>(next - now);
  return std::max(d, Millis(1));
}

void CloneSync::OnFeedMessage(v1::FeedMessage&& msg, int64_t received_us) {
  last_message_ = clock_->Now();
  if (liveness_ != Liveness::kUp) {
    bool was_down = liveness_ == Liveness::kDown;
    liveness_ = Liveness::kUp;
    FeedUpdate u;
    u.type = FeedUpdate::Type::kWatcherUp;
    u.epoch = msg.has_event() ? msg.event().epoch() : msg.heartbeat().epoch();
    out_.push_back(std::move(u));
    if (was_down) LogInfo("feed.watcher_up").Kv("epoch", out_.back().epoch);
    // A request sent while the watcher was away may be lost: ask again now,
    // on a fresh socket.
    if (state_ == State::kAwaiting && was_down) {
      if (history_) StartHistory("the watcher is back", true);
      else StartSnapshot(cause_, true);
    }
  }
  Dispatch(std::move(msg), received_us);
}

void CloneSync::Buffer(v1::FeedMessage&& msg, int64_t received_us) {
  if (buffer_.size() >= options_.max_buffered) {
    // Dropping makes a gap after the snapshot, which triggers another one.
    LogWarn("feed.buffer_overflow")
        .Kv("buffered", static_cast<uint64_t>(buffer_.size()))
        .Kv("reason", "snapshot slow to arrive; dropping buffered events");
    buffer_.clear();
  }
  buffer_.push_back({std::move(msg), received_us});
}

void CloneSync::Dispatch(v1::FeedMessage&& msg, int64_t received_us) {
  if (state_ != State::kLive) {
    if (msg.has_event()) Buffer(std::move(msg), received_us);
    else if (msg.has_heartbeat()) Buffer(std::move(msg), received_us);
    return;
  }
  if (msg.has_heartbeat()) {
    const v1::Heartbeat& hb = msg.heartbeat();
    if (hb.epoch() != epoch_) {
      LogInfo("feed.new_epoch")
          .Kv("epoch", hb.epoch())
          .Kv("previous", epoch_)
          .Kv("reason", "heartbeat of a new epoch: the watcher restarted");
      StartSnapshot(SnapshotCause::kEpoch, false);
    } else if (hb.seq() > last_seq_) {
      if (metrics_) metrics_->feed_gaps->Add();
      LogWarn("feed.gap")
          .Kv("epoch", epoch_)
          .Kv("last_seq", last_seq_)
          .Kv("heartbeat_seq", hb.seq())
          .Kv("reason", "heartbeat ahead of the last event: events were lost");
      StartHistory("heartbeat ahead of the last event", false);
    }
    return;
  }
  if (!msg.has_event()) return;
  v1::ChangeEvent* ev = msg.mutable_event();
  if (ev->epoch() != epoch_) {
    LogInfo("feed.new_epoch")
        .Kv("epoch", ev->epoch())
        .Kv("previous", epoch_)
        .Kv("reason", "event of a new epoch: the watcher restarted");
    StartSnapshot(SnapshotCause::kEpoch, false);
    Buffer(std::move(msg), received_us);
    return;
  }
  if (ev->seq() <= last_seq_) return;  // already in the snapshot
  if (ev->seq() > last_seq_ + 1) {
    if (metrics_) metrics_->feed_gaps->Add();
    LogWarn("feed.gap")
        .Kv("epoch", epoch_)
        .Kv("last_seq", last_seq_)
        .Kv("seq", ev->seq())
        .Kv("missing", ev->seq() - last_seq_ - 1)
        .Kv("reason", "seq gap: the PUB dropped events");
    StartHistory("seq gap", false);
    Buffer(std::move(msg), received_us);
    return;
  }
  last_seq_ = ev->seq();
  EmitEvent(std::move(*ev), received_us);
}

void CloneSync::EmitEvent(v1::ChangeEvent&& ev, int64_t received_us) {
  // Runs of at most 64 events: the io thread applies a burst a slice at a
  // time anyway, and a vector of thousands of events (hundreds of KB) is
  // costly to grow here and to free there (malloc consolidates its bins on
  // every large free).
  constexpr size_t kMaxEventsPerUpdate = 64;
  if (out_.empty() || out_.back().type != FeedUpdate::Type::kEvents ||
      out_.back().events.size() >= kMaxEventsPerUpdate) {
    FeedUpdate u;
    u.type = FeedUpdate::Type::kEvents;
    u.events.reserve(kMaxEventsPerUpdate);
    out_.push_back(std::move(u));
  }
  out_.back().events.push_back({std::move(ev), received_us});
}

void CloneSync::OnSnapshotChunk(v1::SnapshotChunk&& chunk) {
  if (state_ != State::kAwaiting ||
      (!chunk.request_id().empty() && chunk.request_id() != request_id_)) {
    LogDebug("snapshot.stale_chunk").Kv("request_id", chunk.request_id());
    return;
  }
  if (history_) {
    if (chunk.history() != v1::HISTORY_STATUS_UNSPECIFIED) {
      OnHistoryChunk(std::move(chunk));
      return;
    }
    // A watcher without history support answered with a snapshot: use it.
    LogInfo("feed.gap_snapshot").Kv("reason", "the watcher answered the history request with a snapshot");
    history_ = false;
  }
  bool consistent = chunk.chunk_index() == next_chunk_ &&
                    (next_chunk_ == 0 || (chunk.epoch() == snap_epoch_ && chunk.seq() == snap_seq_));
  if (!consistent) {
    LogWarn("snapshot.inconsistent")
        .Kv("request_id", request_id_)
        .Kv("chunk_index", chunk.chunk_index())
        .Kv("expected", next_chunk_)
        .Kv("reason", "chunk out of order or from another state; asking again");
    StartSnapshot(cause_, true);
    return;
  }
  if (next_chunk_ == 0) {
    snap_epoch_ = chunk.epoch();
    snap_seq_ = chunk.seq();
    snap_items_.reserve(chunk.total_items());
  }
  for (auto& item : *chunk.mutable_items()) snap_items_.push_back(std::move(item));
  ++next_chunk_;
  if (chunk.last()) Complete();
}

void CloneSync::Complete() {
  FeedUpdate u;
  u.type = FeedUpdate::Type::kSnapshot;
  u.epoch = snap_epoch_;
  u.seq = snap_seq_;
  u.items = std::move(snap_items_);
  u.cause = cause_;
  snap_items_.clear();
  out_.push_back(std::move(u));
  epoch_ = snap_epoch_;
  last_seq_ = snap_seq_;
  GoLive();
}

void CloneSync::OnHistoryChunk(v1::SnapshotChunk&& chunk) {
  const char* fallback = nullptr;
  if (chunk.history() != v1::HISTORY_STATUS_OK) fallback = "the watcher no longer holds the range (gone)";
  else if (chunk.epoch() != epoch_) fallback = "the watcher is in another epoch";
  else if (chunk.chunk_index() != next_chunk_) fallback = "history chunk out of order";
  if (!fallback) {
    ++next_chunk_;
    for (auto& ev : *chunk.mutable_events()) {
      if (ev.seq() <= last_seq_) continue;
      if (ev.seq() != last_seq_ + 1) {
        fallback = "the history reply has a gap";
        break;
      }
      last_seq_ = ev.seq();
      EmitEvent(std::move(ev), clock_->UnixMicros());
    }
  }
  if (fallback) {
    LogWarn("feed.gap_snapshot").Kv("after_seq", last_seq_).Kv("reason", fallback);
    StartSnapshot(SnapshotCause::kGap, false);
    return;
  }
  if (!chunk.last()) return;
  LogInfo("feed.gap_filled")
      .Kv("request_id", request_id_)
      .Kv("epoch", epoch_)
      .Kv("seq", last_seq_)
      .Kv("chunks", next_chunk_);
  GoLive();
}

void CloneSync::GoLive() {
  state_ = State::kLive;
  history_ = false;
  ever_live_ = true;
  timeout_ms_ = 0;
  // Apply what arrived meanwhile: same epoch and newer only (the recipe);
  // a gap among them starts another snapshot, which buffers the rest.
  std::vector<Buffered> buffered;
  buffered.swap(buffer_);
  for (Buffered& b : buffered) {
    if (state_ != State::kLive) {
      buffer_.push_back(std::move(b));
      continue;
    }
    const std::string& e = b.msg.has_event() ? b.msg.event().epoch() : b.msg.heartbeat().epoch();
    if (e != epoch_) continue;
    Dispatch(std::move(b.msg), b.received_us);
  }
}

void CloneSync::Tick() {
  SteadyTime now = clock_->Now();
  if (liveness_ != Liveness::kDown && now - last_message_ > Millis(options_.watcher_timeout_ms)) {
    liveness_ = Liveness::kDown;
    LogWarn("feed.watcher_down")
        .Kv("silent_ms", static_cast<int64_t>(
                             std::chrono::duration_cast<Millis>(now - last_message_).count()))
        .Kv("reason", "no heartbeat within --watcher-timeout-ms");
    FeedUpdate u;
    u.type = FeedUpdate::Type::kWatcherDown;
    out_.push_back(std::move(u));
  }
  if (state_ == State::kAwaiting && now >= deadline_) {
    LogWarn("snapshot.timeout")
        .Kv("request_id", request_id_)
        .Kv("reason", "no complete reply within the snapshot timeout; asking again");
    StartSnapshot(cause_, true);
  }
}

}  // namespace coderef::gateway
