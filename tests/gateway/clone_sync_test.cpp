#include "gateway-svc/clone_sync.h"

#include <gtest/gtest.h>

#include "tests/gateway/test_items.h"

namespace coderef::gateway {
namespace {

using testing::EventFor;

v1::FeedMessage Ev(const std::string& epoch, uint64_t seq) {
  v1::FeedMessage m;
  *m.mutable_event() =
      EventFor(epoch, seq, Change::kAdded, testing::PlanItem("p", "f" + std::to_string(seq)));
  return m;
}

v1::FeedMessage Hb(const std::string& epoch, uint64_t seq) {
  v1::FeedMessage m;
  m.mutable_heartbeat()->set_epoch(epoch);
  m.mutable_heartbeat()->set_seq(seq);
  return m;
}

v1::SnapshotChunk Chunk(const std::string& id, const std::string& epoch, uint64_t seq,
                        uint32_t index, bool last, int items = 1) {
  v1::SnapshotChunk c;
  c.set_request_id(id);
  c.set_epoch(epoch);
  c.set_seq(seq);
  c.set_chunk_index(index);
  c.set_last(last);
  for (int i = 0; i < items; ++i)
    *c.add_items() = testing::PlanItem("p", "snap" + std::to_string(index) + "_" + std::to_string(i));
  return c;
}

class CloneSyncTest : public ::testing::Test {
 protected:
  CloneSyncTest() : sync_(Options(), &clock_, &metrics_) {}
  static CloneSyncOptions Options() {
    CloneSyncOptions o;
    o.watcher_timeout_ms = 3000;
    o.snapshot_timeout_ms = 2000;
    return o;
  }
  std::string TakeRequest(bool* reset = nullptr) {
    std::string id;
    bool r = false;
    EXPECT_TRUE(sync_.TakeRequest(&id, &r));
    if (reset) *reset = r;
    return id;
  }
  // Seqs of all event updates taken so far.
  std::vector<uint64_t> EventSeqs(const std::vector<FeedUpdate>& updates) {
    std::vector<uint64_t> out;
    for (const auto& u : updates)
      if (u.type == FeedUpdate::Type::kEvents)
        for (const auto& e : u.events) out.push_back(e.event.seq());
    return out;
  }
  const FeedUpdate* Find(const std::vector<FeedUpdate>& updates, FeedUpdate::Type t) {
    for (const auto& u : updates)
      if (u.type == t) return &u;
    return nullptr;
  }

  FakeClock clock_;
  GatewayMetrics metrics_;
  CloneSync sync_;
};

TEST_F(CloneSyncTest, SubscribeThenSnapshotThenOnlyNewerEvents) {
  sync_.Start();
  std::string id = TakeRequest();
  std::string again;
  bool reset;
  EXPECT_FALSE(sync_.TakeRequest(&again, &reset)) << "one request at a time";
  // Events arrive while the snapshot is outstanding: buffered.
  for (uint64_t s = 3; s <= 7; ++s) sync_.OnFeedMessage(Ev("E", s), 0);
  EXPECT_EQ(sync_.buffered(), 5u);
  auto early = sync_.TakeUpdates();
  EXPECT_TRUE(EventSeqs(early).empty());
  ASSERT_NE(Find(early, FeedUpdate::Type::kWatcherUp), nullptr);
  // The snapshot is consistent with seq 5.
  sync_.OnSnapshotChunk(Chunk(id, "E", 5, 0, false, 2));
  sync_.OnSnapshotChunk(Chunk(id, "E", 5, 1, true, 1));
  auto updates = sync_.TakeUpdates();
  const FeedUpdate* snap = Find(updates, FeedUpdate::Type::kSnapshot);
  ASSERT_NE(snap, nullptr);
  EXPECT_EQ(snap->epoch, "E");
  EXPECT_EQ(snap->seq, 5u);
  EXPECT_EQ(snap->items.size(), 3u);
  EXPECT_EQ(snap->cause, SnapshotCause::kInitial);
  EXPECT_EQ(EventSeqs(updates), (std::vector<uint64_t>{6, 7}));
  EXPECT_TRUE(sync_.live());
  sync_.OnFeedMessage(Ev("E", 8), 0);
  sync_.OnFeedMessage(Ev("E", 8), 0);  // duplicate: dropped
  EXPECT_EQ(EventSeqs(sync_.TakeUpdates()), (std::vector<uint64_t>{8}));
}

TEST_F(CloneSyncTest, BufferedEventsOfAnotherEpochAreDropped) {
  sync_.Start();
  std::string id = TakeRequest();
  sync_.OnFeedMessage(Ev("OLD", 9), 0);
  sync_.OnFeedMessage(Ev("E", 2), 0);
  sync_.OnSnapshotChunk(Chunk(id, "E", 1, 0, true));
  auto updates = sync_.TakeUpdates();
  EXPECT_EQ(EventSeqs(updates), (std::vector<uint64_t>{2}));
  EXPECT_TRUE(sync_.live());
}

// A history reply: events [from, to] of `epoch`, the watcher at `seq`.
v1::SnapshotChunk HistoryChunk(const std::string& id, const std::string& epoch, uint64_t seq,
                               uint64_t from, uint64_t to, uint32_t index, bool last,
                               v1::HistoryStatus status = v1::HISTORY_STATUS_OK) {
  v1::SnapshotChunk c = Chunk(id, epoch, seq, index, last, 0);
  c.set_history(status);
  for (uint64_t s = from; s <= to && status == v1::HISTORY_STATUS_OK; ++s) *c.add_events() = Ev(epoch, s).event();
  return c;
}

TEST_F(CloneSyncTest, SeqGapIsFetchedFromTheWatchersHistory) {
  sync_.Start();
  std::string id = TakeRequest();
  sync_.OnSnapshotChunk(Chunk(id, "E", 10, 0, true));
  ASSERT_NE(Find(sync_.TakeUpdates(), FeedUpdate::Type::kSnapshot), nullptr);
  sync_.OnFeedMessage(Ev("E", 11), 0);
  sync_.OnFeedMessage(Ev("E", 14), 0);  // 12, 13 lost at the PUB
  EXPECT_FALSE(sync_.live());
  EXPECT_TRUE(sync_.fetching_history());
  EXPECT_EQ(metrics_.feed_gaps->Get(), 1);
  v1::SnapshotRequest req;
  bool reset = true;
  ASSERT_TRUE(sync_.TakeRequest(&req, &reset));
  EXPECT_FALSE(reset);
  ASSERT_TRUE(req.has_history());
  EXPECT_EQ(req.history().epoch(), "E");
  EXPECT_EQ(req.history().after_seq(), 11u);
  sync_.OnFeedMessage(Ev("E", 15), 0);
  // The range in two chunks (the watcher is at 15 by then).
  sync_.OnSnapshotChunk(HistoryChunk(req.request_id(), "E", 15, 12, 13, 0, false));
  sync_.OnSnapshotChunk(HistoryChunk(req.request_id(), "E", 15, 14, 15, 1, true));
  EXPECT_TRUE(sync_.live());
  auto updates = sync_.TakeUpdates();
  EXPECT_EQ(Find(updates, FeedUpdate::Type::kSnapshot), nullptr) << "no re-snapshot";
  EXPECT_EQ(EventSeqs(updates), (std::vector<uint64_t>{11, 12, 13, 14, 15}));
  sync_.OnFeedMessage(Ev("E", 16), 0);
  EXPECT_EQ(EventSeqs(sync_.TakeUpdates()), (std::vector<uint64_t>{16}));
}

// A watcher restarted with its stored epoch: down, then back with a
// heartbeat ahead (the events it re-sent went out before we reconnected):
// the range comes from its history, with no snapshot.
TEST_F(CloneSyncTest, WatcherBackInTheSameEpochFillsTheGapWithoutASnapshot) {
  sync_.Start();
  std::string id = TakeRequest();
  sync_.OnSnapshotChunk(Chunk(id, "E", 10, 0, true));
  sync_.TakeUpdates();
  clock_.Advance(Millis(3500));
  sync_.Tick();
  ASSERT_NE(Find(sync_.TakeUpdates(), FeedUpdate::Type::kWatcherDown), nullptr);
  sync_.OnFeedMessage(Ev("E", 9), 0);   // re-sent, already had
  sync_.OnFeedMessage(Hb("E", 13), 0);  // 11..13 made while down
  v1::SnapshotRequest req;
  bool reset = false;
  ASSERT_TRUE(sync_.TakeRequest(&req, &reset));
  ASSERT_TRUE(req.has_history());
  EXPECT_EQ(req.history().after_seq(), 10u);
  sync_.OnSnapshotChunk(HistoryChunk(req.request_id(), "E", 13, 11, 13, 0, true));
  auto updates = sync_.TakeUpdates();
  ASSERT_NE(Find(updates, FeedUpdate::Type::kWatcherUp), nullptr);
  EXPECT_EQ(Find(updates, FeedUpdate::Type::kWatcherUp)->epoch, "E");
  EXPECT_EQ(Find(updates, FeedUpdate::Type::kSnapshot), nullptr);
  EXPECT_EQ(EventSeqs(updates), (std::vector<uint64_t>{11, 12, 13}));
  EXPECT_TRUE(sync_.live());
}

// A watcher without history support answers with a snapshot: it is used.
TEST_F(CloneSyncTest, ASnapshotAnswerToAHistoryRequestIsUsed) {
  sync_.Start();
  std::string id = TakeRequest();
  sync_.OnSnapshotChunk(Chunk(id, "E", 10, 0, true));
  sync_.TakeUpdates();
  sync_.OnFeedMessage(Ev("E", 12), 0);
  std::string id2 = TakeRequest();
  sync_.OnSnapshotChunk(Chunk(id2, "E", 12, 0, true));
  auto updates = sync_.TakeUpdates();
  const FeedUpdate* snap = Find(updates, FeedUpdate::Type::kSnapshot);
  ASSERT_NE(snap, nullptr);
  EXPECT_EQ(snap->cause, SnapshotCause::kGap);
  EXPECT_EQ(snap->seq, 12u);
  EXPECT_TRUE(sync_.live());
}

TEST_F(CloneSyncTest, SeqGapOlderThanTheWatchersHistoryTakesAFreshSnapshot) {
  sync_.Start();
  std::string id = TakeRequest();
  sync_.OnSnapshotChunk(Chunk(id, "E", 10, 0, true));
  sync_.OnFeedMessage(Ev("E", 11), 0);
  sync_.OnFeedMessage(Ev("E", 14), 0);  // 12, 13 lost at the PUB
  EXPECT_FALSE(sync_.live());
  EXPECT_EQ(metrics_.feed_gaps->Get(), 1);
  std::string hid = TakeRequest();
  sync_.OnSnapshotChunk(HistoryChunk(hid, "E", 14, 0, 0, 0, true, v1::HISTORY_STATUS_GONE));
  std::string id2 = TakeRequest();
  EXPECT_NE(id2, id);
  EXPECT_NE(id2, hid);
  sync_.OnFeedMessage(Ev("E", 15), 0);
  sync_.OnSnapshotChunk(Chunk(id2, "E", 14, 0, true));
  auto updates = sync_.TakeUpdates();
  EXPECT_EQ(EventSeqs(updates), (std::vector<uint64_t>{11, 15}));
  // Order: events before the gap, then the snapshot, then newer events.
  ASSERT_GE(updates.size(), 3u);
  size_t snap_index = 0;
  for (size_t i = 0; i < updates.size(); ++i)
    if (updates[i].type == FeedUpdate::Type::kSnapshot) snap_index = i;
  EXPECT_EQ(updates[snap_index].cause, SnapshotCause::kGap);
  EXPECT_EQ(updates[snap_index].seq, 14u);
  EXPECT_EQ(updates.back().type, FeedUpdate::Type::kEvents);
  EXPECT_EQ(updates.back().events.front().event.seq(), 15u);
}

TEST_F(CloneSyncTest, HeartbeatAheadIsAGap) {
  sync_.Start();
  std::string id = TakeRequest();
  sync_.OnSnapshotChunk(Chunk(id, "E", 10, 0, true));
  sync_.OnFeedMessage(Hb("E", 10), 0);
  EXPECT_TRUE(sync_.live());
  sync_.OnFeedMessage(Hb("E", 12), 0);  // 11 and 12 never arrived
  EXPECT_FALSE(sync_.live());
  EXPECT_EQ(metrics_.feed_gaps->Get(), 1);
  v1::SnapshotRequest req;
  bool reset = false;
  ASSERT_TRUE(sync_.TakeRequest(&req, &reset));
  EXPECT_EQ(req.history().after_seq(), 10u);
}

TEST_F(CloneSyncTest, NewEpochTakesAFreshSnapshot) {
  sync_.Start();
  std::string id = TakeRequest();
  sync_.OnSnapshotChunk(Chunk(id, "E1", 10, 0, true));
  sync_.TakeUpdates();
  sync_.OnFeedMessage(Hb("E2", 0), 0);
  EXPECT_FALSE(sync_.live());
  std::string id2 = TakeRequest();
  sync_.OnFeedMessage(Ev("E2", 1), 0);
  sync_.OnSnapshotChunk(Chunk(id2, "E2", 0, 0, true));
  auto updates = sync_.TakeUpdates();
  const FeedUpdate* snap = Find(updates, FeedUpdate::Type::kSnapshot);
  ASSERT_NE(snap, nullptr);
  EXPECT_EQ(snap->cause, SnapshotCause::kEpoch);
  EXPECT_EQ(snap->epoch, "E2");
  EXPECT_EQ(EventSeqs(updates), (std::vector<uint64_t>{1}));
  EXPECT_EQ(sync_.epoch(), "E2");
}

TEST_F(CloneSyncTest, HeartbeatSilenceIsWatcherDownAndItsReturnIsUp) {
  sync_.Start();
  std::string id = TakeRequest();
  sync_.OnFeedMessage(Hb("E", 0), 0);
  sync_.OnSnapshotChunk(Chunk(id, "E", 0, 0, true));
  sync_.TakeUpdates();
  clock_.Advance(Millis(2999));
  sync_.Tick();
  EXPECT_EQ(Find(sync_.TakeUpdates(), FeedUpdate::Type::kWatcherDown), nullptr);
  clock_.Advance(Millis(2));
  sync_.Tick();
  EXPECT_NE(Find(sync_.TakeUpdates(), FeedUpdate::Type::kWatcherDown), nullptr);
  clock_.Advance(Millis(5000));
  sync_.Tick();
  EXPECT_TRUE(sync_.TakeUpdates().empty()) << "down is reported once";
  sync_.OnFeedMessage(Hb("E", 0), 0);
  auto up = sync_.TakeUpdates();
  const FeedUpdate* u = Find(up, FeedUpdate::Type::kWatcherUp);
  ASSERT_NE(u, nullptr);
  EXPECT_EQ(u->epoch, "E");
  EXPECT_TRUE(sync_.live()) << "same epoch, same seq: nothing lost";
}

TEST_F(CloneSyncTest, UnansweredSnapshotIsAskedAgainOnAFreshSocket) {
  sync_.Start();
  std::string id = TakeRequest();
  clock_.Advance(Millis(1999));
  sync_.Tick();
  std::string none;
  bool reset = false;
  EXPECT_FALSE(sync_.TakeRequest(&none, &reset));
  clock_.Advance(Millis(1));
  sync_.Tick();
  std::string id2 = TakeRequest(&reset);
  EXPECT_TRUE(reset);
  EXPECT_NE(id, id2);
  // A late reply to the old request is ignored.
  sync_.OnSnapshotChunk(Chunk(id, "E", 3, 0, true));
  EXPECT_FALSE(sync_.live());
  sync_.OnSnapshotChunk(Chunk(id2, "E", 3, 0, true));
  EXPECT_TRUE(sync_.live());
}

TEST_F(CloneSyncTest, InconsistentChunksRestartTheSnapshot) {
  sync_.Start();
  std::string id = TakeRequest();
  sync_.OnSnapshotChunk(Chunk(id, "E", 3, 0, false));
  sync_.OnSnapshotChunk(Chunk(id, "E", 4, 1, true));  // another state
  EXPECT_FALSE(sync_.live());
  bool reset = false;
  std::string id2 = TakeRequest(&reset);
  EXPECT_TRUE(reset);
  sync_.OnSnapshotChunk(Chunk(id2, "E", 4, 1, true));  // index must start at 0
  EXPECT_FALSE(sync_.live());
}

TEST_F(CloneSyncTest, WatcherReturningWhileASnapshotIsPendingAsksAgainAtOnce) {
  sync_.Start();
  TakeRequest();
  clock_.Advance(Millis(3001));
  sync_.Tick();
  sync_.TakeUpdates();
  std::string id;
  bool reset = false;
  while (sync_.TakeRequest(&id, &reset)) {
  }
  sync_.OnFeedMessage(Hb("E", 0), 0);
  EXPECT_TRUE(sync_.TakeRequest(&id, &reset));
  EXPECT_TRUE(reset);
}

}  // namespace
}  // namespace coderef::gateway
