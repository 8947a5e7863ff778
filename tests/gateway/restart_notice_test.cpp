// End to end, PROTOCOL §1 (restarts) as a dashboard sees it: a real watcher-svc
// with --state-dir, a real gateway-svc, a WebSocket client. The watcher is
// stopped (SIGTERM), three plans are added while it is down, and it is
// started again on the same state dir: the client gets
// watcher_up{restarted:true, changes:3, caught_up_seq}, exactly the three
// events of the same epoch up to caught_up_seq, and no resync_required:
// once with the restart faster than the gateway's watchdog (no watcher_down
// at all), once after the gateway reported the watcher down.
#include <gtest/gtest.h>
#include <signal.h>

#include <regex>
#include <set>

#include "tests/gateway/e2e_fixture.h"
#include "tests/gateway/gateway_process.h"

namespace coderef::gateway::testing {
namespace {

class RestartNoticeTest : public ServicesE2E {
 protected:
  std::vector<std::string> WatcherArgs() override { return {"--state-dir", dir_ + "/state"}; }
  void TearDown() override {
    gateway_.proc().Kill();
    if (HasFailure()) std::fprintf(stderr, "---- gateway (restart notice) log ----\n%s\n", gateway_.Log().c_str());
    ServicesE2E::TearDown();
  }

  std::string Epoch() {
    static const std::regex kEpoch(R"(watcher\.started.*epoch=([0-9a-f]+))");
    std::smatch m;
    std::string text = watcher_.proc().Log();
    return std::regex_search(text, m, kEpoch) ? m[1].str() : std::string();
  }
  void StopWatcher() {
    pub_ = watcher_.pub();
    snapshot_ = watcher_.snapshot();
    epoch_ = Epoch();
    watcher_.proc().Signal(SIGTERM);
    int status = -1;
    ASSERT_TRUE(watcher_.proc().WaitExit(10000, &status));
    EXPECT_EQ(status, 0);
  }

  // Watcher, gateway (watchdog `timeout_ms`), a live client at seq 1.
  void StartAll(int timeout_ms) {
    ASSERT_TRUE(gateway_.Start(watcher_.pub(), watcher_.snapshot(), dir_, "gw1",
                               {"--watcher-timeout-ms", std::to_string(timeout_ms)}))
        << gateway_.Log();
    ASSERT_TRUE(gateway_.WaitReady(10000)) << gateway_.Log();
    ASSERT_TRUE(client_.Connect(gateway_.WsOptions())) << client_.error();
    json hello = NextNonPing(client_);
    ASSERT_EQ(hello.value("type", ""), "hello") << hello;
    WritePlan("before", "planning");
    ASSERT_EQ(ReadEventsUntil(client_, 1), std::vector<uint64_t>{1});
  }

  // Three plans added while the watcher is down; it comes back on the same
  // state dir. What the client then receives, until it has caught_up_seq.
  // The types of the other messages it got on the way go to *others.
  void ExpectRestartNotice(std::vector<std::string>* others) {
    for (const char* f : {"alpha", "beta", "gamma"}) WritePlan(f, "planning");
    std::string epoch = epoch_;
    ASSERT_FALSE(epoch.empty());
    ASSERT_TRUE(watcher_.Start(dir_ + "/projects.json", dir_ + "/watcher2.log", pub_, snapshot_, WatcherArgs()));
    ASSERT_EQ(Epoch(), epoch) << "same state dir: same epoch";

    json up;
    std::vector<json> events;
    std::set<std::string> features;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (std::chrono::steady_clock::now() < deadline) {
      json j = NextJson(client_, 1000);
      if (j.is_null()) {
        if (!up.is_null() && !events.empty() && events.back()["seq"] >= up["caught_up_seq"]) break;
        continue;
      }
      std::string type = j.value("type", "");
      EXPECT_NE(type, "resync_required") << j;
      if (type == "watcher_up") {
        EXPECT_TRUE(up.is_null()) << "one watcher_up: " << j;
        up = j;
      } else if (IsEvent(j)) {
        events.push_back(j);
        features.insert(j.value("feature_name", ""));
      } else if (type != "ping") {
        others->push_back(type);
      }
      if (!up.is_null() && !events.empty() && events.back()["seq"] >= up["caught_up_seq"]) break;
    }
    ASSERT_FALSE(up.is_null()) << "no watcher_up";
    EXPECT_EQ(up["epoch"], epoch);
    EXPECT_EQ(up["restarted"], true);
    EXPECT_EQ(up["changes"], 3);
    EXPECT_EQ(up["caught_up_seq"], 4);
    ASSERT_EQ(events.size(), 3u);
    for (size_t i = 0; i < events.size(); ++i) {
      EXPECT_EQ(events[i]["epoch"], epoch);
      EXPECT_EQ(events[i]["seq"], 2 + i);
      EXPECT_EQ(events[i]["type"], "plan_added");
    }
    EXPECT_EQ(features, (std::set<std::string>{"alpha", "beta", "gamma"}));
    // Nothing more: no resync arrives later either.
    json more = NextNonPing(client_, 500);
    EXPECT_TRUE(more.is_null()) << more;
  }

  std::string pub_, snapshot_, epoch_;
  GatewayProcess gateway_;
  WsClient client_;
};

TEST_F(RestartNoticeTest, RestartFasterThanTheWatchdogIsAnnouncedWithItsChanges) {
  StartAll(60000);
  StopWatcher();
  std::vector<std::string> others;
  ExpectRestartNotice(&others);
  EXPECT_EQ(others, std::vector<std::string>{}) << "no watcher_down: the restart beat the watchdog";
}

TEST_F(RestartNoticeTest, RestartAfterWatcherDownIsAnnouncedWithItsChanges) {
  StartAll(500);
  StopWatcher();
  json down = WaitForType(client_, "watcher_down", 5000);
  ASSERT_FALSE(down.is_null()) << "the gateway reports the silence";
  std::vector<std::string> others;
  ExpectRestartNotice(&others);
  EXPECT_EQ(others, std::vector<std::string>{});
}

}  // namespace
}  // namespace coderef::gateway::testing
