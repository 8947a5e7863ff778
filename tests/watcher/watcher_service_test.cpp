// Unit tests of the watcher's loop (WatcherService::Step/NextDeadline) on a
// fake clock, an in-memory file system and a scripted backend, with the
// real Publisher on inproc:// sockets: heartbeat timing, the batch's
// deadlines (quiet, settle, holds), the 2 s watch retry, the 2 ms outbox
// retry, flush-on-stop and the shutdown drain. The test moves the clock;
// nothing sleeps.
#include "watcher-svc/watcher_service.h"

#include <gtest/gtest.h>

#include <regex>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "fake_backend.h"
#include "fake_file_system.h"
#include "coderef/v1/feed.pb.h"
#include "watcher-svc/publisher.h"

namespace coderef::watcher {
namespace {

using namespace std::chrono_literals;

constexpr const char* kPlan = "/ws/alpha/coderef/working/a/plan.json";

std::string Plan(const std::string& status) {
  return "{\"META_DOCUMENTATION\":{\"status\":\"" + status + "\"}}";
}

int64_t MetricValue(const std::string& rendered, const std::string& name) {
  std::smatch m;
  if (!std::regex_search(rendered, m, std::regex("\n" + name + " ([0-9]+)"))) return -1;
  return std::stoll(m[1]);
}

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs_.AddFile("/ws/projects.json", R"({"projects":[{"name":"Alpha","path":"alpha"}]})");
    fs_.MkDir("/ws/alpha/coderef/working/a");
  }
  void Make(int pub_hwm = 100000, int block_ms = 1000) {
    static int n = 0;
    ++n;
    ServiceOptions o;
    o.watcher.projects_file = "/ws/projects.json";
    o.pub = "inproc://svc-pub-" + std::to_string(n);
    o.snapshot = "inproc://svc-snap-" + std::to_string(n);
    o.http = "";
    o.heartbeat_ms = 1000;
    o.pub_hwm = pub_hwm;
    o.pub_block_ms = block_ms;
    svc_ = std::make_unique<WatcherService>(o, ServiceSeams{clock_, fs_, backend_, ctx_});
    ASSERT_TRUE(svc_->Init());
    pub_ = o.pub;
    snapshot_ = o.snapshot;
    t0_ = clock_.Now();
  }
  int64_t Heartbeats() { return MetricValue(svc_->metrics().Render(), "coderef_watcher_heartbeats_total"); }
  uint64_t Seq() { return svc_->publisher().seq(); }
  void At(Millis since_t0, bool readable = false) {
    SteadyTime t = t0_ + since_t0;
    while (clock_.Now() < t) clock_.Advance(1ms);
    svc_->Step(clock_.Now(), readable);
  }

  FakeClock clock_;
  FakeFileSystem fs_;
  FakeBackend backend_;
  zmq::context_t ctx_{1};
  std::unique_ptr<WatcherService> svc_;
  std::string pub_, snapshot_;
  SteadyTime t0_{};
};

TEST_F(ServiceTest, HeartbeatEveryIntervalAndNothingWakesTheLoopInBetween) {
  Make();
  At(0ms);
  EXPECT_EQ(Heartbeats(), 1);
  EXPECT_EQ(svc_->NextDeadline(), t0_ + 1000ms) << "idle: only the heartbeat wakes the loop";
  At(999ms);
  EXPECT_EQ(Heartbeats(), 1);
  At(1000ms);
  EXPECT_EQ(Heartbeats(), 2);
  EXPECT_EQ(svc_->NextDeadline(), t0_ + 2000ms);
}

TEST_F(ServiceTest, ACompleteWriteGoesOutAfterQuietARemovalAfterSettle) {
  Make();
  At(0ms);
  fs_.AddFile(kPlan, Plan("x"));
  backend_.EmitMovedTo(kPlan);
  At(5ms, true);
  EXPECT_TRUE(svc_->batch_open());
  EXPECT_EQ(svc_->NextDeadline(), t0_ + 15ms) << "--quiet-ms after the last change";
  At(14ms);
  EXPECT_EQ(Seq(), 0u);
  At(15ms);
  EXPECT_EQ(Seq(), 1u);
  EXPECT_FALSE(svc_->batch_open());
  fs_.Remove(kPlan);
  backend_.EmitRemoved(kPlan);
  At(20ms, true);
  EXPECT_EQ(svc_->NextDeadline(), t0_ + 120ms) << "a removal waits --settle-ms";
  At(119ms);
  EXPECT_EQ(Seq(), 1u);
  At(120ms);
  EXPECT_EQ(Seq(), 2u);
}

TEST_F(ServiceTest, AHeldFileWakesTheLoopWhenItsHoldRunsOut) {
  Make();
  At(0ms);
  fs_.WriteFile(kPlan, "{\"half");
  backend_.EmitCreate(kPlan);
  backend_.EmitModify(kPlan);
  At(10ms, true);
  EXPECT_FALSE(svc_->batch_open()) << "nothing to flush while the only file is held";
  EXPECT_EQ(svc_->NextDeadline(), t0_ + 1000ms) << "the heartbeat comes before the hold's end";
  At(1000ms);
  EXPECT_EQ(svc_->NextDeadline(), t0_ + 2000ms) << "the next heartbeat";
  At(2000ms);
  EXPECT_EQ(svc_->NextDeadline(), t0_ + 2010ms) << "the hold's end";
  At(2010ms);
  EXPECT_TRUE(svc_->batch_open()) << "the hold ran out: published as it is";
  At(2110ms);
  EXPECT_EQ(Seq(), 1u);
}

TEST_F(ServiceTest, FailedWatchesAreRetriedEveryTwoSeconds) {
  fs_.AddFile(kPlan, Plan("x"));
  backend_.limit = 3;  // /ws, /ws/alpha, coderef: nothing deeper
  Make();
  At(0ms);
  EXPECT_EQ(svc_->NextDeadline(), t0_ + 1000ms);
  At(1000ms);
  EXPECT_EQ(svc_->NextDeadline(), t0_ + 2000ms) << "the watch retry";
  fs_.WriteFile(kPlan, Plan("y"));  // no event: the folder is not watched
  At(1999ms);
  EXPECT_FALSE(svc_->batch_open());
  At(2000ms);
  EXPECT_TRUE(svc_->batch_open()) << "retry rescans the unwatched folder";
  At(2100ms);
  EXPECT_EQ(Seq(), 1u);
}

TEST_F(ServiceTest, AStopFlushesTheOpenBatchAtOnce) {
  Make();
  At(0ms);
  fs_.AddFile(kPlan, Plan("x"));
  backend_.EmitRemoved(kPlan);  // settle window: not due for 100 ms
  backend_.EmitMovedTo(kPlan);
  At(1ms, true);
  ASSERT_TRUE(svc_->batch_open());
  svc_->RequestStop();
  EXPECT_EQ(svc_->NextDeadline(), t0_ + 1ms) << "due at once";
  At(2ms);
  EXPECT_EQ(Seq(), 1u);
  EXPECT_TRUE(svc_->StepShutdown(clock_.Now())) << "nothing waits in the outbox";
}

TEST_F(ServiceTest, AFullSubscriberIsRetriedEvery2msAndShutdownGivesUpAfterBlockMs) {
  Make(/*pub_hwm=*/1, /*block_ms=*/500);
  zmq::socket_t sub(ctx_, zmq::socket_type::sub);
  sub.set(zmq::sockopt::rcvhwm, 1);
  sub.set(zmq::sockopt::subscribe, "");
  sub.connect(pub_);
  // Wait until the subscription is live: the XPUB reads it when drained,
  // and the subscriber then receives a heartbeat.
  At(0ms);
  bool live = false;
  for (int i = 0; i < 200 && !live; ++i) {
    svc_->publisher().DrainSubscriptions();
    svc_->publisher().Heartbeat(1000);
    zmq::pollitem_t item{sub.handle(), 0, ZMQ_POLLIN, 0};
    while (zmq::poll(&item, 1, std::chrono::milliseconds(10)) > 0) {
      std::vector<zmq::message_t> parts;
      if (zmq::recv_multipart(sub, std::back_inserter(parts))) live = true;
    }
  }
  ASSERT_TRUE(live) << "the subscriber never received a heartbeat";
  for (int i = 1; i <= 40; ++i) {
    fs_.AddFile("/ws/alpha/coderef/working/f" + std::to_string(i) + "/plan.json", Plan("x"));
    backend_.EmitMovedTo("/ws/alpha/coderef/working/f" + std::to_string(i) + "/plan.json");
  }
  At(1ms, true);
  At(11ms);
  ASSERT_EQ(Seq(), 40u);
  ASSERT_FALSE(svc_->outbox_empty()) << "the subscriber's queue is full";
  EXPECT_EQ(svc_->NextDeadline(), t0_ + 13ms) << "the outbox is retried 2 ms later";
  svc_->RequestStop();
  At(12ms);
  EXPECT_FALSE(svc_->StepShutdown(clock_.Now())) << "the exit waits for the full subscriber";
  while (clock_.Now() < t0_ + 490ms) clock_.Advance(2ms);
  EXPECT_FALSE(svc_->StepShutdown(clock_.Now()));
  // The subscriber never reads: within --pub-block-ms of the first refusal
  // it is treated as stuck (the publisher skips it) or the exit gives up.
  while (clock_.Now() < t0_ + 512ms) clock_.Advance(1ms);
  EXPECT_TRUE(svc_->StepShutdown(clock_.Now())) << "the exit waits at most --pub-block-ms";
}

// A history request is answered a chunk per loop turn, not in one go: a
// change made while a long answer is under way goes out before its end
// (measured before: a 100,000-event answer held a lone save ~0.4 s).
TEST_F(ServiceTest, AHistoryAnswerGoesOutAChunkPerTurnWithLiveEventsBetween) {
  Make();
  const int kEvents = 300;
  for (int i = 1; i <= kEvents; ++i) {
    fs_.AddFile("/ws/alpha/coderef/working/h" + std::to_string(i) + "/plan.json", Plan("x"));
    backend_.EmitMovedTo("/ws/alpha/coderef/working/h" + std::to_string(i) + "/plan.json");
  }
  At(1ms, true);
  At(12ms);
  ASSERT_EQ(Seq(), static_cast<uint64_t>(kEvents));

  zmq::socket_t dealer(ctx_, zmq::socket_type::dealer);
  dealer.connect(snapshot_);
  v1::SnapshotRequest req;
  req.set_request_id("h1");
  req.set_max_items_per_chunk(10);
  req.mutable_history()->set_epoch(svc_->publisher().epoch());
  req.mutable_history()->set_after_seq(0);
  std::string body;
  req.SerializeToString(&body);
  dealer.send(zmq::buffer(body), zmq::send_flags::none);
  auto recv_chunk = [&](v1::SnapshotChunk* c) {
    zmq::pollitem_t item{dealer.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, std::chrono::milliseconds(0)) <= 0) return false;
    std::vector<zmq::message_t> parts;
    if (!zmq::recv_multipart(dealer, std::back_inserter(parts))) return false;
    return c->ParseFromArray(parts.back().data(), static_cast<int>(parts.back().size()));
  };
  // The request is read (inproc: delivered before poll returns)...
  for (int i = 0; i < 100 && !svc_->publisher().history_pending(); ++i) svc_->ServeSnapshots();
  ASSERT_TRUE(svc_->publisher().history_pending()) << "the request was not taken up";
  v1::SnapshotChunk c;
  EXPECT_FALSE(recv_chunk(&c)) << "a chunk went out before a loop turn";
  EXPECT_EQ(svc_->NextDeadline(), clock_.Now()) << "the loop must not sleep while an answer is under way";

  // ...then each turn sends one chunk of 10 events; a change in the middle
  // is published between two chunks.
  std::vector<uint64_t> seqs;
  int chunks = 0, turn = 0;
  bool last = false;
  while (!last) {
    ASSERT_LT(turn, 200) << "the answer never ended";
    ++turn;
    if (turn == 5) {
      fs_.AddFile(kPlan, Plan("live"));
      backend_.EmitMovedTo(kPlan);
    }
    At(Millis(20 + turn), turn == 5);
    int this_turn = 0;
    while (recv_chunk(&c)) {
      ++this_turn;
      ++chunks;
      EXPECT_EQ(c.history(), v1::HISTORY_STATUS_OK);
      for (const auto& ev : c.events()) seqs.push_back(ev.seq());
      last = c.last();
    }
    EXPECT_LE(this_turn, 1) << "more than one chunk in turn " << turn;
    if (turn == 25) {
      EXPECT_EQ(Seq(), static_cast<uint64_t>(kEvents + 1)) << "the live change waited for the answer's end";
    }
  }
  EXPECT_EQ(chunks, kEvents / 10);
  ASSERT_EQ(seqs.size(), static_cast<size_t>(kEvents)) << "the answer is the range asked for, as of the request";
  for (size_t i = 0; i < seqs.size(); ++i) EXPECT_EQ(seqs[i], i + 1);
  EXPECT_FALSE(svc_->publisher().history_pending());
}

}  // namespace
}  // namespace coderef::watcher
