// End-to-end: the real watcher-svc on real files, the real gateway-svc, real
// WebSocket clients. Ports are chosen by the services (tcp://127.0.0.1:*,
// --listen :0) and read back from their logs / port files.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <regex>
#include <set>

#include "tests/gateway/gateway_process.h"
#include "tests/gateway/e2e_fixture.h"

namespace coderef::gateway::testing {
namespace {

namespace fs = std::filesystem;
using testsupport::WriteFile;

using GatewayE2E = ServicesE2E;

TEST_F(GatewayE2E, AnEventReachesAHundredClientsInSeqOrderWithNothingMissing) {
  GatewayProcess& g = StartGateway();
  constexpr int kClients = 100;
  std::vector<std::unique_ptr<WsClient>> clients;
  uint64_t start_seq = 0;
  for (int i = 0; i < kClients; ++i) {
    auto c = std::make_unique<WsClient>();
    ASSERT_TRUE(c->Connect(g.WsOptions())) << i << ": " << c->error();
    json hello = NextJson(*c);
    ASSERT_EQ(hello.value("type", ""), "hello");
    if (i == 0) start_seq = hello["seq"];
    clients.push_back(std::move(c));
  }
  ASSERT_TRUE(WaitFor([&] { return g.Metric("coderef_gateway_clients") == kClients; }, 5000));
  constexpr int kPlans = 10;
  for (int i = 0; i < kPlans; ++i) WritePlan("feature" + std::to_string(i), "planning");
  // Let that batch go out before the update (inside one batch the watcher
  // would send the final state only: one plan_added).
  ASSERT_TRUE(WaitFor([&] { return g.GetJson("/orchestrator/plans")["plans"].size() == kPlans; },
                      10000));
  WritePlan("feature0", "in_progress");
  for (int i = 0; i < kClients; ++i) {
    std::set<std::string> added;
    bool updated = false;
    std::vector<uint64_t> seqs;
    std::string epoch;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while ((added.size() < kPlans || !updated) && std::chrono::steady_clock::now() < deadline) {
      json j = NextJson(*clients[i], 2000);
      if (!IsEvent(j)) continue;
      seqs.push_back(j["seq"]);
      if (epoch.empty()) epoch = j["epoch"];
      EXPECT_EQ(j["epoch"], epoch);
      if (j["type"] == "plan_added") added.insert(j["feature_name"].get<std::string>());
      if (j["type"] == "plan_updated" && j["feature_name"] == "feature0") {
        updated = true;
        EXPECT_EQ(j["item"]["status"], "in_progress");
      }
    }
    EXPECT_EQ(added.size(), static_cast<size_t>(kPlans)) << "client " << i;
    EXPECT_TRUE(updated) << "client " << i;
    ASSERT_FALSE(seqs.empty());
    EXPECT_EQ(seqs, Range(start_seq + 1, seqs.back())) << "client " << i << ": in order, gap-free";
  }
  json plans = g.GetJson("/orchestrator/plans?project=noted");
  EXPECT_EQ(plans["plans"].size(), static_cast<size_t>(kPlans));
}

TEST_F(GatewayE2E, TwoGatewaysOnOneWatcherAClientMovingBetweenThemResumesGapFree) {
  GatewayProcess& a = StartGateway();
  GatewayProcess& b = StartGateway();
  auto c = std::make_unique<WsClient>();
  ASSERT_TRUE(c->Connect(a.WsOptions()));
  json hello = NextJson(*c);
  ASSERT_EQ(hello.value("type", ""), "hello");
  WritePlan("one", "planning");
  WritePlan("two", "planning");
  json last;
  std::vector<uint64_t> first;
  ASSERT_TRUE(WaitFor([&] {
    json j = NextJson(*c, 200);
    if (IsEvent(j)) {
      first.push_back(j["seq"]);
      last = j;
    }
    return first.size() >= 2;
  }, 10000));
  std::string epoch = last["epoch"];
  uint64_t since = last["seq"];
  c.reset();  // the client leaves gateway A

  WritePlan("three", "planning");
  WritePlan("one", "complete");
  WritePlan("four", "planning");
  // Both gateways follow the same watcher; wait until B has all of it.
  ASSERT_TRUE(WaitFor([&] {
    return b.GetJson("/orchestrator/plans")["plans"].size() == 4 &&
           a.GetJson("/orchestrator/stats")["seq"] == b.GetJson("/orchestrator/stats")["seq"];
  }, 10000));
  uint64_t now_seq = b.GetJson("/orchestrator/stats")["seq"];
  ASSERT_GT(now_seq, since);

  auto moved = std::make_unique<WsClient>();
  ASSERT_TRUE(moved->Connect(b.WsOptions("/orchestrator/ws?epoch=" + epoch + "&since=" +
                                         std::to_string(since))));
  json hello_b = NextJson(*moved);
  EXPECT_EQ(hello_b["gateway"], "gw2");
  EXPECT_EQ(hello_b["replayed"], now_seq - since);
  EXPECT_EQ(ReadEventsUntil(*moved, now_seq), Range(since + 1, now_seq)) << "exactly what it missed";
  WritePlan("five", "planning");
  json next = WaitForType(*moved, "plan_added", 10000);
  EXPECT_EQ(next["seq"], now_seq + 1) << "then live, no duplicate, no hole";
  EXPECT_EQ(next["feature_name"], "five");
}

TEST_F(GatewayE2E, WatcherRestartIsFollowedWithEpochChanged) {
  GatewayProcess& g = StartGateway();
  auto c = std::make_unique<WsClient>();
  ASSERT_TRUE(c->Connect(g.WsOptions()));
  json hello = NextJson(*c);
  std::string old_epoch = hello["epoch"];
  std::string pub = watcher_.pub(), snap = watcher_.snapshot();
  watcher_.proc().Signal(SIGTERM);
  int status = -1;
  ASSERT_TRUE(watcher_.proc().WaitExit(5000, &status));
  EXPECT_FALSE(WaitForType(*c, "watcher_down", 5000).is_null());
  WritePlan("while-away", "planning");
  ASSERT_TRUE(watcher_.Start(dir_ + "/projects.json", dir_ + "/watcher2.log", pub, snap));
  json resync = WaitForType(*c, "resync_required", 10000);
  ASSERT_FALSE(resync.is_null());
  EXPECT_EQ(resync["reason"], "epoch_changed");
  EXPECT_NE(resync["epoch"], old_epoch);
  json plans = g.GetJson("/orchestrator/plans");
  EXPECT_EQ(plans["epoch"], resync["epoch"]);
  bool found = false;
  for (const auto& p : plans["plans"]) found |= p["feature_name"] == "while-away";
  EXPECT_TRUE(found) << "the snapshot after the restart has the change made while away";
}

}  // namespace
}  // namespace coderef::gateway::testing
