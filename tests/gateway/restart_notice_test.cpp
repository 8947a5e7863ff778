// End to end, contract section 6 as a dashboard sees it: a real watcher-svc
// with --state-dir, a real gateway-svc, a WebSocket client. The watcher is
// stopped (SIGTERM), three plans are added while it is down, and it is
// started again on the same state dir: the client gets
// watcher_up{restarted:true, changes:3, caught_up_seq}, exactly the three
// events of the same epoch up to caught_up_seq, and no resync_required:
// once with the restart faster than the gateway's watchdog (no watcher_down
// at all), once after the gateway reported the watcher down.
#include <gtest/gtest.h>
#include <signal.h>

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

class RestartNoticeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(WatcherBinary())) GTEST_SKIP() << "watcher-svc not built: " << WatcherBinary();
    dir_ = MakeTempDir("restart_notice_");
    ASSERT_FALSE(dir_.empty());
    project_ = dir_ + "/noted";
    fs::create_directories(project_ + "/coderef/working");
    WriteFile(dir_ + "/projects.json", R"({"projects":[{"name":"Noted","path":"noted","id":"noted"}]})");
  }
  void TearDown() override {
    gateway_.proc().Kill();
    if (watcher_) watcher_->Kill();
    if (HasFailure()) {
      for (const auto& log : logs_)
        std::fprintf(stderr, "---- %s ----\n%s\n", log.c_str(), testsupport::ReadFile(log).c_str());
      std::fprintf(stderr, "---- gateway log ----\n%s\n", gateway_.Log().c_str());
    }
    RemoveTree(dir_);
  }

  // Starts watcher-svc on the state dir; the first start binds free ports,
  // later ones the same endpoints (the gateway reconnects by itself).
  bool StartWatcher() {
    std::string pub = pub_.empty() ? "tcp://127.0.0.1:*" : pub_;
    std::string snapshot = snapshot_.empty() ? "tcp://127.0.0.1:*" : snapshot_;
    std::string log = dir_ + "/watcher" + std::to_string(logs_.size() + 1) + ".log";
    logs_.push_back(log);
    watcher_ = std::make_unique<Subprocess>();
    if (!watcher_->Start({WatcherBinary(), "--projects", dir_ + "/projects.json", "--state-dir",
                          dir_ + "/state", "--pub", pub, "--snapshot", snapshot, "--settle-ms", "30",
                          "--debounce-ms", "200", "--heartbeat-ms", "100"},
                         {}, log))
      return false;
    static const std::regex kStarted(
        R"(watcher\.started.*epoch=([0-9a-f]+).*pub=(tcp://[0-9.]+:[0-9]+).*snapshot=(tcp://[0-9.]+:[0-9]+))");
    std::smatch m;
    bool ok = WaitFor([&] {
      std::string text = watcher_->Log();
      if (std::regex_search(text, m, kStarted)) return true;
      return !watcher_->Running();
    }, 20000);
    if (!ok || !watcher_->Running()) return false;
    epoch_ = m[1];
    pub_ = m[2];
    snapshot_ = m[3];
    return true;
  }
  void StopWatcher() {
    watcher_->Signal(SIGTERM);
    int status = -1;
    ASSERT_TRUE(watcher_->WaitExit(10000, &status));
    EXPECT_EQ(status, 0);
  }
  void WritePlan(const std::string& feature) {
    fs::create_directories(project_ + "/coderef/working/" + feature);
    std::string path = project_ + "/coderef/working/" + feature + "/plan.json";
    WriteFile(path + ".tmp", R"({"META_DOCUMENTATION":{"feature_name":")" + feature +
                                 R"(","status":"planning"}})");
    fs::rename(path + ".tmp", path);
  }

  // Watcher, gateway (watchdog `timeout_ms`), a live client at seq 1.
  void StartAll(int timeout_ms) {
    ASSERT_TRUE(StartWatcher());
    ASSERT_TRUE(gateway_.Start(pub_, snapshot_, dir_, "gw1",
                               {"--watcher-timeout-ms", std::to_string(timeout_ms)}))
        << gateway_.Log();
    ASSERT_TRUE(gateway_.WaitReady(10000)) << gateway_.Log();
    ASSERT_TRUE(client_.Connect(gateway_.WsOptions())) << client_.error();
    json hello = NextNonPing(client_);
    ASSERT_EQ(hello.value("type", ""), "hello") << hello;
    WritePlan("before");
    ASSERT_EQ(ReadEventsUntil(client_, 1), std::vector<uint64_t>{1});
  }

  // Three plans added while the watcher is down; it comes back on the same
  // state dir. What the client then receives, until it has caught_up_seq.
  void ExpectRestartNotice() {
    for (const char* f : {"alpha", "beta", "gamma"}) WritePlan(f);
    std::string epoch = epoch_;
    ASSERT_TRUE(StartWatcher());
    ASSERT_EQ(epoch_, epoch) << "same state dir: same epoch";

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

  std::string dir_, project_;
  std::string pub_, snapshot_, epoch_;
  std::vector<std::string> logs_;
  std::unique_ptr<Subprocess> watcher_;
  GatewayProcess gateway_;
  WsClient client_;
};

TEST_F(RestartNoticeTest, RestartFasterThanTheWatchdogIsAnnouncedWithItsChanges) {
  StartAll(60000);
  StopWatcher();
  ExpectRestartNotice();
}

TEST_F(RestartNoticeTest, RestartAfterWatcherDownIsAnnouncedWithItsChanges) {
  StartAll(500);
  StopWatcher();
  json down = WaitForType(client_, "watcher_down", 5000);
  ASSERT_FALSE(down.is_null()) << "the gateway reports the silence";
  ExpectRestartNotice();
}

}  // namespace
}  // namespace coderef::gateway::testing
