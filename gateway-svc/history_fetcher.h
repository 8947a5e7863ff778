// HistoryFetcher: ranges of events fetched from the watcher's history
// (PROTOCOL §1 (restarts), PROTOCOL "History requests") for the gateway's
// fan-out core, e.g. a client resuming at a seq older than the gateway's own
// history (a gateway that has just started). Socket-free: the feed thread
// sends what TakeRequest gives on a DEALER of its own and feeds the replies
// back. A range already being fetched is fetched once: later callers of the
// same range join it, so a thousand clients resuming at the same seq cost
// one request.
// Thread-safety: none; owned by the feed thread (FeedClient::FetchHistory is
// the thread-safe way in). Callbacks run on the feed thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "coderef/v1/feed.pb.h"
#include "common/clock.h"

namespace coderef::gateway {

struct HistoryRange {
  std::string epoch;
  uint64_t after_seq = 0;  // the events after this seq ...
  uint64_t until_seq = 0;  // ... up to this one (0: up to the watcher's last seq)
  // True with the events (in seq order, gap-free from after_seq + 1); false
  // when the watcher no longer holds the range, is in another epoch, or did
  // not answer in time (`error` says which).
  bool ok = false;
  std::string error;
  uint64_t watcher_seq = 0;  // the watcher's last seq when it answered
  std::vector<v1::ChangeEvent> events;
};
using HistoryCallback = std::function<void(std::shared_ptr<const HistoryRange>)>;

class HistoryFetcher {
 public:
  // `clock` must outlive this.
  HistoryFetcher(const Clock* clock, int timeout_ms) : clock_(clock), timeout_ms_(timeout_ms) {}
  // Fetches still in flight fail ("the feed stopped"): every caller hears back.
  ~HistoryFetcher();
  HistoryFetcher(const HistoryFetcher&) = delete;
  HistoryFetcher& operator=(const HistoryFetcher&) = delete;

  // Fetches (after_seq, until_seq] of `epoch` and calls `done` with it.
  // Returns false when the same range is already being fetched (`done` then
  // joins that fetch).
  bool Fetch(const std::string& epoch, uint64_t after_seq, uint64_t until_seq, HistoryCallback done);
  // The next request to send, if any.
  bool TakeRequest(v1::SnapshotRequest* request);
  // A reply chunk; false when it belongs to no fetch of ours.
  bool OnChunk(v1::SnapshotChunk&& chunk);
  // Fails fetches that got no complete answer within the timeout.
  void Tick();
  size_t in_flight() const { return fetches_.size(); }

 private:
  using Key = std::tuple<std::string, uint64_t, uint64_t>;
  struct Pending {
    Key key;
    std::shared_ptr<HistoryRange> range;
    std::vector<HistoryCallback> callbacks;
    uint32_t next_chunk = 0;
    bool sent = false;
    SteadyTime deadline{};
  };
  void Finish(std::string request_id, bool ok, std::string error);  // by value: may be a key it erases

  const Clock* clock_;
  int timeout_ms_;
  uint64_t counter_ = 0;
  std::map<std::string, Pending> fetches_;  // by request id
  std::map<Key, std::string> by_range_;
};

}  // namespace coderef::gateway
