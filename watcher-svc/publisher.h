// Publisher: the watcher's ZeroMQ side. Numbers events (epoch + gap-free
// seq), publishes them as [topic, FeedMessage], sends heartbeats, and
// answers snapshot requests on the ROUTER from the published state (the
// ZeroMQ guide's Clone pattern). Owns both sockets; used only by the
// watcher loop thread.
//
// The feed socket is an XPUB with ZMQ_XPUB_NODROP: a subscriber whose queue
// (--pub-hwm messages) is full holds publishing back instead of silently
// losing messages. What cannot be sent yet waits, in order, in an outbox
// that the loop flushes as the subscribers read (a 100,000-file burst to a
// subscriber that reads slower than the watcher publishes loses nothing).
// A subscriber that makes no room for `block_ms` is treated as stuck: one
// message is sent in lossy mode, which drops it for the full queues and
// makes ZeroMQ skip them until they read again (logged and counted); such
// a subscriber sees the gap in the next heartbeat and re-snapshots, and
// the others go on losslessly.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "coderef/v1/feed.pb.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "common/zmq_util.h"
#include "watcher-svc/event_history.h"
#include "watcher-svc/history_reply.h"
#include "watcher-svc/state_store.h"

namespace coderef::watcher {

struct PublisherOptions {
  std::string pub_endpoint = "tcp://127.0.0.1:5556";
  std::string snapshot_endpoint = "tcp://127.0.0.1:5557";
  int pub_hwm = 100000;             // messages queued per subscriber before it holds publishing back
  int block_ms = 1000;              // how long a full subscriber may hold it back (< gateways' 3 s watchdog)
  uint32_t chunk_items = 1000;      // items per snapshot chunk (default)
  uint64_t chunk_bytes = 4 << 20;   // soft cap per chunk
  CurveKeys curve;                  // server keys: CURVE on both sockets when set
};

class Publisher {
 public:
  // Binds both sockets; throws zmq::error_t when an endpoint cannot be bound.
  Publisher(zmq::context_t& ctx, PublisherOptions options, const Clock& clock,
            MetricsRegistry& metrics);

  const std::string& epoch() const { return epoch_; }
  // The last seq assigned (the state and snapshots include it).
  uint64_t seq() const { return seq_; }
  // Every event up to this seq was handed to the PUB socket.
  uint64_t sent_seq() const { return sent_seq_; }
  // Goes on in `epoch` after `seq` (a resumed epoch, or a new one at 0).
  // What waits in the outbox still goes out first, with its old epoch.
  // `sent_seq`: every event up to it went out already (default: all).
  void SetEpoch(std::string epoch, uint64_t seq, uint64_t sent_seq = UINT64_MAX);
  // This process's random id, sent in every heartbeat (drawn at construction).
  const std::string& instance() const { return instance_; }
  // Marks this process as having resumed its stored epoch: heartbeats carry
  // `changes` (what changed while it was down, published at start) and
  // `caught_up_seq` (the seq at which that catch-up ended) from now on.
  void SetRestart(uint64_t changes, uint64_t caught_up_seq);
  const std::string& pub_endpoint() const { return pub_bound_; }
  const std::string& snapshot_endpoint() const { return snapshot_bound_; }
  zmq::socket_t& router() { return router_; }

  // Stamps epoch, seq, first_change_us and published_us on each event and
  // publishes them in order (what a full subscriber holds back waits in
  // the outbox).
  void Publish(std::vector<v1::ChangeEvent>* events, int64_t first_change_us);
  // Publish() in two steps, so a batch can be stored between them
  // (write-ahead, durable_state.h): Stamp numbers the events (advancing
  // seq()), Send publishes stamped events in order (also stored events
  // re-sent at a restart, with their own seqs).
  void Stamp(std::vector<v1::ChangeEvent>* events, int64_t first_change_us);
  void Send(std::vector<v1::ChangeEvent>* events);
  // A heartbeat, after every event already published.
  void Heartbeat(uint32_t interval_ms);
  // Sends what waits in the outbox, in order, until a subscriber's queue is
  // full (or, once it has been full for block_ms, to everyone who has
  // room). Returns true when the outbox is empty. The loop calls it while
  // pending(), every few milliseconds.
  bool Flush();
  bool pending() const { return !outbox_.empty(); }
  size_t outbox_size() const { return outbox_.size(); }
  // Reads the subscription messages the XPUB socket queues for us.
  void DrainSubscriptions();
  // Answers every pending snapshot request (non-blocking drain); history
  // requests from `history` (none: they are answered "gone").
  void ServeSnapshots(const StateStore& state, EventHistory* history = nullptr);
  // Sends the next chunk of one history answer in progress (round robin
  // over them); `history` as for ServeSnapshots. Returns history_pending().
  // The loop calls it once per turn and does not sleep while it is true,
  // so live events go out between chunks.
  bool ServeHistory(EventHistory* history);
  bool history_pending() const { return !history_jobs_.empty(); }

 private:
  void AnswerSnapshot(const std::vector<zmq::message_t>& request, const StateStore& state,
                      EventHistory* history);
  struct Outgoing {
    std::string topic;
    std::string body;
    uint64_t seq = 0;       // of the event; 0 for a heartbeat
  };
  void Enqueue(std::string topic, const v1::FeedMessage& msg, uint64_t seq);
  bool TrySend(const Outgoing& out);

  PublisherOptions options_;
  const Clock& clock_;
  zmq::socket_t pub_;
  zmq::socket_t router_;
  std::string pub_bound_, snapshot_bound_;
  std::string epoch_;
  std::string instance_;
  bool resumed_ = false;
  uint64_t restart_changes_ = 0;
  uint64_t caught_up_seq_ = 0;
  uint64_t seq_ = 0;
  uint64_t sent_seq_ = 0;
  std::deque<Outgoing> outbox_;
  std::deque<HistoryJob> history_jobs_;
  bool blocked_ = false;
  std::chrono::steady_clock::time_point blocked_since_{};
  Metric* published_ = nullptr;
  Metric* blocked_total_ = nullptr;
  Metric* lossy_ = nullptr;
  Metric* outbox_gauge_ = nullptr;
  Metric* send_failures_ = nullptr;
  Metric* snapshots_ = nullptr;
  Metric* histories_ = nullptr;
  Metric* heartbeats_ = nullptr;
  Metric* seq_gauge_ = nullptr;
};

}  // namespace coderef::watcher
