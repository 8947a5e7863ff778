// Black-box tests of PROTOCOL §1 (restarts) at the watcher: the real binary with
// --state-dir, real files, real ZeroMQ. A watcher stopped by SIGTERM or
// kill -9 while files change comes back in the same epoch, with a gap-free
// seq and exactly the changes made while it was down (read back through a
// history request and the live feed); a corrupt, foreign-version or
// unusable state dir gives a new epoch with the reason in the log; a store
// that fails while running switches to a new epoch, loudly.
#include <gtest/gtest.h>
#include <leveldb/db.h>
#include <sys/mount.h>

#include <cerrno>
#include <cstring>

#include <map>
#include <random>
#include <set>

#include "watcher_harness.h"

namespace coderef::testing {
namespace {

using namespace std::chrono_literals;

std::string Plan(const std::string& feature, const std::string& status) {
  return "{\"META_DOCUMENTATION\":{\"feature_name\":\"" + feature + "\",\"status\":\"" + status + "\"}}";
}
std::string Stub(const std::string& feature) {
  return "{\"feature_name\":\"" + feature + "\",\"description\":\"d\",\"category\":\"c\",\"priority\":\"low\","
         "\"created\":\"2026-12-01\",\"status\":\"stub\"}";
}

struct History {
  v1::HistoryStatus status = v1::HISTORY_STATUS_UNSPECIFIED;
  std::string epoch;
  uint64_t seq = 0;
  std::vector<v1::ChangeEvent> events;
  int chunks = 0;
};

// "The events after seq `after` of `epoch`" on the snapshot socket.
std::optional<History> RequestHistory(const std::string& snapshot, const std::string& epoch, uint64_t after,
                                      uint32_t per_chunk = 0) {
  zmq::context_t ctx(1);
  zmq::socket_t dealer(ctx, zmq::socket_type::dealer);
  dealer.set(zmq::sockopt::linger, 0);
  dealer.connect(snapshot);
  v1::SnapshotRequest req;
  req.set_request_id("h1");
  req.set_max_items_per_chunk(per_chunk);
  req.mutable_history()->set_epoch(epoch);
  req.mutable_history()->set_after_seq(after);
  std::string body;
  req.SerializeToString(&body);
  dealer.send(zmq::buffer(body));
  History h;
  auto end = Clock::now() + 10s;
  while (Clock::now() < end) {
    zmq::pollitem_t item{dealer.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, 100ms) <= 0) continue;
    zmq::message_t m;
    if (!dealer.recv(m)) continue;
    v1::SnapshotChunk c;
    if (!c.ParseFromArray(m.data(), static_cast<int>(m.size()))) return std::nullopt;
    h.chunks++;
    h.status = c.history();
    h.epoch = c.epoch();
    h.seq = c.seq();
    for (const auto& e : c.events()) h.events.push_back(e);
    if (c.last()) return h;
  }
  return std::nullopt;
}

std::string EventLine(const v1::ChangeEvent& e) {
  return TypeName(e) + " " + e.project() + " " + (e.kind() == v1::KIND_WORKORDER ? e.item().workorder().workorder_id() : e.file_path());
}

class DurableRestartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteFileText(ws_ / "projects.json", R"({"projects":[{"name":"Alpha","path":"alpha","id":"alpha"}]})");
    WriteFileText(P("coderef/working/a/plan.json"), Plan("a", "s0"));
    WriteFileText(P("coderef/working/b/plan.json"), Plan("b", "s0"));
    WriteFileText(P("coderef/working/c/stub.json"), Stub("c"));
    WriteFileText(P("coderef/workorder-log.txt"), "WO-1 | alpha | first | 2026-12-01T10:00:00Z\n");
  }
  std::string P(const std::string& rel) { return ws_ / ("alpha/" + rel); }
  std::unique_ptr<WatcherUnderTest> Start(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"--state-dir", state_};
    args.insert(args.end(), extra.begin(), extra.end());
    auto w = std::make_unique<WatcherUnderTest>(ws_ / "projects.json", args);
    EXPECT_TRUE(w->started()) << w->proc().Log();
    return w;
  }
  // The same endpoints as `before` (bound with port 0 and read back), so
  // subscribers reconnect by themselves.
  std::unique_ptr<WatcherUnderTest> Restart(WatcherUnderTest& before) {
    return Start({"--pub", before.pub(), "--snapshot", before.snapshot()});
  }
  // Snapshot items as "kind path -> content hash".
  static std::map<std::string, uint64_t> Items(const Snapshot& s) {
    std::map<std::string, uint64_t> out;
    for (const auto& it : s.items) out[std::to_string(it.kind()) + " " + it.key()] = it.content_hash();
    return out;
  }

  void RestartKeepsEpochAndPublishesExactlyTheMissedChanges(int sig);

  TempDir ws_;
  std::string state_ = ws_ / "state";
};

void DurableRestartTest::RestartKeepsEpochAndPublishesExactlyTheMissedChanges(int sig) {
  auto w1 = Start();
  ASSERT_TRUE(w1->started());
  FeedProbe probe(w1->pub(), w1->snapshot());
  ASSERT_TRUE(probe.WaitConnected());
  AtomicWrite(P("coderef/working/a/plan.json"), Plan("a", "s1"));
  ASSERT_EQ(probe.CollectEvents(1).size(), 1u);
  EXPECT_EQ(probe.events()[0].seq(), 1u);
  std::string epoch = w1->epoch();
  ASSERT_TRUE(probe.WaitHeartbeatSeq(1));
  std::string instance = probe.last_heartbeat().instance();
  EXPECT_EQ(instance.size(), 16u) << "each process has a random instance id";
  EXPECT_FALSE(probe.last_heartbeat().resumed()) << "the first start resumed nothing";

  w1->proc().Signal(sig);
  EXPECT_EQ(w1->proc().Wait(), sig == SIGTERM ? 0 : 128 + SIGKILL);

  // While it is down: an add, an update, a delete, a move working->archived
  // and two workorder-log lines.
  WriteFileText(P("coderef/working/d/plan.json"), Plan("d", "new"));
  AtomicWrite(P("coderef/working/b/plan.json"), Plan("b", "s1"));
  fs::remove_all(P("coderef/working/c"));
  fs::create_directories(P("coderef/archived"));
  fs::rename(P("coderef/working/a"), P("coderef/archived/a"));
  {
    std::ofstream log(P("coderef/workorder-log.txt"), std::ios::app);
    log << "WO-2 | alpha | second | 2026-12-01T11:00:00Z\nWO-3 | alpha | third\n";
  }

  auto w2 = Restart(*w1);
  ASSERT_TRUE(w2->started());
  EXPECT_EQ(w2->epoch(), epoch) << w2->proc().Log();
  EXPECT_TRUE(w2->proc().Log().find("state.resumed") != std::string::npos) << w2->proc().Log();

  std::multiset<std::string> expected{
      "plan_added alpha coderef/working/d/plan.json",     "plan_updated alpha coderef/working/b/plan.json",
      "stub_deleted alpha coderef/working/c/stub.json",   "plan_deleted alpha coderef/working/a/plan.json",
      "plan_added alpha coderef/archived/a/plan.json",    "workorder_added alpha WO-2",
      "workorder_added alpha WO-3"};
  // The subscriber (never restarted) sees the heartbeat reach seq 8.
  ASSERT_TRUE(probe.WaitHeartbeatSeq(1 + expected.size())) << w2->proc().Log();
  EXPECT_EQ(probe.last_heartbeat().epoch(), epoch);
  EXPECT_EQ(probe.last_heartbeat().seq(), 1 + expected.size()) << "nothing more than the missed changes";
  // The restart, announced in the heartbeats (the restart notice).
  EXPECT_NE(probe.last_heartbeat().instance(), instance) << "a new process";
  EXPECT_TRUE(probe.last_heartbeat().resumed());
  EXPECT_EQ(probe.last_heartbeat().restart_changes(), expected.size());
  EXPECT_EQ(probe.last_heartbeat().caught_up_seq(), 1 + expected.size());

  auto h = RequestHistory(w2->snapshot(), epoch, 1, 3);
  ASSERT_TRUE(h);
  ASSERT_EQ(h->status, v1::HISTORY_STATUS_OK);
  EXPECT_EQ(h->seq, 1 + expected.size());
  EXPECT_EQ(h->chunks, 3) << "7 events in chunks of 3";
  std::multiset<std::string> got;
  for (size_t i = 0; i < h->events.size(); ++i) {
    EXPECT_EQ(h->events[i].seq(), 2 + i) << "gap-free, in order";
    EXPECT_EQ(h->events[i].epoch(), epoch);
    got.insert(EventLine(h->events[i]));
  }
  EXPECT_EQ(got, expected);
  // The events the live subscriber got after the restart are those too
  // (with seq 1 perhaps again after kill -9: receivers drop it).
  for (const auto& e : probe.events()) {
    EXPECT_EQ(e.epoch(), epoch);
    if (e.seq() > 1) {
      EXPECT_EQ(EventLine(e), EventLine(h->events[e.seq() - 2])) << "seq " << e.seq();
    }
  }
  // The whole history from seq 0 still holds the first event.
  auto all = RequestHistory(w2->snapshot(), epoch, 0);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->events.size(), 1 + expected.size());
  EXPECT_EQ(EventLine(all->events[0]), "plan_updated alpha coderef/working/a/plan.json");

  // The state equals the disk: a fresh watcher without a store (reading
  // only the disk) shows the same items.
  FeedProbe p2(w2->pub(), w2->snapshot());
  auto snap = p2.TakeSnapshot();
  ASSERT_TRUE(snap);
  EXPECT_EQ(snap->epoch, epoch);
  EXPECT_EQ(snap->seq, 1 + expected.size());
  w2->proc().Signal(SIGTERM);
  EXPECT_EQ(w2->proc().Wait(), 0);
  WatcherUnderTest plain(ws_ / "projects.json");
  ASSERT_TRUE(plain.started());
  FeedProbe p3(plain.pub(), plain.snapshot());
  auto disk = p3.TakeSnapshot();
  ASSERT_TRUE(disk);
  EXPECT_EQ(Items(*snap), Items(*disk));
}

TEST_F(DurableRestartTest, KillNineKeepsTheEpochAndPublishesExactlyTheMissedChanges) {
  RestartKeepsEpochAndPublishesExactlyTheMissedChanges(SIGKILL);
}

TEST_F(DurableRestartTest, SigtermKeepsTheEpochAndPublishesExactlyTheMissedChanges) {
  RestartKeepsEpochAndPublishesExactlyTheMissedChanges(SIGTERM);
}

TEST_F(DurableRestartTest, HistoryOlderThanHeldOrOfAnotherEpochIsGone) {
  auto w = Start({"--history-events", "2"});
  FeedProbe probe(w->pub(), w->snapshot());
  ASSERT_TRUE(probe.WaitConnected());
  for (int i = 1; i <= 4; ++i) {
    AtomicWrite(P("coderef/working/a/plan.json"), Plan("a", "s" + std::to_string(i)));
    ASSERT_EQ(probe.CollectEvents(i).size(), static_cast<size_t>(i));
  }
  auto kept = RequestHistory(w->snapshot(), w->epoch(), 2);
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->status, v1::HISTORY_STATUS_OK);
  ASSERT_EQ(kept->events.size(), 2u);
  EXPECT_EQ(kept->events[0].seq(), 3u);
  auto old = RequestHistory(w->snapshot(), w->epoch(), 1);
  ASSERT_TRUE(old);
  EXPECT_EQ(old->status, v1::HISTORY_STATUS_GONE);
  EXPECT_TRUE(old->events.empty());
  auto other = RequestHistory(w->snapshot(), "not-this-epoch", 3);
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, v1::HISTORY_STATUS_GONE);
  auto none = RequestHistory(w->snapshot(), w->epoch(), 4);
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, v1::HISTORY_STATUS_OK);
  EXPECT_TRUE(none->events.empty());
}

// Each unusable store: a new epoch, the reason named in the log, the
// watcher up (no crash loop), and a restart after it resumes the new epoch.
class BadStateDirTest : public DurableRestartTest {
 protected:
  std::string FirstEpoch() {
    auto w = Start();
    std::string e = w->epoch();
    w->proc().Signal(SIGTERM);
    EXPECT_EQ(w->proc().Wait(), 0);
    return e;
  }
  void ExpectNewEpochNaming(const std::string& old_epoch, const std::string& reason) {
    auto w = Start();
    ASSERT_TRUE(w->started());
    EXPECT_NE(w->epoch(), old_epoch);
    std::string log = w->proc().Log();
    EXPECT_NE(log.find("state.new_epoch"), std::string::npos) << log;
    EXPECT_NE(log.find(reason), std::string::npos) << log;
    std::string health = HttpGet(w->http_port(), "/healthz");
    EXPECT_NE(health.find("\"epoch\":\"" + w->epoch() + "\""), std::string::npos) << health;
  }
};

TEST_F(BadStateDirTest, CorruptStoreStartsANewEpochNamingIt) {
  std::string e1 = FirstEpoch();
  std::mt19937 rng(3);
  for (const auto& f : fs::directory_iterator(state_ + "/db")) {
    std::string name = f.path().filename();
    if (name == "LOCK" || name.rfind("LOG", 0) == 0) continue;
    auto size = std::max<uintmax_t>(fs::file_size(f.path()), 64);
    std::ofstream out(f.path(), std::ios::binary | std::ios::trunc);
    for (uintmax_t i = 0; i < size; ++i) out.put(static_cast<char>(rng()));
  }
  ExpectNewEpochNaming(e1, "state store corrupt");
  // The damaged store is kept aside; the new one is durable.
  bool aside = false;
  for (const auto& f : fs::directory_iterator(state_)) aside |= f.path().filename().string().rfind("db.corrupt.", 0) == 0;
  EXPECT_TRUE(aside);
}

TEST_F(BadStateDirTest, ForeignVersionStartsANewEpochNamingIt) {
  std::string e1 = FirstEpoch();
  {
    leveldb::DB* raw = nullptr;
    ASSERT_TRUE(leveldb::DB::Open(leveldb::Options(), state_ + "/db", &raw).ok());
    std::unique_ptr<leveldb::DB> db(raw);
    ASSERT_TRUE(db->Put(leveldb::WriteOptions(), "m:version", "7").ok());
  }
  ExpectNewEpochNaming(e1, "state store foreign_version");
}

TEST_F(BadStateDirTest, UnusableStateDirStartsANewEpochInMemory) {
  WriteFileText(state_, "a file where the folder should be");
  auto w = Start();
  ASSERT_TRUE(w->started());
  std::string log = w->proc().Log();
  EXPECT_NE(log.find("state.new_epoch"), std::string::npos) << log;
  EXPECT_NE(log.find("state store io_error"), std::string::npos) << log;
  std::string health = HttpGet(w->http_port(), "/healthz");
  EXPECT_NE(health.find("\"durable\":false"), std::string::npos) << health;
}

// The disk fails while running: the watcher goes on at once in a new epoch
// in memory, says so in /healthz and /metrics, and the event that could not
// be stored goes out only in the new epoch.
TEST_F(DurableRestartTest, AStoreFailingWhileRunningSwitchesToANewEpoch) {
  auto w = Start({"--state-fail-after", "1"});
  FeedProbe probe(w->pub(), w->snapshot());
  ASSERT_TRUE(probe.WaitConnected());
  std::string e1 = w->epoch();
  AtomicWrite(P("coderef/working/a/plan.json"), Plan("a", "s1"));
  ASSERT_EQ(probe.CollectEvents(1).size(), 1u);
  AtomicWrite(P("coderef/working/b/plan.json"), Plan("b", "s1"));
  ASSERT_EQ(probe.CollectEvents(2).size(), 2u);
  const auto& ev = probe.events();
  EXPECT_EQ(ev[0].epoch(), e1);
  EXPECT_NE(ev[1].epoch(), e1) << "never published in the durable epoch without being stored";
  EXPECT_EQ(ev[1].seq(), 1u);
  EXPECT_TRUE(w->proc().WaitForLog("state.store_failed"));
  std::string health = HttpGet(w->http_port(), "/healthz");
  EXPECT_NE(health.find("\"durable\":false"), std::string::npos) << health;
  EXPECT_NE(health.find("state store failed"), std::string::npos) << health;
  EXPECT_NE(HttpGet(w->http_port(), "/metrics").find("coderef_watcher_state_failures_total 1"), std::string::npos);
  // History of the new epoch comes from memory.
  auto h = RequestHistory(w->snapshot(), ev[1].epoch(), 0);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, v1::HISTORY_STATUS_OK);
  ASSERT_EQ(h->events.size(), 1u);
}

// A real full disk: the state dir on a 1 MiB tmpfs that fills up while the
// watcher runs (skipped where tmpfs cannot be mounted, e.g. without root).
TEST_F(DurableRestartTest, ATinyTmpfsThatFillsUpSwitchesToANewEpoch) {
  fs::create_directories(state_);
  if (::mount("tmpfs", state_.c_str(), "tmpfs", 0, "size=1m") != 0)
    GTEST_SKIP() << "cannot mount a tmpfs here: " << std::strerror(errno);
  struct Unmount {
    std::string dir;
    ~Unmount() { ::umount2(dir.c_str(), MNT_DETACH); }
  } unmount{state_};
  auto w = Start();
  FeedProbe probe(w->pub(), w->snapshot());
  ASSERT_TRUE(probe.WaitConnected());
  std::string e1 = w->epoch();
  // Events of ~200 KB each (the plan's text is in the event): the store's
  // log outgrows 1 MiB within a few saves.
  std::string filler(200 * 1024, 'x');
  size_t n = 0;
  for (; n < 40 && w->proc().Log().find("state.store_failed") == std::string::npos; ++n) {
    AtomicWrite(P("coderef/working/a/plan.json"),
                "{\"META_DOCUMENTATION\":{\"status\":\"s" + std::to_string(n) + "\"},\"pad\":\"" + filler + "\"}");
    ASSERT_EQ(probe.CollectEvents(n + 1).size(), n + 1) << w->proc().Log();
  }
  ASSERT_NE(w->proc().Log().find("state.store_failed"), std::string::npos) << "the disk never filled up";
  EXPECT_NE(w->proc().Log().find("No space left on device"), std::string::npos) << w->proc().Log();
  const auto& ev = probe.events();
  EXPECT_NE(ev.back().epoch(), e1) << "the event that could not be stored went out in a new epoch";
  EXPECT_EQ(ev.back().seq(), 1u);
  for (size_t i = 0; i + 1 < ev.size(); ++i) EXPECT_EQ(ev[i].epoch(), e1);
  std::string health = HttpGet(w->http_port(), "/healthz");
  EXPECT_NE(health.find("\"durable\":false"), std::string::npos) << health;
  // It goes on, in memory.
  AtomicWrite(P("coderef/working/b/plan.json"), Plan("b", "after"));
  ASSERT_EQ(probe.CollectEvents(ev.size() + 1).size(), n + 1);
  EXPECT_EQ(probe.events().back().seq(), 2u);
}

}  // namespace
}  // namespace coderef::testing
