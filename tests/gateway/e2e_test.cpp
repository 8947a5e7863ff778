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

namespace coderef::gateway::testing {
namespace {

namespace fs = std::filesystem;
using testsupport::MakeTempDir;
using testsupport::RemoveTree;
using testsupport::WriteFile;

std::string WatcherBinary() { return std::string(CODEREF_BINARY_DIR) + "/watcher-svc/watcher-svc"; }

// watcher-svc with its endpoints read back from the "watcher.started" line.
class WatcherProcess {
 public:
  bool Start(const std::string& projects, const std::string& log, const std::string& pub = "tcp://127.0.0.1:*",
             const std::string& snapshot = "tcp://127.0.0.1:*") {
    std::vector<std::string> argv = {WatcherBinary(), "--projects", projects, "--pub", pub,
                                     "--snapshot", snapshot, "--http", "127.0.0.1:0",
                                     "--settle-ms", "30", "--debounce-ms", "200",
                                     "--heartbeat-ms", "100"};
    if (!proc_.Start(argv, {}, log)) return false;
    std::smatch m;
    static const std::regex kStarted(R"(watcher\.started.*pub=(tcp://[0-9.]+:[0-9]+).*snapshot=(tcp://[0-9.]+:[0-9]+))");
    bool ok = WaitFor([&] {
      std::string text = proc_.Log();
      if (std::regex_search(text, m, kStarted)) {
        pub_ = m[1];
        snapshot_ = m[2];
        return true;
      }
      return !proc_.Running();
    }, 20000);
    return ok && proc_.Running() && !pub_.empty();
  }
  const std::string& pub() const { return pub_; }
  const std::string& snapshot() const { return snapshot_; }
  Subprocess& proc() { return proc_; }

 private:
  Subprocess proc_;
  std::string pub_, snapshot_;
};

class GatewayE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(WatcherBinary())) GTEST_SKIP() << "watcher-svc not built: " << WatcherBinary();
    dir_ = MakeTempDir("gateway_e2e_");
    ASSERT_FALSE(dir_.empty());
    project_ = dir_ + "/noted";
    fs::create_directories(project_ + "/coderef/working");
    WriteFile(dir_ + "/projects.json",
              R"({"projects":[{"name":"Noted","path":"noted","id":"noted"}]})");
    ASSERT_TRUE(watcher_.Start(dir_ + "/projects.json", dir_ + "/watcher.log"))
        << testsupport::ReadFile(dir_ + "/watcher.log");
  }
  void TearDown() override {
    for (auto& g : gateways_) g->proc().Kill();
    watcher_.proc().Kill();
    if (HasFailure()) {
      std::fprintf(stderr, "---- watcher log ----\n%s\n", watcher_.proc().Log().c_str());
      for (auto& g : gateways_) std::fprintf(stderr, "---- gateway log ----\n%s\n", g->Log().c_str());
    }
    RemoveTree(dir_);
  }

  GatewayProcess& StartGateway(std::vector<std::string> extra = {}) {
    auto g = std::make_unique<GatewayProcess>();
    std::string name = "gw" + std::to_string(gateways_.size() + 1);
    extra.insert(extra.begin(), {"--watcher-timeout-ms", "1000"});
    EXPECT_TRUE(g->Start(watcher_.pub(), watcher_.snapshot(), dir_, name, extra)) << g->Log();
    EXPECT_TRUE(g->WaitReady(10000)) << g->Log();
    gateways_.push_back(std::move(g));
    return *gateways_.back();
  }

  // Creates (or rewrites) coderef/working/<feature>/plan.json.
  void WritePlan(const std::string& feature, const std::string& status) {
    fs::create_directories(project_ + "/coderef/working/" + feature);
    std::string path = project_ + "/coderef/working/" + feature + "/plan.json";
    std::string tmp = path + ".tmp";
    WriteFile(tmp, R"({"META_DOCUMENTATION":{"feature_name":")" + feature + R"(","status":")" +
                       status + R"("}})");
    fs::rename(tmp, path);  // an editor's atomic save
  }

  std::string dir_, project_;
  WatcherProcess watcher_;
  std::vector<std::unique_ptr<GatewayProcess>> gateways_;
};

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
