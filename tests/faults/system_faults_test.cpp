// Fault tests of the whole system (real watcher-svc and gateway-svc
// processes, real files and sockets, bounded in time): the watcher killed
// during a burst and restarted, a gateway killed under 500 clients that
// resume elsewhere, and events lost on the feed (a tiny PUB high-water mark
// and a stopped gateway). In each, every client's stream is checked message
// by message (StreamClient): no silent hole, no duplicate, and the REST
// state of every gateway ends equal to the disk.
#include <atomic>
#include <thread>

#include "tests/faults/fault_harness.h"

namespace coderef::faults {
namespace {

class SystemFaultTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (watcher_) ExpectSanitizerClean(watcher_->proc().Log(), "watcher");
    for (auto& g : gateways_)
      if (g) ExpectSanitizerClean(g->Log(), "gateway");
    if (HasFailure()) {
      if (watcher_) std::fprintf(stderr, "---- watcher log ----\n%s\n", Tail(watcher_->proc().Log()).c_str());
      for (auto& g : gateways_)
        if (g) std::fprintf(stderr, "---- gateway log ----\n%s\n", Tail(g->Log()).c_str());
    }
    for (auto& g : gateways_)
      if (g) g->proc().Kill();
  }
  static std::string Tail(const std::string& s) { return s.size() > 6000 ? s.substr(s.size() - 6000) : s; }

  void StartWatcher(const std::string& pub = "tcp://127.0.0.1:*",
                    const std::string& snapshot = "tcp://127.0.0.1:*", std::vector<std::string> extra = {}) {
    watcher_ = std::make_unique<Watcher>(ws_.projects(), pub, snapshot, extra);
    ASSERT_TRUE(watcher_->started()) << watcher_->proc().Log();
  }
  GatewayProcess& StartGateway(std::vector<std::string> extra = {}) {
    auto g = std::make_unique<GatewayProcess>();
    std::vector<std::string> flags{"--watcher-timeout-ms", "600", "--ping-ms", "60000"};
    flags.insert(flags.end(), extra.begin(), extra.end());
    std::string name = "gw" + std::to_string(++gateway_counter_);
    EXPECT_TRUE(g->Start(watcher_->pub(), watcher_->snapshot(), logs_.path(), name, flags)) << g->Log();
    EXPECT_TRUE(g->WaitReady(15000)) << g->Log();
    gateways_.push_back(std::move(g));
    return *gateways_.back();
  }
  // The seq of a gateway whose REST state equals the disk and has not
  // moved for 500 ms (files written non-atomically may be seen half-written
  // first: the number of events is not known in advance).
  uint64_t SettledSeq(const GatewayProcess& g) {
    uint64_t seq = 0;
    EXPECT_TRUE(WaitFor([&] {
      if (RestPlans(g, "alpha") != DiskPlans(ws_.root())) return false;
      seq = GatewaySeq(g);
      std::this_thread::sleep_for(500ms);  // a quiet period, not a synchronisation
      return GatewaySeq(g) == seq && RestPlans(g, "alpha") == DiskPlans(ws_.root());
    }, 20000ms)) << "REST: " << Describe(RestPlans(g, "alpha")) << "\ndisk: " << Describe(DiskPlans(ws_.root()));
    return seq;
  }
  uint64_t GatewaySeq(const GatewayProcess& g) {
    json j = g.GetJson("/orchestrator/stats");
    return j.is_object() && j.contains("seq") ? j["seq"].get<uint64_t>() : 0;
  }
  // Every gateway's REST plans equal the disk's.
  void ExpectRestEqualsDisk(std::chrono::milliseconds timeout = 20000ms) {
    for (auto& g : gateways_) {
      if (!g || !g->proc().Running()) continue;
      bool ok = WaitFor([&] { return RestPlans(*g, "alpha") == DiskPlans(ws_.root()); }, timeout);
      EXPECT_TRUE(ok) << "REST: " << Describe(RestPlans(*g, "alpha"))
                      << "\ndisk: " << Describe(DiskPlans(ws_.root()));
    }
  }

  Workspace ws_;
  TempDir logs_;
  std::unique_ptr<Watcher> watcher_;
  std::vector<std::unique_ptr<GatewayProcess>> gateways_;
  int gateway_counter_ = 0;
};

TEST_F(SystemFaultTest, WatcherKilledDuringABurstAndRestartedEveryClientIsTold) {
  for (int i = 0; i < 20; ++i) ws_.WritePlan("pre" + std::to_string(i), "1");
  StartWatcher();
  std::string pub = watcher_->pub(), snapshot = watcher_->snapshot(), epoch1 = watcher_->epoch();
  GatewayProcess& g1 = StartGateway();
  GatewayProcess& g2 = StartGateway();
  std::vector<std::unique_ptr<StreamClient>> clients;
  for (int i = 0; i < 16; ++i) {
    clients.push_back(std::make_unique<StreamClient>("client" + std::to_string(i)));
    ASSERT_TRUE(clients.back()->Connect(i % 2 ? g2.port() : g1.port())) << clients.back()->ws().error();
  }
  // The burst: 400 changes, 2 ms apart; the watcher dies part of the way in.
  std::atomic<int> written{0};
  std::thread writer([&] {
    for (int i = 0; i < 400; ++i) {
      ws_.WritePlan(i % 3 == 0 ? "pre" + std::to_string(i % 20) : "b" + std::to_string(i), std::to_string(i));
      written = i + 1;
      std::this_thread::sleep_for(2ms);  // the burst's pace
    }
  });
  // Kill it once events are flowing (the first batch is out after at most
  // --debounce-ms) and the burst is still going.
  ASSERT_TRUE(WaitFor([&] { return GatewaySeq(g1) >= 20 || written == 400; }, 20000ms));
  ASSERT_LT(written.load(), 400) << "the burst ended before the kill";
  watcher_->proc().Signal(SIGKILL);
  EXPECT_EQ(watcher_->proc().Wait(), 128 + SIGKILL);
  auto all = [&](const std::function<bool(StreamClient&)>& f) {
    return [&clients, f] {
      for (auto& c : clients)
        if (!f(*c)) return false;
      return true;
    };
  };
  EXPECT_TRUE(PumpAllUntil(clients, all([](StreamClient& c) { return c.Saw("watcher_down"); }), 10000ms))
      << "every client is told the watcher is down; client0 saw " << ::testing::PrintToString(clients[0]->types())
      << " connected=" << clients[0]->connected() << " violations=" << clients[0]->violations();
  writer.join();  // the rest of the burst happened while the watcher was down

  ExpectSanitizerClean(watcher_->proc().Log(), "first watcher");
  watcher_ = std::make_unique<Watcher>(ws_.projects(), pub, snapshot);
  ASSERT_TRUE(watcher_->started()) << watcher_->proc().Log();
  ASSERT_NE(watcher_->epoch(), epoch1);
  std::string epoch2 = watcher_->epoch();
  EXPECT_TRUE(PumpAllUntil(clients, all([&](StreamClient& c) {
                return c.Saw("watcher_up") && c.epoch() == epoch2;
              }), 20000ms));
  ExpectRestEqualsDisk();
  // Changes after the restart reach everyone live, in the new epoch.
  for (int i = 0; i < 5; ++i) ws_.WritePlan("after" + std::to_string(i), "x");
  uint64_t seq = SettledSeq(g1);
  ASSERT_TRUE(WaitFor([&] { return GatewaySeq(g2) == seq; }, 10000ms));
  EXPECT_TRUE(PumpAllUntil(clients, all([&](StreamClient& c) { return c.position() == seq; }), 10000ms));
  for (auto& c : clients) {
    EXPECT_EQ(c->violations(), "");
    // watcher_down, then watcher_up, and the reload order for the new epoch.
    const auto& ctl = c->control();
    auto down = std::find(ctl.begin(), ctl.end(), "watcher_down");
    ASSERT_NE(down, ctl.end());
    EXPECT_NE(std::find(down, ctl.end(), "watcher_up"), ctl.end());
    EXPECT_NE(std::find(c->resyncs().begin(), c->resyncs().end(), "epoch_changed"), c->resyncs().end())
        << ::testing::PrintToString(c->types());
    EXPECT_EQ(c->epoch(), epoch2);
    EXPECT_GE(c->seqs().size(), 5u);
  }
  EXPECT_NE(g1.Log().find("feed.watcher_down"), std::string::npos);
  EXPECT_NE(g1.Log().find("feed.new_epoch"), std::string::npos);
}

TEST_F(SystemFaultTest, GatewayKilledUnder500ClientsTheyResumeWithExactlyTheMissedEvents) {
  for (int i = 0; i < 10; ++i) ws_.WritePlan("f" + std::to_string(i), "0");
  StartWatcher();
  GatewayProcess& g1 = StartGateway();
  GatewayProcess& g2 = StartGateway();
  constexpr int kClients = 500;
  std::vector<std::unique_ptr<StreamClient>> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(std::make_unique<StreamClient>("client" + std::to_string(i)));
    ASSERT_TRUE(clients.back()->Connect(g1.port())) << i << ": " << clients.back()->ws().error();
  }
  ASSERT_TRUE(WaitFor([&] { return g1.Metric("coderef_gateway_clients") == kClients; }, 20000ms));
  for (int i = 0; i < 5; ++i) ws_.WritePlan("f" + std::to_string(i), "1");
  uint64_t before = SettledSeq(g1);
  ASSERT_GE(before, 5u);
  ASSERT_TRUE(PumpAllUntil(clients, [&] {
    for (auto& c : clients)
      if (c->position() != before) return false;
    return true;
  }, 30000ms)) << "every client saw the first events";

  g1.proc().Signal(SIGKILL);
  int status = 0;
  ASSERT_TRUE(g1.proc().WaitExit(5000, &status));
  // Changes while the clients are cut off.
  for (int i = 0; i < 20; ++i) ws_.WritePlan("f" + std::to_string(i % 10) + (i >= 10 ? "b" : ""), "2");
  uint64_t after = SettledSeq(g2);
  ASSERT_GT(after, before);

  // Half resume on the second gateway, half on a gateway started after the
  // changes: exactly the missed events on both.
  GatewayProcess& g3 = StartGateway();  // the restarted one (a new process)
  for (int i = 0; i < kClients; ++i) {
    clients[i]->ClearSeen();
    ASSERT_TRUE(clients[i]->Resume(i % 2 ? g3.port() : g2.port())) << i << ": " << clients[i]->ws().error();
  }
  ASSERT_TRUE(PumpAllUntil(clients, [&] {
    for (auto& c : clients)
      if (c->position() != after) return false;
    return true;
  }, 30000ms)) << "every client caught up to " << after << ": " << [&] {
    std::string out;
    int n = 0;
    for (auto& c : clients)
      if (c->position() != after && ++n <= 3)
        out += "\n  at " + std::to_string(c->position()) + " connected=" + std::to_string(c->connected()) +
               " saw " + ::testing::PrintToString(c->types()) + " " + c->violations();
    return std::to_string(n) + " behind" + out;
  }();
  std::vector<uint64_t> missed;
  for (uint64_t s = before + 1; s <= after; ++s) missed.push_back(s);
  for (int i = 0; i < kClients; ++i) {
    StreamClient& c = *clients[i];
    ASSERT_EQ(c.violations(), "");
    // On the gateway that was there all along, from its history; on the one
    // started after the events, from the watcher's (PROTOCOL §1 (restarts)):
    // an exact replay either way.
    EXPECT_EQ(c.hello()["replayed"], after - before) << i;
    EXPECT_EQ(c.seqs(), missed) << i;
    EXPECT_TRUE(c.resyncs().empty()) << i;
  }
  EXPECT_LE(g3.Metric("coderef_gateway_history_fetches_total"), 2)
      << "one fetch for its 250 resuming clients (two if the ring moved meanwhile)";
  EXPECT_GE(g3.Metric("coderef_gateway_history_fetches_total"), 1);
  // And live from there, on both.
  ws_.WritePlan("last", "3");
  ASSERT_TRUE(PumpAllUntil(clients, [&] {
    for (auto& c : clients)
      if (c->position() != after + 1) return false;
    return true;
  }, 20000ms));
  for (auto& c : clients) EXPECT_EQ(c->violations(), "");
  ExpectRestEqualsDisk();
}

// The gateway stops reading (SIGSTOP); 300 events of ~40 KiB (12 MiB)
// overflow the socket buffers and the PUB's 10-message queue: ZeroMQ drops.
// Returns the watcher's last seq once it is quiet.
uint64_t LoseEventsOnTheFeed(GatewayProcess& g, Workspace& ws, FeedProbe& probe) {
  g.proc().Signal(SIGSTOP);
  for (int i = 0; i < 300; ++i) ws.WritePlan("p" + std::to_string(i), "s" + std::to_string(i), 40000);
  EXPECT_TRUE(probe.WaitHeartbeatSeq(301, 30000ms)) << "the watcher published everything";
  uint64_t last = probe.last_heartbeat().seq();
  for (;;) {  // until the watcher is quiet (a half-written file adds an update)
    probe.Drain(700ms);
    if (probe.last_heartbeat().seq() == last) break;
    last = probe.last_heartbeat().seq();
  }
  g.proc().Signal(SIGCONT);
  return last;
}

class SystemFaultLossTest : public SystemFaultTest {
 protected:
  // Both loss tests: a gateway with a reader `a` and a resumer `b` that both
  // saw seq 1; `b` is cut off, then events are lost on the feed (PUB
  // high-water mark). Returns the last seq written, 0 on failure.
  uint64_t LoseEventsWithTwoClients(GatewayProcess& g, StreamClient& a, StreamClient& b) {
    if (!a.Connect(g.port()) || !b.Connect(g.port())) return 0;
    ws_.WritePlan("first", "1");
    if (!a.ReadUntil([&] { return a.position() >= 1; }, 10000ms) ||
        !b.ReadUntil([&] { return b.position() >= 1; }, 10000ms))
      return 0;
    b.ws().Abort();  // b will come back after the loss
    FeedProbe probe(watcher_->pub(), watcher_->snapshot(), "hb");
    if (!probe.WaitConnected()) return 0;
    return LoseEventsOnTheFeed(g, ws_, probe);
  }
};

// PROTOCOL §1 (restarts): the gateway fills a gap on its feed from the
// watcher's history; its clients see every event, and no resync.
TEST_F(SystemFaultLossTest, EventsLostOnTheFeedAreFilledFromTheWatchersHistory) {
  StartWatcher("tcp://127.0.0.1:*", "tcp://127.0.0.1:*", {"--pub-hwm", "10"});
  GatewayProcess& g = StartGateway({"--watcher-timeout-ms", "30000"});
  StreamClient a("reader"), b("resumer");
  const uint64_t last = LoseEventsWithTwoClients(g, a, b);
  ASSERT_GT(last, 0u) << a.violations() << b.violations();

  ASSERT_TRUE(WaitFor([&] { return g.Metric("coderef_gateway_feed_gaps_total") >= 1; }, 15000ms))
      << "the gateway noticed the gap";
  ASSERT_TRUE(a.ReadUntil([&] { return a.position() == last; }, 30000ms)) << a.violations();
  EXPECT_EQ(a.violations(), "") << "no silent hole";
  EXPECT_TRUE(a.resyncs().empty()) << "the gap was filled: nothing to announce";
  EXPECT_GE(a.seqs().size(), 300u) << "none lost (contiguous: no violation, no resync)";
  EXPECT_EQ(g.Metric("coderef_gateway_snapshots_total"), 1) << "no re-snapshot";
  EXPECT_NE(g.Log().find("feed.gap"), std::string::npos);
  ExpectRestEqualsDisk();

  // A client that was away during the loss is replayed exactly what it missed.
  ASSERT_TRUE(b.Resume(g.port()));
  ASSERT_TRUE(b.ReadUntil([&] { return b.position() == last; }, 10000ms)) << b.violations();
  EXPECT_EQ(b.violations(), "");
  EXPECT_TRUE(b.resyncs().empty());
  EXPECT_GE(b.seqs().size(), 300u) << "replayed, not reloaded";
  ws_.WritePlan("after", "1");
  EXPECT_TRUE(a.ReadUntil([&] { return a.position() > last; }, 10000ms));
  EXPECT_TRUE(b.ReadUntil([&] { return b.position() > last; }, 10000ms));
  EXPECT_EQ(a.violations() + b.violations(), "");
}

// When the watcher's history no longer holds the lost range (a 10-event
// --history-events), the gateway re-snapshots and announces the loss.
TEST_F(SystemFaultLossTest, EventsLostOnTheFeedAreNoticedResnapshottedAndAnnounced) {
  StartWatcher("tcp://127.0.0.1:*", "tcp://127.0.0.1:*", {"--pub-hwm", "10", "--history-events", "10"});
  GatewayProcess& g = StartGateway({"--watcher-timeout-ms", "30000"});
  StreamClient a("reader"), b("resumer");
  const uint64_t last = LoseEventsWithTwoClients(g, a, b);
  ASSERT_GT(last, 0u) << a.violations() << b.violations();

  ASSERT_TRUE(WaitFor([&] { return g.Metric("coderef_gateway_feed_gaps_total") >= 1; }, 15000ms))
      << "the gateway noticed the gap";
  ASSERT_TRUE(a.ReadUntil([&] { return a.position() == last; }, 30000ms)) << a.violations();
  EXPECT_EQ(a.violations(), "") << "no silent hole";
  ASSERT_FALSE(a.resyncs().empty()) << "the loss is announced";
  for (const auto& r : a.resyncs()) EXPECT_EQ(r, "overflow");
  EXPECT_LT(a.seqs().size(), 300u) << "some events were really lost";
  EXPECT_GE(g.Metric("coderef_gateway_snapshots_total"), 2) << "re-snapshotted";
  EXPECT_NE(g.Log().find("feed.gap"), std::string::npos);
  ExpectRestEqualsDisk();

  // A client that was away during the loss cannot be replayed (neither the
  // gateway nor the watcher holds the range): told so.
  ASSERT_TRUE(b.Resume(g.port()));
  ASSERT_TRUE(b.ReadUntil([&] { return b.position() == last; }, 10000ms)) << b.violations();
  EXPECT_EQ(b.violations(), "");
  EXPECT_EQ(b.resyncs(), std::vector<std::string>{"history_gap"});
  // Live again for both.
  ws_.WritePlan("after", "1");
  EXPECT_TRUE(a.ReadUntil([&] { return a.position() > last; }, 10000ms));
  EXPECT_TRUE(b.ReadUntil([&] { return b.position() > last; }, 10000ms));
  EXPECT_EQ(a.violations() + b.violations(), "");
}

}  // namespace
}  // namespace coderef::faults
