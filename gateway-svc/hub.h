// Hub: the gateway's io-thread coordinator. Wires the feed side (FeedState:
// replica + history of prepared frames) to the fan-out core (FanOut: per
// client a cursor into that history) and handles what concerns a client as
// a whole: resume decisions at connect, snapshots and resyncs, client
// messages (client_messages.h), flood control (flood_control.h) and
// ping/pong (pong_watch.h), and stuck sockets, and fetching from the
// watcher's history (HistorySource) what a client needs that is older than
// the ring: one request per range whatever the number of clients needing
// it, rendered once into a ReplayRange the clients share; the client is
// held meanwhile (a connecting one gets its hello, with the full `replayed`
// count, when the range arrives), and resyncs (history_gap) if the watcher
// cannot serve it. Knows nothing of sockets:
// clients are ClientSinks that pull their frames from fan_out() as their
// sockets drain; frames come from a FrameFactory.
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
#include "gateway-svc/client_sink.h"
#include "gateway-svc/fan_out.h"
#include "gateway-svc/feed_state.h"
#include "gateway-svc/feed_update.h"
#include "gateway-svc/flood_control.h"
#include "gateway-svc/frame.h"
#include "gateway-svc/gateway_metrics.h"
#include "gateway-svc/history_source.h"
#include "gateway-svc/pong_watch.h"
#include "gateway-svc/resume.h"
#include "gateway-svc/topic_filter.h"

namespace coderef::gateway {

struct HubOptions {
  size_t history = 10000;
  size_t max_queue_bytes = 1 << 20;  // per client: bytes one write takes, control queue bound
  int ping_ms = 30000;
  int pong_timeout_ms = 10000;  // a transport ping unanswered this long: close 1008
  int stuck_ms = 15000;         // a socket that takes nothing this long while data waits: 4000
  std::string gateway_id = "gateway";
  int max_frames_per_second = 100;  // client frames; more closes with 1008
};

struct ConnectRequest {
  TopicFilter topics;
  ResumeRequest resume;
};

class Hub final : private GapHandler {
 public:
  using ClientId = gateway::ClientId;

  // `metrics` and `clock` must outlive the hub.
  Hub(HubOptions options, FrameFactory factory, GatewayMetrics* metrics, const Clock* clock);
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  // The watcher's history, for clients needing events older than the ring
  // (optional: without it they get resync_required(history_gap)). Must
  // outlive the hub.
  void set_history_source(HistorySource* source) { history_source_ = source; }
  // History fetches in flight, and fetched ranges still in use.
  size_t fetches_in_flight() const { return fetches_.size(); }

  // Feed side.
  void Apply(std::vector<FeedUpdate>&& updates);
  void OnSnapshot(std::string epoch, uint64_t seq, std::vector<v1::Item> items,
                  SnapshotCause cause);
  // Appends the next event to the replica and the history; clients learn of
  // it at the next Publish. Returns the bytes of its frame (0 when it was
  // not applied), so the caller can size its slices.
  size_t Ingest(ReceivedEvent&& received);
  // Wakes the clients that have something new to write (once per slice of
  // events: each then writes the slice with one sendmsg).
  void Publish();
  // Ingest each, then Publish.
  void OnEvents(std::vector<ReceivedEvent>&& run);
  void OnEvent(ReceivedEvent&& received);
  void OnWatcherDown();
  // `restart`: a new watcher process that kept the epoch (announced to
  // clients even when the watcher was never seen down).
  void OnWatcherUp(const std::string& epoch, const std::optional<WatcherRestart>& restart = {});

  // Client side. Connect queues hello (and any replay or resync) at once.
  ClientId Connect(std::shared_ptr<ClientSink> sink, ConnectRequest request);
  void Disconnect(ClientId id);
  void OnClientFrame(ClientId id, bool binary, std::string_view payload);
  // A ping or pong frame from the client (liveness, flood accounting).
  void OnClientControlFrame(ClientId id);
  // App-level ping to every client plus a transport ping (to those not
  // already awaiting a pong).
  void PingAll();
  // Closes every client whose transport ping has gone unanswered for
  // --pong-timeout-ms while its socket took nothing (1008), and every client
  // whose socket has taken nothing for --stuck-ms while data waited (4000).
  // Returns when the next check is due, if any. One timer in the transport
  // drives it (armed also from set_on_deadline), not one per connection.
  std::optional<SteadyTime> CheckTimeouts();
  // Called with a new deadline for CheckTimeouts (a client's socket just
  // filled up).
  void set_on_deadline(std::function<void(SteadyTime)> f) { fan_out_.set_on_blocked(std::move(f)); }
  // Closes every client (shutdown).
  void CloseAll(uint16_t code, std::string_view reason);

  // The core the connections pull from.
  FanOut& fan_out() { return fan_out_; }
  const FeedState& state() const { return state_; }
  const Replica& replica() const { return state_.replica(); }
  const HistoryRing& history() const { return state_.history(); }
  size_t client_count() const { return clients_.size(); }
  WatcherState watcher_state() const { return state_.watcher(); }
  bool ready() const { return state_.ready(); }
  const HubOptions& options() const { return options_; }

 private:
  // What the hub keeps per client beyond the core's cursor (the sink is
  // the core's: FanOut::sink).
  struct Client {
    FloodWindow flood;
    PongWatch pong;
    bool closing = false;
    bool awaiting_hello = false;  // held for a history fetch; hello not sent yet
    uint64_t fetch = 0;           // the fetch it is held for (0: none)
  };
  // One request to the watcher's history: (after, until] of `epoch`, and
  // the clients held for it.
  struct Fetch {
    std::string epoch;
    uint64_t after = 0;
    uint64_t until = 0;
    std::vector<ClientId> waiting;
  };

  Client* Find(ClientId id);
  // GapHandler: the client fell out of the history.
  void OnHistoryGap(ClientId id, uint64_t next) override;
  // Queues a control frame; false when the client's control queue is full.
  bool Send(ClientId id, const FramePtr& frame);
  void Resync(ClientId id, ResyncReason reason);
  void Drop(ClientId id, Client& c, uint16_t code, std::string_view reason);
  void Broadcast(const FramePtr& frame);
  bool CountFrame(ClientId id, Client& c);
  void UpdateGauges();
  // Serves client `id`, needing events from `next` on (older than the
  // ring), from the watcher's history: from a fetched range still in use,
  // by joining a fetch in flight, or by a new one (the client is held
  // until it answers). False when there is no history source (or nothing
  // to fetch): the caller resyncs.
  bool FetchFor(ClientId id, uint64_t next);
  void OnFetched(uint64_t fetch_id, std::shared_ptr<const HistoryRange> range);
  // Hands `range` to the held client and releases it (with its hello if it
  // is connecting).
  void Deliver(ClientId id, const std::shared_ptr<const ReplayRange>& range);
  // The fetch for a held client failed: hello (if not sent), then
  // resync_required(history_gap).
  void FailFetch(ClientId id, std::string_view why);
  FramePtr MakeHello(const std::string& epoch, uint64_t seq, uint64_t replayed) const;

  HubOptions options_;
  GatewayMetrics* metrics_;
  const Clock* clock_;
  FeedState state_;
  FanOut fan_out_;
  std::unordered_map<ClientId, Client> clients_;
  ClientId next_id_ = 1;
  HistorySource* history_source_ = nullptr;
  std::unordered_map<uint64_t, Fetch> fetches_;  // by fetch id
  uint64_t next_fetch_ = 1;
  // Ranges fetched and still shared by some client: a later client needing
  // one joins it instead of fetching again.
  std::vector<std::weak_ptr<const ReplayRange>> ranges_;
  // The last few ranges fetched, kept a little while after their clients
  // are through (a reconnect wave arrives over seconds, not at once).
  static constexpr size_t kRecentRanges = 4;
  static constexpr Millis kRecentRangeTtl{10000};
  std::vector<std::pair<SteadyTime, std::shared_ptr<const ReplayRange>>> recent_;
};

}  // namespace coderef::gateway
