#include "gateway-svc/fan_out.h"

#include <gtest/gtest.h>

#include <random>

#include "fuzz/fan_out_model.h"
#include "fuzz/pull_sink.h"
#include "gateway-svc/ws_wire.h"

namespace coderef::gateway {
namespace {

using fuzz::FanOutModel;
using fuzz::PullSink;

// The oracle (fan_out_model.h) aborts on a violated invariant; these tests
// drive it with seeded randomness at a scale the fuzzer does not reach.
TEST(FanOut, ThousandsOfClientsWithRandomSpeedsFiltersAndResumesGetEveryMatchingEventOnce) {
  FanOutModel m(/*history=*/2000, /*max_queue_bytes=*/16384);
  std::mt19937 rng(20261206);
  auto below = [&](uint32_t n) { return static_cast<uint32_t>(rng() % n); };
  // Read speed per client: bytes its socket takes per round (0: stalled).
  std::vector<size_t> speed;
  for (int i = 0; i < 2000; ++i) {
    uint64_t since = below(2) ? m.seq() : m.seq() - std::min<uint64_t>(m.seq(), below(400));
    m.Connect(below(FanOutModel::kFilterCount), since, false);
    static const size_t kSpeeds[] = {0, 200, 1000, 5000, 40000, PullSink::kAll};
    speed.push_back(kSpeeds[below(6)]);
    if (i % 10 == 0) {
      for (int e = 0; e < 5; ++e) m.Publish(1 + below(4), below(2), below(4) * 100);
    }
    if (i % 50 == 0) {
      for (size_t c = 0; c < m.clients(); ++c) m.Drain(c, speed[c]);
    }
  }
  for (int round = 0; round < 40; ++round) {
    for (int e = 0; e < 40; ++e) m.Publish(1 + below(4), below(2), below(4) * 100);
    for (size_t c = 0; c < m.clients(); ++c) m.Drain(c, speed[c]);
  }
  m.DrainAllAndCheck();
  EXPECT_EQ(m.seq(), 1000u + 1600u);
  EXPECT_GT(m.gaps(), 0u) << "stalled clients fell out of the history and were resynced";
  EXPECT_GT(m.delivered(), 500000u);
}

// A small fixture for single behaviours.
class FanOutTest : public ::testing::Test {
 protected:
  FanOutTest() : state_(100, [](std::string s) { return WireFrame::Text(s); }, &metrics_) {
    state_.Reset("E", 0, {});
  }
  void MakeCore(size_t max_queue_bytes) {
    core_ = std::make_unique<FanOut>(FanOutOptions{max_queue_bytes, Millis(1000), &metrics_},
                                     &state_, &clock_, &gaps_);
  }
  void Publish(int n, size_t pad = 100) {
    for (int i = 0; i < n; ++i) {
      v1::ChangeEvent ev;
      ev.set_epoch("E");
      ev.set_seq(state_.seq() + 1);
      ev.set_kind(v1::KIND_PLAN);
      ev.set_type(EventTypeFor(v1::KIND_PLAN, Change::kAdded));
      ev.set_project("a");
      ev.set_file_path(std::string(pad, 'f'));
      ASSERT_TRUE(state_.Ingest({std::move(ev), 0}));
    }
    core_->Published();
  }

  struct Gaps : GapHandler {
    void OnHistoryGap(ClientId, uint64_t next) override { seen.push_back(next); }
    std::vector<uint64_t> seen;
  };

  FakeClock clock_;
  GatewayMetrics metrics_;
  FeedState state_;
  Gaps gaps_;
  std::unique_ptr<FanOut> core_;
};

TEST_F(FanOutTest, APullPointsIntoTheSharedHistoryFramesAtMost64AtATime) {
  MakeCore(1 << 20);
  auto sink = std::make_shared<PullSink>(core_.get());
  sink->reading = false;
  core_->Add(1, sink, TopicFilter(), "E", 1, WireFrame::Text(R"({"type":"hello"})"));
  Publish(100);
  FanOut::Pull pull;
  core_->Take(1, &pull);
  ASSERT_EQ(pull.count, FanOut::kMaxPull);
  EXPECT_EQ(pull.data[1].data(), state_.history().At(1)->frame->wire().data())
      << "no copy: the socket writes the history's frame";
  core_->Written(1, pull, 0);
  EXPECT_EQ(core_->cursor(1), 1u) << "nothing taken, nothing moves";
}

TEST_F(FanOutTest, MaxQueueBytesBoundsWhatOneClientIsHanded) {
  MakeCore(2048);
  auto sink = std::make_shared<PullSink>(core_.get());
  sink->reading = false;
  core_->Add(1, sink, TopicFilter(), "E", 1, WireFrame::Text(R"({"type":"hello"})"));
  Publish(50, 300);
  FanOut::Pull pull;
  core_->Take(1, &pull);
  EXPECT_LE(pull.bytes, 2048u + 400u) << "stops at the first frame past the bound";
  EXPECT_LT(pull.count, 10u);
}

TEST_F(FanOutTest, APartlyWrittenFrameIsFinishedFirstEvenAfterItLeavesTheHistory) {
  MakeCore(1 << 20);
  std::string got;
  auto sink = std::make_shared<PullSink>(core_.get());
  sink->reading = false;
  sink->on_text = [&](std::string_view t) { got = std::string(t); };
  core_->Add(1, sink, TopicFilter(), "E", 1, WireFrame::Text(R"({"type":"hello"})"));
  sink->Attach(1);
  Publish(1, 5000);
  sink->Drain(100);  // hello and the start of event 1
  EXPECT_GT(core_->queued_bytes(1), 4000u);
  Publish(150);  // event 1 leaves the 100-event history
  EXPECT_EQ(state_.history().At(1), nullptr);
  sink->Drain(PullSink::kAll);
  EXPECT_NE(got.find(std::string(5000, 'f')), std::string::npos) << "event 1 arrived whole";
  EXPECT_EQ(gaps_.seen, (std::vector<uint64_t>{2})) << "then the gap from event 2";
}

TEST_F(FanOutTest, ControlFramesFollowTheEventsBeforeThem) {
  MakeCore(1 << 20);
  std::vector<std::string> got;
  auto sink = std::make_shared<PullSink>(core_.get());
  sink->reading = false;
  sink->on_text = [&](std::string_view t) { got.emplace_back(t.substr(0, 20)); };
  core_->Add(1, sink, TopicFilter(), "E", 1, WireFrame::Text(R"({"type":"hello"})"));
  sink->Attach(1);
  Publish(2, 10);
  core_->Push(1, WireFrame::Text(R"({"type":"watcher_down"})"));
  Publish(1, 10);
  sink->Drain(PullSink::kAll);
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[0], R"({"type":"hello"})");
  EXPECT_EQ(got[1].substr(0, 19), R"({"type":"plan_added)");
  EXPECT_EQ(got[3], R"({"type":"watcher_dow)") << "after events 1 and 2, before 3";
}

TEST_F(FanOutTest, AnIdleClientIsWokenOnceAndHoldsNothing) {
  MakeCore(1 << 20);
  auto sink = std::make_shared<PullSink>(core_.get());
  sink->reading = false;
  core_->Add(1, sink, TopicFilter(), "E", 1, WireFrame::Text(R"({"type":"hello"})"));
  sink->Attach(1);  // takes nothing: blocked on its hello
  int wakes = sink->wakes;
  Publish(3);
  EXPECT_EQ(sink->wakes, wakes) << "not idle (waiting for its socket): no wake";
  sink->Drain(PullSink::kAll);
  EXPECT_EQ(core_->queued_bytes(1), 0u);
  Publish(1);
  EXPECT_EQ(sink->wakes, wakes + 1) << "idle again: one wake for new data";
}

TEST_F(FanOutTest, ControlFramesPastTheBoundAreRefusedButTheFirstAlwaysFits) {
  MakeCore(100);
  auto sink = std::make_shared<PullSink>(core_.get());
  sink->reading = false;
  core_->Add(1, sink, TopicFilter(), "E", 1, WireFrame::Text(std::string(300, 'h')));
  sink->Attach(1);
  EXPECT_FALSE(core_->Push(1, WireFrame::Text(R"({"type":"ping"})")));
  sink->Drain(PullSink::kAll);
  EXPECT_TRUE(core_->Push(1, WireFrame::Text(R"({"type":"ping"})")));
}

}  // namespace
}  // namespace coderef::gateway
