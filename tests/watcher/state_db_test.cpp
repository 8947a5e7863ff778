// StateDb (watcher-svc/state_db.h) over the real LevelDB: round trip,
// trimming, a corrupt store, a foreign schema version, a read-only folder,
// and a write that fails in the middle of a commit (FaultEnv, as leveldb's
// fault_injection_test): nothing half-applied.
#include "watcher-svc/state_db.h"

#include <gtest/gtest.h>
#include <leveldb/db.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "tests/watcher/fault_env.h"

namespace coderef::watcher {
namespace {

namespace fs = std::filesystem;

class StateDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("state_db_test." + std::to_string(::getpid()) + "." +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<StateDb> Open(DbStatus* s, leveldb::Env* env = nullptr, size_t history = 100) {
    StateDbOptions o;
    o.dir = dir_.string();
    o.history_events = history;
    o.env = env;
    return OpenLevelDbStateDb(o, s);
  }
  std::unique_ptr<StateDb> OpenOk(leveldb::Env* env = nullptr, size_t history = 100) {
    DbStatus s;
    auto db = Open(&s, env, history);
    EXPECT_TRUE(s.ok()) << s.message;
    return db;
  }

  // Opens and loads; the first failure.
  DbStatus OpenAndLoad() {
    DbStatus s;
    auto db = Open(&s);
    StoredState st;
    return db ? db->Load(&st) : s;
  }

  static v1::Item Plan(const std::string& feature, uint64_t hash) {
    v1::Item it;
    it.set_kind(v1::KIND_PLAN);
    it.set_project("noted");
    it.set_key("coderef/working/" + feature + "/plan.json");
    it.set_file_path(it.key());
    it.set_feature_name(feature);
    it.set_location("working");
    it.set_content_hash(hash);
    it.set_text("{\"big\": \"text that stays on disk\"}");
    return it;
  }
  static v1::ChangeEvent Event(uint64_t seq, v1::EventType type, const v1::Item& item) {
    v1::ChangeEvent ev;
    ev.set_epoch("e1");
    ev.set_seq(seq);
    ev.set_type(type);
    ev.set_kind(item.kind());
    ev.set_project(item.project());
    ev.set_key(item.key());
    ev.set_file_path(item.file_path());
    if (type != v1::EVENT_TYPE_PLAN_DELETED) *ev.mutable_item() = item;
    return ev;
  }
  static std::string Id(const v1::Item& item) { return "plan/noted\n" + item.key(); }

  fs::path dir_;
};

TEST_F(StateDbTest, RoundTripOfItemsEventsAndSeqs) {
  v1::Item a = Plan("a", 1), b = Plan("b", 2), c = Plan("c", 3);
  {
    auto db = OpenOk();
    StoredState st;
    EXPECT_EQ(db->Load(&st).code, DbStatus::Code::kMissing);
    std::map<std::string, const v1::Item*> base{{Id(a), &a}, {Id(b), &b}};
    ASSERT_TRUE(db->Reset("e1", base).ok());
    v1::Item a2 = Plan("a", 11);
    ASSERT_TRUE(db->Commit({Event(1, v1::EVENT_TYPE_PLAN_UPDATED, a2),
                            Event(2, v1::EVENT_TYPE_PLAN_DELETED, b)},
                           0)
                    .ok());
    ASSERT_TRUE(db->Commit({Event(3, v1::EVENT_TYPE_PLAN_ADDED, c)}, 2).ok());
    // A seq that does not follow is refused and changes nothing.
    EXPECT_FALSE(db->Commit({Event(5, v1::EVENT_TYPE_PLAN_ADDED, c)}, 3).ok());
    EXPECT_EQ(db->last_seq(), 3u);
  }
  auto db = OpenOk();
  StoredState st;
  ASSERT_TRUE(db->Load(&st).ok());
  EXPECT_EQ(st.epoch, "e1");
  EXPECT_EQ(st.last_seq, 3u);
  EXPECT_EQ(st.sent_seq, 2u);
  ASSERT_EQ(st.items.size(), 2u);
  EXPECT_EQ(st.items.at(Id(a)).content_hash(), 11u);
  EXPECT_EQ(st.items.at(Id(c)).feature_name(), "c");
  EXPECT_TRUE(st.items.at(Id(c)).text().empty()) << "texts are not stored";
  EXPECT_EQ(st.items.count(Id(b)), 0u);
  std::vector<v1::ChangeEvent> evs;
  ASSERT_TRUE(db->ReadEvents(0, 100, &evs).ok());
  ASSERT_EQ(evs.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(evs[i].seq(), i + 1);
  EXPECT_EQ(evs[2].item().text(), c.text()) << "stored events keep the text they went out with";
  evs.clear();
  ASSERT_TRUE(db->ReadEvents(1, 1, &evs).ok());
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(evs[0].seq(), 2u);
  EXPECT_EQ(db->first_seq(), 1u);
}

TEST_F(StateDbTest, HistoryIsTrimmedToTheLastN) {
  {
    auto db = OpenOk(nullptr, 3);
    ASSERT_TRUE(db->Reset("e1", {}).ok());
    for (uint64_t s = 1; s <= 7; ++s)
      ASSERT_TRUE(db->Commit({Event(s, v1::EVENT_TYPE_PLAN_ADDED, Plan("f" + std::to_string(s), s))}, s).ok());
    EXPECT_EQ(db->first_seq(), 5u);
  }
  auto db = OpenOk(nullptr, 3);
  StoredState st;
  ASSERT_TRUE(db->Load(&st).ok());
  EXPECT_EQ(db->first_seq(), 5u);
  EXPECT_EQ(st.items.size(), 7u) << "trimming drops events, never items";
  std::vector<v1::ChangeEvent> evs;
  ASSERT_TRUE(db->ReadEvents(0, 100, &evs).ok());
  ASSERT_EQ(evs.size(), 3u);
  EXPECT_EQ(evs.front().seq(), 5u);
  EXPECT_EQ(evs.back().seq(), 7u);
}

// Every byte of every file but LOCK overwritten: the store is reported
// corrupt (at open or at load), never read as a valid state.
TEST_F(StateDbTest, CorruptFilesAreReportedNotRead) {
  {
    auto db = OpenOk();
    ASSERT_TRUE(db->Reset("e1", {}).ok());
    ASSERT_TRUE(db->Commit({Event(1, v1::EVENT_TYPE_PLAN_ADDED, Plan("a", 1))}, 1).ok());
  }
  std::mt19937 rng(7);
  for (const auto& e : fs::directory_iterator(dir_)) {
    if (e.path().filename() == "LOCK" || e.path().filename().string().rfind("LOG", 0) == 0) continue;
    auto size = fs::file_size(e.path());
    std::ofstream out(e.path(), std::ios::binary | std::ios::trunc);
    for (uintmax_t i = 0; i < std::max<uintmax_t>(size, 64); ++i) out.put(static_cast<char>(rng()));
  }
  DbStatus s = OpenAndLoad();
  EXPECT_EQ(s.code, DbStatus::Code::kCorrupt) << s.message;
  EXPECT_NE(s.message.find(dir_.string()), std::string::npos) << "names the folder: " << s.message;
}

// One flipped byte inside the log's payload: the CRC catches it.
TEST_F(StateDbTest, AFlippedByteInTheLogIsCorruption) {
  {
    auto db = OpenOk();
    ASSERT_TRUE(db->Reset("e1", {}).ok());
    for (uint64_t s = 1; s <= 20; ++s)
      ASSERT_TRUE(db->Commit({Event(s, v1::EVENT_TYPE_PLAN_ADDED, Plan("f" + std::to_string(s), s))}, s).ok());
  }
  bool flipped = false;
  for (const auto& e : fs::directory_iterator(dir_)) {
    if (e.path().extension() != ".log" || fs::file_size(e.path()) < 200) continue;
    std::fstream f(e.path(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(100);
    char c;
    f.get(c);
    f.seekp(100);
    f.put(static_cast<char>(c ^ 0x5a));
    flipped = true;
  }
  ASSERT_TRUE(flipped) << "no log file to damage";
  DbStatus s = OpenAndLoad();
  EXPECT_EQ(s.code, DbStatus::Code::kCorrupt) << s.message;
}

TEST_F(StateDbTest, AForeignSchemaVersionIsNamed) {
  {
    leveldb::Options o;
    o.create_if_missing = true;
    leveldb::DB* raw = nullptr;
    ASSERT_TRUE(leveldb::DB::Open(o, dir_.string(), &raw).ok());
    std::unique_ptr<leveldb::DB> db(raw);
    db->Put(leveldb::WriteOptions(), "m:version", "99");
    db->Put(leveldb::WriteOptions(), "m:epoch", "e9");
    db->Put(leveldb::WriteOptions(), "m:seq", "5");
  }
  auto db = OpenOk();
  StoredState st;
  DbStatus s = db->Load(&st);
  EXPECT_EQ(s.code, DbStatus::Code::kForeignVersion);
  EXPECT_NE(s.message.find("99"), std::string::npos) << s.message;
  EXPECT_STREQ(s.CodeName(), "foreign_version");
}

TEST_F(StateDbTest, AReadOnlyFolderFailsToOpenWithIoError) {
  testing::FaultEnv env;
  env.ReadOnly(true);
  DbStatus s;
  auto db = Open(&s, &env);
  EXPECT_EQ(db, nullptr);
  EXPECT_EQ(s.code, DbStatus::Code::kIoError);
  EXPECT_NE(s.message.find("Read-only"), std::string::npos) << s.message;
}

// The disk fills up in the middle of writing a commit: Commit reports it,
// and after a restart the store holds the state before that commit exactly
// (its events and items entirely absent), or is reported corrupt: never
// half of the batch.
TEST_F(StateDbTest, AWriteFailureMidCommitLeavesNothingHalfApplied) {
  testing::FaultEnv env;
  v1::Item a = Plan("a", 1);
  {
    auto db = OpenOk(&env);
    std::map<std::string, const v1::Item*> base{{Id(a), &a}};
    ASSERT_TRUE(db->Reset("e1", base).ok());
    ASSERT_TRUE(db->Commit({Event(1, v1::EVENT_TYPE_PLAN_ADDED, Plan("b", 2))}, 1).ok());
    env.FailWrites(true);
    std::vector<v1::ChangeEvent> big;
    for (uint64_t s = 2; s <= 50; ++s) big.push_back(Event(s, v1::EVENT_TYPE_PLAN_ADDED, Plan("n" + std::to_string(s), s)));
    big.push_back(Event(51, v1::EVENT_TYPE_PLAN_DELETED, a));
    DbStatus s = db->Commit(big, 1);
    EXPECT_EQ(s.code, DbStatus::Code::kIoError);
    EXPECT_NE(s.message.find("No space left"), std::string::npos) << s.message;
    EXPECT_EQ(db->last_seq(), 1u) << "a failed commit does not advance the seq";
    EXPECT_GE(env.failed_appends(), 1);
    env.FailWrites(false);
  }
  DbStatus s;
  auto db = Open(&s);
  ASSERT_TRUE(db) << s.message;
  StoredState st;
  s = db->Load(&st);
  ASSERT_TRUE(s.ok()) << "a torn tail is the crash case LevelDB recovers from: " << s.message;
  EXPECT_EQ(st.last_seq, 1u);
  EXPECT_EQ(st.items.size(), 2u);
  EXPECT_EQ(st.items.count(Id(a)), 1u) << "the failed batch's deletion is not applied";
  std::vector<v1::ChangeEvent> evs;
  ASSERT_TRUE(db->ReadEvents(0, 100, &evs).ok());
  EXPECT_EQ(evs.size(), 1u);
  // And the store goes on from there.
  EXPECT_TRUE(db->Commit({Event(2, v1::EVENT_TYPE_PLAN_ADDED, Plan("z", 9))}, 2).ok());
}

}  // namespace
}  // namespace coderef::watcher
