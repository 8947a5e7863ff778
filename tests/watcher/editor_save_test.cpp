// Black-box tests of how editors and tools really save (PROTOCOL §1:
// classification, "Early flush of complete writes", "No torn reads"): the
// real watcher-svc, real files written with the same system calls the tools
// use, real inotify, a real ZeroMQ subscriber. Each asserts exactly the
// events the contract gives and that no file valid when closed is ever
// published with valid: false. No sleeps to settle: a test waits for the
// events it expects, then for a marker file's event, so anything extra the
// action caused shows up in between.
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "watcher_harness.h"

namespace coderef::testing {
namespace {

using namespace std::chrono_literals;

std::string Plan(const std::string& feature, const std::string& status, size_t pad = 0) {
  return "{\"META_DOCUMENTATION\":{\"feature_name\":\"" + feature + "\",\"status\":\"" + status +
         "\"},\"pad\":\"" + std::string(pad, 'p') + "\"}";
}

// open(O_TRUNC) / write / close: an in-place save.
void WriteInPlace(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0) << path;
  ASSERT_EQ(::write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  ASSERT_EQ(::close(fd), 0);
}

int Sh(const std::string& cmd) { return std::system(cmd.c_str()); }

class EditorSaveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(ws_ / "alpha/coderef/working");
    fs::create_directories(ws_ / "alpha/coderef/archived");
    WriteFileText(ws_ / "projects.json", R"({"projects":[{"name":"Alpha","path":"alpha","id":"alpha"}]})");
  }
  void Start(std::vector<std::string> extra = {}) {
    watcher_ = std::make_unique<WatcherUnderTest>(ws_ / "projects.json", extra);
    ASSERT_TRUE(watcher_->started()) << watcher_->proc().Log();
    probe_ = std::make_unique<FeedProbe>(watcher_->pub(), watcher_->snapshot());
    ASSERT_TRUE(probe_->WaitConnected()) << "no heartbeat on the feed";
  }
  std::string P(const std::string& rel) { return ws_ / ("alpha/" + rel); }

  // Waits for `n` events, then writes a marker in a feature of its own and
  // waits for its event. Returns "type path" of every event before the
  // marker (sorted), and checks the invariants every event must hold.
  std::multiset<std::string> Expect(size_t n, std::chrono::milliseconds timeout = 10000ms) {
    size_t before = probe_->events().size();
    probe_->CollectEvents(before + n, timeout);
    std::string marker = "coderef/working/zz-marker" + std::to_string(markers_++) + "/stub.json";
    WriteInPlace(P(marker), R"({"feature_name":"m"})");
    std::multiset<std::string> got;
    bool seen = false;
    auto end = Clock::now() + timeout;
    while (!seen && Clock::now() < end) {
      auto& ev = probe_->CollectEvents(probe_->events().size() + 1, 200ms);
      for (size_t i = before; i < ev.size(); ++i) {
        if (ev[i].file_path() == marker) seen = true;
      }
    }
    EXPECT_TRUE(seen) << "the marker's event never came";
    const auto& ev = probe_->events();
    for (size_t i = before; i < ev.size(); ++i) {
      EXPECT_EQ(ev[i].seq(), i + 1) << "seq gap-free";
      if (ev[i].has_item()) {
        EXPECT_TRUE(ev[i].item().valid()) << ev[i].file_path() << " published invalid: "
                                          << ev[i].item().parse_error();
      }
      if (ev[i].file_path() == marker) continue;
      got.insert(TypeName(ev[i]) + " " + ev[i].file_path());
    }
    return got;
  }
  // Latency of the last event carrying `path`: publish time minus the
  // batch's first change (both stamped by the watcher).
  int64_t DelayMs(const std::string& path) {
    for (auto it = probe_->events().rbegin(); it != probe_->events().rend(); ++it)
      if (it->file_path() == path) return (it->published_us() - it->first_change_us()) / 1000;
    return -1;
  }
  const v1::ChangeEvent* Last(const std::string& path) {
    for (auto it = probe_->events().rbegin(); it != probe_->events().rend(); ++it)
      if (it->file_path() == path) return &*it;
    return nullptr;
  }

  TempDir ws_;
  std::unique_ptr<WatcherUnderTest> watcher_;
  std::unique_ptr<FeedProbe> probe_;
  int markers_ = 0;
};

using Events = std::multiset<std::string>;
const std::string kPlan = "coderef/working/f/plan.json";

// open(O_TRUNC), write in two pieces `gap` apart (a serializer writing as
// it goes, as json.dump does), close.
void WriteInTwoPieces(const std::string& path, const std::string& text, std::chrono::milliseconds gap) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0) << path;
  size_t half = text.size() / 2;
  ASSERT_EQ(::write(fd, text.data(), half), static_cast<ssize_t>(half));
  std::this_thread::sleep_for(gap);  // the writer serializing, file open
  ASSERT_EQ(::write(fd, text.data() + half, text.size() - half), static_cast<ssize_t>(text.size() - half));
  ASSERT_EQ(::close(fd), 0);
}

// Three plan.json rewritten in place every 50 ms for 3 s: the watcher must
// never publish a read taken between the truncate and the end of the write
// (the torn read measured before this contract point: status "unknown",
// valid: false). Every file's final state still arrives.
void Churn(FeedProbe* probe, const std::function<std::string(const std::string&)>& P,
           std::chrono::milliseconds gap) {
  const std::vector<std::string> names{"churn-a", "churn-b", "churn-c"};
  std::map<std::string, std::string> last;
  auto end = Clock::now() + 3000ms;
  for (int i = 1; Clock::now() < end; ++i) {
    for (const auto& n : names) {
      std::string status = "s" + std::to_string(i);
      if (gap.count() > 0) WriteInTwoPieces(P("coderef/working/" + n + "/plan.json"), Plan(n, status, 2000), gap);
      else WriteInPlace(P("coderef/working/" + n + "/plan.json"), Plan(n, status, 2000));
      last["coderef/working/" + n + "/plan.json"] = status;
    }
    std::this_thread::sleep_for(50ms);  // the writer's pace, not a settle wait
  }
  auto last_event = [&](const std::string& path) -> const v1::ChangeEvent* {
    for (auto it = probe->events().rbegin(); it != probe->events().rend(); ++it)
      if (it->file_path() == path) return &*it;
    return nullptr;
  };
  ASSERT_TRUE(WaitFor([&] {
    probe->CollectEvents(probe->events().size() + 1, 50ms);
    for (const auto& [path, status] : last) {
      const v1::ChangeEvent* e = last_event(path);
      if (!e || e->item().plan().status() != status) return false;
    }
    return true;
  })) << "the final writes never arrived";
  size_t n = 0;
  for (const auto& e : probe->events()) {
    ASSERT_EQ(TypeName(e), "plan_updated");
    EXPECT_TRUE(e.item().valid()) << "torn read published: " << e.file_path() << " "
                                  << e.item().parse_error();
    EXPECT_NE(e.item().plan().status(), "unknown") << e.file_path();
    ++n;
  }
  EXPECT_GT(n, 3u * 5) << "churn must not be held back to one batch at the end";
}

TEST_F(EditorSaveTest, InPlaceChurnNeverPublishesATornRead) {
  for (const char* n : {"churn-a", "churn-b", "churn-c"})
    WriteInPlace(P(std::string("coderef/working/") + n + "/plan.json"), Plan(n, "s0", 2000));
  Start();
  Churn(probe_.get(), [&](const std::string& rel) { return P(rel); }, 0ms);
}

// The same churn with each write spread over 5 ms while the file is open:
// the window a read must not fall into is wide (fails reliably on a watcher
// that reads whatever is on disk when its batch is due).
TEST_F(EditorSaveTest, SerializingChurnNeverPublishesATornRead) {
  for (const char* n : {"churn-a", "churn-b", "churn-c"})
    WriteInPlace(P(std::string("coderef/working/") + n + "/plan.json"), Plan(n, "s0", 2000));
  Start();
  Churn(probe_.get(), [&](const std::string& rel) { return P(rel); }, 5ms);
}

TEST_F(EditorSaveTest, InPlaceWriteIsOneUpdateWellBeforeTheSettleWindow) {
  WriteInPlace(P(kPlan), Plan("f", "a"));
  Start({"--settle-ms", "1000", "--debounce-ms", "2000"});
  WriteInPlace(P(kPlan), Plan("f", "b"));
  EXPECT_EQ(Expect(1), (Events{"plan_updated " + kPlan}));
  EXPECT_EQ(Last(kPlan)->item().plan().status(), "b");
  EXPECT_LT(DelayMs(kPlan), 500) << "a closed write must not wait the 1000 ms settle window";
}

TEST_F(EditorSaveTest, TempFileAndRenameIsOneUpdateWellBeforeTheSettleWindow) {
  WriteInPlace(P(kPlan), Plan("f", "a"));
  Start({"--settle-ms", "1000", "--debounce-ms", "2000"});
  WriteInPlace(P("coderef/working/f/.plan.json.tmp-123"), Plan("f", "b"));
  fs::rename(P("coderef/working/f/.plan.json.tmp-123"), P(kPlan));
  EXPECT_EQ(Expect(1), (Events{"plan_updated " + kPlan}));
  EXPECT_EQ(Last(kPlan)->item().plan().status(), "b");
  EXPECT_LT(DelayMs(kPlan), 500) << "a rename into place must not wait the 1000 ms settle window";
}

TEST_F(EditorSaveTest, VimRenameAsideWriteNewUnlinkBackupIsOneUpdate) {
  WriteInPlace(P(kPlan), Plan("f", "a"));
  Start();
  fs::rename(P(kPlan), P(kPlan + "~"));
  WriteInPlace(P(kPlan), Plan("f", "b"));
  fs::remove(P(kPlan + "~"));
  EXPECT_EQ(Expect(1), (Events{"plan_updated " + kPlan}));
  EXPECT_EQ(Last(kPlan)->item().plan().status(), "b");
}

TEST_F(EditorSaveTest, UnlinkAndRecreateIsOneUpdate) {
  WriteInPlace(P(kPlan), Plan("f", "a"));
  Start();
  fs::remove(P(kPlan));
  WriteInPlace(P(kPlan), Plan("f", "b"));
  EXPECT_EQ(Expect(1), (Events{"plan_updated " + kPlan}));
  EXPECT_EQ(Last(kPlan)->item().plan().status(), "b");
}

// 256 KiB in 4 KiB pieces, pausing while the file is open: longer than the
// settle window and the debounce cap. Held until closed, then one event.
TEST_F(EditorSaveTest, SlowWriterIsPublishedOnceWhenClosed) {
  Start();
  std::string text = Plan("f", "slow", 256 * 1024 - Plan("f", "slow").size());
  ASSERT_EQ(text.size(), 256u * 1024);
  fs::create_directories(P("coderef/working/f"));
  int fd = ::open(P(kPlan).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  for (size_t at = 0; at < text.size(); at += 4096) {
    ASSERT_EQ(::write(fd, text.data() + at, 4096), 4096);
    std::this_thread::sleep_for(12ms);  // the writer's pace: ~770 ms open in all
    if (at == 128 * 1024) {
      // Half written: the watcher holds the file (dirty, no batch open).
      std::string hz;
      EXPECT_TRUE(WaitFor([&] {
        hz = HttpGet(watcher_->http_port(), "/healthz");
        return hz.find("\"dirty_files\":1") != std::string::npos &&
               hz.find("\"batch_open\":false") != std::string::npos;
      }, 2000ms)) << hz;
    }
  }
  ASSERT_EQ(::close(fd), 0);
  EXPECT_EQ(Expect(1), (Events{"plan_added " + kPlan}));
  EXPECT_EQ(Last(kPlan)->item().plan().status(), "slow");
}

TEST_F(EditorSaveTest, GitCheckoutOf200ChangedPlansIsOneUpdateEach) {
  std::string repo = P("");
  const int kPlans = 200;
  auto write_all = [&](const std::string& status) {
    for (int i = 0; i < kPlans; ++i)
      WriteFileText(P("coderef/working/g" + std::to_string(i) + "/plan.json"),
                    Plan("g" + std::to_string(i), status));
  };
  std::string git = "git -C '" + repo + "' -c user.email=t@t -c user.name=t -c init.defaultBranch=one ";
  write_all("one");
  ASSERT_EQ(Sh(git + "init -q && " + git + "add -A && " + git + "commit -qm one"), 0);
  ASSERT_EQ(Sh(git + "checkout -qb two"), 0);
  write_all("two");
  ASSERT_EQ(Sh(git + "commit -qam two && " + git + "checkout -q one"), 0);
  Start();
  for (const std::string branch : {"two", "one"}) {
    ASSERT_EQ(Sh(git + "checkout -q " + branch), 0);
    Events want;
    for (int i = 0; i < kPlans; ++i)
      want.insert("plan_updated coderef/working/g" + std::to_string(i) + "/plan.json");
    EXPECT_EQ(Expect(kPlans), want) << branch;
    for (int i = 0; i < kPlans; ++i) {
      const auto* e = Last("coderef/working/g" + std::to_string(i) + "/plan.json");
      ASSERT_NE(e, nullptr);
      EXPECT_EQ(e->item().plan().status(), branch);
    }
  }
}

TEST_F(EditorSaveTest, CopyOfAFeatureFolderIsItsFilesAdded) {
  WriteInPlace(P(kPlan), Plan("f", "a"));
  Start();
  WriteInPlace(P("coderef/working/f/stub.json"), R"({"feature_name":"f"})");
  EXPECT_EQ(Expect(1), (Events{"stub_added coderef/working/f/stub.json"}));
  ASSERT_EQ(Sh("cp -r '" + P("coderef/working/f") + "' '" + P("coderef/working/f-copy") + "'"), 0);
  EXPECT_EQ(Expect(2), (Events{"plan_added coderef/working/f-copy/plan.json",
                               "stub_added coderef/working/f-copy/stub.json"}));
}

// A feature folder made elsewhere and moved in (or made and saved into
// before the watcher's watch on it lands): its plan.json was closed before
// any event could say so. Nobody has it open for writing, so it counts as
// complete: out in the quiet window, not the 1000 ms settle window.
TEST_F(EditorSaveTest, FolderMovedInWithAClosedPlanIsAddedWellBeforeTheSettleWindow) {
  WriteInPlace(P(kPlan), Plan("f", "a"));
  Start({"--settle-ms", "1000", "--debounce-ms", "2000"});
  WriteInPlace(ws_ / "staging/g/plan.json", Plan("g", "new"));
  fs::rename(ws_ / "staging/g", P("coderef/working/g"));
  EXPECT_EQ(Expect(1), (Events{"plan_added coderef/working/g/plan.json"}));
  EXPECT_EQ(Last("coderef/working/g/plan.json")->item().plan().status(), "new");
  EXPECT_LT(DelayMs("coderef/working/g/plan.json"), 500)
      << "a closed file in a folder moved in must not wait the 1000 ms settle window";
}

// The same with the plan still open for writing, half written, when its
// folder moves in: held (never published half-written) until it is closed,
// then one plan_added with the whole content.
TEST_F(EditorSaveTest, FolderMovedInWhileItsPlanIsBeingWrittenIsHeldUntilClosed) {
  Start({"--max-hold-ms", "10000"});
  fs::create_directories(ws_ / "staging/h");
  const std::string text = Plan("h", "whole", 4096);
  int fd = ::open((ws_ / "staging/h/plan.json").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  const size_t half = text.size() / 2;
  ASSERT_EQ(::write(fd, text.data(), half), static_cast<ssize_t>(half));
  fs::rename(ws_ / "staging/h", P("coderef/working/h"));
  // A later change (the marker) goes out; the half-written plan does not.
  EXPECT_EQ(Expect(0), Events{}) << "a file still open for writing was published";
  ASSERT_EQ(::write(fd, text.data() + half, text.size() - half), static_cast<ssize_t>(text.size() - half));
  ASSERT_EQ(::close(fd), 0);
  EXPECT_EQ(Expect(1), (Events{"plan_added coderef/working/h/plan.json"}));
  EXPECT_EQ(Last("coderef/working/h/plan.json")->item().plan().status(), "whole");
}

TEST_F(EditorSaveTest, MoveBetweenWorkingAndArchivedIsDeleteAndAddBothWays) {
  WriteInPlace(P("coderef/working/f/plan.json"), Plan("f", "a"));
  WriteInPlace(P("coderef/working/f/stub.json"), R"({"feature_name":"f"})");
  Start();
  ASSERT_EQ(Sh("mv '" + P("coderef/working/f") + "' '" + P("coderef/archived/f") + "'"), 0);
  EXPECT_EQ(Expect(4), (Events{"plan_deleted coderef/working/f/plan.json", "stub_deleted coderef/working/f/stub.json",
                               "plan_added coderef/archived/f/plan.json", "stub_added coderef/archived/f/stub.json"}));
  EXPECT_EQ(Last("coderef/archived/f/plan.json")->location(), "archived");
  ASSERT_EQ(Sh("mv '" + P("coderef/archived/f") + "' '" + P("coderef/working/f") + "'"), 0);
  EXPECT_EQ(Expect(4), (Events{"plan_deleted coderef/archived/f/plan.json", "stub_deleted coderef/archived/f/stub.json",
                               "plan_added coderef/working/f/plan.json", "stub_added coderef/working/f/stub.json"}));
}

}  // namespace
}  // namespace coderef::testing
