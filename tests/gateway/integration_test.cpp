// Integration tests: the real gateway-svc binary against a FakeWatcher (real
// ZeroMQ PUB + ROUTER in this process), real WebSocket and HTTP clients.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <zmq.h>
#include <atomic>
#include <thread>

#include "tests/gateway/fake_watcher.h"
#include "tests/gateway/gateway_process.h"
#include "tests/gateway/test_items.h"

namespace coderef::gateway::testing {
namespace {

using testsupport::MakeTempDir;
using testsupport::RemoveTree;

class GatewayIT : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir("gateway_it_");
    ASSERT_FALSE(dir_.empty());
    watcher_ = std::make_unique<FakeWatcher>();
    watcher_->SetHeartbeatMs(50);
  }
  void TearDown() override {
    for (auto& g : gateways_) g->proc().Kill();
    if (HasFailure()) {
      for (auto& g : gateways_) std::fprintf(stderr, "---- gateway log ----\n%s\n", g->Log().c_str());
    }
    watcher_.reset();
    RemoveTree(dir_);
  }

  GatewayProcess& StartGateway(std::vector<std::string> extra = {}, bool wait_ready = true,
                               std::vector<std::string> env = {}) {
    auto g = std::make_unique<GatewayProcess>();
    std::vector<std::string> flags = {"--watcher-timeout-ms", "500"};
    flags.insert(flags.end(), extra.begin(), extra.end());
    std::string name = "gw" + std::to_string(gateways_.size() + 1);
    EXPECT_TRUE(g->Start(watcher_->pub_endpoint(), watcher_->snapshot_endpoint(), dir_, name,
                         flags, env))
        << g->Log();
    if (wait_ready) {
      EXPECT_TRUE(g->WaitReady()) << g->Log();
    }
    gateways_.push_back(std::move(g));
    return *gateways_.back();
  }

  // A connected client whose hello has been read.
  std::unique_ptr<WsClient> Client(GatewayProcess& g, const std::string& target = "/orchestrator/ws",
                                   json* hello = nullptr) {
    auto c = std::make_unique<WsClient>();
    EXPECT_TRUE(c->Connect(g.WsOptions(target))) << c->error();
    json h = NextJson(*c);
    EXPECT_EQ(h.value("type", ""), "hello") << h.dump();
    if (hello) *hello = h;
    return c;
  }

  // Publishes n plan updates; returns the last seq.
  uint64_t PublishPlans(int n, const std::string& project = "noted") {
    uint64_t seq = 0;
    for (int i = 0; i < n; ++i)
      seq = watcher_->Publish(Change::kAdded, PlanItem(project, "f" + std::to_string(watcher_->seq() + 1)));
    return seq;
  }

  std::string dir_;
  std::unique_ptr<FakeWatcher> watcher_;
  std::vector<std::unique_ptr<GatewayProcess>> gateways_;
};

TEST_F(GatewayIT, ReplicaServesRestFromTheSnapshotAndEvents) {
  watcher_->SetItems({ProjectItem("noted", "Noted"), PlanItem("noted", "auth"),
                      StubItem("noted", "idea"), HandoffItem("noted", "auth")});
  PublishPlans(3);
  GatewayProcess& g = StartGateway();
  int status = 0;
  ASSERT_TRUE(WaitFor([&] { return g.GetJson("/orchestrator/stats")["seq"] == 3; }, 5000));
  json plans = g.GetJson("/orchestrator/plans?project=noted", &status);
  EXPECT_EQ(status, 200);
  EXPECT_EQ(plans["plans"].size(), 4u);
  EXPECT_EQ(plans["epoch"], watcher_->epoch());
  EXPECT_EQ(plans["seq"], 3);
  json projects = g.GetJson("/orchestrator/projects");
  ASSERT_EQ(projects["projects"].size(), 1u);
  EXPECT_EQ(projects["projects"][0]["plans"], 4);
  EXPECT_EQ(g.GetJson("/orchestrator/stubs")["stubs"].size(), 1u);
  EXPECT_EQ(g.GetJson("/orchestrator/workorders")["workorders"].size(), 1u);
  json file = g.GetJson("/orchestrator/file?project=noted&path=coderef/working/auth/plan.json");
  EXPECT_NE(file["text"].get<std::string>().find("in_progress"), std::string::npos);
  watcher_->Publish(Change::kDeleted, PlanItem("noted", "auth"));
  ASSERT_TRUE(WaitFor([&] { return g.GetJson("/orchestrator/plans")["plans"].size() == 3; }, 5000));
  EXPECT_EQ(g.Get("/healthz").status, 200);
  EXPECT_EQ(g.Get("/orchestrator/nothing").status, 404);
}

TEST_F(GatewayIT, EventsReachEveryClientInSeqOrderAsJson) {
  watcher_->SetItems({ProjectItem("noted", "Noted")});
  GatewayProcess& g = StartGateway();
  json hello;
  auto a = Client(g, "/orchestrator/ws", &hello);
  auto b = Client(g);
  EXPECT_EQ(hello["epoch"], watcher_->epoch());
  EXPECT_EQ(hello["seq"], 0);
  EXPECT_EQ(hello["gateway"], "gw1");
  uint64_t last = PublishPlans(50);
  EXPECT_EQ(ReadEventsUntil(*a, last), Range(1, last));
  EXPECT_EQ(ReadEventsUntil(*b, last), Range(1, last));
  // Shape: a superset of the original {type, project, feature_name, file_path, timestamp}.
  watcher_->Publish(Change::kUpdated, PlanItem("noted", "caf\xC3\xA9 \"q\"", "complete"));
  json ev = NextNonPing(*a);
  EXPECT_EQ(ev["type"], "plan_updated");
  EXPECT_EQ(ev["project"], "noted");
  EXPECT_EQ(ev["project_name"], "Noted");
  EXPECT_EQ(ev["feature_name"], "caf\xC3\xA9 \"q\"");
  EXPECT_EQ(ev["file_path"], "coderef/working/caf\xC3\xA9 \"q\"/plan.json");
  EXPECT_TRUE(ev["timestamp"].is_string());
  EXPECT_EQ(ev["item"]["status"], "complete");
  EXPECT_GE(g.Metric("coderef_gateway_events_out_total"), 2 * 51);
  EXPECT_EQ(g.Metric("coderef_gateway_clients"), 2);
}

TEST_F(GatewayIT, TopicFiltersFromTheQueryAndSubscribe) {
  GatewayProcess& g = StartGateway();
  auto stubs = Client(g, "/orchestrator/ws?topics=stub");
  auto plans = Client(g);
  plans->SendText(R"({"type":"subscribe","topics":["plan"]})");
  plans->SendText(R"({"type":"ping"})");
  ASSERT_EQ(NextNonPing(*plans)["type"], "pong");  // subscription in effect
  watcher_->Publish(Change::kAdded, PlanItem("noted", "p1"));
  uint64_t stub_seq = watcher_->Publish(Change::kAdded, StubItem("noted", "s1"));
  uint64_t plan_seq = watcher_->Publish(Change::kAdded, PlanItem("noted", "p2"));
  EXPECT_EQ(ReadEventsUntil(*stubs, stub_seq), std::vector<uint64_t>{stub_seq});
  EXPECT_EQ(ReadEventsUntil(*plans, plan_seq), (std::vector<uint64_t>{1, plan_seq}));
  WsClient bad;
  EXPECT_FALSE(bad.Connect(g.WsOptions("/orchestrator/ws?topics=bogus")));
  EXPECT_EQ(bad.status(), 400);
}

TEST_F(GatewayIT, ResumeReplaysExactlyTheMissedEventsThenContinues) {
  GatewayProcess& g = StartGateway();
  auto c = Client(g);
  uint64_t seen = PublishPlans(10);
  ASSERT_EQ(ReadEventsUntil(*c, seen), Range(1, seen));
  c.reset();  // disconnect
  uint64_t missed_to = PublishPlans(7);
  ASSERT_TRUE(WaitFor([&] { return g.GetJson("/orchestrator/stats")["seq"] == missed_to; }, 5000));
  json hello;
  auto r = Client(g, "/orchestrator/ws?epoch=" + watcher_->epoch() + "&since=" + std::to_string(seen),
                  &hello);
  EXPECT_EQ(hello["replayed"], 7);
  EXPECT_EQ(hello["seq"], missed_to);
  EXPECT_EQ(ReadEventsUntil(*r, missed_to), Range(seen + 1, missed_to));
  uint64_t more = PublishPlans(3);
  EXPECT_EQ(ReadEventsUntil(*r, more), Range(missed_to + 1, more));
  // Nothing duplicated or extra.
  std::string extra;
  EXPECT_EQ(r->Next(&extra, 200), WsClient::Result::kTimeout) << extra;
}

TEST_F(GatewayIT, ResumeOlderThanHistoryGetsHistoryGapWhenTheWatcherServesNoHistory) {
  // --history 5, but the ring holds FeedState::kMinRing (64) events: 100
  // events put seq 3 out of it. The fake watcher answers history requests
  // with "the watcher serves no history": the fetch fails, history_gap.
  GatewayProcess& g = StartGateway({"--history", "5"});
  uint64_t last = PublishPlans(100);
  ASSERT_TRUE(WaitFor([&] { return g.GetJson("/orchestrator/stats")["seq"] == last; }, 5000));
  json hello;
  auto c = Client(g, "/orchestrator/ws?epoch=" + watcher_->epoch() + "&since=3", &hello);
  EXPECT_EQ(hello["replayed"], 0);
  json r = NextNonPing(*c);
  EXPECT_EQ(r["type"], "resync_required");
  EXPECT_EQ(r["reason"], "history_gap");
  EXPECT_EQ(r["seq"], last);
  uint64_t next = PublishPlans(1);
  EXPECT_EQ(ReadEventsUntil(*c, next), std::vector<uint64_t>{next});
  // Older than --history but still in the ring: replayed exactly.
  auto in_ring = Client(g, "/orchestrator/ws?epoch=" + watcher_->epoch() + "&since=60", &hello);
  EXPECT_EQ(hello["replayed"], next - 60);
  EXPECT_EQ(ReadEventsUntil(*in_ring, next), Range(61, next));
  EXPECT_GE(g.Metric("coderef_gateway_resyncs_total{reason=\"history_gap\"}"), 1);
  EXPECT_EQ(g.Metric("coderef_gateway_history_fetches_total"), 1);
  EXPECT_EQ(g.Metric("coderef_gateway_history_fetch_failures_total"), 1);
  EXPECT_NE(g.Log().find("replay.fetch_failed"), std::string::npos);
}

TEST_F(GatewayIT, NewEpochResyncsConnectedAndResumingClients) {
  GatewayProcess& g = StartGateway();
  auto c = Client(g);
  std::string old_epoch = watcher_->epoch();
  uint64_t last = PublishPlans(5);
  ASSERT_EQ(ReadEventsUntil(*c, last), Range(1, last));
  watcher_->NewEpoch("e000000000000002");
  watcher_->SetItems({PlanItem("noted", "fresh")});
  json resync = WaitForType(*c, "resync_required", 10000);
  ASSERT_FALSE(resync.is_null());
  EXPECT_EQ(resync["reason"], "epoch_changed");
  EXPECT_EQ(resync["epoch"], "e000000000000002");
  // After the resync: the new epoch's events newer than its seq.
  uint64_t s = watcher_->Publish(Change::kAdded, StubItem("noted", "s"));
  json ev = WaitForType(*c, "stub_added");
  EXPECT_EQ(ev["seq"], s);
  EXPECT_EQ(ev["epoch"], "e000000000000002");
  EXPECT_GT(s, resync["seq"].get<uint64_t>());
  auto old = Client(g, "/orchestrator/ws?epoch=" + old_epoch + "&since=5");
  json r = NextNonPing(*old);
  EXPECT_EQ(r["type"], "resync_required");
  EXPECT_EQ(r["reason"], "epoch_changed");
  EXPECT_EQ(r["epoch"], "e000000000000002");
}

TEST_F(GatewayIT, FeedGapTakesAFreshSnapshotAndResyncsWithOverflow) {
  GatewayProcess& g = StartGateway();
  auto c = Client(g);
  uint64_t last = PublishPlans(3);
  ASSERT_EQ(ReadEventsUntil(*c, last), Range(1, last));
  watcher_->Lose(Change::kAdded, PlanItem("noted", "lost"));  // seq 4 never sent
  uint64_t after = watcher_->Publish(Change::kAdded, PlanItem("noted", "after"));
  json resync = WaitForType(*c, "resync_required");
  ASSERT_FALSE(resync.is_null());
  EXPECT_EQ(resync["reason"], "overflow");
  EXPECT_EQ(resync["seq"], after);
  // The replica has the lost item (from the snapshot).
  json plans = g.GetJson("/orchestrator/plans");
  bool found = false;
  for (const auto& p : plans["plans"]) found |= p["feature_name"] == "lost";
  EXPECT_TRUE(found);
  EXPECT_GE(g.Metric("coderef_gateway_feed_gaps_total"), 1);
  EXPECT_NE(g.Log().find("feed.gap"), std::string::npos);
}

TEST_F(GatewayIT, WatcherDownAndUp) {
  GatewayProcess& g = StartGateway();
  auto c = Client(g);
  watcher_->SetHeartbeatMs(0);
  json down = NextNonPing(*c, 5000);
  EXPECT_EQ(down["type"], "watcher_down");
  EXPECT_EQ(g.Get("/readyz").status, 503);
  EXPECT_EQ(g.Get("/orchestrator/stats").status, 200) << "REST keeps serving the replica";
  EXPECT_EQ(g.Metric("coderef_gateway_watcher_up"), 0);
  watcher_->SetHeartbeatMs(50);
  json up = NextNonPing(*c, 5000);
  EXPECT_EQ(up["type"], "watcher_up");
  EXPECT_EQ(up["epoch"], watcher_->epoch());
  EXPECT_TRUE(g.WaitReady(3000));
}

TEST_F(GatewayIT, WatcherGoneThenRestartedOnTheSamePortsIsFollowed) {
  watcher_->SetItems({PlanItem("noted", "a")});
  GatewayProcess& g = StartGateway();
  auto c = Client(g);
  int pub = watcher_->pub_port(), snap = watcher_->snapshot_port();
  watcher_.reset();  // gone
  EXPECT_EQ(NextNonPing(*c, 5000)["type"], "watcher_down");
  EXPECT_EQ(g.Get("/healthz").status, 200) << "never blocks on a watcher that is gone";
  watcher_ = std::make_unique<FakeWatcher>("e000000000000009", pub, snap);
  watcher_->SetHeartbeatMs(50);
  watcher_->SetItems({PlanItem("noted", "a"), PlanItem("noted", "b")});
  json up = NextNonPing(*c, 10000);
  EXPECT_EQ(up["type"], "watcher_up");
  json resync = NextNonPing(*c, 10000);
  EXPECT_EQ(resync["type"], "resync_required");
  EXPECT_EQ(resync["reason"], "epoch_changed");
  EXPECT_EQ(resync["epoch"], "e000000000000009");
  EXPECT_EQ(g.GetJson("/orchestrator/plans")["plans"].size(), 2u);
  uint64_t s = PublishPlans(1);
  EXPECT_EQ(ReadEventsUntil(*c, s), std::vector<uint64_t>{s});
}

TEST_F(GatewayIT, ResumeOnAnotherGatewayIsGapFree) {
  GatewayProcess& g1 = StartGateway();
  GatewayProcess& g2 = StartGateway();
  auto c = Client(g1);
  uint64_t seen = PublishPlans(8);
  ASSERT_EQ(ReadEventsUntil(*c, seen), Range(1, seen));
  c.reset();
  uint64_t missed = PublishPlans(5);
  ASSERT_TRUE(WaitFor([&] { return g2.GetJson("/orchestrator/stats")["seq"] == missed; }, 5000));
  json hello;
  auto moved = Client(g2, "/orchestrator/ws?epoch=" + watcher_->epoch() + "&since=" +
                              std::to_string(seen), &hello);
  EXPECT_EQ(hello["gateway"], "gw2");
  EXPECT_EQ(hello["replayed"], 5);
  EXPECT_EQ(ReadEventsUntil(*moved, missed), Range(seen + 1, missed));
}

// PROTOCOL, slow and stuck clients: a reader slower than a burst is paced
// from the history, never closed or resynced, whatever --max-queue-bytes;
// and the pong timeout does not take it for dead while the pings wait
// behind the backlog (pings every 300 ms, 1 s to answer, the reader needs
// seconds to reach them).
TEST_F(GatewayIT, ThrottledReaderGetsAFiveMegabyteBurstWithNoCloseAndNoResync) {
  GatewayProcess& g = StartGateway(
      {"--max-queue-bytes", "262144", "--ping-ms", "300", "--pong-timeout-ms", "1000"});
  WsClient slow;
  WsClient::Options so = g.WsOptions();
  so.rcvbuf = 16384;
  ASSERT_TRUE(slow.Connect(so)) << slow.error();
  json hello = NextJson(slow);
  ASSERT_EQ(hello.value("type", ""), "hello") << hello.dump();
  auto fast = Client(g);
  constexpr uint64_t kEvents = 5000;
  // The throttled reader: reads at roughly a tenth of the burst's rate, and
  // goes on reading (answering pings) until told to stop.
  std::vector<uint64_t> got;
  std::vector<std::string> others;
  std::atomic<uint64_t> last_seen{0};
  std::atomic<bool> stop{false};
  std::thread reader([&] {
    while (!stop && !slow.closed()) {
      std::string msg;
      if (slow.Next(&msg, 100) != WsClient::Result::kMessage) continue;
      size_t at = msg.find("\",\"seq\":");
      if (msg.compare(0, 14, "{\"type\":\"stub_") != 0 || at == std::string::npos) {
        if (msg.find("\"type\":\"ping\"") == std::string::npos) others.push_back(msg.substr(0, 200));
        continue;
      }
      got.push_back(std::strtoull(msg.c_str() + at + 8, nullptr, 10));
      last_seen = got.back();
      if (got.size() % 2 == 0 && got.back() < kEvents)
        std::this_thread::sleep_for(std::chrono::milliseconds(3));
    }
  });
  std::string body(1000, 'x');
  const auto start = std::chrono::steady_clock::now();
  for (uint64_t i = 0; i < kEvents; ++i) {
    v1::Item item = StubItem("noted", "s" + std::to_string(watcher_->seq() + 1));
    item.mutable_stub()->set_description(body);
    watcher_->Publish(Change::kAdded, item);
  }
  watcher_->Flush();
  const double publish_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::vector<uint64_t> fast_got = ReadEventsUntil(*fast, kEvents, 60000);
  // Done, but it stays a well-behaved idle client (answering pings) while
  // the slow one reads. (It used to send a close and stop reading: on a
  // loaded machine under TSan the pong timeout could fire before the
  // gateway finished that close handshake, and counted it as dropped.)
  std::thread fast_reader([&] {
    std::string msg;
    while (!stop && !fast->closed()) fast->Next(&msg, 100);
  });
  EXPECT_TRUE(WaitFor([&] { return last_seen.load() >= kEvents || slow.closed(); }, 120000));
  const double slow_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "burst of %llu events published in %.2f s; throttled reader done in %.2f s\n",
               static_cast<unsigned long long>(kEvents), publish_s, slow_s);
  // Checked while the reader still reads: a client that stops reading and
  // answering would rightly be closed by the pong timeout.
  EXPECT_EQ(g.Metric("coderef_gateway_stuck_client_disconnects_total"), 0);
  EXPECT_EQ(g.Metric("coderef_gateway_dropped_clients_total"), 0) << g.Log();
  EXPECT_EQ(g.Metric("coderef_gateway_resyncs_total{reason=\"history_gap\"}"), 0);
  EXPECT_GE(g.Metric("coderef_gateway_writes_queued_total"), 1) << "it was paced";
  stop = true;
  reader.join();
  fast_reader.join();
  EXPECT_FALSE(fast->closed()) << "the idle fast client was closed: " << fast->close_code();
  EXPECT_EQ(fast_got, Range(1, kEvents));
  EXPECT_EQ(got, Range(1, kEvents)) << "every event, in order, to the throttled reader";
  EXPECT_TRUE(others.empty()) << "no resync or other message: " << (others.empty() ? "" : others[0]);
  EXPECT_FALSE(slow.closed()) << slow.close_code() << " " << slow.close_reason();
}

// A reader that never reads is closed after --stuck-ms, and nobody else
// notices.
TEST_F(GatewayIT, AReaderThatNeverReadsIsClosedAfterStuckMs) {
  GatewayProcess& g = StartGateway({"--stuck-ms", "300"});
  WsClient stuck;
  WsClient::Options so = g.WsOptions();
  so.rcvbuf = 2048;
  ASSERT_TRUE(stuck.Connect(so));
  auto reader = Client(g);
  ASSERT_TRUE(WaitFor([&] { return g.Metric("coderef_gateway_clients") == 2; }, 5000));
  std::string big(4096, 'x');
  uint64_t last = 0;
  std::vector<uint64_t> got;
  for (int round = 0; round < 200 && g.Metric("coderef_gateway_stuck_client_disconnects_total") < 1;
       ++round) {
    for (int i = 0; i < 10; ++i) {
      v1::Item item = StubItem("noted", "s" + std::to_string(watcher_->seq() + 1));
      item.mutable_stub()->set_description(big);
      last = watcher_->Publish(Change::kAdded, item);
    }
    watcher_->Flush();
    std::vector<uint64_t> more = ReadEventsUntil(*reader, last, 20000);
    got.insert(got.end(), more.begin(), more.end());
  }
  EXPECT_EQ(g.Metric("coderef_gateway_stuck_client_disconnects_total"), 1);
  EXPECT_EQ(got, Range(1, last));
  EXPECT_FALSE(reader->closed());
  // The stuck one is really gone (its close frame cannot get through: cut
  // off after the close timeout).
  EXPECT_TRUE(WaitFor([&] { return g.Metric("coderef_gateway_clients") == 1; }, 5000));
  EXPECT_NE(g.Log().find("client.stuck"), std::string::npos);
}

// The gateway writes frames straight to an idle socket (one sendmsg of up to
// 64 frames). A client that stops reading makes those writes partial: the
// rest of the frame begun must go first, byte-exact, and later frames (taken
// from the history as the socket drains) after it.
TEST_F(GatewayIT, FramesTheSocketTakesOnlyPartlyArriveWholeAndInOrder) {
  GatewayProcess& g = StartGateway({"--max-queue-bytes", "67108864"});
  WsClient paused;
  WsClient::Options po = g.WsOptions();
  po.rcvbuf = 4096;
  ASSERT_TRUE(paused.Connect(po)) << paused.error();
  json hello = NextJson(paused);
  ASSERT_EQ(hello.value("type", ""), "hello") << hello.dump();
  auto reader = Client(g);
  // Each event's description is its own letter, 3000 + seq bytes long: a
  // lost, repeated or misplaced byte range shows up in the JSON or the text.
  auto description = [](uint64_t seq) {
    return std::string(3000 + seq, static_cast<char>('a' + seq % 26));
  };
  auto publish = [&](int n) {
    uint64_t seq = 0;
    for (int i = 0; i < n; ++i) {
      v1::Item item = StubItem("noted", "s" + std::to_string(watcher_->seq() + 1));
      item.mutable_stub()->set_description(description(watcher_->seq() + 1));
      seq = watcher_->Publish(Change::kAdded, item);
    }
    watcher_->Flush();
    return seq;
  };
  uint64_t last = 0;
  for (int round = 0; round < 100 && g.Metric("coderef_gateway_writes_partial_total") < 1;
       ++round) {
    last = publish(20);
    ASSERT_EQ(ReadEventsUntil(*reader, last, 20000).back(), last);
  }
  EXPECT_GE(g.Metric("coderef_gateway_writes_partial_total"), 1);
  EXPECT_GE(g.Metric("coderef_gateway_writes_direct_total"), 1);
  // More frames behind the partial one, while the client is still paused.
  last = publish(5);
  std::vector<uint64_t> seqs;
  for (;;) {
    json j = NextNonPing(paused, 20000);
    ASSERT_TRUE(IsEvent(j)) << "after seq " << (seqs.empty() ? 0 : seqs.back()) << ": "
                            << j.dump().substr(0, 200);
    uint64_t seq = j["seq"].get<uint64_t>();
    ASSERT_EQ(j["item"]["description"], description(seq)) << "seq " << seq;
    seqs.push_back(seq);
    if (seq >= last) break;
  }
  EXPECT_EQ(seqs, Range(1, last));
  // The frames published behind the partial one waited for the socket.
  EXPECT_GE(g.Metric("coderef_gateway_writes_queued_total"), 1);
  EXPECT_FALSE(paused.closed());
  EXPECT_EQ(g.Metric("coderef_gateway_stuck_client_disconnects_total"), 0);
}

TEST_F(GatewayIT, RefusesForeignOriginsTokensAndTooManyClients) {
  GatewayProcess& g = StartGateway({"--token", "s3cret", "--max-clients", "2",
                                    "--allowed-origin", "https://dash.example.com"},
                                   /*wait_ready=*/false);
  EXPECT_EQ(g.Get("/readyz").status, 401) << "every request needs the token";
  g.set_token("s3cret");
  ASSERT_TRUE(g.WaitReady());
  WsClient evil;
  WsClient::Options o = g.WsOptions("/orchestrator/ws?token=s3cret");
  o.headers = {{"Origin", "https://evil.example.com"}};
  EXPECT_FALSE(evil.Connect(o));
  EXPECT_EQ(evil.status(), 403);

  WsClient no_token;
  EXPECT_FALSE(no_token.Connect(g.WsOptions()));
  EXPECT_EQ(no_token.status(), 401);
  EXPECT_EQ(testsupport::HttpGet(g.port(), "/orchestrator/projects").status, 401);
  EXPECT_EQ(g.Get("/orchestrator/projects").status, 200);

  WsClient a, b, c;
  o.headers = {{"Origin", "https://dash.example.com"}};
  ASSERT_TRUE(a.Connect(o)) << a.error();
  WsClient::Options local = g.WsOptions("/orchestrator/ws");
  local.headers = {{"Origin", "http://localhost:5173"}, {"Authorization", "Bearer s3cret"}};
  ASSERT_TRUE(b.Connect(local)) << b.error();
  EXPECT_FALSE(c.Connect(o));
  EXPECT_EQ(c.status(), 503);
  a.Abort();
  ASSERT_TRUE(WaitFor([&] { return g.Metric("coderef_gateway_clients") == 1; }, 5000));
  WsClient d;
  EXPECT_TRUE(d.Connect(o)) << "a slot frees up";
}

TEST_F(GatewayIT, OversizedFramesFloodsAndGarbageAreClosed) {
  GatewayProcess& g = StartGateway();
  auto big = Client(g);
  big->SendText(std::string(70 * 1024, 'a'));
  EXPECT_TRUE(big->WaitClosed(5000));
  EXPECT_EQ(big->close_code(), 1009);

  auto flood = Client(g);
  for (int i = 0; i < 150; ++i) flood->SendText(R"({"type":"pong"})");
  EXPECT_TRUE(flood->WaitClosed(5000));
  EXPECT_EQ(flood->close_code(), 1008);
  EXPECT_EQ(flood->close_reason(), "flood");

  auto garbage = Client(g);
  garbage->SendText("hello?");
  EXPECT_TRUE(garbage->WaitClosed(5000));
  EXPECT_EQ(garbage->close_code(), 1003);

  auto binary = Client(g);
  binary->SendBinary("\x01\x02");
  EXPECT_TRUE(binary->WaitClosed(5000));
  EXPECT_EQ(binary->close_code(), 1003);

  auto polite = Client(g);
  polite->SendText(R"({"type":"what"})");
  json e = NextNonPing(*polite);
  EXPECT_EQ(e["type"], "error");
  EXPECT_EQ(e["error"], "unknown op");
  EXPECT_GE(g.Metric("coderef_gateway_dropped_clients_total"), 3);
}

TEST_F(GatewayIT, PingsAndPongTimeoutDropDeadClients) {
  GatewayProcess& g = StartGateway({"--ping-ms", "200", "--pong-timeout-ms", "300"});
  WsClient dead;
  WsClient::Options o = g.WsOptions();
  o.auto_pong = false;
  ASSERT_TRUE(dead.Connect(o));
  auto alive = Client(g);
  // The live client keeps reading (and so answering ping frames) meanwhile.
  std::atomic<bool> stop{false};
  std::atomic<int> app_pings{0};
  std::thread reader([&] {
    while (!stop && !alive->closed()) {
      json j = NextJson(*alive, 50);
      if (j.is_object() && j.value("type", "") == "ping" && j["ts"].is_number()) ++app_pings;
    }
  });
  EXPECT_TRUE(dead.WaitClosed(5000));
  EXPECT_EQ(dead.close_code(), 1008);
  EXPECT_EQ(dead.close_reason(), "pong timeout");
  // The answering client survives several ping rounds.
  WaitFor([&] { return app_pings >= 5; }, 5000);
  stop = true;
  reader.join();
  EXPECT_GE(app_pings.load(), 5) << "app-level {\"type\":\"ping\"} every --ping-ms";
  EXPECT_GE(alive->pings_received(), 1) << "WebSocket ping frames too";
  EXPECT_FALSE(alive->closed());
  EXPECT_GE(g.Metric("coderef_gateway_dropped_clients_total"), 1);
  EXPECT_NE(g.Log().find("client.pong_timeout"), std::string::npos);
}

TEST_F(GatewayIT, ConnectionsThatNeverFinishTheirHandshakeAreDropped) {
  GatewayProcess& g = StartGateway({"--handshake-timeout-ms", "300"});
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(g.port()));
  ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const char partial[] = "GET /orchestrator/ws HTTP/1.1\r\nHost: x\r\n";  // never finished
  ASSERT_GT(::send(fd, partial, sizeof partial - 1, 0), 0);
  auto start = std::chrono::steady_clock::now();
  bool closed = WaitFor([&] {
    char buf[256];
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
  }, 5000);
  ::close(fd);
  EXPECT_TRUE(closed);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
}

TEST_F(GatewayIT, SigtermClosesEveryClientWith1001AndExitsZero) {
  GatewayProcess& g = StartGateway();
  std::vector<std::unique_ptr<WsClient>> clients;
  for (int i = 0; i < 3; ++i) clients.push_back(Client(g));
  auto start = std::chrono::steady_clock::now();
  g.proc().Signal(SIGTERM);
  for (auto& c : clients) {
    EXPECT_TRUE(c->WaitClosed(2000));
    EXPECT_EQ(c->close_code(), 1001);
  }
  int status = -1;
  EXPECT_TRUE(g.proc().WaitExit(2000, &status));
  EXPECT_EQ(status, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

TEST_F(GatewayIT, AcceptErrorsLikeEmfileDoNotSpinTheCpu) {
  GatewayProcess& g = StartGateway({"--max-open-files", "64", "--handshake-timeout-ms", "4000"});
  std::vector<int> fds;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(g.port()));
  ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  for (int i = 0; i < 100; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) fds.push_back(fd);
    else ::close(fd);
  }
  ASSERT_TRUE(WaitFor([&] { return g.Log().find("accept.failed") != std::string::npos; }, 3000))
      << "the fd limit was never hit";
  long before = g.proc().CpuTicks();
  auto t0 = std::chrono::steady_clock::now();
  WaitFor([] { return false; }, 1000);  // measure one second at the limit
  long ticks = g.proc().CpuTicks() - before;
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  long hz = ::sysconf(_SC_CLK_TCK);
  EXPECT_LT(static_cast<double>(ticks) / hz / secs, 0.25) << "CPU share while at EMFILE";
  for (int fd : fds) ::close(fd);
  // Serving again once descriptors are free.
  EXPECT_TRUE(WaitFor([&] {
    WsClient c;
    return c.Connect(g.WsOptions());
  }, 10000));
  EXPECT_GE(g.Metric("coderef_gateway_accept_errors_total"), 1);
}

TEST_F(GatewayIT, StaticFilesWithoutPathTraversal) {
  std::string site = dir_ + "/site";
  ASSERT_EQ(::mkdir(site.c_str(), 0755), 0);
  testsupport::WriteFile(site + "/index.html", "<html>dashboard</html>");
  testsupport::WriteFile(site + "/app.js", "console.log('x')");
  testsupport::WriteFile(dir_ + "/secret.txt", "secret");
  GatewayProcess& g = StartGateway({"--static-dir", site});
  HttpResult index = g.Get("/");
  EXPECT_EQ(index.status, 200);
  EXPECT_EQ(index.body, "<html>dashboard</html>");
  EXPECT_EQ(index.headers["content-type"], "text/html; charset=utf-8");
  HttpResult js = g.Get("/app.js");
  EXPECT_EQ(js.headers["content-type"], "text/javascript; charset=utf-8");
  for (const char* evil : {"/../secret.txt", "/%2e%2e/secret.txt", "/..%2fsecret.txt",
                           "/%2e%2e%2fsecret.txt"}) {
    HttpResult r = g.Get(evil);
    EXPECT_NE(r.status, 200) << evil;
    EXPECT_EQ(r.body.find("secret\""), std::string::npos);
    EXPECT_NE(r.body, "secret") << evil;
  }
}

TEST_F(GatewayIT, BadFlagsExitTwoNamingTheFlag) {
  struct Case {
    std::vector<std::string> args;
    std::vector<std::string> env;
    std::string flag;
  };
  std::vector<Case> cases = {
      {{"--max-clients", "lots"}, {}, "max-clients"},
      {{"--listen", "nowhere"}, {}, "listen"},
      {{"--log-format", "xml"}, {}, "log-format"},
      {{"--feed", "carrier-pigeon"}, {}, "feed"},
      {{}, {"GATEWAY_PING_MS=soon"}, "ping-ms"},
  };
  for (const auto& c : cases) {
    Subprocess p;
    std::vector<std::string> argv = {GatewayBinary()};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    ASSERT_TRUE(p.Start(argv, c.env, dir_ + "/flags.log"));
    int status = -1;
    ASSERT_TRUE(p.WaitExit(10000, &status));
    EXPECT_EQ(status, 2) << c.flag;
    EXPECT_NE(p.Log().find(c.flag), std::string::npos) << p.Log();
  }
}

TEST_F(GatewayIT, EnvironmentConfiguresFlags) {
  GatewayProcess& g = StartGateway({}, true, {"GATEWAY_GATEWAY_ID=from-env", "GATEWAY_LOG_FORMAT=json"});
  // --gateway-id on the command line wins over the environment.
  json hello;
  auto c = Client(g, "/orchestrator/ws", &hello);
  EXPECT_EQ(hello["gateway"], "gw1");
  EXPECT_NE(g.Log().find("\"msg\":\"listening\""), std::string::npos) << "json logs from env";
  EXPECT_NE(g.Log().find("\"port\":" + std::to_string(g.port())), std::string::npos);
}

TEST_F(GatewayIT, CurveEncryptedFeed) {
  char server_public[41], server_secret[41];
  ASSERT_EQ(zmq_curve_keypair(server_public, server_secret), 0);
  watcher_ = std::make_unique<FakeWatcher>("e0000000000000c1", 0, 0, server_secret);
  watcher_->SetHeartbeatMs(50);
  watcher_->SetItems({PlanItem("noted", "secret-plan")});
  // The server key from a file, an ephemeral client key pair.
  std::string key_file = dir_ + "/server.key";
  testsupport::WriteFile(key_file, std::string(server_public) + "\n");
  GatewayProcess& g = StartGateway({"--curve-server-key", key_file});
  EXPECT_EQ(g.GetJson("/orchestrator/plans")["plans"].size(), 1u);
  auto c = Client(g);
  uint64_t s = PublishPlans(1);
  EXPECT_EQ(ReadEventsUntil(*c, s), std::vector<uint64_t>{s});
  // The key given inline (Z85, which may contain '/').
  GatewayProcess& inline_key = StartGateway({"--curve-server-key", server_public});
  EXPECT_EQ(inline_key.GetJson("/orchestrator/plans")["plans"].size(), 2u);
  // Without the key, the gateway cannot read the feed.
  GatewayProcess& plain = StartGateway({}, /*wait_ready=*/false);
  EXPECT_FALSE(plain.WaitReady(1500));
  // A missing key file or a key that is not Z85 is a flag error.
  for (const std::string& key : {std::string("no-such.key"), std::string(40, '~')}) {
    Subprocess bad;
    ASSERT_TRUE(bad.Start({GatewayBinary(), "--curve-server-key", key}, {}, dir_ + "/bad.log"));
    int status = -1;
    ASSERT_TRUE(bad.WaitExit(10000, &status));
    EXPECT_EQ(status, 2) << key;
    EXPECT_NE(bad.Log().find("curve-server-key"), std::string::npos) << bad.Log();
  }
}

}  // namespace
}  // namespace coderef::gateway::testing
