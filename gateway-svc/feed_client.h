// FeedClient: the gateway's feed thread. Owns a ZeroMQ SUB (the watcher's
// PUB) and a DEALER (the snapshot ROUTER); subscribes first, then drives
// CloneSync and hands its updates to a sink (the server posts them to the
// io thread). Never blocks on a watcher that is gone: polls with a short
// timeout, re-asks unanswered snapshots on a fresh DEALER, and relies on
// ZeroMQ's reconnects for the SUB. A second DEALER fetches ranges of the
// watcher's history for the fan-out core (FetchHistory, HistoryFetcher).
// Thread-safety: Start/Stop from one thread; the sink runs on the feed
// thread.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "common/clock.h"
#include "common/zmq_util.h"
#include "gateway-svc/clone_sync.h"
#include "gateway-svc/feed_update.h"
#include "gateway-svc/gateway_metrics.h"
#include "gateway-svc/history_fetcher.h"

namespace coderef::gateway {

struct FeedClientOptions {
  std::string feed_endpoint = "tcp://127.0.0.1:5556";
  std::string snapshot_endpoint = "tcp://127.0.0.1:5557";
  CurveKeys curve;  // client side: server_public (+ client keys, generated if empty)
  CloneSyncOptions sync;
  int rcvhwm = 200000;  // SUB queue; past it the PUB drops and we re-snapshot
};

class FeedClient {
 public:
  using Sink = std::function<void(std::vector<FeedUpdate>&&)>;

  // `metrics` and `clock` must outlive the client.
  FeedClient(FeedClientOptions options, Sink sink, GatewayMetrics* metrics, const Clock* clock);
  ~FeedClient();
  FeedClient(const FeedClient&) = delete;
  FeedClient& operator=(const FeedClient&) = delete;

  void Start();
  // Stops and joins the thread (returns within ~100 ms).
  void Stop();

  // Thread-safe. Fetches the events after `after_seq` of `epoch` up to
  // `until_seq` (0: all) from the watcher's history and calls `done` on the
  // feed thread (within the snapshot timeout, ok or not). Concurrent calls
  // for the same range share one request. The seam for the fan-out core's
  // GapHandler (a client resume older than the gateway's own history).
  void FetchHistory(std::string epoch, uint64_t after_seq, uint64_t until_seq, HistoryCallback done);

 private:
  void Run();
  void RunOnce();  // throws zmq::error_t
  // Next reply chunk on `dealer` (non-blocking); false when none is waiting.
  bool RecvChunk(zmq::socket_t& dealer, std::vector<zmq::message_t>* parts, v1::SnapshotChunk* chunk);
  // Moves FetchHistory calls into `fetcher` and sends its requests.
  void SendHistoryRequests(HistoryFetcher& fetcher, zmq::socket_t& dealer);

  FeedClientOptions options_;
  Sink sink_;
  GatewayMetrics* metrics_;
  const Clock* clock_;
  std::atomic<bool> stop_{false};
  struct FetchRequest {
    std::string epoch;
    uint64_t after_seq, until_seq;
    HistoryCallback done;
  };
  std::mutex fetch_mu_;
  std::vector<FetchRequest> fetch_inbox_;  // guarded by fetch_mu_
  std::thread thread_;
};

}  // namespace coderef::gateway
