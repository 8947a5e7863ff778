// Unit tests of the watcher's logic with fakes behind every seam: an
// in-memory file system, a scripted watch backend and a fake clock. Each
// test drives the core one step at a time: no threads, no sleeps.
#include "watcher-svc/watcher_core.h"

#include <gtest/gtest.h>

#include <set>

#include "common/names.h"
#include "fake_backend.h"
#include "fake_file_system.h"
#include "watcher-svc/batcher.h"
#include "watcher-svc/poll_backend.h"

namespace coderef::watcher {
namespace {

using namespace std::chrono_literals;

std::string Plan(const std::string& status) {
  return "{\"META_DOCUMENTATION\":{\"status\":\"" + status + "\"}}";
}

class CoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs_.AddFile("/ws/projects.json", R"({"projects":[{"name":"Alpha","path":"alpha"}]})");
    fs_.MkDir("/ws/alpha/coderef/working");
  }
  void Make() {
    WatcherOptions o;
    o.projects_file = "/ws/projects.json";
    o.max_file_bytes = 64;
    core_ = std::make_unique<WatcherCore>(o, fs_, backend_, WatcherMetrics{});
    core_->Start();
  }
  // Feeds pending backend events to the core and flushes.
  std::vector<std::string> Step() {
    std::vector<RawEvent> raw;
    backend_.ReadEvents(&raw);
    core_->OnRawEvents(raw);
    std::vector<std::string> out;
    for (const auto& e : core_->Flush()) out.push_back(std::string(EventTypeName(e.type())) + " " + e.file_path());
    return out;
  }
  FakeFileSystem fs_;
  FakeBackend backend_;
  std::unique_ptr<WatcherCore> core_;
};

TEST_F(CoreTest, StartReadsInitialStateWithoutEvents) {
  fs_.AddFile("/ws/alpha/coderef/working/a/plan.json", Plan("x"));
  Make();
  EXPECT_EQ(core_->state().size(), 2u);  // the project and the plan
  EXPECT_TRUE(backend_.dirs.count("/ws"));
  EXPECT_TRUE(backend_.dirs.count("/ws/alpha"));
  EXPECT_TRUE(backend_.dirs.count("/ws/alpha/coderef/working/a"));
  EXPECT_TRUE(Step().empty());
}

TEST_F(CoreTest, ClassifiesByFinalStateAgainstThePublishedState) {
  fs_.AddFile("/ws/alpha/coderef/working/a/plan.json", Plan("x"));
  Make();
  // Rewritten with the same bytes: nothing.
  fs_.WriteFile("/ws/alpha/coderef/working/a/plan.json", Plan("x"));
  backend_.Emit(RawEvent::Type::kChanged, "/ws/alpha/coderef/working/a/plan.json");
  EXPECT_TRUE(Step().empty());
  // Changed: one update.
  fs_.WriteFile("/ws/alpha/coderef/working/a/plan.json", Plan("y"));
  backend_.Emit(RawEvent::Type::kChanged, "/ws/alpha/coderef/working/a/plan.json");
  backend_.Emit(RawEvent::Type::kChanged, "/ws/alpha/coderef/working/a/plan.json");
  EXPECT_EQ(Step(), std::vector<std::string>{"plan_updated coderef/working/a/plan.json"});
  // Created and deleted within one batch: nothing.
  fs_.AddFile("/ws/alpha/coderef/working/a/stub.json", "{}");
  backend_.Emit(RawEvent::Type::kCreated, "/ws/alpha/coderef/working/a/stub.json");
  fs_.Remove("/ws/alpha/coderef/working/a/stub.json");
  backend_.Emit(RawEvent::Type::kDeleted, "/ws/alpha/coderef/working/a/stub.json");
  EXPECT_TRUE(Step().empty());
  // Deleted.
  fs_.Remove("/ws/alpha/coderef/working/a/plan.json");
  backend_.Emit(RawEvent::Type::kDeleted, "/ws/alpha/coderef/working/a/plan.json");
  EXPECT_EQ(Step(), std::vector<std::string>{"plan_deleted coderef/working/a/plan.json"});
}

TEST_F(CoreTest, AtomicSaveIsOneUpdate) {
  fs_.AddFile("/ws/alpha/coderef/working/a/plan.json", Plan("x"));
  Make();
  fs_.AddFile("/ws/alpha/coderef/working/a/.plan.json.swp", Plan("y"));
  backend_.Emit(RawEvent::Type::kCreated, "/ws/alpha/coderef/working/a/.plan.json.swp");
  fs_.Rename("/ws/alpha/coderef/working/a/.plan.json.swp", "/ws/alpha/coderef/working/a/plan.json");
  backend_.Emit(RawEvent::Type::kDeleted, "/ws/alpha/coderef/working/a/.plan.json.swp");
  backend_.Emit(RawEvent::Type::kCreated, "/ws/alpha/coderef/working/a/plan.json");
  EXPECT_EQ(Step(), std::vector<std::string>{"plan_updated coderef/working/a/plan.json"});
}

TEST_F(CoreTest, NewFolderIsWatchedAndScannedAtOnce) {
  Make();
  // The folder and its file exist before the core hears of the folder: the
  // file's own event was never delivered (no watch yet).
  fs_.AddFile("/ws/alpha/coderef/working/new/plan.json", Plan("n"));
  backend_.Emit(RawEvent::Type::kCreated, "/ws/alpha/coderef/working/new", true);
  std::vector<RawEvent> raw;
  backend_.ReadEvents(&raw);
  EXPECT_TRUE(core_->OnRawEvents(raw));
  EXPECT_TRUE(backend_.dirs.count("/ws/alpha/coderef/working/new")) << "watched before the flush";
  std::vector<std::string> out;
  for (const auto& e : core_->Flush()) out.push_back(std::string(EventTypeName(e.type())));
  EXPECT_EQ(out, std::vector<std::string>{"plan_added"});
}

TEST_F(CoreTest, MovedFolderIsDeleteAndAdd) {
  fs_.AddFile("/ws/alpha/coderef/working/f/plan.json", Plan("x"));
  fs_.MkDir("/ws/alpha/coderef/archived");
  Make();
  fs_.Rename("/ws/alpha/coderef/working/f", "/ws/alpha/coderef/archived/f");
  backend_.Emit(RawEvent::Type::kDeleted, "/ws/alpha/coderef/working/f", true);
  backend_.Emit(RawEvent::Type::kCreated, "/ws/alpha/coderef/archived/f", true);
  auto out = Step();
  std::set<std::string> got(out.begin(), out.end());
  EXPECT_EQ(got, (std::set<std::string>{"plan_deleted coderef/working/f/plan.json",
                                        "plan_added coderef/archived/f/plan.json"}));
}

TEST_F(CoreTest, OverflowRescanConvergesOnTheDisk) {
  fs_.AddFile("/ws/alpha/coderef/working/a/plan.json", Plan("x"));
  fs_.AddFile("/ws/alpha/coderef/working/b/plan.json", Plan("x"));
  Make();
  // Changes whose events were lost, then an overflow.
  fs_.WriteFile("/ws/alpha/coderef/working/a/plan.json", Plan("changed"));
  fs_.Remove("/ws/alpha/coderef/working/b/plan.json");
  fs_.AddFile("/ws/alpha/coderef/working/c/stub.json", "{}");
  RawEvent ov;
  ov.type = RawEvent::Type::kOverflow;
  backend_.pending.push_back(ov);
  auto out = Step();
  std::set<std::string> got(out.begin(), out.end());
  EXPECT_EQ(got, (std::set<std::string>{"plan_updated coderef/working/a/plan.json",
                                        "plan_deleted coderef/working/b/plan.json",
                                        "stub_added coderef/working/c/stub.json"}));
}

TEST_F(CoreTest, BadRegistryKeepsTheLastGoodOne) {
  fs_.AddFile("/ws/alpha/coderef/working/a/plan.json", Plan("x"));
  Make();
  for (const char* bad : {"", "[]", "{\"projects\":[{\"name\":\"x\"}]}", "{\"projects\":[{\"name\":\"r\",\"path\":\"/\"}]}",
                          "{\"projects\":[{\"name\":\"a\",\"path\":\"alpha\"},{\"name\":\"A\",\"path\":\"alpha\"}]}"}) {
    fs_.WriteFile("/ws/projects.json", bad);
    backend_.Emit(RawEvent::Type::kChanged, "/ws/projects.json");
    EXPECT_TRUE(Step().empty()) << bad;
    ASSERT_EQ(core_->projects().size(), 1u) << bad;
    EXPECT_EQ(core_->projects()[0].id, "alpha");
  }
  // Still tracking alpha.
  fs_.WriteFile("/ws/alpha/coderef/working/a/plan.json", Plan("y"));
  backend_.Emit(RawEvent::Type::kChanged, "/ws/alpha/coderef/working/a/plan.json");
  EXPECT_EQ(Step().size(), 1u);
}

TEST_F(CoreTest, ProjectRemovedDeletesItsItemsThenTheProject) {
  fs_.AddFile("/ws/alpha/coderef/working/a/plan.json", Plan("x"));
  Make();
  fs_.WriteFile("/ws/projects.json", R"({"projects":[]})");
  backend_.Emit(RawEvent::Type::kChanged, "/ws/projects.json");
  EXPECT_EQ(Step(), (std::vector<std::string>{"plan_deleted coderef/working/a/plan.json", "project_removed "}));
  EXPECT_EQ(core_->state().size(), 0u);
  EXPECT_FALSE(backend_.dirs.count("/ws/alpha/coderef/working/a"));
}

TEST_F(CoreTest, WatchLimitFailuresAreRetriedAndRescanned) {
  backend_.limit = 3;  // /ws, /ws/alpha, coderef: nothing deeper
  fs_.AddFile("/ws/alpha/coderef/working/a/plan.json", Plan("x"));
  Make();
  EXPECT_TRUE(core_->has_failed_watches());
  EXPECT_EQ(core_->state().size(), 2u) << "the initial scan still reads everything";
  fs_.WriteFile("/ws/alpha/coderef/working/a/plan.json", Plan("y"));  // no event: no watch
  EXPECT_TRUE(core_->RetryFailedWatches());
  auto events = core_->Flush();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].item().plan().status(), "y");
}

TEST_F(CoreTest, LargeFileIsPublishedWithoutItsText) {
  fs_.AddFile("/ws/alpha/coderef/working/a/plan.json",
              "{\"META_DOCUMENTATION\":{\"status\":\"big\"},\"pad\":\"" + std::string(200, 'x') + "\"}");
  Make();
  const v1::Item* item = nullptr;
  core_->state().ForEach("plan/", [&](const v1::Item& it) {
    item = &it;
    return false;
  });
  ASSERT_NE(item, nullptr);
  EXPECT_TRUE(item->text_omitted());
  EXPECT_TRUE(item->text().empty());
  EXPECT_EQ(item->plan().status(), "big");
}

TEST(Batcher, SettlesAfterQuietAndCapsAtMaxAge) {
  FakeClock clock;
  Batcher b(100ms, 500ms);
  EXPECT_FALSE(b.open());
  b.OnChange(clock.Now(), clock.UnixMicros());
  EXPECT_TRUE(b.open());
  clock.Advance(99ms);
  EXPECT_FALSE(b.Due(clock.Now()));
  clock.Advance(1ms);
  EXPECT_TRUE(b.Due(clock.Now()));
  b.Reset();
  // Continuous churn: a change every 50 ms never settles, but the batch is
  // due 500 ms after its first change.
  auto first = clock.Now();
  int64_t first_us = clock.UnixMicros();
  for (int i = 0; i < 20; ++i) {
    b.OnChange(clock.Now(), clock.UnixMicros());
    if (b.Due(clock.Now())) break;
    clock.Advance(50ms);
  }
  EXPECT_EQ(b.Deadline() - first, 500ms);
  EXPECT_EQ(b.first_change_unix_us(), first_us);
}

TEST(PollBackend, ReportsCreateChangeReplaceAndDelete) {
  FakeFileSystem fs;
  fs.AddFile("/d/a.json", "1");
  PollBackend pb(fs, 100);
  int err = 0;
  ASSERT_TRUE(pb.AddWatch("/d", false, &err));
  std::vector<RawEvent> ev;
  pb.ReadEvents(&ev);
  EXPECT_TRUE(ev.empty());
  fs.WriteFile("/d/a.json", "22");
  fs.AddFile("/d/b.json", "x");
  fs.MkDir("/d/sub");
  pb.ReadEvents(&ev);
  std::set<std::string> got;
  for (const auto& e : ev) got.insert(std::to_string(static_cast<int>(e.type)) + e.name + (e.is_dir ? "/" : ""));
  EXPECT_EQ(got, (std::set<std::string>{"0a.json", "1b.json", "1sub/"}));
  ev.clear();
  fs.AddFile("/d/a.json", "replaced");  // new inode: delete + create
  fs.Remove("/d/b.json");
  pb.ReadEvents(&ev);
  got.clear();
  for (const auto& e : ev) got.insert(std::to_string(static_cast<int>(e.type)) + e.name);
  EXPECT_EQ(got, (std::set<std::string>{"2a.json", "1a.json", "2b.json"}));
  ev.clear();
  fs.Remove("/d/sub");
  fs.Remove("/d/a.json");
  fs.Remove("/d");
  pb.ReadEvents(&ev);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].type, RawEvent::Type::kSelfGone);
  EXPECT_EQ(pb.watch_count(), 0u);
}

}  // namespace
}  // namespace coderef::watcher
