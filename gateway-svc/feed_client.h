// FeedClient: the gateway's feed thread. Owns a ZeroMQ SUB (the watcher's
// PUB) and a DEALER (the snapshot ROUTER); subscribes first, then drives
// CloneSync and hands its updates to a sink (the server posts them to the
// io thread). Never blocks on a watcher that is gone: polls with a short
// timeout, re-asks unanswered snapshots on a fresh DEALER, and relies on
// ZeroMQ's reconnects for the SUB.
// Thread-safety: Start/Stop from one thread; the sink runs on the feed
// thread.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/zmq_util.h"
#include "gateway-svc/clone_sync.h"
#include "gateway-svc/feed_update.h"
#include "gateway-svc/gateway_metrics.h"

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

 private:
  void Run();
  void RunOnce();  // throws zmq::error_t

  FeedClientOptions options_;
  Sink sink_;
  GatewayMetrics* metrics_;
  const Clock* clock_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace coderef::gateway
