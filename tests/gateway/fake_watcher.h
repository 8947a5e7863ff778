// FakeWatcher: stands in for watcher-svc in gateway tests. A real ZeroMQ PUB
// and ROUTER bound on tcp://127.0.0.1:* (ports read back), publishing
// [topic, FeedMessage] and answering SnapshotRequests exactly as
// docs/PROTOCOL.md section 1 says, from its own thread. The test drives it:
// publish events, lose events (a gap), pause heartbeats, restart with a new
// epoch, stop answering, go away and come back on the same ports.
// Thread-safety: every public method may be called from the test thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "coderef/v1/feed.pb.h"
#include "common/names.h"

namespace coderef::gateway::testing {

class FakeWatcher {
 public:
  // Binds both sockets (on the given ports, 0 = any) and starts the thread.
  // With `curve_secret` (Z85), both sockets are CURVE servers.
  explicit FakeWatcher(std::string epoch = "e000000000000001", int pub_port = 0,
                       int snapshot_port = 0, std::string curve_secret = "");
  ~FakeWatcher();

  std::string pub_endpoint() const { return "tcp://127.0.0.1:" + std::to_string(pub_port_); }
  std::string snapshot_endpoint() const {
    return "tcp://127.0.0.1:" + std::to_string(snapshot_port_);
  }
  int pub_port() const { return pub_port_; }
  int snapshot_port() const { return snapshot_port_; }

  // Sets the state without events (before clients look).
  void SetItems(const std::vector<v1::Item>& items);
  // Applies the change to the state, numbers it and publishes it. Returns
  // its seq.
  uint64_t Publish(Change change, const v1::Item& item);
  // Same, but the event is "dropped at the high-water mark": state and seq
  // move, nothing is sent.
  uint64_t Lose(Change change, const v1::Item& item);
  // Heartbeats every `ms` (0: none).
  void SetHeartbeatMs(int ms);
  void SetAnswerSnapshots(bool answer);
  // A new epoch with seq 0 (a restart that kept its files).
  void NewEpoch(const std::string& epoch);
  // Blocks until every queued message has been handed to the PUB socket.
  void Flush();

  std::string epoch() const;
  uint64_t seq() const;
  int snapshot_requests() const { return snapshot_requests_.load(); }

 private:
  struct Outgoing {
    std::string topic;
    std::string body;
  };
  void Run();
  uint64_t Change_(Change change, const v1::Item& item, bool send);

  int pub_port_ = 0;
  int snapshot_port_ = 0;
  std::string curve_secret_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string epoch_;
  uint64_t seq_ = 0;
  std::map<std::string, v1::Item> items_;  // topic "\n" key -> item
  std::deque<Outgoing> outbox_;
  int heartbeat_ms_ = 100;
  bool answer_ = true;
  bool ready_ = false;
  std::string bind_error_;
  std::atomic<bool> stop_{false};
  std::atomic<int> snapshot_requests_{0};
  std::thread thread_;
};

}  // namespace coderef::gateway::testing
