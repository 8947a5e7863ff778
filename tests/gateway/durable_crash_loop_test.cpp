// The crash loop of PROTOCOL §1 (restarts) (label `slow`): the watcher with
// --state-dir is killed with -9 eight times at random moments during 40 s of
// 20 changes/s, and restarted at once on the same endpoints and state dir.
// Four clients on two gateways record their streams: each must be one epoch,
// gap-free, without duplicates and without resync_required, and both
// gateways' REST must end equal to the disk.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "tests/gateway/e2e_fixture.h"

namespace coderef::gateway::testing {
namespace {

namespace fs = std::filesystem;

class CrashLoopE2E : public ServicesE2E {
 protected:
  std::vector<std::string> WatcherArgs() override { return {"--state-dir", dir_ + "/state"}; }

  // feature -> status of every plan on disk.
  std::map<std::string, std::string> Disk() {
    std::map<std::string, std::string> out;
    for (const auto& d : fs::directory_iterator(project_ + "/coderef/working")) {
      json j = json::parse(testsupport::ReadFile(d.path().string() + "/plan.json"), nullptr, false);
      if (!j.is_discarded()) out[d.path().filename().string()] = j["META_DOCUMENTATION"]["status"];
    }
    return out;
  }
  static std::map<std::string, std::string> Rest(GatewayProcess& g) {
    std::map<std::string, std::string> out;
    json plans = g.GetJson("/orchestrator/plans");
    if (!plans.contains("plans")) return out;
    for (const auto& p : plans["plans"]) out[p["feature_name"]] = p["status"];
    return out;
  }
};

struct Recorder {
  std::unique_ptr<WsClient> client = std::make_unique<WsClient>();
  std::vector<json> messages;  // everything but pings, in order
  std::mutex mu;
  std::thread thread;
};

TEST_F(CrashLoopE2E, EightKillsInFortySecondsNoClientSeesAGapADuplicateOrAResync) {
  GatewayProcess& a = StartGateway();
  GatewayProcess& b = StartGateway();
  std::atomic<bool> stop{false};
  std::vector<std::unique_ptr<Recorder>> recorders;
  for (GatewayProcess* g : {&a, &b, &a, &b}) {
    auto r = std::make_unique<Recorder>();
    ASSERT_TRUE(r->client->Connect(g->WsOptions()));
    Recorder* rp = r.get();
    r->thread = std::thread([rp, &stop] {
      while (!stop.load()) {
        std::string msg;
        auto res = rp->client->Next(&msg, 100);
        if (res == WsClient::Result::kTimeout) continue;
        if (res != WsClient::Result::kMessage) break;
        json j = json::parse(msg, nullptr, false);
        if (j.is_discarded() || j.value("type", "") == "ping") continue;
        std::lock_guard<std::mutex> lock(rp->mu);
        rp->messages.push_back(std::move(j));
      }
    });
    recorders.push_back(std::move(r));
  }

  // 20 changes/s for 40 s over 30 features (adds, then updates), with 8
  // kill -9 at random moments, each followed by an immediate restart.
  std::mt19937 rng(std::random_device{}());
  std::vector<int> kill_at;  // in changes (0..799)
  for (int i = 0; i < 8; ++i) kill_at.push_back(static_cast<int>(rng() % 800));
  std::sort(kill_at.begin(), kill_at.end());
  std::string pub = watcher_.pub(), snap = watcher_.snapshot();
  auto begin = std::chrono::steady_clock::now();
  size_t next_kill = 0;
  int restarts = 0;
  for (int n = 0; n < 800; ++n) {
    std::this_thread::sleep_until(begin + std::chrono::milliseconds(50 * n));  // the write schedule
    WritePlan("f" + std::to_string(n % 30), "s" + std::to_string(n));
    while (next_kill < kill_at.size() && kill_at[next_kill] == n) {
      ++next_kill;
      watcher_.proc().Signal(SIGKILL);
      int status = 0;
      ASSERT_TRUE(watcher_.proc().WaitExit(5000, &status));
      ASSERT_TRUE(watcher_.Start(dir_ + "/projects.json", dir_ + "/watcher" + std::to_string(++restarts) + ".log",
                                 pub, snap, WatcherArgs()))
          << watcher_.proc().Log();
    }
  }
  auto disk = Disk();
  EXPECT_TRUE(WaitFor([&] { return Rest(a) == disk && Rest(b) == disk; }, 20000)) << "REST never equal to disk";
  // Every client has caught up with the gateway's seq.
  uint64_t final_seq = a.GetJson("/orchestrator/plans")["seq"];
  EXPECT_TRUE(WaitFor([&] {
    for (auto& r : recorders) {
      std::lock_guard<std::mutex> lock(r->mu);
      uint64_t last = 0;
      for (const auto& m : r->messages)
        if (IsEvent(m)) last = m["seq"];
      if (last < final_seq) return false;
    }
    return true;
  }, 20000));
  stop = true;
  for (auto& r : recorders) r->thread.join();

  EXPECT_EQ(restarts, 8);
  for (size_t i = 0; i < recorders.size(); ++i) {
    const auto& msgs = recorders[i]->messages;
    ASSERT_FALSE(msgs.empty());
    ASSERT_EQ(msgs[0].value("type", ""), "hello");
    std::string epoch = msgs[0]["epoch"];
    uint64_t last = msgs[0]["seq"];
    size_t events = 0;
    for (const auto& m : msgs) {
      std::string type = m.value("type", "");
      EXPECT_NE(type, "resync_required") << "client " << i << ": " << m.dump();
      if (type == "watcher_up") {
        EXPECT_EQ(m["epoch"], epoch) << "client " << i;
      }
      if (!IsEvent(m)) continue;
      ++events;
      EXPECT_EQ(m["epoch"], epoch) << "client " << i;
      EXPECT_EQ(m["seq"].get<uint64_t>(), last + 1) << "client " << i << ": gap or duplicate";
      last = m["seq"];
    }
    EXPECT_EQ(last, final_seq) << "client " << i;
    EXPECT_GT(events, 100u) << "client " << i;
  }
}

}  // namespace
}  // namespace coderef::gateway::testing
