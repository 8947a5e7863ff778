#include "gateway-svc/hub.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/gateway/test_items.h"

namespace coderef::gateway {
namespace {

using nlohmann::json;
using testing::EventFor;

// A connection that records what it is sent. `buffered` simulates unsent
// bytes (a client that does not read).
class FakeSink : public ClientSink {
 public:
  size_t BufferedBytes() const override { return buffered; }
  void Send(const FramePtr& frame) override {
    frames.push_back(frame);
    if (!reading) buffered += frame->payload().size();
  }
  void Ping() override { ++pings; }
  void Close(uint16_t code, std::string_view reason) override {
    close_code = code;
    close_reason = std::string(reason);
  }
  std::string Describe() const override { return "fake"; }

  std::vector<json> Messages() const {
    std::vector<json> out;
    for (const auto& f : frames) out.push_back(json::parse(f->payload()));
    return out;
  }
  std::vector<uint64_t> EventSeqs() const {
    std::vector<uint64_t> out;
    for (const auto& m : Messages()) {
      std::string t = m["type"];
      if (t.find('_') != std::string::npos && t != "resync_required" && t != "watcher_down" &&
          t != "watcher_up")
        out.push_back(m["seq"]);
    }
    return out;
  }
  std::vector<std::string> Types() const {
    std::vector<std::string> out;
    for (const auto& m : Messages()) out.push_back(m["type"]);
    return out;
  }

  std::vector<FramePtr> frames;
  size_t buffered = 0;
  bool reading = true;
  int pings = 0;
  int close_code = 0;
  std::string close_reason;
};

class HubTest : public ::testing::Test {
 protected:
  HubTest() { MakeHub(HubOptions{}); }

  void MakeHub(HubOptions o) {
    o.gateway_id = "gw-test";
    hub_ = std::make_unique<Hub>(
        o, [](std::string s) { return std::make_shared<StringFrame>(std::move(s)); }, &metrics_,
        &clock_);
  }

  std::shared_ptr<FakeSink> Connect(ConnectRequest req = {}, Hub::ClientId* id = nullptr) {
    auto sink = std::make_shared<FakeSink>();
    Hub::ClientId cid = hub_->Connect(sink, std::move(req));
    if (id) *id = cid;
    return sink;
  }

  static ConnectRequest Resume(const std::string& epoch, uint64_t since,
                               const std::string& topics = "") {
    ConnectRequest r;
    r.resume.epoch = epoch;
    r.resume.has_since = true;
    r.resume.since = since;
    std::string error;
    EXPECT_TRUE(TopicFilter::Parse(topics, &r.topics, &error));
    return r;
  }

  // Publishes event seq (replica seq + 1) alternating plans and stubs.
  void Publish(int n) {
    for (int i = 0; i < n; ++i) {
      uint64_t seq = hub_->replica().seq() + 1;
      v1::Item item = seq % 2 ? testing::PlanItem("noted", "f" + std::to_string(seq))
                              : testing::StubItem("noted", "s" + std::to_string(seq));
      hub_->OnEvent({EventFor(hub_->replica().epoch(), seq, Change::kAdded, item), 0});
    }
  }

  FakeClock clock_;
  GatewayMetrics metrics_;
  std::unique_ptr<Hub> hub_;
};

TEST_F(HubTest, HelloThenEventsAsOneSharedFrame) {
  hub_->OnSnapshot("E", 10, {testing::ProjectItem("noted", "Noted")}, SnapshotCause::kInitial);
  hub_->OnWatcherUp("E");
  auto a = Connect();
  auto b = Connect();
  json hello = a->Messages()[0];
  EXPECT_EQ(hello["type"], "hello");
  EXPECT_EQ(hello["epoch"], "E");
  EXPECT_EQ(hello["seq"], 10);
  EXPECT_EQ(hello["replayed"], 0);
  EXPECT_EQ(hello["gateway"], "gw-test");
  Publish(3);
  EXPECT_EQ(a->EventSeqs(), (std::vector<uint64_t>{11, 12, 13}));
  EXPECT_EQ(b->EventSeqs(), (std::vector<uint64_t>{11, 12, 13}));
  // Translated once: the very same frame object goes to both clients and the
  // history.
  EXPECT_EQ(a->frames[1].get(), b->frames[1].get());
  EXPECT_EQ(hub_->history().At(11)->frame.get(), a->frames[1].get());
  EXPECT_EQ(a->Messages()[1]["project_name"], "Noted");
  EXPECT_EQ(metrics_.events_in->Get(), 3);
}

TEST_F(HubTest, TopicFilterAppliesToLiveEvents) {
  hub_->OnSnapshot("E", 0, {}, SnapshotCause::kInitial);
  ConnectRequest req;
  std::string error;
  ASSERT_TRUE(TopicFilter::Parse("stub", &req.topics, &error));
  auto stubs_only = Connect(std::move(req));
  Publish(4);  // 1 plan, 2 stub, 3 plan, 4 stub
  EXPECT_EQ(stubs_only->EventSeqs(), (std::vector<uint64_t>{2, 4}));
}

TEST_F(HubTest, ResumeReplaysExactlyTheMissedEventsThenLive) {
  hub_->OnSnapshot("E", 0, {}, SnapshotCause::kInitial);
  Publish(10);
  auto c = Connect(Resume("E", 6));
  json hello = c->Messages()[0];
  EXPECT_EQ(hello["seq"], 10);
  EXPECT_EQ(hello["replayed"], 4);
  EXPECT_EQ(c->EventSeqs(), (std::vector<uint64_t>{7, 8, 9, 10}));
  Publish(2);
  EXPECT_EQ(c->EventSeqs(), (std::vector<uint64_t>{7, 8, 9, 10, 11, 12}));
  EXPECT_EQ(metrics_.replayed_events->Get(), 4);
}

TEST_F(HubTest, ResumeWithTopicFilterReplaysOnlyMatching) {
  hub_->OnSnapshot("E", 0, {}, SnapshotCause::kInitial);
  Publish(10);
  auto c = Connect(Resume("E", 5, "plan"));
  EXPECT_EQ(c->Messages()[0]["replayed"], 2);  // 7, 9
  EXPECT_EQ(c->EventSeqs(), (std::vector<uint64_t>{7, 9}));
  Publish(2);
  EXPECT_EQ(c->EventSeqs(), (std::vector<uint64_t>{7, 9, 11}));
}

TEST_F(HubTest, ResumeOlderThanHistoryGetsHistoryGap) {
  HubOptions o;
  o.history = 5;
  MakeHub(o);
  hub_->OnSnapshot("E", 0, {}, SnapshotCause::kInitial);
  Publish(10);  // history holds 6..10, base 5
  auto ok = Connect(Resume("E", 5));
  EXPECT_EQ(ok->EventSeqs(), (std::vector<uint64_t>{6, 7, 8, 9, 10}));
  auto c = Connect(Resume("E", 4));
  auto m = c->Messages();
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0]["type"], "hello");
  EXPECT_EQ(m[1]["type"], "resync_required");
  EXPECT_EQ(m[1]["reason"], "history_gap");
  EXPECT_EQ(m[1]["epoch"], "E");
  EXPECT_EQ(m[1]["seq"], 10);
  Publish(1);
  EXPECT_EQ(c->EventSeqs(), (std::vector<uint64_t>{11})) << "continues after the resync seq";
  EXPECT_EQ(metrics_.Resync(ResyncReason::kHistoryGap)->Get(), 1);
}

TEST_F(HubTest, ResumeFromAnotherEpochGetsEpochChanged) {
  hub_->OnSnapshot("E2", 3, {}, SnapshotCause::kInitial);
  auto c = Connect(Resume("E1", 100));
  auto m = c->Messages();
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[1]["reason"], "epoch_changed");
  EXPECT_EQ(m[1]["epoch"], "E2");
  EXPECT_EQ(m[1]["seq"], 3);
}

TEST_F(HubTest, ClientAheadOfTheGatewayWaitsWithoutDuplicates) {
  hub_->OnSnapshot("E", 5, {}, SnapshotCause::kInitial);
  auto c = Connect(Resume("E", 8));  // came from a gateway that is further on
  EXPECT_EQ(c->Messages()[0]["seq"], 8);
  Publish(5);  // 6..10
  EXPECT_EQ(c->EventSeqs(), (std::vector<uint64_t>{9, 10}));
}

TEST_F(HubTest, ClientsBeforeTheFirstSnapshotArePending) {
  auto fresh = Connect();
  auto resumed = Connect(Resume("E", 7));
  auto behind = Connect(Resume("E", 2));
  EXPECT_EQ(fresh->Messages()[0]["epoch"], "");
  EXPECT_EQ(resumed->Messages()[0]["seq"], 7);
  hub_->OnSnapshot("E", 5, {}, SnapshotCause::kInitial);
  EXPECT_EQ(fresh->Types(), (std::vector<std::string>{"hello", "resync_required"}));
  EXPECT_EQ(fresh->Messages()[1]["reason"], "epoch_changed");
  EXPECT_EQ(resumed->Types(), (std::vector<std::string>{"hello"})) << "ahead: keeps waiting";
  EXPECT_EQ(behind->Messages()[1]["reason"], "history_gap");
  Publish(3);  // 6, 7, 8
  EXPECT_EQ(resumed->EventSeqs(), (std::vector<uint64_t>{8}));
  EXPECT_EQ(fresh->EventSeqs(), (std::vector<uint64_t>{6, 7, 8}));
}

TEST_F(HubTest, NewEpochSnapshotResyncsEveryClient) {
  hub_->OnSnapshot("E1", 0, {}, SnapshotCause::kInitial);
  auto a = Connect();
  auto b = Connect();
  Publish(2);
  hub_->OnSnapshot("E2", 4, {testing::PlanItem("p", "x")}, SnapshotCause::kEpoch);
  for (auto* c : {a.get(), b.get()}) {
    auto m = c->Messages();
    ASSERT_EQ(m.back()["type"], "resync_required");
    EXPECT_EQ(m.back()["reason"], "epoch_changed");
    EXPECT_EQ(m.back()["epoch"], "E2");
    EXPECT_EQ(m.back()["seq"], 4);
  }
  Publish(1);
  EXPECT_EQ(a->Messages().back()["seq"], 5);
  EXPECT_EQ(a->Messages().back()["epoch"], "E2");
  EXPECT_EQ(hub_->history().base_seq(), 4u);
}

TEST_F(HubTest, FeedGapSnapshotResyncsWithOverflow) {
  hub_->OnSnapshot("E", 0, {}, SnapshotCause::kInitial);
  auto a = Connect();
  Publish(3);
  hub_->OnSnapshot("E", 9, {}, SnapshotCause::kGap);
  EXPECT_EQ(a->Messages().back()["reason"], "overflow");
  EXPECT_EQ(a->Messages().back()["seq"], 9);
  // A resume into the lost range can no longer be served.
  auto late = Connect(Resume("E", 3));
  EXPECT_EQ(late->Messages().back()["reason"], "history_gap");
}

TEST_F(HubTest, SlowClientIsClosedWithoutAffectingOthers) {
  HubOptions o;
  o.max_queue_bytes = 4096;
  MakeHub(o);
  hub_->OnSnapshot("E", 0, {}, SnapshotCause::kInitial);
  auto slow = Connect();
  slow->reading = false;
  std::vector<std::shared_ptr<FakeSink>> others;
  for (int i = 0; i < 20; ++i) others.push_back(Connect());
  Publish(40);
  EXPECT_EQ(slow->close_code, 4000);
  EXPECT_EQ(slow->close_reason, "slow client");
  EXPECT_LE(slow->buffered, 4096u);
  size_t sent_before = slow->frames.size();
  Publish(5);
  EXPECT_EQ(slow->frames.size(), sent_before) << "nothing more is queued to a closing client";
  for (const auto& c : others) {
    EXPECT_EQ(c->EventSeqs().size(), 45u);
    EXPECT_EQ(c->close_code, 0);
  }
  EXPECT_EQ(metrics_.slow_client_disconnects->Get(), 1);
}

TEST_F(HubTest, LongReplayIsPacedByTheClientsReading) {
  HubOptions o;
  o.max_queue_bytes = 8192;
  MakeHub(o);
  hub_->OnSnapshot("E", 0, {}, SnapshotCause::kInitial);
  Publish(100);
  auto c = std::make_shared<FakeSink>();
  c->reading = false;  // bytes pile up until we "drain"
  hub_->Connect(c, Resume("E", 0));
  EXPECT_EQ(c->close_code, 0) << "replay never counts as slow";
  EXPECT_LT(c->EventSeqs().size(), 100u);
  EXPECT_TRUE(hub_->NeedsPump());
  Publish(5);  // live events while replaying go through the pump, in order
  for (int i = 0; i < 200 && hub_->NeedsPump(); ++i) {
    c->buffered = 0;  // the client read everything
    hub_->PumpAll();
  }
  EXPECT_FALSE(hub_->NeedsPump());
  std::vector<uint64_t> want;
  for (uint64_t s = 1; s <= 105; ++s) want.push_back(s);
  EXPECT_EQ(c->EventSeqs(), want);
  c->reading = true;
  Publish(1);
  EXPECT_EQ(c->EventSeqs().back(), 106u);
}

TEST_F(HubTest, ClientFallingOutOfHistoryDuringReplayIsResynced) {
  HubOptions o;
  o.max_queue_bytes = 4096;
  o.history = 20;
  MakeHub(o);
  hub_->OnSnapshot("E", 0, {}, SnapshotCause::kInitial);
  Publish(20);
  auto c = std::make_shared<FakeSink>();
  c->reading = false;
  hub_->Connect(c, Resume("E", 0));
  Publish(30);  // history moves past the client's position
  c->buffered = 0;
  hub_->PumpAll();
  EXPECT_EQ(c->Messages().back()["type"], "resync_required");
  EXPECT_EQ(c->Messages().back()["reason"], "history_gap");
  EXPECT_EQ(c->Messages().back()["seq"], 50);
  auto seqs = c->EventSeqs();
  for (size_t i = 1; i < seqs.size(); ++i) EXPECT_EQ(seqs[i], seqs[i - 1] + 1);
}

TEST_F(HubTest, WatcherDownAndUpAreBroadcast) {
  hub_->OnSnapshot("E", 0, {}, SnapshotCause::kInitial);
  hub_->OnWatcherUp("E");
  EXPECT_TRUE(hub_->ready());
  auto c = Connect();
  hub_->OnWatcherDown();
  EXPECT_FALSE(hub_->ready());
  auto late = Connect();
  hub_->OnWatcherUp("E");
  EXPECT_EQ(c->Types(), (std::vector<std::string>{"hello", "watcher_down", "watcher_up"}));
  EXPECT_EQ(c->Messages()[2]["epoch"], "E");
  EXPECT_EQ(late->Types(), (std::vector<std::string>{"hello", "watcher_down", "watcher_up"}))
      << "a client joining while down is told at once";
  EXPECT_EQ(late->Messages()[0]["watcher"], "down");
}

TEST_F(HubTest, ClientOps) {
  hub_->OnSnapshot("E", 0, {}, SnapshotCause::kInitial);
  Hub::ClientId id = 0;
  auto c = Connect({}, &id);
  hub_->OnClientFrame(id, false, R"({"type":"ping"})");
  EXPECT_EQ(c->Messages().back()["type"], "pong");
  hub_->OnClientFrame(id, false, R"({"type":"pong"})");
  hub_->OnClientFrame(id, false, R"({"type":"dance"})");
  EXPECT_EQ(c->Messages().back()["type"], "error");
  EXPECT_EQ(c->Messages().back()["error"], "unknown op");
  hub_->OnClientFrame(id, false, R"({"type":"subscribe","topics":["bogus"]})");
  EXPECT_EQ(c->Messages().back()["type"], "error");
  hub_->OnClientFrame(id, false, R"({"type":"subscribe","topics":["stub"]})");
  Publish(2);
  EXPECT_EQ(c->EventSeqs(), (std::vector<uint64_t>{2}));
  EXPECT_EQ(c->close_code, 0);
}

TEST_F(HubTest, BadFramesClose1003) {
  hub_->OnSnapshot("E", 0, {}, SnapshotCause::kInitial);
  Hub::ClientId a = 0, b = 0, d = 0;
  auto ca = Connect({}, &a);
  auto cb = Connect({}, &b);
  auto cd = Connect({}, &d);
  hub_->OnClientFrame(a, false, "not json");
  hub_->OnClientFrame(b, true, "\x01\x02");
  hub_->OnClientFrame(d, false, "[1,2]");
  EXPECT_EQ(ca->close_code, 1003);
  EXPECT_EQ(cb->close_code, 1003);
  EXPECT_EQ(cd->close_code, 1003);
}

TEST_F(HubTest, FloodClose1008) {
  hub_->OnSnapshot("E", 0, {}, SnapshotCause::kInitial);
  Hub::ClientId id = 0;
  auto c = Connect({}, &id);
  for (int i = 0; i < 100; ++i) hub_->OnClientFrame(id, false, R"({"type":"pong"})");
  EXPECT_EQ(c->close_code, 0) << "100 per second is fine";
  clock_.Advance(Millis(1000));
  for (int i = 0; i < 100; ++i) hub_->OnClientFrame(id, false, R"({"type":"pong"})");
  EXPECT_EQ(c->close_code, 0) << "a new second, a new budget";
  hub_->OnClientControlFrame(id);
  EXPECT_EQ(c->close_code, 1008);
  EXPECT_EQ(c->close_reason, "flood");
}

TEST_F(HubTest, PingAndPongTimeout) {
  hub_->OnSnapshot("E", 0, {}, SnapshotCause::kInitial);
  Hub::ClientId quiet = 0, answering = 0;
  auto q = Connect({}, &quiet);
  auto a = Connect({}, &answering);
  clock_.Advance(Millis(10));
  hub_->PingAll();
  EXPECT_EQ(q->Messages().back()["type"], "ping");
  EXPECT_EQ(q->pings, 1);
  EXPECT_EQ(q->frames.back().get(), a->frames.back().get()) << "one ping frame for all";
  clock_.Advance(Millis(10));
  hub_->OnClientFrame(answering, false, R"({"type":"pong"})");
  clock_.Advance(Millis(10));
  hub_->OnPongTimeout(quiet);
  hub_->OnPongTimeout(answering);
  EXPECT_EQ(q->close_code, 1008);
  EXPECT_EQ(q->close_reason, "pong timeout");
  EXPECT_EQ(a->close_code, 0) << "an app-level pong counts as an answer";
  // While a ping is unanswered, later rounds do not restart its timer.
  hub_->PingAll();
  hub_->PingAll();
  EXPECT_EQ(a->pings, 2);
}

// The hub times transport pings itself: CheckPongs closes the clients whose
// ping is older than --pong-timeout-ms and says when to look again.
TEST_F(HubTest, CheckPongsClosesOnlyOverdueClientsAndNamesTheNextDeadline) {
  HubOptions o;
  o.pong_timeout_ms = 100;
  MakeHub(o);
  hub_->OnSnapshot("E", 0, {}, SnapshotCause::kInitial);
  EXPECT_FALSE(hub_->CheckPongs().has_value()) << "no ping out, nothing to check";
  Hub::ClientId quiet = 0, answering = 0, late = 0;
  auto q = Connect({}, &quiet);
  auto a = Connect({}, &answering);
  hub_->PingAll();
  const SteadyTime first_round = clock_.Now();
  clock_.Advance(Millis(60));
  auto l = Connect({}, &late);  // joins after the first round
  hub_->PingAll();              // pings only the newcomer; q keeps its deadline
  EXPECT_EQ(q->pings, 1);
  EXPECT_EQ(l->pings, 1);
  hub_->OnClientControlFrame(answering);  // a pong frame
  auto next = hub_->CheckPongs();
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(*next, first_round + Millis(100)) << "q's deadline comes first";
  EXPECT_EQ(q->close_code, 0);
  clock_.Advance(Millis(40));  // q's ping is 100 ms old, l's 40 ms
  next = hub_->CheckPongs();
  EXPECT_EQ(q->close_code, 1008);
  EXPECT_EQ(q->close_reason, "pong timeout");
  EXPECT_EQ(a->close_code, 0);
  EXPECT_EQ(l->close_code, 0);
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(*next, first_round + Millis(160)) << "then l's";
  hub_->OnClientFrame(late, false, R"({"type":"pong"})");  // an app-level answer counts too
  EXPECT_FALSE(hub_->CheckPongs().has_value());
  EXPECT_EQ(l->close_code, 0);
}

TEST_F(HubTest, DisconnectAndCloseAll) {
  hub_->OnSnapshot("E", 0, {}, SnapshotCause::kInitial);
  Hub::ClientId id = 0;
  auto a = Connect({}, &id);
  auto b = Connect();
  EXPECT_EQ(hub_->client_count(), 2u);
  hub_->Disconnect(id);
  EXPECT_EQ(hub_->client_count(), 1u);
  EXPECT_EQ(metrics_.clients->Get(), 1);
  hub_->CloseAll(1001, "gateway shutting down");
  EXPECT_EQ(b->close_code, 1001);
  EXPECT_EQ(a->close_code, 0);
}

TEST_F(HubTest, FeedUpdatesApplyInOrder) {
  std::vector<FeedUpdate> batch;
  FeedUpdate snap;
  snap.type = FeedUpdate::Type::kSnapshot;
  snap.epoch = "E";
  snap.seq = 2;
  snap.items = {testing::PlanItem("p", "a")};
  batch.push_back(std::move(snap));
  FeedUpdate up;
  up.type = FeedUpdate::Type::kWatcherUp;
  up.epoch = "E";
  batch.push_back(std::move(up));
  FeedUpdate evs;
  evs.type = FeedUpdate::Type::kEvents;
  evs.events.push_back({EventFor("E", 3, Change::kAdded, testing::PlanItem("p", "b")), 0});
  evs.events.push_back({EventFor("E", 4, Change::kDeleted, testing::PlanItem("p", "a")), 0});
  batch.push_back(std::move(evs));
  hub_->Apply(std::move(batch));
  EXPECT_EQ(hub_->replica().seq(), 4u);
  EXPECT_EQ(hub_->replica().items(v1::KIND_PLAN).size(), 1u);
  EXPECT_TRUE(hub_->ready());
}

}  // namespace
}  // namespace coderef::gateway
