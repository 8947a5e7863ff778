// Unit tests of completion-aware batching and of holding files being
// written (PROTOCOL §1: "Early flush of complete writes", "No torn
// reads"): DirtyFiles, Batcher's quiet window, the core's holds and its
// read-then-drain check, and the poll backend's "same size and mtime on two
// polls". Fake clock, fake file system, fake backend: no threads, no sleeps.
#include <gtest/gtest.h>

#include "common/names.h"
#include "fake_backend.h"
#include "fake_file_system.h"
#include "watcher-svc/batcher.h"
#include "watcher-svc/dirty_files.h"
#include "watcher-svc/poll_backend.h"
#include "watcher-svc/watcher_core.h"

namespace coderef::watcher {
namespace {

using namespace std::chrono_literals;

constexpr const char* kA = "/ws/alpha/coderef/working/a/plan.json";
constexpr const char* kB = "/ws/alpha/coderef/working/b/plan.json";

TEST(DirtyFiles, CloseAfterWriteCompletesAndReleasesTheHold) {
  FakeClock clock;
  DirtyFiles d(2000ms);
  d.Mark(kA, Completion::kInProgress, false, true, clock.Now());  // IN_CREATE
  d.Mark(kA, Completion::kInProgress, false, true, clock.Now());  // IN_MODIFY
  EXPECT_FALSE(d.AllComplete());
  EXPECT_TRUE(d.IsHeld(kA, clock.Now()));
  EXPECT_FALSE(d.HasReady(clock.Now()));
  EXPECT_TRUE(d.Take(clock.Now()).empty()) << "a file being written is not read";
  d.Mark(kA, Completion::kUnknown, false, true, clock.Now());  // IN_ATTRIB says nothing
  EXPECT_TRUE(d.IsHeld(kA, clock.Now()));
  d.Mark(kA, Completion::kComplete, false, true, clock.Now());  // IN_CLOSE_WRITE
  EXPECT_TRUE(d.AllComplete());
  EXPECT_TRUE(d.HasReady(clock.Now()));
  EXPECT_EQ(d.NextHoldExpiry(), SteadyTime::max());
  EXPECT_EQ(d.Take(clock.Now()), std::vector<std::string>{kA});
  EXPECT_TRUE(d.empty());
  EXPECT_FALSE(d.AllComplete()) << "an empty set is not a complete batch";
}

TEST(DirtyFiles, ARemovalKeepsTheBatchIncompleteUntilTaken) {
  FakeClock clock;
  DirtyFiles d(2000ms);
  d.Mark(kA, Completion::kUnknown, true, true, clock.Now());        // moved aside (vim)
  d.Mark(kA, Completion::kInProgress, false, true, clock.Now());    // new file written
  d.Mark(kA, Completion::kComplete, false, true, clock.Now());      // and closed
  EXPECT_FALSE(d.AllComplete()) << "a batch holding a removal waits for the settle window";
  EXPECT_EQ(d.Take(clock.Now()).size(), 1u);
  d.Mark(kB, Completion::kComplete, false, true, clock.Now());
  EXPECT_TRUE(d.AllComplete()) << "the removal flag belongs to the batch that was taken";
}

TEST(DirtyFiles, HoldRunsOutMaxHoldAfterTheFirstChange) {
  FakeClock clock;
  DirtyFiles d(2000ms);
  d.Mark(kA, Completion::kInProgress, false, true, clock.Now());
  SteadyTime first = clock.Now();
  clock.Advance(1500ms);
  d.Mark(kA, Completion::kInProgress, false, true, clock.Now());  // still writing
  d.Mark(kB, Completion::kComplete, false, true, clock.Now());
  EXPECT_EQ(d.NextHoldExpiry(), first + 2000ms) << "counted from the first change, not the last";
  std::vector<std::string> expired;
  EXPECT_EQ(d.Take(clock.Now(), &expired), std::vector<std::string>{kB});
  EXPECT_TRUE(expired.empty());
  clock.Advance(499ms);
  EXPECT_FALSE(d.HasReady(clock.Now()));
  clock.Advance(1ms);
  EXPECT_TRUE(d.HasReady(clock.Now()));
  EXPECT_EQ(d.Take(clock.Now(), &expired), std::vector<std::string>{kA});
  EXPECT_EQ(expired, std::vector<std::string>{kA});
  EXPECT_EQ(d.NextHoldExpiry(), SteadyTime::max());
}

TEST(DirtyFiles, AWriteAfterACloseStartsANewHold) {
  FakeClock clock;
  DirtyFiles d(2000ms);
  d.Mark(kA, Completion::kInProgress, false, true, clock.Now());
  d.Mark(kB, Completion::kInProgress, false, true, clock.Now());
  clock.Advance(1900ms);
  d.Mark(kA, Completion::kComplete, false, true, clock.Now());     // closed
  d.Mark(kA, Completion::kInProgress, false, true, clock.Now());   // and truncated again
  clock.Advance(100ms);
  std::vector<std::string> expired;
  EXPECT_EQ(d.Take(clock.Now(), &expired), std::vector<std::string>{kB})
      << "kA's current write began 100 ms ago: still held";
  EXPECT_TRUE(d.IsHeld(kA, clock.Now()));
  EXPECT_EQ(d.NextHoldExpiry(), clock.Now() + 1900ms);
}

TEST(DirtyFiles, FoundByScanThenWrittenIsHeldFromTheWrite) {
  FakeClock clock;
  DirtyFiles d(2000ms);
  d.MarkFound(kA);
  EXPECT_FALSE(d.AllComplete()) << "a scanned file's completion is unknown";
  EXPECT_TRUE(d.HasReady(clock.Now()));
  d.Mark(kA, Completion::kInProgress, false, true, clock.Now());
  EXPECT_TRUE(d.IsHeld(kA, clock.Now()));
  EXPECT_EQ(d.NextHoldExpiry(), clock.Now() + 2000ms);
}

TEST(DirtyFiles, ALogBeingWrittenIsNotHeldButNotCompleteEither) {
  FakeClock clock;
  DirtyFiles d(2000ms);
  d.Mark("/ws/log.txt", Completion::kInProgress, false, false, clock.Now());
  EXPECT_FALSE(d.IsHeld("/ws/log.txt", clock.Now()));
  EXPECT_FALSE(d.AllComplete());
  EXPECT_EQ(d.Take(clock.Now()).size(), 1u);
}

TEST(Batcher, ACompleteBatchFlushesAfterQuiet) {
  FakeClock clock;
  Batcher b(100ms, 500ms, 10ms);
  b.OnChange(clock.Now(), clock.UnixMicros(), true);
  clock.Advance(9ms);
  EXPECT_FALSE(b.Due(clock.Now()));
  clock.Advance(1ms);
  EXPECT_TRUE(b.Due(clock.Now()));
  b.Reset();
  EXPECT_FALSE(b.complete());
  // An in-progress change revokes the early flush: the settle window again.
  b.OnChange(clock.Now(), clock.UnixMicros(), true);
  clock.Advance(5ms);
  b.OnChange(clock.Now(), clock.UnixMicros(), false);
  clock.Advance(50ms);
  EXPECT_FALSE(b.Due(clock.Now()));
  EXPECT_EQ(b.Deadline(), clock.Now() + 50ms);
  // ...until the write completes: then quiet counts from that change.
  b.OnChange(clock.Now(), clock.UnixMicros(), true);
  EXPECT_EQ(b.Deadline(), clock.Now() + 10ms);
  // Continuous complete writes every 5 ms never go quiet; the batch is
  // still due max_age after its first change.
  b.Reset();
  auto first = clock.Now();
  for (int i = 0; i < 200 && !b.Due(clock.Now()); ++i) {
    b.OnChange(clock.Now(), clock.UnixMicros(), true);
    clock.Advance(5ms);
  }
  EXPECT_EQ(b.Deadline(), first + 500ms);
}

std::string Plan(const std::string& status) {
  return "{\"META_DOCUMENTATION\":{\"status\":\"" + status + "\"}}";
}

class HoldTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs_.AddFile("/ws/projects.json", R"({"projects":[{"name":"Alpha","path":"alpha"}]})");
    fs_.MkDir("/ws/alpha/coderef/working/a");
    WatcherOptions o;
    o.projects_file = "/ws/projects.json";
    o.max_hold = 2000ms;
    core_ = std::make_unique<WatcherCore>(o, fs_, backend_, WatcherMetrics{});
    core_->Start(clock_.Now());
  }
  // Hands queued backend events to the core (as the loop does on POLLIN).
  void Deliver() {
    std::vector<RawEvent> raw;
    backend_.ReadEvents(&raw);
    core_->OnRawEvents(raw, clock_.Now());
  }
  std::vector<std::string> Flush() {
    std::vector<std::string> out;
    for (const auto& e : core_->Flush(clock_.Now())) {
      std::string s = std::string(EventTypeName(e.type())) + " " + e.file_path();
      if (e.has_item()) s += e.item().valid() ? " valid" : " invalid";
      out.push_back(s);
    }
    return out;
  }
  // kA published ("x"), then rewritten in place ("y") and closed: the
  // batch is complete and due.
  void PublishThenCloseASecondWrite() {
    fs_.AddFile(kA, Plan("x"));
    backend_.EmitMovedTo(kA);
    Deliver();
    ASSERT_EQ(Flush().size(), 1u);
    fs_.WriteFile(kA, Plan("y"));
    backend_.EmitModify(kA);
    backend_.EmitClose(kA);
    Deliver();
    ASSERT_TRUE(core_->batch_complete());
  }
  FakeClock clock_;
  FakeFileSystem fs_;
  FakeBackend backend_;
  std::unique_ptr<WatcherCore> core_;
};

TEST_F(HoldTest, AFileBeingWrittenIsHeldUntilClosed) {
  fs_.WriteFile(kA, "{\"META_DOC");  // created, half written
  backend_.EmitCreate(kA);
  backend_.EmitModify(kA);
  Deliver();
  EXPECT_FALSE(core_->batch_complete());
  EXPECT_FALSE(core_->ready(clock_.Now())) << "nothing to flush while the only file is held";
  EXPECT_EQ(core_->next_hold_expiry(), clock_.Now() + 2000ms);
  EXPECT_TRUE(Flush().empty());
  fs_.WriteFile(kA, Plan("x"));
  backend_.EmitModify(kA);
  backend_.EmitClose(kA);
  clock_.Advance(30ms);
  Deliver();
  EXPECT_TRUE(core_->batch_complete());
  EXPECT_TRUE(core_->ready(clock_.Now()));
  EXPECT_EQ(Flush(), std::vector<std::string>{"plan_added coderef/working/a/plan.json valid"});
  EXPECT_FALSE(core_->dirty());
}

TEST_F(HoldTest, AWriterThatNeverClosesIsPublishedAsItIsAfterMaxHold) {
  fs_.WriteFile(kA, "{\"partial\":");
  backend_.EmitCreate(kA);
  Deliver();
  clock_.Advance(1999ms);
  backend_.EmitModify(kA);
  Deliver();
  EXPECT_TRUE(Flush().empty());
  EXPECT_EQ(core_->next_hold_expiry(), clock_.Now() + 1ms);
  clock_.Advance(1ms);
  EXPECT_TRUE(core_->ready(clock_.Now()));
  EXPECT_EQ(Flush(), std::vector<std::string>{"plan_added coderef/working/a/plan.json invalid"});
}

TEST_F(HoldTest, RenameIntoPlaceIsCompleteAndADeletionIsNot) {
  fs_.AddFile(kA, Plan("x"));
  backend_.EmitMovedTo(kA);
  Deliver();
  EXPECT_TRUE(core_->batch_complete());
  EXPECT_EQ(Flush().size(), 1u);
  fs_.Remove(kA);
  backend_.EmitRemoved(kA);
  Deliver();
  EXPECT_FALSE(core_->batch_complete()) << "a removal may be half of a replace: settle window";
  // vim: moved aside, new file written and closed, backup removed: one update.
  fs_.AddFile(kA, Plan("y"));
  backend_.EmitCreate(kA);
  backend_.EmitModify(kA);
  backend_.EmitClose(kA);
  Deliver();
  EXPECT_FALSE(core_->batch_complete());
  EXPECT_EQ(Flush(), std::vector<std::string>{"plan_updated coderef/working/a/plan.json valid"});
  // A new folder is found by a scan: completion unknown, settle window.
  fs_.AddFile(kB, Plan("b"));
  backend_.Emit(RawEvent::Type::kCreated, DirName(kB), true);
  Deliver();
  EXPECT_FALSE(core_->batch_complete());
  EXPECT_EQ(Flush(), std::vector<std::string>{"plan_added coderef/working/b/plan.json valid"});
}

TEST_F(HoldTest, AReadThatRacedATruncateIsNotPublished) {
  ASSERT_NO_FATAL_FAILURE(PublishThenCloseASecondWrite());
  // The writer closes (complete), the loop decides to flush, and the writer
  // truncates again before the read: the core reads "" but the events of
  // that truncate are queued by the time it drains after reading.
  fs_.WriteFile(kA, "");
  backend_.EmitModify(kA);
  EXPECT_TRUE(Flush().empty()) << "the torn read must not reach the feed";
  EXPECT_TRUE(core_->dirty());
  EXPECT_FALSE(core_->ready(clock_.Now())) << "held again: being written";
  fs_.WriteFile(kA, Plan("z"));
  backend_.EmitModify(kA);
  backend_.EmitClose(kA);
  Deliver();
  EXPECT_EQ(Flush(), std::vector<std::string>{"plan_updated coderef/working/a/plan.json valid"});
}

// The interleaving seen on a loaded machine (EditorSaveTest.Serializing-
// ChurnNeverPublishesATornRead): the write closed (IN_CLOSE_WRITE read),
// the writer opens the file again with O_TRUNC, and the core reads the
// empty file before the kernel has queued the truncate's IN_MODIFY (it
// does so after the new size is visible), so the drain after the read
// finds nothing. The file system's open-for-writing report must hold it.
TEST_F(HoldTest, AReadBeforeTheTruncatesEventIsQueuedIsNotPublished) {
  ASSERT_NO_FATAL_FAILURE(PublishThenCloseASecondWrite());
  // The writer closes (complete), the loop decides to flush, and the writer
  // opens it with O_TRUNC: the core reads before that event is queued.
  fs_.WriteFile(kA, "");  // open(O_TRUNC): no event queued yet
  fs_.SetOpenForWriting(kA, true);
  EXPECT_TRUE(Flush().empty()) << "the empty file of a write in progress must not reach the feed";
  EXPECT_TRUE(core_->dirty());
  EXPECT_FALSE(core_->ready(clock_.Now())) << "held: being written";
  EXPECT_EQ(core_->next_hold_expiry(), clock_.Now() + 2000ms);
  // The truncate's and the write's events arrive, then the close.
  fs_.WriteFile(kA, Plan("z"));
  fs_.SetOpenForWriting(kA, false);
  backend_.EmitModify(kA);
  backend_.EmitClose(kA);
  clock_.Advance(10ms);
  Deliver();
  EXPECT_TRUE(core_->ready(clock_.Now()));
  EXPECT_EQ(Flush(), std::vector<std::string>{"plan_updated coderef/working/a/plan.json valid"});
}

// A writer that keeps the file open is still published after --max-hold-ms
// (as it is), however often the open-for-writing check holds it again.
TEST_F(HoldTest, AFileKeptOpenForWritingIsPublishedAfterMaxHold) {
  fs_.AddFile(kA, Plan("x"));
  fs_.SetOpenForWriting(kA, true);
  backend_.EmitMovedTo(kA);
  Deliver();
  EXPECT_TRUE(Flush().empty());
  EXPECT_FALSE(core_->ready(clock_.Now()));
  clock_.Advance(2000ms);
  ASSERT_TRUE(core_->ready(clock_.Now()));
  EXPECT_EQ(Flush(), std::vector<std::string>{"plan_added coderef/working/a/plan.json valid"});
  EXPECT_FALSE(core_->dirty());
}

TEST_F(HoldTest, ChangedDuringTheReadGoesOutWithTheNextBatch) {
  fs_.AddFile(kA, Plan("x"));
  backend_.EmitMovedTo(kA);
  Deliver();
  // The change lands while the core reads (the drain after the read sees
  // it): the read is dropped, the file stays dirty and complete.
  backend_.on_read = [&] {
    backend_.on_read = nullptr;
    fs_.AddFile(kA, Plan("y"));
    backend_.EmitMovedTo(kA);
  };
  EXPECT_TRUE(Flush().empty());
  EXPECT_TRUE(core_->ready(clock_.Now()));
  EXPECT_TRUE(core_->batch_complete());
  EXPECT_EQ(Flush(), std::vector<std::string>{"plan_added coderef/working/a/plan.json valid"});
}

TEST(PollBackend, AFileIsCompleteWhenSizeAndMtimeHoldForTwoPolls) {
  FakeFileSystem fs;
  fs.AddFile("/d/plan.json", "1");
  PollBackend pb(fs, 100);
  int err = 0;
  ASSERT_TRUE(pb.AddWatch("/d", false, &err));
  std::vector<RawEvent> ev;
  fs.WriteFile("/d/plan.json", "12");
  pb.ReadEvents(&ev);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].completion, Completion::kInProgress);
  ev.clear();
  fs.WriteFile("/d/plan.json", "123");  // still growing
  pb.ReadEvents(&ev);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].completion, Completion::kInProgress);
  ev.clear();
  pb.ReadEvents(&ev);  // unchanged since the last poll: complete
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].type, RawEvent::Type::kChanged);
  EXPECT_EQ(ev[0].completion, Completion::kComplete);
  ev.clear();
  pb.ReadEvents(&ev);
  EXPECT_TRUE(ev.empty()) << "reported complete once";
}

}  // namespace
}  // namespace coderef::watcher
