// Black-box tests of watcher-svc: the real binary, real files in temp
// folders, real inotify, a real ZeroMQ SUB and DEALER (PROTOCOL §0-1
// and docs/OPERATIONS.md).
#include <gtest/gtest.h>

#include <set>

#include "watcher_harness.h"

namespace coderef::testing {
namespace {

using namespace std::chrono_literals;

std::string Plan(const std::string& feature, const std::string& status) {
  return "{\"META_DOCUMENTATION\":{\"feature_name\":\"" + feature + "\",\"status\":\"" + status +
         "\",\"workorder_id\":\"WO-" + feature + "-001\"}}";
}

class WatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(ws_ / "alpha/coderef/working");
    WriteFileText(ws_ / "projects.json",
                  R"({"projects":[{"name":"Alpha","path":"alpha","id":"alpha"}]})");
  }
  void Start(std::vector<std::string> extra = {}) {
    watcher_ = std::make_unique<WatcherUnderTest>(ws_ / "projects.json", extra);
    ASSERT_TRUE(watcher_->started()) << watcher_->proc().Log();
    probe_ = std::make_unique<FeedProbe>(watcher_->pub(), watcher_->snapshot());
    ASSERT_TRUE(probe_->WaitConnected()) << "no heartbeat on the feed";
  }
  std::string P(const std::string& rel) { return ws_ / ("alpha/" + rel); }

  TempDir ws_;
  std::unique_ptr<WatcherUnderTest> watcher_;
  std::unique_ptr<FeedProbe> probe_;
};

TEST_F(WatcherTest, LoneSaveIsOnePlanAddedThenUpdated) {
  Start();
  WriteFileText(P("coderef/working/auth/plan.json"), Plan("auth", "planning"));
  auto& ev = probe_->CollectEvents(1);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(TypeName(ev[0]), "plan_added");
  EXPECT_EQ(ev[0].project(), "alpha");
  EXPECT_EQ(ev[0].file_path(), "coderef/working/auth/plan.json");
  EXPECT_EQ(ev[0].feature_name(), "auth");
  EXPECT_EQ(ev[0].location(), "working");
  EXPECT_EQ(ev[0].epoch(), watcher_->epoch());
  EXPECT_EQ(ev[0].seq(), 1u);
  EXPECT_TRUE(ev[0].item().valid());
  EXPECT_EQ(ev[0].item().plan().status(), "planning");
  EXPECT_EQ(ev[0].item().plan().workorder_id(), "WO-auth-001");
  EXPECT_EQ(ev[0].item().text(), Plan("auth", "planning"));
  // The first save also makes its feature folder: a closed write goes out
  // after --quiet-ms, unless the folder's scan found the file already
  // written (completion unknown: the settle window). editor_save_test.cpp
  // checks the early flush of saves to existing files.
  int64_t delay_ms = (ev[0].published_us() - ev[0].first_change_us()) / 1000;
  EXPECT_GE(delay_ms, 0);
  EXPECT_LE(delay_ms, 400);
  EXPECT_EQ(probe_->topics().back(), "plan/alpha");

  AtomicWrite(P("coderef/working/auth/plan.json"), Plan("auth", "in_progress"));
  probe_->CollectEvents(2);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(TypeName(ev[1]), "plan_updated");  // an editor's atomic save: one update
  EXPECT_EQ(ev[1].seq(), 2u);
  EXPECT_EQ(ev[1].item().plan().status(), "in_progress");
  probe_->Drain(400ms);
  EXPECT_EQ(ev.size(), 2u) << "an atomic save must be exactly one event";
}

TEST_F(WatcherTest, FiveEditsInOneWindowAreOneEvent) {
  WriteFileText(P("coderef/working/f/plan.json"), Plan("f", "s0"));
  // Each edit is a complete write, so the window is --quiet-ms: widened to
  // the settle window, so a loaded machine's gaps between the five writes
  // stay inside it.
  Start({"--quiet-ms", "100"});
  for (int i = 1; i <= 5; ++i) WriteFileText(P("coderef/working/f/plan.json"), Plan("f", "s" + std::to_string(i)));
  auto& ev = probe_->CollectEvents(1);
  ASSERT_EQ(ev.size(), 1u);
  probe_->Drain(400ms);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(TypeName(ev[0]), "plan_updated");
  EXPECT_EQ(ev[0].item().plan().status(), "s5");  // the final state on disk
}

TEST_F(WatcherTest, CreateAndDeleteInOneBatchAndUnchangedRewriteSendNothing) {
  WriteFileText(P("coderef/working/keep/plan.json"), Plan("keep", "same"));
  Start();
  WriteFileText(P("coderef/working/tmp/plan.json"), Plan("tmp", "x"));
  fs::remove(P("coderef/working/tmp/plan.json"));
  WriteFileText(P("coderef/working/keep/plan.json"), Plan("keep", "same"));  // same bytes
  // A marker change in a later batch: the first event must be the marker.
  probe_->Drain(300ms);
  WriteFileText(P("coderef/working/marker/stub.json"), R"({"feature_name":"marker"})");
  auto& ev = probe_->CollectEvents(1);
  ASSERT_GE(ev.size(), 1u);
  EXPECT_EQ(ev[0].file_path(), "coderef/working/marker/stub.json");
  EXPECT_EQ(TypeName(ev[0]), "stub_added");
  EXPECT_EQ(ev[0].seq(), 1u);
}

TEST_F(WatcherTest, MoveWorkingToArchivedIsDeleteAndAdd) {
  WriteFileText(P("coderef/working/feat/plan.json"), Plan("feat", "done"));
  WriteFileText(P("coderef/working/feat/stub.json"), R"({"feature_name":"feat","priority":"low"})");
  fs::create_directories(P("coderef/archived"));
  Start();
  fs::rename(P("coderef/working/feat"), P("coderef/archived/feat"));
  auto& ev = probe_->CollectEvents(4);
  probe_->Drain(300ms);
  ASSERT_EQ(ev.size(), 4u);
  std::set<std::string> got;
  for (const auto& e : ev) got.insert(TypeName(e) + " " + e.file_path());
  EXPECT_TRUE(got.count("plan_deleted coderef/working/feat/plan.json"));
  EXPECT_TRUE(got.count("plan_added coderef/archived/feat/plan.json"));
  EXPECT_TRUE(got.count("stub_deleted coderef/working/feat/stub.json"));
  EXPECT_TRUE(got.count("stub_added coderef/archived/feat/stub.json"));
  for (const auto& e : ev) {
    if (TypeName(e) == "plan_added") {
      EXPECT_EQ(e.location(), "archived");
    }
  }
}

TEST_F(WatcherTest, FilesInANewFolderAreNotLostToTheWatchRace) {
  Start();
  // Create a folder and immediately many files in it, faster than a watch
  // could be added after the folder's event is read.
  for (int i = 0; i < 50; ++i) {
    std::string f = "coderef/working/race" + std::to_string(i);
    WriteFileText(P(f + "/plan.json"), Plan("race" + std::to_string(i), "new"));
    WriteFileText(P(f + "/stub.json"), R"({"feature_name":"r"})");
  }
  auto& ev = probe_->CollectEvents(100);
  probe_->Drain(300ms);
  EXPECT_EQ(ev.size(), 100u);
  std::set<std::string> paths;
  for (const auto& e : ev) paths.insert(e.file_path());
  EXPECT_EQ(paths.size(), 100u);
}

TEST_F(WatcherTest, HalfWrittenJsonIsInvalidThenValid) {
  Start();
  WriteFileText(P("coderef/working/h/plan.json"), R"({"META_DOCUMENTATION":{"feature_name":"h",)");
  auto& ev = probe_->CollectEvents(1);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(TypeName(ev[0]), "plan_added");
  EXPECT_FALSE(ev[0].item().valid());
  EXPECT_FALSE(ev[0].item().parse_error().empty());
  EXPECT_EQ(ev[0].feature_name(), "h");  // the folder name
  WriteFileText(P("coderef/working/h/plan.json"), Plan("h", "ok"));
  probe_->CollectEvents(2);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(TypeName(ev[1]), "plan_updated");
  EXPECT_TRUE(ev[1].item().valid());
}

TEST_F(WatcherTest, ProjectAddedAndRemovedLive) {
  fs::create_directories(ws_ / "beta/coderef/working/b1");
  WriteFileText(ws_ / "beta/coderef/working/b1/plan.json", Plan("b1", "x"));
  Start();
  AtomicWrite(ws_ / "projects.json",
              R"({"projects":[{"name":"Alpha","path":"alpha","id":"alpha"},{"name":"Beta Two","path":"beta"}]})");
  auto& ev = probe_->CollectEvents(2);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(TypeName(ev[0]), "project_added");
  EXPECT_EQ(ev[0].project(), "beta-two");
  EXPECT_EQ(ev[0].item().project_info().name(), "Beta Two");
  EXPECT_EQ(TypeName(ev[1]), "plan_added");
  EXPECT_EQ(ev[1].project(), "beta-two");
  // The new project is watched.
  WriteFileText(ws_ / "beta/coderef/working/b1/plan.json", Plan("b1", "y"));
  probe_->CollectEvents(3);
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(TypeName(ev[2]), "plan_updated");
  // Removed: its items go, then the project.
  WriteFileText(ws_ / "projects.json", R"({"projects":[{"name":"Alpha","path":"alpha","id":"alpha"}]})");
  probe_->CollectEvents(5);
  ASSERT_EQ(ev.size(), 5u);
  EXPECT_EQ(TypeName(ev[3]), "plan_deleted");
  EXPECT_EQ(TypeName(ev[4]), "project_removed");
  EXPECT_EQ(ev[4].project(), "beta-two");
  // And no longer watched.
  WriteFileText(ws_ / "beta/coderef/working/b1/plan.json", Plan("b1", "z"));
  probe_->Drain(400ms);
  EXPECT_EQ(ev.size(), 5u);
  for (size_t i = 0; i < ev.size(); ++i) EXPECT_EQ(ev[i].seq(), i + 1);
}

TEST_F(WatcherTest, ProjectFolderThatAppearsAfterStart) {
  WriteFileText(ws_ / "projects.json",
                R"({"projects":[{"name":"Alpha","path":"alpha","id":"alpha"},{"name":"late","path":"nested/late"}]})");
  Start();
  auto snap = probe_->TakeSnapshot("project/late");
  ASSERT_TRUE(snap);
  ASSERT_EQ(snap->items.size(), 1u);
  EXPECT_FALSE(snap->items[0].project_info().exists());
  fs::create_directories(ws_ / "nested/late/coderef/working/x");
  WriteFileText(ws_ / "nested/late/coderef/working/x/plan.json", Plan("x", "new"));
  auto& ev = probe_->CollectEvents(2, 5000ms);
  probe_->Drain(300ms);
  bool saw_plan = false, saw_project = false;
  for (const auto& e : ev) {
    if (TypeName(e) == "plan_added" && e.project() == "late") saw_plan = true;
    if (TypeName(e) == "project_updated" && e.project() == "late") {
      saw_project = true;
      EXPECT_TRUE(e.item().project_info().exists());
    }
  }
  EXPECT_TRUE(saw_plan) << watcher_->proc().Log();
  EXPECT_TRUE(saw_project);
}

TEST_F(WatcherTest, BadProjectsJsonKeepsTheLastGoodRegistry) {
  Start();
  WriteFileText(ws_ / "projects.json", "{\"projects\": [");
  ASSERT_TRUE(watcher_->proc().WaitForLog("registry.rejected"));
  std::string log = watcher_->proc().Log();
  EXPECT_NE(log.find("projects.json"), std::string::npos);
  WriteFileText(ws_ / "projects.json", R"({"projects":[{"name":"A","path":"alpha"},{"name":"B","path":"alpha","id":"a"}]})");
  ASSERT_TRUE(WaitFor([&] {
    std::string l = watcher_->proc().Log();
    size_t n = 0, pos = 0;
    while ((pos = l.find("registry.rejected", pos)) != std::string::npos) ++n, ++pos;
    return n >= 2;
  }));
  EXPECT_NE(watcher_->proc().Log().find("duplicate"), std::string::npos);
  // Still running, still watching alpha; no project events were sent.
  WriteFileText(P("coderef/working/still/plan.json"), Plan("still", "ok"));
  auto& ev = probe_->CollectEvents(1);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(TypeName(ev[0]), "plan_added");
  EXPECT_TRUE(watcher_->proc().Alive());
}

TEST_F(WatcherTest, WorkorderLogLinesPartialLinesAndTruncation) {
  Start();
  std::string log = P("coderef/workorder-log.txt");
  WriteFileText(log, "WO-A-001 | alpha | first | 2026-11-25T10:00:00Z\n# comment\nWO-B-002 | alpha | no time\n");
  auto& ev = probe_->CollectEvents(2);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(TypeName(ev[0]), "workorder_added");
  EXPECT_EQ(ev[0].item().workorder().source(), "log");
  std::set<std::string> ids{ev[0].item().workorder().workorder_id(), ev[1].item().workorder().workorder_id()};
  EXPECT_TRUE(ids.count("WO-A-001") && ids.count("WO-B-002"));
  for (const auto& e : ev) {
    if (e.item().workorder().workorder_id() == "WO-B-002") {
      EXPECT_FALSE(e.item().workorder().has_timestamp());
    }
  }
  // A partial line waits for its newline.
  { std::ofstream out(log, std::ios::app); out << "WO-C-003 | alpha | partial"; }
  probe_->Drain(400ms);
  EXPECT_EQ(ev.size(), 2u);
  { std::ofstream out(log, std::ios::app); out << " line | 2026-11-25T11:00:00Z\n"; }
  probe_->CollectEvents(3);
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[2].item().workorder().description(), "partial line");
  // Replaced by a file holding the same lines plus one: only the new line.
  AtomicWrite(log, "WO-A-001 | alpha | first | 2026-11-25T10:00:00Z\n# comment\nWO-B-002 | alpha | no time\n"
                   "WO-C-003 | alpha | partial line | 2026-11-25T11:00:00Z\nWO-D-004 | alpha | fourth | 2026-11-25T12:00:00Z\n");
  probe_->CollectEvents(4);
  probe_->Drain(300ms);
  ASSERT_EQ(ev.size(), 4u);
  EXPECT_EQ(TypeName(ev[3]), "workorder_added");
  EXPECT_EQ(ev[3].item().workorder().workorder_id(), "WO-D-004");
}

TEST_F(WatcherTest, BurstOf2000FilesEachExactlyOnceGapFree) {
  Start();
  const int kFeatures = 1000;  // 2 tracked files each, plus an untracked one
  for (int i = 0; i < kFeatures; ++i) {
    std::string f = "coderef/working/b" + std::to_string(i) + "/";
    WriteFileText(P(f + "plan.json"), Plan("b" + std::to_string(i), "new"));
    WriteFileText(P(f + "stub.json"), R"({"feature_name":"s"})");
    WriteFileText(P(f + "notes.md"), "ignored");
  }
  auto& ev = probe_->CollectEvents(2 * kFeatures, 30000ms);
  probe_->Drain(500ms);
  ASSERT_EQ(ev.size(), 2u * kFeatures);
  std::set<std::string> paths;
  for (size_t i = 0; i < ev.size(); ++i) {
    EXPECT_EQ(ev[i].seq(), i + 1) << "seq must be gap-free";
    EXPECT_TRUE(TypeName(ev[i]) == "plan_added" || TypeName(ev[i]) == "stub_added");
    paths.insert(ev[i].file_path());
  }
  EXPECT_EQ(paths.size(), 2u * kFeatures) << "each file exactly once";
}

TEST_F(WatcherTest, LateJoinerReachesTheSameStateAsAnEarlySubscriber) {
  for (int i = 0; i < 20; ++i) WriteFileText(P("coderef/working/e" + std::to_string(i) + "/plan.json"), Plan("e", "0"));
  Start();
  auto base = probe_->TakeSnapshot();
  ASSERT_TRUE(base);
  std::map<std::string, std::string> early;  // key -> status
  for (const auto& it : base->items)
    if (it.kind() == v1::KIND_PLAN) early[it.key()] = it.plan().status();
  ASSERT_EQ(early.size(), 20u);
  // Changes while the late joiner is not there yet.
  for (int i = 0; i < 10; ++i) WriteFileText(P("coderef/working/e" + std::to_string(i) + "/plan.json"), Plan("e", "1"));
  fs::remove_all(P("coderef/working/e19"));
  auto& ev = probe_->CollectEvents(11);
  ASSERT_EQ(ev.size(), 11u);
  for (const auto& e : ev) {
    if (e.seq() <= base->seq) continue;
    if (e.has_item()) early[e.key()] = e.item().plan().status();
    else early.erase(e.key());
  }
  FeedProbe late(watcher_->pub(), watcher_->snapshot());
  ASSERT_TRUE(late.WaitConnected());
  auto snap = late.TakeSnapshot("plan/", 3);  // small chunks: several messages
  ASSERT_TRUE(snap);
  EXPECT_GT(snap->chunks, 3);
  EXPECT_EQ(snap->epoch, base->epoch);
  EXPECT_EQ(snap->seq, 11u);
  std::map<std::string, std::string> late_state;
  for (const auto& it : snap->items) late_state[it.key()] = it.plan().status();
  EXPECT_EQ(late_state, early);
}

}  // namespace
}  // namespace coderef::testing
