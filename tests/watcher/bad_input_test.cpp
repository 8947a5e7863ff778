// Bad input on disk, against the real watcher-svc binary: a 100 MiB
// plan.json, binary garbage, symlink loops and FIFOs, permission-denied
// folders and files, CRLF and malformed workorder-log lines, and
// projects.json that is empty, an array, holds duplicated ids or points at
// "/". For each: the service keeps running and answering, the published
// state is what the disk says (or the item says why it cannot be), and a
// log line names the cause. Plus one unit test of the same permission
// errors through the FileSystem seam (FakeFileSystem::InjectError).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <set>

#include "tests/watcher/fake_file_system.h"
#include "watcher-svc/watcher_core.h"
#include "watcher_harness.h"

namespace coderef::testing {
namespace {

using namespace std::chrono_literals;

std::string Plan(const std::string& feature, const std::string& status) {
  return "{\"META_DOCUMENTATION\":{\"feature_name\":\"" + feature + "\",\"status\":\"" + status + "\"}}";
}

size_t Count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t p = haystack.find(needle); p != std::string::npos; p = haystack.find(needle, p + 1)) ++n;
  return n;
}

// key -> item, of one kind, from a fresh snapshot.
std::map<std::string, v1::Item> SnapshotItems(FeedProbe& probe, const std::string& prefix) {
  std::map<std::string, v1::Item> out;
  auto snap = probe.TakeSnapshot(prefix);
  if (!snap) return out;
  for (const auto& it : snap->items) out[it.key()] = it;
  return out;
}

std::set<std::string> Keys(const std::map<std::string, v1::Item>& m) {
  std::set<std::string> out;
  for (const auto& [k, v] : m) out.insert(k);
  return out;
}

class WatcherBadInputTest : public ::testing::Test {
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
  Process& proc() { return watcher_->proc(); }
  // The service still works: a new plan is published and /healthz answers.
  void ExpectResponsive(const std::string& feature) {
    size_t before = probe_->events().size();
    WriteFileText(P("coderef/working/" + feature + "/plan.json"), Plan(feature, "alive"));
    auto& ev = probe_->CollectEvents(before + 1, 5000ms);
    ASSERT_GE(ev.size(), before + 1) << proc().Log();
    EXPECT_EQ(TypeName(ev.back()), "plan_added");
    EXPECT_EQ(ev.back().file_path(), "coderef/working/" + feature + "/plan.json");
    int status = 0;
    HttpGet(watcher_->http_port(), "/healthz", &status);
    EXPECT_EQ(status, 200);
    EXPECT_TRUE(proc().Alive());
  }
  const v1::ChangeEvent* FindEvent(const std::string& type, const std::string& path) {
    for (const auto& e : probe_->events())
      if (TypeName(e) == type && e.file_path() == path) return &e;
    return nullptr;
  }
  bool WaitEvent(const std::string& type, const std::string& path,
                 std::chrono::milliseconds timeout = 10000ms) {
    return WaitFor([&] {
      probe_->Drain(20ms);
      return FindEvent(type, path) != nullptr;
    }, timeout);
  }

  TempDir ws_;
  std::unique_ptr<WatcherUnderTest> watcher_;
  std::unique_ptr<FeedProbe> probe_;
};

TEST_F(WatcherBadInputTest, HugeFilesAreBoundedAndBinaryGarbageIsInvalid) {
  Start();
  // 100 MiB plan.json (sparse: its size is what matters; it is never read).
  std::string huge = P("coderef/working/huge/plan.json");
  WriteFileText(huge, "{\"META_DOCUMENTATION\":{\"status\":\"big\"");
  fs::resize_file(huge, 100ull << 20);
  // 3 MiB of valid JSON: parsed, but its text is over --max-file-bytes.
  std::string big = "{\"META_DOCUMENTATION\":{\"status\":\"large\"},\"pad\":\"" + std::string(3 << 20, 'x') + "\"}";
  WriteFileText(P("coderef/working/large/plan.json"), big);
  // Binary garbage, including NULs and invalid UTF-8.
  std::string garbage;
  for (int i = 0; i < 4096; ++i) garbage.push_back(static_cast<char>((i * 7919 + 13) % 256));
  WriteFileText(P("coderef/working/garbage/plan.json"), garbage);

  ASSERT_TRUE(WaitEvent("plan_added", "coderef/working/huge/plan.json")) << proc().Log();
  ASSERT_TRUE(WaitEvent("plan_added", "coderef/working/large/plan.json")) << proc().Log();
  ASSERT_TRUE(WaitEvent("plan_added", "coderef/working/garbage/plan.json")) << proc().Log();
  // The last event per path is the final state (the huge file may be seen
  // while being sized).
  auto items = SnapshotItems(*probe_, "plan/alpha");
  const v1::Item& h = items["coderef/working/huge/plan.json"];
  EXPECT_FALSE(h.valid());
  EXPECT_NE(h.parse_error().find("too large"), std::string::npos) << h.parse_error();
  EXPECT_TRUE(h.text_omitted());
  EXPECT_TRUE(h.text().empty());
  EXPECT_EQ(h.size_bytes(), 100ull << 20);
  const v1::Item& l = items["coderef/working/large/plan.json"];
  EXPECT_TRUE(l.valid()) << l.parse_error();
  EXPECT_EQ(l.plan().status(), "large");
  EXPECT_TRUE(l.text_omitted());
  EXPECT_TRUE(l.text().empty());
  const v1::Item& g = items["coderef/working/garbage/plan.json"];
  EXPECT_FALSE(g.valid());
  EXPECT_FALSE(g.parse_error().empty());
  EXPECT_TRUE(g.text_omitted()) << "not UTF-8: no text";
  EXPECT_EQ(g.plan().status(), "unknown");
  // Every event on the wire decoded (FeedProbe drops what does not parse):
  // seqs are gap-free.
  for (size_t i = 0; i < probe_->events().size(); ++i) EXPECT_EQ(probe_->events()[i].seq(), i + 1);
  ExpectResponsive("after_huge");
}

TEST_F(WatcherBadInputTest, SymlinkLoopsAndFifosAreSkippedWithAReason) {
  WriteFileText(P("coderef/working/real/plan.json"), Plan("real", "1"));
  Start();
  fs::create_symlink(".", P("coderef/working/loop"));              // a folder loop
  fs::create_directories(P("coderef/working/self"));
  fs::create_symlink("plan.json", P("coderef/working/self/plan.json"));  // points at itself
  fs::create_directories(P("coderef/working/ab"));
  fs::create_directories(P("coderef/working/ba"));
  fs::create_symlink("../ba/plan.json", P("coderef/working/ab/plan.json"));
  fs::create_symlink("../ab/plan.json", P("coderef/working/ba/plan.json"));
  fs::create_directories(P("coderef/working/fifo"));
  ASSERT_EQ(::mkfifo(P("coderef/working/fifo/plan.json").c_str(), 0644), 0);
  fs::create_directories(P("coderef/working/linked"));
  fs::create_symlink("../real/plan.json", P("coderef/working/linked/plan.json"));  // a good link

  ASSERT_TRUE(WaitEvent("plan_added", "coderef/working/linked/plan.json")) << proc().Log();
  probe_->Drain(500ms);
  std::set<std::string> want{"coderef/working/real/plan.json", "coderef/working/linked/plan.json"};
  EXPECT_EQ(Keys(SnapshotItems(*probe_, "plan/alpha")), want);
  EXPECT_EQ(probe_->events().size(), 1u) << "only the good link is an item";
  ASSERT_TRUE(proc().WaitForLog("Too many levels of symbolic links")) << proc().Log();
  EXPECT_TRUE(proc().WaitForLog("file.skipped")) << proc().Log();
  // (Its own batch may come after the loops': a closed file in a new folder
  // flushes early, so wait for it rather than look once.)
  EXPECT_TRUE(proc().WaitForLog("not a regular file")) << proc().Log();
  ExpectResponsive("after_loops");

  // A restart finds the same state (the scan does not follow the loops).
  watcher_.reset();
  Start();
  EXPECT_EQ(Keys(SnapshotItems(*probe_, "plan/alpha")),
            (std::set<std::string>{"coderef/working/real/plan.json", "coderef/working/linked/plan.json",
                                   "coderef/working/after_loops/plan.json"}));
  EXPECT_TRUE(proc().WaitForLog("Too many levels of symbolic links")) << "logged at the start scan too";
}

TEST_F(WatcherBadInputTest, CrlfAndMalformedWorkorderLogLines) {
  Start();
  std::string log = P("coderef/workorder-log.txt");
  WriteFileText(log,
                "WO-A-1 | alpha | first | 2026-11-25T10:00:00Z\r\n"
                "garbage line\r\n"
                "WO-B-2 | alpha | no timestamp\r\n"
                "\r\n"
                "WO- | only two\r\n"
                "  WO-C-3 | alpha | pipes | in | desc | 2026-11-26\r\n"
                "WO-D-4 | alpha | bad \xff utf8 | t\r\n"
                "WO-E-5 | alpha | partial, no newline yet");
  auto& ev = probe_->CollectEvents(4);
  probe_->Drain(300ms);
  ASSERT_EQ(ev.size(), 4u) << proc().Log();
  std::map<std::string, v1::WorkorderDetail> by_id;
  for (const auto& e : ev) {
    EXPECT_EQ(TypeName(e), "workorder_added");
    EXPECT_EQ(e.item().workorder().source(), "log");
    EXPECT_EQ(e.item().workorder().line().find('\r'), std::string::npos);
    EXPECT_EQ(e.item().workorder().description().find('\r'), std::string::npos);
    by_id[e.item().workorder().workorder_id()] = e.item().workorder();
  }
  ASSERT_EQ(by_id.size(), 4u);
  EXPECT_EQ(by_id["WO-A-1"].timestamp(), "2026-11-25T10:00:00Z");
  EXPECT_FALSE(by_id["WO-B-2"].has_timestamp()) << "a 3-part line has a null timestamp";
  EXPECT_EQ(by_id["WO-C-3"].description(), "pipes | in | desc");
  EXPECT_EQ(by_id["WO-D-4"].description(), "bad \\xff utf8") << "invalid bytes escaped";
  ASSERT_TRUE(proc().WaitForLog("log.lines_skipped")) << proc().Log();
  EXPECT_NE(proc().Log().find("lines=2"), std::string::npos) << proc().Log();
  // The partial line is published once its line ends.
  {
    std::ofstream out(log, std::ios::app | std::ios::binary);
    out << "\r\n";
  }
  probe_->CollectEvents(5);
  ASSERT_EQ(ev.size(), 5u);
  EXPECT_EQ(ev[4].item().workorder().workorder_id(), "WO-E-5");
  EXPECT_EQ(ev[4].item().workorder().description(), "partial, no newline yet");
}

TEST_F(WatcherBadInputTest, BadProjectsJsonVariantsKeepTheLastGoodRegistry) {
  WriteFileText(P("coderef/working/a/plan.json"), Plan("a", "1"));
  Start();
  struct Variant {
    std::string name, text, cause;
  };
  std::vector<Variant> variants{
      {"empty", "", "not valid JSON"},
      {"array", R"([{"name":"alpha","path":"alpha"}])", "expected a JSON object"},
      {"duplicated ids", R"({"projects":[{"name":"alpha","path":"alpha"},{"name":"Alpha","path":"other"}]})",
       "duplicate id"},
      {"duplicated entry", R"({"projects":[{"name":"alpha","path":"alpha"},{"name":"alpha","path":"alpha"}]})",
       "duplicate id"},
      {"root", R"({"projects":[{"name":"alpha","path":"alpha"},{"name":"everything","path":"/"}]})",
       "filesystem root"},
      {"root by dots", R"({"projects":[{"name":"up","path":"../../../../../../../.."}]})", "filesystem root"},
      {"half written", R"({"projects":[{"name":"alpha","pa)", "not valid JSON"},
      {"binary", std::string("\x00\xff\xfe{\x01", 5), "not valid JSON"},
  };
  for (const auto& v : variants) {
    size_t before = Count(proc().Log(), "registry.rejected");
    AtomicWrite(ws_ / "projects.json", v.text);
    ASSERT_TRUE(WaitFor([&] { return Count(proc().Log(), "registry.rejected") > before; }))
        << v.name << "\n" << proc().Log();
    std::string log = proc().Log();
    std::string line = log.substr(log.rfind("registry.rejected"));
    line = line.substr(0, line.find('\n'));
    EXPECT_NE(line.find(v.cause), std::string::npos) << v.name << ": " << line;
    EXPECT_NE(line.find("projects.json"), std::string::npos) << v.name << ": names the file: " << line;
    EXPECT_NE(line.find("last good registry"), std::string::npos) << line;
  }
  probe_->Drain(300ms);
  EXPECT_TRUE(probe_->events().empty()) << "nothing was removed: " << TypeName(probe_->events()[0]);
  auto snap = probe_->TakeSnapshot();
  ASSERT_TRUE(snap);
  std::set<std::string> keys;
  for (const auto& it : snap->items) keys.insert(it.key());
  EXPECT_EQ(keys, (std::set<std::string>{"alpha", "coderef/working/a/plan.json"}));
  // Edits still flow, and a valid registry is taken again.
  fs::create_directories(ws_ / "beta");
  AtomicWrite(ws_ / "projects.json",
              R"({"projects":[{"name":"alpha","path":"alpha"},{"name":"beta","path":"beta"}]})");
  auto& ev = probe_->CollectEvents(1);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(TypeName(ev[0]), "project_added");
  EXPECT_EQ(ev[0].project(), "beta");
  ExpectResponsive("after_registry");
}

TEST_F(WatcherBadInputTest, EmptyProjectsJsonAtStartWaitsForAValidOne) {
  WriteFileText(P("coderef/working/a/plan.json"), Plan("a", "1"));
  WriteFileText(ws_ / "projects.json", "");
  Start();
  EXPECT_TRUE(proc().WaitForLog("no registry yet")) << proc().Log();
  auto snap = probe_->TakeSnapshot();
  ASSERT_TRUE(snap);
  EXPECT_TRUE(snap->items.empty());
  AtomicWrite(ws_ / "projects.json", R"({"projects":[{"name":"alpha","path":"alpha"}]})");
  auto& ev = probe_->CollectEvents(2);
  ASSERT_EQ(ev.size(), 2u) << proc().Log();
  std::set<std::string> got{TypeName(ev[0]) + " " + ev[0].key(), TypeName(ev[1]) + " " + ev[1].key()};
  EXPECT_EQ(got, (std::set<std::string>{"project_added alpha", "plan_added coderef/working/a/plan.json"}));
}

// Permission bits do not stop root, so the watcher runs as "nobody" here
// (setpriv); the test skips when that is impossible (no setpriv, not root).
TEST_F(WatcherBadInputTest, PermissionDeniedFoldersAndFilesAsAnUnprivilegedUser) {
  if (::geteuid() != 0 || !fs::exists("/usr/bin/setpriv")) GTEST_SKIP() << "needs root and setpriv";
  fs::permissions(ws_.path(), fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                  fs::perms::others_read | fs::perms::others_exec);
  WriteFileText(P("coderef/working/open/plan.json"), Plan("open", "1"));
  WriteFileText(P("coderef/working/locked/plan.json"), Plan("locked", "1"));
  WriteFileText(P("coderef/working/secret/plan.json"), Plan("secret", "1"));
  fs::permissions(P("coderef/working/locked"), fs::perms::none);
  fs::permissions(P("coderef/working/secret/plan.json"), fs::perms::none);

  Process proc("/usr/bin/setpriv",
               {"--reuid=65534", "--regid=65534", "--clear-groups", "--", WatcherBinary(), "--projects",
                ws_ / "projects.json", "--pub", "tcp://127.0.0.1:*", "--snapshot", "tcp://127.0.0.1:*",
                "--http", "127.0.0.1:0", "--heartbeat-ms", "200"});
  ASSERT_TRUE(proc.WaitForLog("watcher.started", 20000ms)) << proc.Log();
  std::string status = ReadFileText("/proc/" + std::to_string(proc.pid()) + "/status");
  ASSERT_NE(status.find("Uid:\t65534"), std::string::npos) << "not running as nobody";
  std::smatch m;
  std::string log = proc.Log();
  ASSERT_TRUE(std::regex_search(log, m, std::regex("pub=(tcp://[0-9.]+:[0-9]+)")));
  std::string pub = m[1];
  ASSERT_TRUE(std::regex_search(log, m, std::regex("snapshot=(tcp://[0-9.]+:[0-9]+)")));
  FeedProbe probe(pub, m[1]);
  ASSERT_TRUE(probe.WaitConnected());

  auto items = SnapshotItems(probe, "plan/alpha");
  EXPECT_EQ(Keys(items), (std::set<std::string>{"coderef/working/open/plan.json",
                                                "coderef/working/secret/plan.json"}));
  const v1::Item& secret = items["coderef/working/secret/plan.json"];
  EXPECT_FALSE(secret.valid());
  EXPECT_NE(secret.parse_error().find("Permission denied"), std::string::npos) << secret.parse_error();
  EXPECT_TRUE(proc.WaitForLog("file.unreadable")) << proc.Log();
  EXPECT_TRUE(WaitFor([&] {
    std::string l = proc.Log();
    auto p = l.find("working/locked");
    return p != std::string::npos && l.find("Permission denied", p - std::min<size_t>(p, 300)) != std::string::npos;
  })) << "a log line names the locked folder and the cause\n" << proc.Log();

  // Access restored: the folder (retried every 2 s) and the file (IN_ATTRIB)
  // are published.
  fs::permissions(P("coderef/working/locked"), fs::perms::owner_all | fs::perms::others_read | fs::perms::others_exec);
  fs::permissions(P("coderef/working/secret/plan.json"), fs::perms::owner_read | fs::perms::owner_write | fs::perms::others_read);
  ASSERT_TRUE(WaitFor([&] {
    auto now = SnapshotItems(probe, "plan/alpha");
    return now.size() == 3 && now["coderef/working/secret/plan.json"].valid() &&
           now["coderef/working/locked/plan.json"].valid();
  }, 15000ms)) << proc.Log();
  probe.Drain(100ms);
  std::set<std::string> seen;
  for (const auto& e : probe.events()) seen.insert(TypeName(e) + " " + e.file_path());
  EXPECT_TRUE(seen.count("plan_added coderef/working/locked/plan.json"));
  EXPECT_TRUE(seen.count("plan_updated coderef/working/secret/plan.json"));
  proc.Signal(SIGTERM);
  EXPECT_EQ(proc.Wait(), 0);
}

// The same permission errors through the FileSystem seam, independent of
// the user the tests run as.
class NullBackend final : public watcher::WatchBackend {
 public:
  int fd() const override { return -1; }
  bool AddWatch(const std::string& dir, bool, int* err) override {
    if (denied.count(dir)) {
      *err = EACCES;
      return false;
    }
    dirs.insert(dir);
    return true;
  }
  void RemoveWatch(const std::string& dir) override { dirs.erase(dir); }
  bool IsWatched(const std::string& dir) const override { return dirs.count(dir) > 0; }
  void ReadEvents(std::vector<watcher::RawEvent>*) override {}
  size_t watch_count() const override { return dirs.size(); }
  std::set<std::string> dirs, denied;
};

TEST(WatcherBadInputUnit, PermissionErrorsThroughTheFileSystemSeam) {
  watcher::FakeFileSystem fs;
  NullBackend backend;
  fs.AddFile("/ws/projects.json", R"({"projects":[{"name":"alpha","path":"alpha"}]})");
  fs.AddFile("/ws/alpha/coderef/working/open/plan.json", Plan("open", "1"));
  fs.AddFile("/ws/alpha/coderef/working/secret/plan.json", Plan("secret", "1"));
  fs.AddFile("/ws/alpha/coderef/working/locked/plan.json", Plan("locked", "1"));
  fs.InjectError("/ws/alpha/coderef/working/secret/plan.json", EACCES);
  fs.InjectError("/ws/alpha/coderef/working/locked", EACCES);
  backend.denied.insert("/ws/alpha/coderef/working/locked");
  watcher::WatcherOptions o;
  o.projects_file = "/ws/projects.json";
  watcher::WatcherCore core(o, fs, backend, watcher::WatcherMetrics{});
  ASSERT_TRUE(core.Start());
  auto plans = [&] {
    std::set<std::string> out;
    core.state().ForEach("plan/", [&](const v1::Item& it) {
      out.insert(it.file_path());
      return true;
    });
    return out;
  };
  EXPECT_EQ(plans(), std::set<std::string>{"coderef/working/open/plan.json"});
  EXPECT_TRUE(core.has_failed_watches()) << "the locked folder is retried";
  // Access restored: the retry rescans and finds the file.
  fs.ClearError("/ws/alpha/coderef/working/locked");
  fs.ClearError("/ws/alpha/coderef/working/secret/plan.json");
  backend.denied.clear();
  ASSERT_TRUE(core.RetryFailedWatches());
  std::set<std::string> events;
  for (const auto& e : core.Flush()) events.insert(TypeName(e) + " " + e.file_path());
  EXPECT_TRUE(events.count("plan_added coderef/working/locked/plan.json")) << ::testing::PrintToString(events);
  EXPECT_FALSE(core.has_failed_watches());
}

}  // namespace
}  // namespace coderef::testing
