// Publisher: the watcher's ZeroMQ side. Numbers events (epoch + gap-free
// seq), publishes them on PUB as [topic, FeedMessage], sends heartbeats,
// and answers snapshot requests on the ROUTER from the published state
// (the ZeroMQ guide's Clone pattern). Owns both sockets; used only by the
// watcher loop thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "coderef/v1/feed.pb.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "common/zmq_util.h"
#include "watcher-svc/state_store.h"

namespace coderef::watcher {

struct PublisherOptions {
  std::string pub_endpoint = "tcp://127.0.0.1:5556";
  std::string snapshot_endpoint = "tcp://127.0.0.1:5557";
  int pub_hwm = 100000;             // messages queued per subscriber before PUB drops
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
  uint64_t seq() const { return seq_; }
  const std::string& pub_endpoint() const { return pub_bound_; }
  const std::string& snapshot_endpoint() const { return snapshot_bound_; }
  zmq::socket_t& router() { return router_; }

  // Stamps epoch, seq, first_change_us and published_us on each event and
  // publishes them in order.
  void Publish(std::vector<v1::ChangeEvent>* events, int64_t first_change_us);
  void Heartbeat(uint32_t interval_ms);
  // Answers every pending snapshot request (non-blocking drain).
  void ServeSnapshots(const StateStore& state);

 private:
  void AnswerSnapshot(const std::vector<zmq::message_t>& request, const StateStore& state);

  PublisherOptions options_;
  const Clock& clock_;
  zmq::socket_t pub_;
  zmq::socket_t router_;
  std::string pub_bound_, snapshot_bound_;
  std::string epoch_;
  uint64_t seq_ = 0;
  Metric* published_ = nullptr;
  Metric* send_failures_ = nullptr;
  Metric* snapshots_ = nullptr;
  Metric* heartbeats_ = nullptr;
  Metric* seq_gauge_ = nullptr;
};

}  // namespace coderef::watcher
