#include "gateway-svc/hub.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fuzz/pull_sink.h"
#include "gateway-svc/ws_wire.h"
#include "tests/gateway/test_items.h"

namespace coderef::gateway {
namespace {

using nlohmann::json;
using testing::EventFor;

// A connection that records the messages its socket took. It pulls from
// the fan-out core as WsSession does; `reading` false is a client that
// stopped reading (Drain(n) lets its socket take n bytes).
class FakeSink : public fuzz::PullSink {
 public:
  explicit FakeSink(FanOut* core) : PullSink(core) {
    on_text = [this](std::string_view t) { texts.emplace_back(t); };
  }

  std::vector<json> Messages() const {
    std::vector<json> out;
    for (const auto& t : texts) out.push_back(json::parse(t));
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

  std::vector<std::string> texts;
};

// Event `seq`: plans at odd seqs, stubs at even ones.
v1::ChangeEvent NotedEvent(const std::string& epoch, uint64_t seq, size_t pad = 0) {
  v1::Item item = seq % 2 ? testing::PlanItem("noted", "f" + std::to_string(seq))
                          : testing::StubItem("noted", "s" + std::to_string(seq));
  if (pad) item.set_feature_name(std::string(pad, 'x'));
  return EventFor(epoch, seq, Change::kAdded, item);
}

class HubTest : public ::testing::Test {
 protected:
  HubTest() { MakeHub(HubOptions{}); }

  void MakeHub(HubOptions o) {
    o.gateway_id = "gw-test";
    hub_ = std::make_unique<Hub>(o, [](std::string s) { return WireFrame::Text(s); }, &metrics_,
                                 &clock_);
  }

  std::shared_ptr<FakeSink> Connect(ConnectRequest req = {}, Hub::ClientId* id = nullptr,
                                    bool reading = true) {
    auto sink = std::make_shared<FakeSink>(&hub_->fan_out());
    sink->reading = reading;
    Hub::ClientId cid = hub_->Connect(sink, std::move(req));
    sink->Attach(cid);
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
  void Publish(int n, size_t pad = 0) {
    for (int i = 0; i < n; ++i)
      hub_->OnEvent({NotedEvent(hub_->replica().epoch(), hub_->replica().seq() + 1, pad), 0});
  }

  static std::vector<uint64_t> Range(uint64_t from, uint64_t to) {
    std::vector<uint64_t> out;
    for (uint64_t s = from; s <= to; ++s) out.push_back(s);
    return out;
  }

  FakeClock clock_;
  GatewayMetrics metrics_;
  std::unique_ptr<Hub> hub_;
};

TEST_F(HubTest, HelloThenEventsFromTheHistory) {
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
  // Translated once, into the history, which every client is written from.
  EXPECT_EQ(hub_->history().At(11)->frame->payload(), a->texts[1]);
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

// Contract (PROTOCOL, slow and stuck clients): reading slowly is never a
// reason to close or resync; --max-queue-bytes bounds what one client holds.
TEST_F(HubTest, SlowReaderIsNeverClosedAndGetsEveryEventWhileOthersAreLive) {
  HubOptions o;
  o.max_queue_bytes = 4096;
  MakeHub(o);
  hub_->OnSnapshot("E", 0, {}, SnapshotCause::kInitial);
  Hub::ClientId slow_id = 0;
  auto slow = Connect({}, &slow_id, /*reading=*/false);
  std::vector<std::shared_ptr<FakeSink>> others;
  for (int i = 0; i < 20; ++i) others.push_back(Connect());
  for (int round = 0; round < 40; ++round) {
    Publish(10, 300);
    slow->Drain(700);  // a tenth of what arrives
    EXPECT_LE(hub_->fan_out().queued_bytes(slow_id), 4096u);
    clock_.Advance(Millis(100));
    hub_->CheckTimeouts();
  }
  for (const auto& c : others) {
    EXPECT_EQ(c->EventSeqs(), Range(1, 400));
    EXPECT_EQ(c->close_code, 0);
  }
  EXPECT_LT(slow->EventSeqs().size(), 100u) << "it is behind";
  slow->Drain(FakeSink::kAll);
  EXPECT_EQ(slow->EventSeqs(), Range(1, 400)) << "every event, in order, only later";
  EXPECT_EQ(slow->close_code, 0);
  EXPECT_EQ(slow->Types().front(), "hello");
  EXPECT_EQ(metrics_.stuck_client_disconnects->Get(), 0);
  EXPECT_EQ(metrics_.Resync(ResyncReason::kHistoryGap)->Get(), 0);
}

TEST_F(HubTest, StuckClientIsClosedAfterStuckMsAndOnlyIt) {
  HubOptions o;
  o.stuck_ms = 1000;
  MakeHub(o);
  std::vector<SteadyTime> deadlines;
  hub_->set_on_deadline([&](SteadyTime due) { deadlines.push_back(due); });
  hub_->OnSnapshot("E", 0, {}, SnapshotCause::kInitial);
  Hub::ClientId id = 0;
  auto stuck = Connect({}, &id);  // takes its hello
  auto fine = Connect();
  EXPECT_FALSE(hub_->CheckTimeouts().has_value()) << "nothing waits for anyone";
  stuck->reading = false;  // from now on its socket takes nothing
  Publish(3);
  ASSERT_EQ(deadlines.size(), 1u) << "blocked: the transport is told when to check";
  EXPECT_EQ(deadlines[0], clock_.Now() + Millis(1000));
  clock_.Advance(Millis(999));
  EXPECT_EQ(hub_->CheckTimeouts(), clock_.Now() + Millis(1));
  EXPECT_EQ(stuck->close_code, 0);
  clock_.Advance(Millis(1));
  hub_->CheckTimeouts();
  EXPECT_EQ(stuck->close_code, 4000);
  EXPECT_EQ(stuck->close_reason, "stuck client");
  EXPECT_EQ(fine->close_code, 0);
  EXPECT_EQ(fine->EventSeqs(), Range(1, 3));
  EXPECT_EQ(metrics_.stuck_client_disconnects->Get(), 1);
  // The close frame goes out when (if) the socket takes it, nothing after.
  stuck->Drain(FakeSink::kAll);
  EXPECT_EQ(stuck->close_frames, 1);
  EXPECT_EQ(stuck->frames_after_close, 0u);
}

TEST_F(HubTest, ASocketThatKeepsTakingDataIsNotStuck) {
  HubOptions o;
  o.stuck_ms = 1000;
  MakeHub(o);
  hub_->OnSnapshot("E", 0, {}, SnapshotCause::kInitial);
  auto slow = Connect({}, nullptr, /*reading=*/false);
  Publish(50, 200);
  for (int i = 0; i < 30; ++i) {
    slow->Drain(100);  // a trickle, every 900 ms
    clock_.Advance(Millis(900));
    hub_->CheckTimeouts();
  }
  EXPECT_EQ(slow->close_code, 0);
}

TEST_F(HubTest, PongTimeoutSparesASlowReaderWhoseSocketTakesData) {
  HubOptions o;
  o.pong_timeout_ms = 100;
  o.stuck_ms = 100000;
  MakeHub(o);
  hub_->OnSnapshot("E", 0, {}, SnapshotCause::kInitial);
  auto slow = Connect({}, nullptr, /*reading=*/false);
  auto dead = Connect({}, nullptr, /*reading=*/false);
  Publish(40, 200);
  hub_->PingAll();  // both pings wait behind the events
  clock_.Advance(Millis(50));
  slow->Drain(500);  // has not reached the ping yet, but reads
  clock_.Advance(Millis(60));
  hub_->CheckTimeouts();
  EXPECT_EQ(slow->close_code, 0) << "it acknowledged data since the ping";
  EXPECT_EQ(dead->close_code, 1008) << "it acknowledged nothing since the ping";
  EXPECT_EQ(dead->close_reason, "pong timeout");
  slow->Drain(FakeSink::kAll);
  EXPECT_EQ(slow->ping_frames, 1);
  EXPECT_EQ(slow->EventSeqs(), Range(1, 40));
}

TEST_F(HubTest, LongReplayIsPacedByTheClientsReading) {
  HubOptions o;
  o.max_queue_bytes = 8192;
  MakeHub(o);
  hub_->OnSnapshot("E", 0, {}, SnapshotCause::kInitial);
  Publish(100);
  Hub::ClientId id = 0;
  auto c = Connect(Resume("E", 0), &id, /*reading=*/false);
  c->Drain(3000);
  EXPECT_EQ(c->close_code, 0) << "replay never counts as slow";
  EXPECT_LT(c->EventSeqs().size(), 100u);
  EXPECT_LE(hub_->fan_out().queued_bytes(id), 8192u);
  Publish(5);  // live events while replaying follow in order
  while (c->Drain(1000) > 0) {
  }
  EXPECT_EQ(c->EventSeqs(), Range(1, 105));
  c->reading = true;
  Publish(1);
  EXPECT_EQ(c->EventSeqs().back(), 106u);
}

TEST_F(HubTest, ClientFallingOutOfHistoryWhileBehindIsResynced) {
  HubOptions o;
  o.history = 20;  // the ring holds FeedState::kMinRing (64) nonetheless
  MakeHub(o);
  hub_->OnSnapshot("E", 0, {}, SnapshotCause::kInitial);
  Publish(20);
  auto c = Connect(Resume("E", 0), nullptr, /*reading=*/false);
  c->Drain(600);  // hello and a few events
  Publish(80);    // the ring moves past the client's position
  c->Drain(FakeSink::kAll);
  auto m = c->Messages();
  auto it = std::find_if(m.begin(), m.end(), [](const json& j) { return j["type"] == "resync_required"; });
  ASSERT_NE(it, m.end());
  EXPECT_EQ((*it)["reason"], "history_gap");
  EXPECT_EQ((*it)["seq"], 100);
  EXPECT_EQ(it + 1, m.end()) << "nothing after: it is at the gateway's seq";
  auto seqs = c->EventSeqs();
  for (size_t i = 1; i < seqs.size(); ++i) EXPECT_EQ(seqs[i], seqs[i - 1] + 1);
  c->reading = true;
  Publish(1);
  EXPECT_EQ(c->EventSeqs().back(), 101u);
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

TEST_F(HubTest, WatcherRestartIsBroadcastEvenWhenNeverSeenDown) {
  hub_->OnSnapshot("E", 0, {}, SnapshotCause::kInitial);
  hub_->OnWatcherUp("E");
  auto c = Connect();
  hub_->OnWatcherUp("E");  // a plain repeat: nothing new to say
  WatcherRestart r;
  r.changes = 3;
  r.caught_up_seq = 7;
  hub_->OnWatcherUp("E", r);
  ASSERT_EQ(c->Types(), (std::vector<std::string>{"hello", "watcher_up"}));
  json up = c->Messages()[1];
  EXPECT_EQ(up["epoch"], "E");
  EXPECT_EQ(up["restarted"], true);
  EXPECT_EQ(up["changes"], 3);
  EXPECT_EQ(up["caught_up_seq"], 7);
  EXPECT_TRUE(hub_->ready());
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
  EXPECT_EQ(q->pings_sent, 1);
  EXPECT_EQ(q->ping_frames, 1);
  clock_.Advance(Millis(10));
  hub_->OnClientFrame(answering, false, R"({"type":"pong"})");
  clock_.Advance(Millis(10000));
  hub_->CheckTimeouts();
  EXPECT_EQ(q->close_code, 1008);
  EXPECT_EQ(q->close_reason, "pong timeout");
  EXPECT_EQ(a->close_code, 0) << "an app-level pong counts as an answer";
  // While a ping is unanswered, later rounds do not restart its timer.
  hub_->PingAll();
  hub_->PingAll();
  EXPECT_EQ(a->pings_sent, 2);
}

// The hub times transport pings itself: CheckTimeouts closes the clients whose
// ping is older than --pong-timeout-ms and says when to look again.
TEST_F(HubTest, CheckTimeoutsClosesOnlyOverdueClientsAndNamesTheNextDeadline) {
  HubOptions o;
  o.pong_timeout_ms = 100;
  MakeHub(o);
  hub_->OnSnapshot("E", 0, {}, SnapshotCause::kInitial);
  EXPECT_FALSE(hub_->CheckTimeouts().has_value()) << "no ping out, nothing to check";
  Hub::ClientId quiet = 0, answering = 0, late = 0;
  auto q = Connect({}, &quiet);
  auto a = Connect({}, &answering);
  hub_->PingAll();
  const SteadyTime first_round = clock_.Now();
  clock_.Advance(Millis(60));
  auto l = Connect({}, &late);  // joins after the first round
  hub_->PingAll();              // pings only the newcomer; q keeps its deadline
  EXPECT_EQ(q->pings_sent, 1);
  EXPECT_EQ(l->pings_sent, 1);
  hub_->OnClientControlFrame(answering);  // a pong frame
  auto next = hub_->CheckTimeouts();
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(*next, first_round + Millis(100)) << "q's deadline comes first";
  EXPECT_EQ(q->close_code, 0);
  clock_.Advance(Millis(40));  // q's ping is 100 ms old, l's 40 ms
  next = hub_->CheckTimeouts();
  EXPECT_EQ(q->close_code, 1008);
  EXPECT_EQ(q->close_reason, "pong timeout");
  EXPECT_EQ(a->close_code, 0);
  EXPECT_EQ(l->close_code, 0);
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(*next, first_round + Millis(160)) << "then l's";
  hub_->OnClientFrame(late, false, R"({"type":"pong"})");  // an app-level answer counts too
  EXPECT_FALSE(hub_->CheckTimeouts().has_value());
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


// ---- resumes older than the history: the watcher's history ------------------

// The watcher's history behind a seam: records requests, answered by the
// test (as the feed thread would, later).
class FakeHistory : public HistorySource {
 public:
  struct Request {
    std::string epoch;
    uint64_t after, until;
    HistoryCallback done;
  };
  void Fetch(const std::string& epoch, uint64_t after, uint64_t until, HistoryCallback done) override {
    requests.push_back({epoch, after, until, std::move(done)});
  }
  // Answers request `i` with events (after, until] as HubTest::Event makes them.
  void Serve(size_t i, size_t pad = 0) {
    auto r = std::make_shared<HistoryRange>();
    r->epoch = requests[i].epoch;
    r->after_seq = requests[i].after;
    r->until_seq = requests[i].until;
    r->ok = true;
    for (uint64_t s = r->after_seq + 1; s <= r->until_seq; ++s)
      r->events.push_back(NotedEvent(r->epoch, s, pad));
    requests[i].done(r);
  }
  void Fail(size_t i, const std::string& error) {
    auto r = std::make_shared<HistoryRange>();
    r->error = error;
    requests[i].done(r);
  }
  std::vector<Request> requests;
};

class HubHistoryTest : public HubTest {
 protected:
  HubHistoryTest() { hub_->set_history_source(&history_); }
  void MakeHub(HubOptions o) {
    HubTest::MakeHub(o);
    hub_->set_history_source(&history_);
  }
  FakeHistory history_;
};

TEST_F(HubHistoryTest, ResumeOlderThanTheHistoryIsFetchedOnceAndReplayedInOrderBeforeLive) {
  // A gateway that started at seq 100: its history holds nothing older.
  hub_->OnSnapshot("E", 100, {testing::ProjectItem("noted", "Noted")}, SnapshotCause::kInitial);
  hub_->OnWatcherUp("E");
  Publish(3);  // 101..103
  auto a = Connect(Resume("E", 40));
  auto b = Connect(Resume("E", 40));
  auto stubs = Connect(Resume("E", 60, "stub"));
  ASSERT_EQ(history_.requests.size(), 1u) << "one request for every client needing the range";
  EXPECT_EQ(history_.requests[0].epoch, "E");
  EXPECT_EQ(history_.requests[0].after, 40u);
  EXPECT_EQ(history_.requests[0].until, 100u);
  EXPECT_TRUE(a->texts.empty()) << "hello waits for the fetch";
  Publish(2);  // live events while the fetch runs: queued after the replay
  EXPECT_TRUE(a->texts.empty());
  history_.Serve(0);
  json hello = a->Messages()[0];
  EXPECT_EQ(hello["type"], "hello");
  EXPECT_EQ(hello["seq"], 105);
  EXPECT_EQ(hello["replayed"], 65) << "41..105: fetched and from the ring";
  EXPECT_EQ(a->EventSeqs(), Range(41, 105));
  EXPECT_EQ(b->EventSeqs(), Range(41, 105));
  EXPECT_EQ(a->Messages()[1]["project_name"], "Noted");
  std::vector<uint64_t> even;
  for (uint64_t s = 62; s <= 105; s += 2) even.push_back(s);
  EXPECT_EQ(stubs->EventSeqs(), even);
  EXPECT_EQ(stubs->Messages()[0]["replayed"], even.size());
  Publish(1);
  EXPECT_EQ(a->EventSeqs().back(), 106u);
  for (const auto& c : {a, b, stubs})
    for (const auto& t : c->Types()) EXPECT_NE(t, "resync_required");
  EXPECT_EQ(metrics_.history_fetches->Get(), 1);
  EXPECT_EQ(metrics_.history_fetch_shared->Get(), 2);
  EXPECT_EQ(metrics_.Resync(ResyncReason::kHistoryGap)->Get(), 0);
  EXPECT_EQ(hub_->fetches_in_flight(), 0u);
}

TEST_F(HubHistoryTest, AFetchedRangeStillInUseServesLaterClientsWithoutAnotherRequest) {
  hub_->OnSnapshot("E", 100, {}, SnapshotCause::kInitial);
  Hub::ClientId slow_id = 0;
  auto slow = Connect(Resume("E", 10), &slow_id, /*reading=*/false);  // keeps the range in use
  history_.Serve(0);
  auto later = Connect(Resume("E", 50));
  EXPECT_EQ(history_.requests.size(), 1u);
  EXPECT_EQ(later->Messages()[0]["replayed"], 50);
  EXPECT_EQ(later->EventSeqs(), Range(51, 100));
  slow->Drain(FakeSink::kAll);
  EXPECT_EQ(slow->EventSeqs(), Range(11, 100));
}

TEST_F(HubHistoryTest, AFetchedRangeIsKeptBrieflyAfterItsClientsAreThrough) {
  hub_->OnSnapshot("E", 100, {}, SnapshotCause::kInitial);
  auto first = Connect(Resume("E", 10));
  history_.Serve(0);
  EXPECT_EQ(first->EventSeqs(), Range(11, 100));  // through: nobody uses the range
  clock_.Advance(Millis(5000));
  auto second = Connect(Resume("E", 10));  // the next of a reconnect wave
  EXPECT_EQ(history_.requests.size(), 1u);
  EXPECT_EQ(second->EventSeqs(), Range(11, 100));
  clock_.Advance(Millis(10000));
  auto late = Connect(Resume("E", 10));
  ASSERT_EQ(history_.requests.size(), 2u) << "kept briefly, not for ever";
  history_.Serve(1);
  EXPECT_EQ(late->EventSeqs(), Range(11, 100));
}

TEST_F(HubHistoryTest, RangeTheWatcherNoLongerHoldsGetsHistoryGap) {
  hub_->OnSnapshot("E", 100, {}, SnapshotCause::kInitial);
  auto c = Connect(Resume("E", 40));
  ASSERT_EQ(history_.requests.size(), 1u);
  Publish(1);
  history_.Fail(0, "gone: the watcher's history starts after 40");
  auto m = c->Messages();
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0]["type"], "hello");
  EXPECT_EQ(m[0]["replayed"], 0);
  EXPECT_EQ(m[1]["type"], "resync_required");
  EXPECT_EQ(m[1]["reason"], "history_gap");
  EXPECT_EQ(m[1]["seq"], 101);
  Publish(1);
  EXPECT_EQ(c->EventSeqs(), (std::vector<uint64_t>{102})) << "continues after the resync seq";
  EXPECT_EQ(metrics_.history_fetch_failures->Get(), 1);
  EXPECT_EQ(history_.requests.size(), 1u) << "no second fetch for the resynced client";
  EXPECT_EQ(metrics_.Resync(ResyncReason::kHistoryGap)->Get(), 1);
}

TEST_F(HubHistoryTest, ASlowReaderFallingOutOfTheRingIsServedFromTheWatchersHistory) {
  HubOptions o;
  o.history = 20;  // the ring holds FeedState::kMinRing (64) nonetheless
  MakeHub(o);
  hub_->OnSnapshot("E", 0, {}, SnapshotCause::kInitial);
  Publish(20);
  auto c = Connect(Resume("E", 0), nullptr, /*reading=*/false);
  c->Drain(600);  // hello and a few events
  Publish(80);    // the ring (37..100) moves past the client's position
  c->Drain(FakeSink::kAll);
  ASSERT_EQ(history_.requests.size(), 1u);
  EXPECT_EQ(history_.requests[0].until, 36u);
  Publish(5);  // live meanwhile: the ring (42..105) moves past the range too
  history_.Serve(0);
  c->Drain(FakeSink::kAll);
  ASSERT_EQ(history_.requests.size(), 2u) << "the rest, once through the first range";
  EXPECT_EQ(history_.requests[1].after, 36u);
  EXPECT_EQ(history_.requests[1].until, 41u);
  history_.Serve(1);
  c->Drain(FakeSink::kAll);
  EXPECT_EQ(c->EventSeqs(), Range(1, 105)) << "no gap, no duplicate, in order";
  for (const auto& t : c->Types()) EXPECT_NE(t, "resync_required");
}

TEST_F(HubHistoryTest, ANewEpochDuringTheFetchResyncsTheWaitingClientOnce) {
  hub_->OnSnapshot("E", 100, {}, SnapshotCause::kInitial);
  auto c = Connect(Resume("E", 40));
  hub_->OnSnapshot("F", 5, {}, SnapshotCause::kEpoch);
  history_.Serve(0);  // too late: ignored
  EXPECT_EQ(c->Types(), (std::vector<std::string>{"hello", "resync_required"}));
  EXPECT_EQ(c->Messages()[1]["reason"], "epoch_changed");
}

TEST_F(HubHistoryTest, AClientResumingBeforeTheFirstSnapshotIsServedFromTheWatchersHistory) {
  auto c = Connect(Resume("E", 40));  // hello at (E, 40): no state yet
  hub_->OnSnapshot("E", 100, {}, SnapshotCause::kInitial);
  ASSERT_EQ(history_.requests.size(), 1u);
  EXPECT_EQ(history_.requests[0].after, 40u);
  history_.Serve(0);
  EXPECT_EQ(c->Types().front(), "hello");
  EXPECT_EQ(c->Messages()[0]["seq"], 40);
  EXPECT_EQ(c->EventSeqs(), Range(41, 100));
  for (const auto& t : c->Types()) EXPECT_NE(t, "resync_required");
}

TEST_F(HubHistoryTest, AClientClosingWhileHeldGetsItsCloseFrame) {
  hub_->OnSnapshot("E", 100, {}, SnapshotCause::kInitial);
  Hub::ClientId id = 0;
  auto c = Connect(Resume("E", 40), &id);
  hub_->CloseAll(1001, "bye");
  EXPECT_EQ(c->close_code, 1001);
  history_.Serve(0);
  hub_->Disconnect(id);
  EXPECT_EQ(hub_->client_count(), 0u);
}

}  // namespace
}  // namespace coderef::gateway
