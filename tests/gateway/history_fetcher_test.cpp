// HistoryFetcher (gateway-svc/history_fetcher.h): ranges fetched from the
// watcher's history once per range, chunked replies assembled, gone /
// inconsistent / late replies reported as failures.
#include "gateway-svc/history_fetcher.h"

#include <gtest/gtest.h>

namespace coderef::gateway {
namespace {

v1::SnapshotChunk Reply(const std::string& id, uint64_t from, uint64_t to, uint32_t index, bool last,
                        v1::HistoryStatus status = v1::HISTORY_STATUS_OK) {
  v1::SnapshotChunk c;
  c.set_request_id(id);
  c.set_epoch("E");
  c.set_seq(100);
  c.set_chunk_index(index);
  c.set_last(last);
  c.set_history(status);
  for (uint64_t s = from; s <= to; ++s) {
    auto* ev = c.add_events();
    ev->set_epoch("E");
    ev->set_seq(s);
  }
  return c;
}

class HistoryFetcherTest : public ::testing::Test {
 protected:
  HistoryCallback Collect() {
    return [this](std::shared_ptr<const HistoryRange> r) { results_.push_back(std::move(r)); };
  }
  FakeClock clock_;
  // Before the fetcher: its destructor still calls back into it.
  std::vector<std::shared_ptr<const HistoryRange>> results_;
  HistoryFetcher fetcher_{&clock_, 3000};
};

TEST_F(HistoryFetcherTest, OneRequestPerRangeHowEverManyAskForIt) {
  EXPECT_TRUE(fetcher_.Fetch("E", 10, 20, Collect()));
  EXPECT_FALSE(fetcher_.Fetch("E", 10, 20, Collect())) << "joins the fetch in flight";
  EXPECT_TRUE(fetcher_.Fetch("E", 30, 0, Collect())) << "another range: its own fetch";
  v1::SnapshotRequest a, b, none;
  ASSERT_TRUE(fetcher_.TakeRequest(&a));
  ASSERT_TRUE(fetcher_.TakeRequest(&b));
  EXPECT_FALSE(fetcher_.TakeRequest(&none));
  EXPECT_EQ(a.history().epoch(), "E");
  EXPECT_EQ(a.history().after_seq(), 10u);
  EXPECT_EQ(a.history().until_seq(), 20u);
  EXPECT_EQ(b.history().after_seq(), 30u);
  ASSERT_TRUE(fetcher_.OnChunk(Reply(a.request_id(), 11, 15, 0, false)));
  EXPECT_TRUE(results_.empty());
  ASSERT_TRUE(fetcher_.OnChunk(Reply(a.request_id(), 16, 20, 1, true)));
  ASSERT_EQ(results_.size(), 2u) << "both callers of the range";
  EXPECT_EQ(results_[0], results_[1]) << "one shared result";
  EXPECT_TRUE(results_[0]->ok);
  ASSERT_EQ(results_[0]->events.size(), 10u);
  EXPECT_EQ(results_[0]->events.front().seq(), 11u);
  EXPECT_EQ(results_[0]->events.back().seq(), 20u);
  EXPECT_EQ(results_[0]->watcher_seq, 100u);
  EXPECT_EQ(fetcher_.in_flight(), 1u);
  // Once done, the same range is fetched anew.
  EXPECT_TRUE(fetcher_.Fetch("E", 10, 20, Collect()));
}

TEST_F(HistoryFetcherTest, GoneGapAndTimeoutAreFailures) {
  fetcher_.Fetch("E", 1, 0, Collect());
  fetcher_.Fetch("E", 2, 0, Collect());
  fetcher_.Fetch("E", 3, 0, Collect());
  v1::SnapshotRequest r1, r2, r3;
  ASSERT_TRUE(fetcher_.TakeRequest(&r1) && fetcher_.TakeRequest(&r2) && fetcher_.TakeRequest(&r3));
  fetcher_.OnChunk(Reply(r1.request_id(), 1, 0, 0, true, v1::HISTORY_STATUS_GONE));
  fetcher_.OnChunk(Reply(r2.request_id(), 4, 5, 0, true));  // 3 missing
  ASSERT_EQ(results_.size(), 2u);
  EXPECT_FALSE(results_[0]->ok);
  EXPECT_EQ(results_[0]->error, "gone");
  EXPECT_FALSE(results_[1]->ok);
  EXPECT_TRUE(results_[1]->events.empty());
  EXPECT_FALSE(fetcher_.OnChunk(Reply("not-ours", 1, 1, 0, true)));
  clock_.Advance(Millis(2999));
  fetcher_.Tick();
  EXPECT_EQ(results_.size(), 2u);
  clock_.Advance(Millis(2));
  fetcher_.Tick();
  ASSERT_EQ(results_.size(), 3u);
  EXPECT_EQ(results_[2]->error, "no answer in time");
  EXPECT_EQ(fetcher_.in_flight(), 0u);
}

TEST_F(HistoryFetcherTest, FetchesInFlightFailWhenTheFeedStops) {
  {
    HistoryFetcher f(&clock_, 3000);
    f.Fetch("E", 1, 0, Collect());
    f.Fetch("E", 1, 0, Collect());
  }
  ASSERT_EQ(results_.size(), 2u);
  EXPECT_FALSE(results_[0]->ok);
  EXPECT_EQ(results_[0]->error, "the feed stopped");
}

}  // namespace
}  // namespace coderef::gateway
