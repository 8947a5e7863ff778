// Hub: the heart of the gateway's io thread. Owns the replica, the history
// ring and the set of WebSocket clients; applies feed updates, translates
// each event to JSON once and queues the same frame to every matching
// client; decides resumes; paces replays; enforces per-client limits
// (unsent bytes, frame floods, pong timeouts). Knows nothing of websocketpp:
// clients are ClientSinks, frames come from a FrameFactory.
// Thread-safety: none; every method runs on the io thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "gateway-svc/feed_update.h"
#include "gateway-svc/frame.h"
#include "gateway-svc/gateway_metrics.h"
#include "gateway-svc/history_ring.h"
#include "gateway-svc/replica.h"
#include "gateway-svc/resume.h"
#include "gateway-svc/topic_filter.h"

namespace coderef::gateway {

// One WebSocket connection as the hub sees it.
class ClientSink {
 public:
  virtual ~ClientSink() = default;
  // Bytes queued but not yet handed to the socket.
  virtual size_t BufferedBytes() const = 0;
  // Queues a frame (shared, not copied).
  virtual void Send(const FramePtr& frame) = 0;
  // Sends a transport-level ping frame. The hub times the answer
  // (Hub::CheckPongs); a pong, like any frame, comes back as
  // Hub::OnClientControlFrame.
  virtual void Ping() = 0;
  // Starts the close handshake; the transport calls Hub::Disconnect when
  // the connection is gone (a peer that does not answer is cut off after a
  // short close timeout).
  virtual void Close(uint16_t code, std::string_view reason) = 0;
  // For logs: the remote address.
  virtual std::string Describe() const = 0;
};

// Builds the shared frame for a JSON text (the transport frames it once).
using FrameFactory = std::function<FramePtr(std::string json)>;
// Joins frames (from the FrameFactory) into one frame that, sent once,
// delivers each of them in order as its own WebSocket message: one write
// for a run of events instead of one per event.
using BatchFactory = std::function<FramePtr(const std::vector<FramePtr>& frames)>;

struct HubOptions {
  size_t history = 10000;
  size_t max_queue_bytes = 1 << 20;
  int ping_ms = 30000;
  int pong_timeout_ms = 10000;  // a transport ping unanswered this long: close 1008
  std::string gateway_id = "gateway";
  int max_frames_per_second = 100;  // client frames; more closes with 1008
};

struct ConnectRequest {
  TopicFilter topics;
  ResumeRequest resume;
};

enum class WatcherState { kUnknown, kUp, kDown };
std::string_view WatcherStateName(WatcherState s);

class Hub {
 public:
  using ClientId = uint64_t;

  // `metrics` and `clock` must outlive the hub.
  Hub(HubOptions options, FrameFactory factory, GatewayMetrics* metrics, const Clock* clock);
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  // Feed side.
  void Apply(std::vector<FeedUpdate>&& updates);
  void OnSnapshot(std::string epoch, uint64_t seq, std::vector<v1::Item> items,
                  SnapshotCause cause);
  // Returns the bytes of the frame queued to each matching client (0 when
  // the event was not applied), so the caller can pace a burst.
  size_t OnEvent(ReceivedEvent&& received);
  // A run of consecutive events (as OnEvent, each): with a batch factory,
  // a live client that takes all of them gets them as one batch frame.
  // Returns the bytes queued per client.
  size_t OnEvents(std::vector<ReceivedEvent>&& run);
  // Enables OnEvents' batching (optional; without it, events go one by one).
  void set_batch_factory(BatchFactory f) { batch_factory_ = std::move(f); }
  void OnWatcherDown();
  void OnWatcherUp(const std::string& epoch);

  // Client side. Connect sends hello (and any replay or resync) at once.
  ClientId Connect(std::shared_ptr<ClientSink> sink, ConnectRequest request);
  void Disconnect(ClientId id);
  void OnClientFrame(ClientId id, bool binary, std::string_view payload);
  // A ping or pong frame from the client (liveness, flood accounting).
  void OnClientControlFrame(ClientId id);
  void OnPongTimeout(ClientId id);
  // App-level ping to every client plus a transport ping (to those not
  // already awaiting a pong).
  void PingAll();
  // Closes (1008) every client whose transport ping has gone unanswered for
  // --pong-timeout-ms. Returns when the next check is due (the earliest
  // pending deadline), or nothing when no ping is pending. One timer in the
  // transport drives it, not one per connection.
  std::optional<SteadyTime> CheckPongs();
  // Continues paced replays; true while some client is still catching up.
  bool PumpAll();
  bool NeedsPump() const { return pump_needed_; }
  // Closes every client (shutdown).
  void CloseAll(uint16_t code, std::string_view reason);

  const Replica& replica() const { return replica_; }
  const HistoryRing& history() const { return history_; }
  size_t client_count() const { return clients_.size(); }
  WatcherState watcher_state() const { return watcher_state_; }
  // A snapshot is applied and the watcher's heartbeat is live.
  bool ready() const { return replica_.has_snapshot() && watcher_state_ == WatcherState::kUp; }
  const HubOptions& options() const { return options_; }

 private:
  struct Client {
    std::shared_ptr<ClientSink> sink;
    TopicFilter topics;
    std::string epoch;   // the epoch `pos` refers to
    uint64_t pos = 0;    // every event <= pos has been sent or skipped
    bool behind = false; // catching up from history (paced)
    bool closing = false;
    SteadyTime window_start{};
    int window_frames = 0;
    SteadyTime last_activity{};
    // A transport ping is out and nothing has come back since. While set, no
    // new transport ping is sent (it would restart the pong timer).
    bool awaiting_pong = false;
    SteadyTime ping_sent{};  // when that ping went out
  };

  Client* Find(ClientId id);
  // Queues `frame` unless that takes the client past --max-queue-bytes, in
  // which case it is closed (4000 "slow client"). False when not sent.
  bool SendOrDrop(ClientId id, Client& c, const FramePtr& frame, size_t frames = 1);
  // Applies an event to the replica and the history; false if out of order.
  bool Ingest(ReceivedEvent&& received, HistoryEntry* entry);
  void Deliver(ClientId id, Client& c, const HistoryEntry& entry);
  void Pump(ClientId id, Client& c);
  void Resync(ClientId id, Client& c, ResyncReason reason);
  void Drop(ClientId id, Client& c, uint16_t code, std::string_view reason, bool slow);
  void Broadcast(const FramePtr& frame);
  bool CountFrame(ClientId id, Client& c);
  void UpdateGauges();

  HubOptions options_;
  FrameFactory factory_;
  BatchFactory batch_factory_;
  GatewayMetrics* metrics_;
  const Clock* clock_;
  Replica replica_;
  HistoryRing history_;
  WatcherState watcher_state_ = WatcherState::kUnknown;
  std::unordered_map<ClientId, Client> clients_;
  ClientId next_id_ = 1;
  bool pump_needed_ = false;
};

}  // namespace coderef::gateway
