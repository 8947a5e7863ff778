// DurableState, RestartDiff and MemoryHistory (watcher-svc): the restart
// decisions and the diff of what changed while down, over the real LevelDB
// store in a temp folder (FaultEnv for a disk that fails while running).
#include "watcher-svc/durable_state.h"

#include <gtest/gtest.h>

#include <leveldb/db.h>

#include <filesystem>

#include "common/names.h"
#include "tests/watcher/fault_env.h"
#include "watcher-svc/differ.h"
#include "watcher-svc/restart_diff.h"

namespace coderef::watcher {
namespace {

namespace fs = std::filesystem;

v1::Item Item(v1::Kind kind, const std::string& project, const std::string& key, uint64_t hash) {
  v1::Item it;
  it.set_kind(kind);
  it.set_project(project);
  it.set_key(key);
  it.set_file_path(key);
  it.set_content_hash(hash);
  it.set_valid(true);
  return it;
}
v1::Item Plan(const std::string& f, uint64_t hash) {
  return Item(v1::KIND_PLAN, "p", "coderef/working/" + f + "/plan.json", hash);
}
v1::Item Project(const std::string& id, uint64_t hash) { return Item(v1::KIND_PROJECT, id, id, hash); }

v1::ChangeEvent MakeChangeEvent(v1::EventType type, const v1::Item& item, bool with_item) {
  std::vector<v1::ChangeEvent> out;
  Differ::AddEvent(type, item, with_item, &out);
  return out[0];
}

void Put(StateStore* s, const v1::Item& it) { s->Put(StateStore::ItemId(it), it); }
std::map<std::string, v1::Item> Stored(std::initializer_list<v1::Item> items) {
  std::map<std::string, v1::Item> out;
  for (const auto& it : items) out[StateStore::ItemId(it)] = it;
  return out;
}
std::vector<std::string> Lines(const std::vector<v1::ChangeEvent>& evs) {
  std::vector<std::string> out;
  for (const auto& e : evs) out.push_back(std::string(EventTypeName(e.type())) + " " + e.key());
  return out;
}

TEST(RestartDiffTest, ClassifiesAgainstTheStoredStateInBatchOrder) {
  auto stored = Stored({Project("p", 1), Project("r", 1), Plan("a", 1), Plan("b", 2), Plan("c", 3)});
  StateStore now;
  for (const auto& it : {Project("p", 9), Project("q", 1), Plan("a", 1), Plan("b", 22), Plan("d", 4)}) Put(&now, it);
  auto evs = RestartDiff(stored, now);
  EXPECT_EQ(Lines(evs), (std::vector<std::string>{
                            "project_updated p", "project_added q",  // projects first
                            "plan_updated coderef/working/b/plan.json",
                            "plan_deleted coderef/working/c/plan.json",
                            "plan_added coderef/working/d/plan.json",
                            "project_removed r"}));  // removed projects last
  EXPECT_TRUE(evs[2].has_item());
  EXPECT_FALSE(evs[3].has_item());
  // A validity change alone is an update.
  auto stored2 = Stored({Plan("a", 1)});
  StateStore now2;
  v1::Item invalid = Plan("a", 1);
  invalid.set_valid(false);
  Put(&now2, invalid);
  EXPECT_EQ(Lines(RestartDiff(stored2, now2)), (std::vector<std::string>{"plan_updated coderef/working/a/plan.json"}));
  EXPECT_TRUE(RestartDiff(Stored({Plan("a", 1)}), [] {
                StateStore s;
                Put(&s, Plan("a", 1));
                return s;
              }()).empty());
}

TEST(MemoryHistoryTest, KeepsTheLastEventsWithinItsBounds) {
  MemoryHistory h(3, 1 << 20);
  EXPECT_EQ(h.first_seq(), 1u);
  std::vector<v1::ChangeEvent> evs(5);
  for (size_t i = 0; i < evs.size(); ++i) evs[i].set_seq(i + 1);
  h.Append(evs);
  EXPECT_EQ(h.first_seq(), 3u);
  std::vector<v1::ChangeEvent> out;
  ASSERT_TRUE(h.Read(3, 10, &out));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].seq(), 4u);
  h.Reset(1);
  EXPECT_EQ(h.size(), 0u);
  MemoryHistory small(100, 64);  // bytes bound
  std::vector<v1::ChangeEvent> big(3);
  for (size_t i = 0; i < big.size(); ++i) {
    big[i].set_seq(i + 1);
    big[i].set_key(std::string(40, 'k'));
  }
  small.Append(big);
  EXPECT_EQ(small.size(), 1u);
  EXPECT_EQ(small.first_seq(), 3u);
}

class DurableStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() / ("durable_state_test." + std::to_string(::getpid()))).string();
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  DurableOptions Options(leveldb::Env* env = nullptr) {
    DurableOptions o;
    o.state_dir = dir_;
    o.env = env;
    return o;
  }
  static std::vector<v1::ChangeEvent> Stamped(const std::string& epoch, uint64_t first,
                                              std::vector<v1::ChangeEvent> evs) {
    for (auto& e : evs) {
      e.set_epoch(epoch);
      e.set_seq(first++);
    }
    return evs;
  }
  std::string dir_;
  MetricsRegistry metrics_;
};

TEST_F(DurableStateTest, ANewDirIsANewEpochThenARestartResumesIt) {
  StateStore disk;
  Put(&disk, Plan("a", 1));
  std::string epoch;
  {
    DurableState d(Options(), metrics_);
    auto r = d.Start(disk);
    EXPECT_FALSE(r.resumed);
    EXPECT_NE(r.reason.find("missing"), std::string::npos) << r.reason;
    EXPECT_TRUE(d.durable());
    epoch = r.epoch;
    auto evs = Stamped(epoch, 1, {MakeChangeEvent(v1::EVENT_TYPE_PLAN_UPDATED, Plan("a", 2), true),
                                  MakeChangeEvent(v1::EVENT_TYPE_PLAN_ADDED, Plan("b", 1), true)});
    ASSERT_TRUE(d.Commit(evs, 0));
    // Only the first went out before the "crash".
    auto more = Stamped(epoch, 3, {MakeChangeEvent(v1::EVENT_TYPE_PLAN_ADDED, Plan("c", 1), true)});
    ASSERT_TRUE(d.Commit(more, 1));
  }
  // While down: b deleted, d added; c and a as stored.
  StateStore now;
  for (const auto& it : {Plan("a", 2), Plan("c", 1), Plan("d", 1)}) Put(&now, it);
  DurableState d(Options(), metrics_);
  auto r = d.Start(now);
  ASSERT_TRUE(r.resumed) << r.reason;
  EXPECT_EQ(r.epoch, epoch);
  EXPECT_EQ(r.seq, 3u);
  ASSERT_EQ(r.resend.size(), 2u) << "seqs 2 and 3 may not have gone out";
  EXPECT_EQ(r.resend[0].seq(), 2u);
  EXPECT_EQ(Lines(r.missed), (std::vector<std::string>{"plan_deleted coderef/working/b/plan.json",
                                                         "plan_added coderef/working/d/plan.json"}));
  std::vector<v1::ChangeEvent> hist;
  ASSERT_TRUE(d.Read(0, 100, &hist));
  EXPECT_EQ(hist.size(), 3u);
  EXPECT_EQ(d.first_seq(), 1u);
}

TEST_F(DurableStateTest, ADiskFailingWhileRunningAbandonsTheStoreLoudly) {
  testing::FaultEnv env;
  StateStore disk;
  DurableState d(Options(&env), metrics_);
  auto r = d.Start(disk);
  ASSERT_TRUE(d.durable());
  env.FailWrites(true);
  auto evs = Stamped(r.epoch, 1, {MakeChangeEvent(v1::EVENT_TYPE_PLAN_ADDED, Plan("a", 1), true)});
  EXPECT_FALSE(d.Commit(evs, 0)) << "the caller must not publish this under the durable epoch";
  EXPECT_FALSE(d.durable());
  EXPECT_NE(d.status().find("state store failed"), std::string::npos) << d.status();
  EXPECT_NE(metrics_.Render().find("coderef_watcher_state_failures_total 1"), std::string::npos);
  std::string memory_epoch = d.NewMemoryEpoch();
  EXPECT_NE(memory_epoch, r.epoch);
  auto again = Stamped(memory_epoch, 1, evs);
  EXPECT_TRUE(d.Commit(again, 0)) << "nothing to store any more";
  d.Published(again);
  std::vector<v1::ChangeEvent> hist;
  ASSERT_TRUE(d.Read(0, 10, &hist));
  ASSERT_EQ(hist.size(), 1u) << "history from memory now";
  EXPECT_EQ(hist[0].epoch(), memory_epoch);
}

// A power loss with --state-sync normal may lose the last batches: after a
// reboot that followed an unclean stop, the epoch is not resumed (its seqs
// could be reused); after a clean stop, or with --state-sync full, it is.
TEST_F(DurableStateTest, ARebootAfterAnUncleanStopIsANewEpochUnlessSynced) {
  StateStore disk;
  Put(&disk, Plan("a", 1));
  std::string epoch;
  auto run = [&](bool clean_stop) {
    DurableState d(Options(), metrics_);
    auto r = d.Start(disk);
    epoch = r.epoch;
    if (clean_stop) d.Stop(0);
  };
  auto pretend_reboot = [&] {
    leveldb::DB* raw = nullptr;
    ASSERT_TRUE(leveldb::DB::Open(leveldb::Options(), dir_ + "/db", &raw).ok());
    std::unique_ptr<leveldb::DB> db(raw);
    ASSERT_TRUE(db->Put(leveldb::WriteOptions(), "m:boot", "another-boot").ok());
  };
  run(false);  // kill -9 ...
  pretend_reboot();  // ... then the machine went down
  {
    DurableState d(Options(), metrics_);
    auto r = d.Start(disk);
    EXPECT_FALSE(r.resumed);
    EXPECT_NE(r.reason.find("rebooted after an unclean stop"), std::string::npos) << r.reason;
    EXPECT_TRUE(d.durable()) << "a new durable epoch";
    epoch = r.epoch;
    d.Stop(0);  // a clean stop
  }
  pretend_reboot();
  {
    DurableState d(Options(), metrics_);
    auto r = d.Start(disk);
    EXPECT_TRUE(r.resumed) << "a reboot after a clean stop keeps the epoch: " << r.reason;
    EXPECT_EQ(r.epoch, epoch);
  }
  pretend_reboot();  // that run ended without Stop: unclean
  DurableOptions synced = Options();
  synced.sync = true;
  DurableState d(synced, metrics_);
  auto r = d.Start(disk);
  EXPECT_TRUE(r.resumed) << "with --state-sync full every commit was on disk: " << r.reason;
  EXPECT_EQ(r.epoch, epoch);
}

TEST_F(DurableStateTest, WithoutAStateDirEveryStartIsANewEpochInMemory) {
  DurableOptions o;
  DurableState d(o, metrics_);
  StateStore disk;
  auto r = d.Start(disk);
  EXPECT_FALSE(r.resumed);
  EXPECT_FALSE(d.durable());
  EXPECT_EQ(d.status(), "memory");
  EXPECT_EQ(r.epoch.size(), 16u);
}

}  // namespace
}  // namespace coderef::watcher
