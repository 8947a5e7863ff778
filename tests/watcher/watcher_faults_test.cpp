// Black-box tests of watcher-svc under faults and operations: kernel queue
// overflow, folders renamed away and back, deleted and recreated, the watch
// limit, the polling backend, bad names, flags, signals, health and idle.
#include <gtest/gtest.h>

#include <set>

#include "watcher_harness.h"

namespace coderef::testing {
namespace {

using namespace std::chrono_literals;

std::string Plan(const std::string& feature, const std::string& status) {
  return "{\"META_DOCUMENTATION\":{\"feature_name\":\"" + feature + "\",\"status\":\"" + status + "\"}}";
}

// What the disk holds: key -> status (plans) for one project.
std::map<std::string, std::string> DiskPlans(const std::string& root) {
  std::map<std::string, std::string> out;
  for (const char* loc : {"working", "archived"}) {
    fs::path dir = fs::path(root) / "coderef" / loc;
    if (!fs::exists(dir)) continue;
    for (const auto& f : fs::directory_iterator(dir)) {
      fs::path p = f.path() / "plan.json";
      if (fs::is_regular_file(p)) out[std::string("coderef/") + loc + "/" + f.path().filename().string() + "/plan.json"] = "";
    }
  }
  return out;
}

std::map<std::string, std::string> SnapshotPlans(FeedProbe& probe, const std::string& project) {
  std::map<std::string, std::string> out;
  auto snap = probe.TakeSnapshot("plan/" + project);
  if (!snap) return {{"<no snapshot>", ""}};
  for (const auto& it : snap->items)
    if (it.project() == project) out[it.key()] = "";
  return out;
}

class WatcherFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(ws_ / "alpha/coderef/working");
    WriteFileText(ws_ / "projects.json", R"({"projects":[{"name":"alpha","path":"alpha"}]})");
  }
  void Start(std::vector<std::string> extra = {}) {
    watcher_ = std::make_unique<WatcherUnderTest>(ws_ / "projects.json", extra);
    ASSERT_TRUE(watcher_->started()) << watcher_->proc().Log();
    probe_ = std::make_unique<FeedProbe>(watcher_->pub(), watcher_->snapshot());
    ASSERT_TRUE(probe_->WaitConnected());
  }
  std::string P(const std::string& rel) { return ws_ / ("alpha/" + rel); }
  bool StateEqualsDisk() {
    return WaitFor([&] { return SnapshotPlans(*probe_, "alpha") == DiskPlans(ws_ / "alpha"); }, 30000ms);
  }

  TempDir ws_;
  std::unique_ptr<WatcherUnderTest> watcher_;
  std::unique_ptr<FeedProbe> probe_;
};

TEST_F(WatcherFaultTest, QueueOverflowUnderSigstopEndsEqualToDisk) {
  for (int i = 0; i < 50; ++i) WriteFileText(P("coderef/working/old" + std::to_string(i) + "/plan.json"), Plan("o", "x"));
  Start();
  watcher_->proc().Signal(SIGSTOP);
  // More events than the kernel queue holds (max_queued_events, 16384 by
  // default): 6,000 folders x (create dir + create + modify + close) plus deletions.
  // Files in folders that are already watched: each write is at least
  // IN_CREATE + IN_MODIFY + IN_CLOSE_WRITE.
  int queue = std::stoi(ReadFileText("/proc/sys/fs/inotify/max_queued_events"));
  int files = std::max(20000, queue + 4000);
  for (int i = 0; i < files; ++i)
    WriteFileText(P("coderef/working/old" + std::to_string(25 + i % 25) + "/note" + std::to_string(i) + ".md"), "n");
  for (int i = 0; i < 300; ++i)
    WriteFileText(P("coderef/working/n" + std::to_string(i) + "/plan.json"), Plan("n", "y"));
  for (int i = 0; i < 25; ++i) fs::remove_all(P("coderef/working/old" + std::to_string(i)));
  watcher_->proc().Signal(SIGCONT);
  ASSERT_TRUE(watcher_->proc().WaitForLog("IN_Q_OVERFLOW", 20000ms)) << "expected a logged overflow";
  EXPECT_TRUE(StateEqualsDisk());
  int status = 0;
  std::string metrics = HttpGet(watcher_->http_port(), "/metrics", &status);
  EXPECT_EQ(status, 200);
  EXPECT_EQ(metrics.find("coderef_watcher_overflows_total 0"), std::string::npos);
}

TEST_F(WatcherFaultTest, CoderefRenamedAwayAndBack) {
  for (int i = 0; i < 5; ++i) WriteFileText(P("coderef/working/f" + std::to_string(i) + "/plan.json"), Plan("f", "x"));
  Start();
  fs::rename(P("coderef"), P("coderef.bak"));
  // 5 plan_deleted and a project_updated (has_coderef: false).
  auto& ev = probe_->CollectEvents(6);
  ASSERT_EQ(ev.size(), 6u);
  int deleted = 0;
  for (const auto& e : ev) deleted += TypeName(e) == "plan_deleted";
  EXPECT_EQ(deleted, 5);
  fs::rename(P("coderef.bak"), P("coderef"));
  probe_->CollectEvents(12);
  ASSERT_EQ(ev.size(), 12u);
  int added = 0;
  for (size_t i = 6; i < 12; ++i) added += TypeName(ev[i]) == "plan_added";
  EXPECT_EQ(added, 5);
  // Watches are back: an edit is seen.
  WriteFileText(P("coderef/working/f0/plan.json"), Plan("f", "changed"));
  probe_->CollectEvents(13);
  ASSERT_EQ(ev.size(), 13u);
  EXPECT_EQ(TypeName(ev[12]), "plan_updated");
  EXPECT_TRUE(StateEqualsDisk());
}

TEST_F(WatcherFaultTest, ProjectFolderDeletedAndRecreated) {
  WriteFileText(P("coderef/working/a/plan.json"), Plan("a", "x"));
  Start();
  fs::remove_all(ws_ / "alpha");
  auto& ev = probe_->CollectEvents(2);
  std::set<std::string> types;
  for (const auto& e : ev) types.insert(TypeName(e));
  EXPECT_TRUE(types.count("plan_deleted"));
  EXPECT_TRUE(types.count("project_updated"));  // exists: false
  fs::create_directories(ws_ / "alpha/coderef/working/b");
  WriteFileText(P("coderef/working/b/plan.json"), Plan("b", "y"));
  ASSERT_TRUE(WaitFor([&] {
    probe_->Drain(50ms);
    for (const auto& e : ev)
      if (TypeName(e) == "plan_added" && e.file_path() == "coderef/working/b/plan.json") return true;
    return false;
  })) << watcher_->proc().Log();
  EXPECT_TRUE(StateEqualsDisk());
}

TEST_F(WatcherFaultTest, WatchLimitIsLoggedCountedAndStillConverges) {
  Start({"--max-watches", "4"});
  for (int i = 0; i < 6; ++i) WriteFileText(P("coderef/working/w" + std::to_string(i) + "/plan.json"), Plan("w", "1"));
  ASSERT_TRUE(watcher_->proc().WaitForLog("watch.limit_reached"));
  EXPECT_TRUE(StateEqualsDisk());
  // Edits in folders without a watch are still found (rescanned every 2 s).
  for (int i = 0; i < 6; ++i) WriteFileText(P("coderef/working/w" + std::to_string(i) + "/plan.json"), Plan("w", "2"));
  ASSERT_TRUE(WaitFor([&] {
    auto snap = probe_->TakeSnapshot("plan/alpha");
    if (!snap || snap->items.size() != 6) return false;
    for (const auto& it : snap->items)
      if (it.plan().status() != "2") return false;
    return true;
  }, 15000ms));
  std::string metrics = HttpGet(watcher_->http_port(), "/metrics");
  EXPECT_NE(metrics.find("coderef_watcher_watch_limit_errors_total"), std::string::npos);
  EXPECT_EQ(metrics.find("coderef_watcher_watch_limit_errors_total 0\n"), std::string::npos);
}

TEST_F(WatcherFaultTest, PollingBackendProducesTheSameEvents) {
  WriteFileText(P("coderef/working/p/plan.json"), Plan("p", "a"));
  Start({"--poll-ms", "50"});
  EXPECT_NE(watcher_->proc().Log().find("backend=poll"), std::string::npos);
  AtomicWrite(P("coderef/working/p/plan.json"), Plan("p", "b"));
  auto& ev = probe_->CollectEvents(1);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(TypeName(ev[0]), "plan_updated");
  fs::create_directories(P("coderef/archived"));
  fs::rename(P("coderef/working/p"), P("coderef/archived/p"));
  probe_->CollectEvents(3);
  probe_->Drain(300ms);
  ASSERT_EQ(ev.size(), 3u);
  std::set<std::string> got{TypeName(ev[1]) + " " + ev[1].file_path(), TypeName(ev[2]) + " " + ev[2].file_path()};
  EXPECT_TRUE(got.count("plan_deleted coderef/working/p/plan.json"));
  EXPECT_TRUE(got.count("plan_added coderef/archived/p/plan.json"));
}

TEST_F(WatcherFaultTest, InvalidUtf8AndNewlineNamesNeverCrash) {
  Start();
  WriteFileText(P("coderef/working/bad\xff\xfename/plan.json"), Plan("x", "1"));
  WriteFileText(P("coderef/working/new\nline/plan.json"), Plan("y", "1"));
  WriteFileText(P("coderef/working/caf\xc3\xa9/plan.json"), Plan("z", "1"));
  auto& ev = probe_->CollectEvents(2);
  probe_->Drain(300ms);
  ASSERT_EQ(ev.size(), 2u);
  std::set<std::string> paths{ev[0].file_path(), ev[1].file_path()};
  EXPECT_TRUE(paths.count("coderef/working/new\nline/plan.json"));
  EXPECT_TRUE(paths.count("coderef/working/caf\xc3\xa9/plan.json"));
  EXPECT_TRUE(watcher_->proc().WaitForLog("file.bad_name"));
  EXPECT_TRUE(watcher_->proc().Alive());
}

// A subscriber with a small queue that cannot keep up: `sub` stops reading
// (rcvhwm 20, a 4 KiB receive buffer), so the watcher's queue for it
// (--pub-hwm 20) fills. Returns the number read.
struct SlowSubscriber {
  explicit SlowSubscriber(const WatcherUnderTest& w) : probe(w.pub(), w.snapshot(), "", 20, 4096) {}
  // Reads one message within `timeout`; false when none came.
  bool ReadOne(std::chrono::milliseconds timeout) {
    auto msg = probe.Recv(timeout);
    if (!msg) return false;
    last_was_heartbeat = msg->has_heartbeat();
    if (msg->has_heartbeat()) {
      hb_seq = msg->heartbeat().seq();
      if (hb_seq > last_seq) heartbeat_ahead = true;
    } else if (msg->has_event()) {
      if (msg->event().seq() != last_seq + 1) gaps++;
      last_seq = msg->event().seq();
      events++;
    }
    return true;
  }
  // Reads until the next heartbeat (which follows every event published
  // before it); false if none came within `timeout`.
  bool ReadToHeartbeat(std::chrono::milliseconds timeout) {
    return WaitFor([&] { return ReadOne(50ms) && last_was_heartbeat; }, timeout);
  }
  FeedProbe probe;  // small queues: rcvhwm 20, a 4 KiB receive buffer
  uint64_t last_seq = 0, hb_seq = 0;
  size_t events = 0, gaps = 0;
  bool heartbeat_ahead = false;
  bool last_was_heartbeat = false;
};

double WatcherMetric(int port, const std::string& name) {
  std::string text = HttpGet(port, "/metrics");
  auto p = text.find("\n" + name + " ");
  return p == std::string::npos ? -1 : std::atof(text.c_str() + p + name.size() + 2);
}

TEST_F(WatcherFaultTest, SlowSubscriberHoldsPublishingBackAndLosesNothing) {
  Start({"--pub-hwm", "20", "--pub-block-ms", "60000"});
  SlowSubscriber slow(*watcher_);
  ASSERT_TRUE(slow.ReadToHeartbeat(10000ms)) << "subscribed (a heartbeat came)";
  // 300 plans of ~40 KiB (12 MiB) while `slow` reads nothing: more than the
  // socket buffers and both 20-message queues hold.
  const int kFiles = 300;
  std::string pad(40000, 'x');
  for (int i = 0; i < kFiles; ++i)
    WriteFileText(P("coderef/working/f" + std::to_string(i) + "/plan.json"),
                  "{\"META_DOCUMENTATION\":{\"status\":\"" + pad + "\"}}");
  ASSERT_TRUE(WaitFor([&] { return WatcherMetric(watcher_->http_port(), "coderef_watcher_pub_blocked_total") >= 1; },
                      30000ms))
      << "the full queue held publishing back";
  // Now read everything: every event, in order, no gap, no heartbeat ahead,
  // until the watcher has nothing left waiting and a heartbeat follows.
  ASSERT_TRUE(WaitFor([&] {
    return slow.ReadToHeartbeat(5000ms) && slow.events >= static_cast<size_t>(kFiles) &&
           WatcherMetric(watcher_->http_port(), "coderef_watcher_pub_outbox") == 0;
  }, 60000ms)) << "events " << slow.events;
  ASSERT_TRUE(slow.ReadToHeartbeat(5000ms));
  EXPECT_EQ(slow.gaps, 0u);
  EXPECT_FALSE(slow.heartbeat_ahead) << "a heartbeat announced events the subscriber never got";
  EXPECT_EQ(slow.last_seq, slow.events) << "seq 1..N, each once";
  EXPECT_GE(slow.events, static_cast<size_t>(kFiles));
  EXPECT_EQ(WatcherMetric(watcher_->http_port(), "coderef_watcher_pub_stuck_total"), 0);
  EXPECT_EQ(watcher_->proc().Log().find("pub.subscriber_stuck"), std::string::npos);
}

TEST_F(WatcherFaultTest, StuckSubscriberDoesNotHoldTheOthersBack) {
  Start({"--pub-hwm", "1000", "--pub-block-ms", "300"});
  SlowSubscriber stuck(*watcher_);  // never reads after subscribing
  ASSERT_TRUE(stuck.ReadToHeartbeat(10000ms));
  // 6,000 plans of ~1 KiB: more than the stuck subscriber's socket buffers
  // and its 1,000-message queue hold.
  const int kFiles = 6000;
  std::string pad(1000, 'x');
  for (int i = 0; i < kFiles; ++i)
    WriteFileText(P("coderef/working/g" + std::to_string(i) + "/plan.json"),
                  "{\"META_DOCUMENTATION\":{\"status\":\"" + pad + "\"}}");
  // The reading subscriber gets every event, in order.
  auto& events = probe_->CollectEvents(kFiles, 60000ms);
  std::string log = watcher_->proc().Log();
  ASSERT_GE(events.size(), static_cast<size_t>(kFiles)) << log.substr(log.size() > 4000 ? log.size() - 4000 : 0);
  for (size_t i = 0; i < events.size(); ++i) ASSERT_EQ(events[i].seq(), i + 1);
  ASSERT_TRUE(watcher_->proc().WaitForLog("pub.subscriber_stuck")) << "the drop is logged with its reason";
  EXPECT_GT(WatcherMetric(watcher_->http_port(), "coderef_watcher_pub_stuck_total"), 0);
  // The stuck one lost messages, and can tell: a heartbeat ahead of its events.
  ASSERT_TRUE(WaitFor([&] { return stuck.ReadToHeartbeat(5000ms) && stuck.hb_seq >= events.size(); }, 30000ms));
  EXPECT_LT(stuck.events, events.size());
  EXPECT_TRUE(stuck.heartbeat_ahead || stuck.gaps > 0);
}

TEST_F(WatcherFaultTest, HeartbeatsHealthAndMetrics) {
  Start();
  WriteFileText(P("coderef/working/h/plan.json"), Plan("h", "1"));
  probe_->CollectEvents(1);
  ASSERT_TRUE(probe_->WaitHeartbeatSeq(1));
  EXPECT_EQ(probe_->last_heartbeat().epoch(), watcher_->epoch());
  EXPECT_EQ(probe_->last_heartbeat().interval_ms(), 200u);
  int status = 0;
  std::string health = HttpGet(watcher_->http_port(), "/healthz", &status);
  EXPECT_EQ(status, 200);
  EXPECT_NE(health.find("\"status\":\"ok\""), std::string::npos);
  EXPECT_NE(health.find("\"seq\":1"), std::string::npos);
  std::string metrics = HttpGet(watcher_->http_port(), "/metrics", &status);
  EXPECT_EQ(status, 200);
  EXPECT_NE(metrics.find("coderef_watcher_events_published_total 1"), std::string::npos);
  HttpGet(watcher_->http_port(), "/nope", &status);
  EXPECT_EQ(status, 404);
}

TEST_F(WatcherFaultTest, SigtermExitsZeroQuickly) {
  Start();
  auto t0 = Clock::now();
  watcher_->proc().Signal(SIGTERM);
  EXPECT_EQ(watcher_->proc().Wait(2000ms), 0);
  EXPECT_LT(Clock::now() - t0, 2000ms);
  EXPECT_NE(watcher_->proc().Log().find("watcher.stopped"), std::string::npos);
}

TEST_F(WatcherFaultTest, IdleMeansIdle) {
  Start({"--heartbeat-ms", "1000"});
  // Voluntary context switches of the main thread over a 3 s window: only
  // the heartbeat timer may wake it (about 3 times), never a polling loop.
  std::string status_path = "/proc/" + std::to_string(watcher_->proc().pid()) + "/task/" +
                            std::to_string(watcher_->proc().pid()) + "/status";
  auto switches = [&] {
    std::string s = ReadFileText(status_path);
    auto p = s.find("voluntary_ctxt_switches:");
    return p == std::string::npos ? -1L : std::stol(s.substr(p + 24));
  };
  long before = switches();
  probe_->Drain(3000ms);  // the measurement window
  long after = switches();
  ASSERT_GE(before, 0);
  EXPECT_LE(after - before, 12) << "the loop woke " << (after - before) << " times in 3 s";
}

TEST(WatcherFlags, BadValueExitsTwoNamingTheFlag) {
  Process p(WatcherBinary(), {"--debounce-ms", "soon"});
  EXPECT_EQ(p.Wait(), 2);
  EXPECT_NE(p.Log().find("debounce-ms"), std::string::npos) << p.Log();
  Process e(WatcherBinary(), {}, {"WATCHER_SETTLE_MS=-5"});
  EXPECT_EQ(e.Wait(), 2);
  EXPECT_NE(e.Log().find("settle-ms"), std::string::npos) << e.Log();
  Process l(WatcherBinary(), {"--log-format", "xml"});
  EXPECT_EQ(l.Wait(), 2);
  EXPECT_NE(l.Log().find("log-format"), std::string::npos) << l.Log();
}

TEST(WatcherFlags, EnvironmentConfiguresAndJsonLogs) {
  TempDir ws;
  WriteFileText(ws / "projects.json", R"({"projects":[]})");
  Process p(WatcherBinary(), {},
            {"WATCHER_PROJECTS=" + (ws / "projects.json"), "WATCHER_PUB=tcp://127.0.0.1:*",
             "WATCHER_SNAPSHOT=tcp://127.0.0.1:*", "WATCHER_HTTP=127.0.0.1:0", "WATCHER_LOG_FORMAT=json"});
  ASSERT_TRUE(p.WaitForLog("watcher.started"));
  std::string log = p.Log();
  EXPECT_NE(log.find("{\"ts\":"), std::string::npos);
  EXPECT_NE(log.find("\"msg\":\"watcher.started\""), std::string::npos);
  p.Signal(SIGTERM);
  EXPECT_EQ(p.Wait(), 0);
}

}  // namespace
}  // namespace coderef::testing
