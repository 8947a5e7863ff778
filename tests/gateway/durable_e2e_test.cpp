// End-to-end, PROTOCOL §1 (restarts): the real watcher-svc with --state-dir, two
// real gateways, real WebSocket clients. The watcher is killed (-9) or
// stopped (SIGTERM) while files change and restarted on the same endpoints
// and state dir: every client sees watcher_down, watcher_up with the same
// epoch and exactly the missed changes, gap-free, and no resync_required;
// REST equals the disk.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "tests/gateway/gateway_process.h"
#include "tests/gateway/e2e_fixture.h"

namespace coderef::gateway::testing {
namespace {

namespace fs = std::filesystem;
using testsupport::WriteFile;

class DurableE2E : public ServicesE2E {
 protected:
  void Prepare() override {
    for (const char* f : {"a", "b", "c"}) WritePlan(f, "s0");
    WriteFile(project_ + "/coderef/workorder-log.txt", "WO-1 | noted | first | 2026-12-01T10:00:00Z\n");
  }
  std::vector<std::string> WatcherArgs() override { return {"--state-dir", dir_ + "/state"}; }

  // "feature@location:status" of every plan on disk.
  std::set<std::string> PlansOnDisk() {
    std::set<std::string> out;
    for (const char* loc : {"working", "archived"}) {
      if (!fs::exists(project_ + "/coderef/" + loc)) continue;
      for (const auto& d : fs::directory_iterator(project_ + "/coderef/" + loc)) {
        std::string text = testsupport::ReadFile(d.path().string() + "/plan.json");
        json j = json::parse(text, nullptr, false);
        out.insert(d.path().filename().string() + "@" + loc + ":" +
                   j["META_DOCUMENTATION"]["status"].get<std::string>());
      }
    }
    return out;
  }
  static std::set<std::string> PlansOf(const json& rest) {
    std::set<std::string> out;
    for (const auto& p : rest["plans"])
      out.insert(p["feature_name"].get<std::string>() + "@" + p["location"].get<std::string>() + ":" +
                 p["status"].get<std::string>());
    return out;
  }

  void RestartWithoutResync(int sig);
  void ResumeOnALaterGateway();
};

void DurableE2E::RestartWithoutResync(int sig) {
  GatewayProcess& a = StartGateway();
  GatewayProcess& b = StartGateway();
  std::vector<std::unique_ptr<WsClient>> clients;
  std::string epoch;
  for (GatewayProcess* g : {&a, &b, &a, &b}) {
    clients.push_back(std::make_unique<WsClient>());
    ASSERT_TRUE(clients.back()->Connect(g->WsOptions()));
    json hello = NextNonPing(*clients.back());
    ASSERT_EQ(hello.value("type", ""), "hello");
    epoch = hello["epoch"];
  }
  WritePlan("a", "s1");
  for (auto& c : clients) EXPECT_EQ(ReadEventsUntil(*c, 1), Range(1, 1));

  std::string pub = watcher_.pub(), snap = watcher_.snapshot();
  watcher_.proc().Signal(sig);
  int status = -1;
  ASSERT_TRUE(watcher_.proc().WaitExit(5000, &status));
  for (auto& c : clients) ASSERT_FALSE(WaitForType(*c, "watcher_down", 5000).is_null());

  // While it is down: an add, an update, a delete, a move working->archived,
  // two workorder-log lines: 7 events.
  WritePlan("d", "new");
  WritePlan("b", "s1");
  fs::remove_all(project_ + "/coderef/working/c");
  fs::create_directories(project_ + "/coderef/archived");
  fs::rename(project_ + "/coderef/working/a", project_ + "/coderef/archived/a");
  {
    std::ofstream log(project_ + "/coderef/workorder-log.txt", std::ios::app);
    log << "WO-2 | noted | second | 2026-12-01T11:00:00Z\nWO-3 | noted | third\n";
  }
  ASSERT_TRUE(watcher_.Start(dir_ + "/projects.json", dir_ + "/watcher2.log", pub, snap, WatcherArgs()));
  ASSERT_NE(watcher_.proc().Log().find("state.resumed"), std::string::npos) << watcher_.proc().Log();

  for (auto& c : clients) {
    json up = WaitForType(*c, "watcher_up", 10000);
    ASSERT_FALSE(up.is_null());
    EXPECT_EQ(up["epoch"], epoch) << "same epoch after the restart";
    std::vector<json> others;
    std::vector<uint64_t> seqs = ReadEventsUntil(*c, 8, 10000, &others);
    EXPECT_EQ(seqs, Range(2, 8)) << "exactly the 7 missed changes, gap-free";
    for (const auto& o : others) EXPECT_NE(o.value("type", ""), "resync_required") << o.dump();
  }
  // Nothing more comes (no duplicate, no late resync).
  for (auto& c : clients) {
    json extra = NextNonPing(*c, 300);
    EXPECT_TRUE(extra.is_null()) << extra.dump();
  }
  for (GatewayProcess* g : {&a, &b}) {
    json plans = g->GetJson("/orchestrator/plans");
    EXPECT_EQ(plans["epoch"], epoch);
    EXPECT_EQ(plans["seq"], 8);
    EXPECT_EQ(PlansOf(plans), PlansOnDisk());
    json log = g->GetJson("/orchestrator/workorder-log?project=noted");
    EXPECT_EQ(log["total"], 3);
    // The gateway took one snapshot (at its start): the restart's events
    // came on the feed or from the watcher's history.
    std::string glog = g->Log();
    size_t snapshots = 0;
    for (size_t p = 0; (p = glog.find("snapshot.request", p)) != std::string::npos; ++p) ++snapshots;
    EXPECT_EQ(snapshots, 1u) << glog;
  }
}

TEST_F(DurableE2E, WatcherKilledAndRestartedNoClientResyncs) { RestartWithoutResync(SIGKILL); }

TEST_F(DurableE2E, WatcherStoppedAndRestartedNoClientResyncs) { RestartWithoutResync(SIGTERM); }

// PROTOCOL §1 (restarts), last bullet: a client that read up to seq S on gateway
// A resumes, 300 changes later, on gateway B started after all of them (B's
// own history holds none): B fetches the missed events from the watcher's
// history and replays exactly those, with no resync_required.
void DurableE2E::ResumeOnALaterGateway() {
  GatewayProcess& a = StartGateway();
  WsClient reader, away;
  ASSERT_TRUE(reader.Connect(a.WsOptions()));
  ASSERT_TRUE(away.Connect(a.WsOptions()));
  json hello = NextNonPing(away);
  ASSERT_EQ(hello.value("type", ""), "hello");
  const std::string epoch = hello["epoch"];
  const uint64_t start = hello["seq"];
  WritePlan("a", "s1");
  ASSERT_EQ(ReadEventsUntil(away, start + 1), Range(start + 1, start + 1));
  const uint64_t since = start + 1;  // S: what `away` has read
  away.Abort();

  for (int i = 0; i < 300; ++i) WritePlan("n" + std::to_string(i), "new");
  const uint64_t last = since + 300;
  ASSERT_EQ(ReadEventsUntil(reader, last, 30000).back(), last) << "the watcher published all 300";

  GatewayProcess& b = StartGateway({"--history", "10"});
  WsClient resumer, twin;
  const std::string target =
      "/orchestrator/ws?epoch=" + epoch + "&since=" + std::to_string(since);
  ASSERT_TRUE(resumer.Connect(b.WsOptions(target)));
  ASSERT_TRUE(twin.Connect(b.WsOptions(target)));  // the same range: shares the fetch
  for (WsClient* c : {&resumer, &twin}) {
    json h = NextNonPing(*c, 10000);
    ASSERT_EQ(h.value("type", ""), "hello") << h.dump();
    EXPECT_EQ(h["epoch"], epoch);
    EXPECT_EQ(h["seq"], last);
    EXPECT_EQ(h["replayed"], 300);
    std::vector<json> others;
    EXPECT_EQ(ReadEventsUntil(*c, last, 10000, &others), Range(since + 1, last));
    for (const json& o : others) EXPECT_NE(o.value("type", ""), "resync_required") << o.dump();
  }
  // Then live, after the replay.
  WritePlan("a", "s2");
  EXPECT_EQ(ReadEventsUntil(resumer, last + 1), Range(last + 1, last + 1));
  EXPECT_EQ(b.Metric("coderef_gateway_history_fetches_total"), 1) << b.Log();
  EXPECT_EQ(b.Metric("coderef_gateway_replayed_events_total"), 600);
  EXPECT_EQ(b.Metric("coderef_gateway_history_fetch_failures_total"), 0);
}

TEST_F(DurableE2E, ResumeOnAGatewayStartedAfterTheMissedChangesReplaysThemFromTheWatcher) {
  ResumeOnALaterGateway();
}

// The same with the watcher's history in memory (no --state-dir).
class MemoryHistoryE2E : public DurableE2E {
 protected:
  std::vector<std::string> WatcherArgs() override { return {}; }
};
TEST_F(MemoryHistoryE2E, ResumeOnAGatewayStartedAfterTheMissedChangesReplaysThemFromTheWatcher) {
  ResumeOnALaterGateway();
}

}  // namespace
}  // namespace coderef::gateway::testing
