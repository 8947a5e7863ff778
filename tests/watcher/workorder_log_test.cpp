#include "watcher-svc/workorder_log.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "common/text.h"
#include "tests/watcher/fake_file_system.h"

namespace coderef::watcher {
namespace {

// --- ParseLogLine ----------------------------------------------------------

TEST(ParseLogLine, FourParts) {
  auto l = ParseLogLine("WO-AUTH-001 | noted | Implement login | 2026-11-25T10:00:00Z");
  ASSERT_TRUE(l);
  EXPECT_EQ(l->workorder_id, "WO-AUTH-001");
  EXPECT_EQ(l->project, "noted");
  EXPECT_EQ(l->description, "Implement login");
  ASSERT_TRUE(l->timestamp);
  EXPECT_EQ(*l->timestamp, "2026-11-25T10:00:00Z");
  EXPECT_EQ(l->raw, "WO-AUTH-001 | noted | Implement login | 2026-11-25T10:00:00Z");
}

TEST(ParseLogLine, ThreePartsHasNullTimestamp) {
  auto l = ParseLogLine("WO-2|scriptboard|Fix the thing");
  ASSERT_TRUE(l);
  EXPECT_EQ(l->workorder_id, "WO-2");
  EXPECT_EQ(l->project, "scriptboard");
  EXPECT_EQ(l->description, "Fix the thing");
  EXPECT_FALSE(l->timestamp.has_value());
}

TEST(ParseLogLine, ExtraPipesStayInTheDescription) {
  auto l = ParseLogLine("WO-3 | p | use a || b  |  or c | 2026-01-01");
  ASSERT_TRUE(l);
  EXPECT_EQ(l->description, "use a || b  |  or c");
  ASSERT_TRUE(l->timestamp);
  EXPECT_EQ(*l->timestamp, "2026-01-01");
}

TEST(ParseLogLine, EmptyTimestampIsNull) {
  auto l = ParseLogLine("WO-4 | p | d | ");
  ASSERT_TRUE(l);
  EXPECT_EQ(l->description, "d");
  EXPECT_FALSE(l->timestamp.has_value());
}

TEST(ParseLogLine, CrlfAndSurroundingSpace) {
  auto l = ParseLogLine("  WO-5 | p | d | t\r");
  ASSERT_TRUE(l);
  EXPECT_EQ(*l->timestamp, "t");
  EXPECT_EQ(l->raw, "WO-5 | p | d | t");
  auto three = ParseLogLine("WO-6 | p | d\r");
  ASSERT_TRUE(three);
  EXPECT_EQ(three->description, "d");
  EXPECT_FALSE(three->timestamp);
}

TEST(ParseLogLine, Rejects) {
  for (const char* line : {"", "   ", "\r", "# header", "wo-1 | p | d", "XWO-1 | p | d",
                           "WO-1 | p", "WO-1", "Workorder WO-1 | p | d", "- WO-1 | p | d"}) {
    EXPECT_FALSE(ParseLogLine(line).has_value()) << "'" << line << "'";
  }
}

// --- LogTailer -------------------------------------------------------------

const std::string kLog = "/srv/noted/coderef/workorder-log.txt";
const std::string kShown = "coderef/workorder-log.txt";

class LogTailerTest : public ::testing::Test {
 protected:
  // Updates and returns the entries' workorder ids in line order.
  std::vector<std::string> Ids() {
    std::string error;
    EXPECT_TRUE(tailer_.Update(fs_, &error)) << error;
    std::vector<const v1::Item*> items;
    for (const auto& [key, item] : tailer_.entries()) items.push_back(&item);
    std::sort(items.begin(), items.end(), [](const v1::Item* a, const v1::Item* b) {
      return a->workorder().line_number() < b->workorder().line_number();
    });
    std::vector<std::string> ids;
    for (const v1::Item* i : items) ids.push_back(i->workorder().workorder_id());
    return ids;
  }
  std::set<std::string> Keys() const {
    std::set<std::string> keys;
    for (const auto& [key, item] : tailer_.entries()) keys.insert(key);
    return keys;
  }
  // The entry of workorder `id` (a failure, and an empty item, when none).
  const v1::Item& Find(const std::string& id) const {
    for (const auto& [key, item] : tailer_.entries())
      if (item.workorder().workorder_id() == id) return item;
    ADD_FAILURE() << "no entry for " << id;
    static const v1::Item kNone;
    return kNone;
  }

  FakeFileSystem fs_;
  LogTailer tailer_{kLog, kShown, "noted"};
};

TEST_F(LogTailerTest, MissingFileHasNoEntries) {
  EXPECT_TRUE(Ids().empty());
  fs_.AddFile(kLog, "WO-1 | noted | a | t\n");
  EXPECT_EQ(Ids(), std::vector<std::string>{"WO-1"});
  fs_.Remove(kLog);
  EXPECT_TRUE(Ids().empty());
}

TEST_F(LogTailerTest, ItemFields) {
  fs_.MkDir(DirName(kLog));
  fs_.SetNow(1'764'064'800'123'000'000);
  std::string line = "WO-AUTH-001 | noted | Implement login | 2026-11-25T10:00:00Z";
  fs_.AddFile(kLog, "# log\n\n" + line + "\r\nWO-2 | noted | three parts\n");
  ASSERT_EQ(Ids(), (std::vector<std::string>{"WO-AUTH-001", "WO-2"}));
  const v1::Item* it = &Find("WO-AUTH-001");
  char hex[9];
  std::snprintf(hex, sizeof hex, "%08x", static_cast<unsigned>(Hash64(line) & 0xffffffffu));
  EXPECT_EQ(it->key(), kShown + "#WO-AUTH-001#" + hex);
  EXPECT_EQ(it->kind(), v1::KIND_WORKORDER);
  EXPECT_EQ(it->project(), "noted");
  EXPECT_EQ(it->file_path(), kShown);
  EXPECT_EQ(it->feature_name(), "");
  EXPECT_EQ(it->location(), "");
  EXPECT_TRUE(it->valid());
  EXPECT_EQ(it->content_hash(), Hash64(line));
  EXPECT_EQ(it->size_bytes(), line.size());
  EXPECT_EQ(it->last_modified_ms(), 1'764'064'800'123);
  const auto& w = it->workorder();
  EXPECT_EQ(w.source(), "log");
  EXPECT_EQ(w.workorder_id(), "WO-AUTH-001");
  EXPECT_EQ(w.description(), "Implement login");
  ASSERT_TRUE(w.has_timestamp());
  EXPECT_EQ(w.timestamp(), "2026-11-25T10:00:00Z");
  EXPECT_EQ(w.line(), line);  // no CR
  EXPECT_EQ(w.project_field(), "noted");
  EXPECT_EQ(w.line_number(), 3u);

  const v1::Item* three = &Find("WO-2");
  EXPECT_FALSE(three->workorder().has_timestamp());
  EXPECT_EQ(three->workorder().line_number(), 4u);
  EXPECT_EQ(tailer_.skipped_lines(), 1u);  // "# log"; the blank line is not counted
}

TEST_F(LogTailerTest, AppendReadsOnlyNewBytes) {
  fs_.AddFile(kLog, "WO-1 | noted | a | t1\nWO-2 | noted | b | t2\n");
  EXPECT_EQ(Ids(), (std::vector<std::string>{"WO-1", "WO-2"}));
  auto before = Keys();
  uint64_t read_before = fs_.bytes_read();

  std::string more = "WO-3 | noted | c | t3\n";
  fs_.AppendFile(kLog, more);
  EXPECT_EQ(Ids(), (std::vector<std::string>{"WO-1", "WO-2", "WO-3"}));
  auto after = Keys();
  for (const auto& k : before) EXPECT_TRUE(after.count(k)) << k;
  EXPECT_EQ(Find("WO-3").workorder().line_number(), 3u);
  // The new line, plus the head of the file to check it was not rewritten.
  uint64_t old_size = fs_.Content(kLog).size() - more.size();
  EXPECT_EQ(fs_.bytes_read() - read_before, more.size() + old_size);

  // Nothing new: no bytes beyond the head check, no change.
  read_before = fs_.bytes_read();
  EXPECT_EQ(Ids().size(), 3u);
  EXPECT_EQ(fs_.bytes_read() - read_before, fs_.Content(kLog).size());
}

TEST_F(LogTailerTest, AppendedLinesKeepOldItemsUnchanged) {
  fs_.AddFile(kLog, "WO-1 | noted | a | t1\n");
  Ids();
  v1::Item first = Find("WO-1");
  fs_.AppendFile(kLog, "WO-2 | noted | b | t2\n");  // later mtime
  Ids();
  EXPECT_EQ(Find("WO-1").SerializeAsString(), first.SerializeAsString());
  EXPECT_GT(Find("WO-2").last_modified_ms(), first.last_modified_ms());
}

TEST_F(LogTailerTest, PartialLineWaitsForItsNewline) {
  fs_.AddFile(kLog, "WO-1 | noted | a | t1\nWO-2 | noted | b");
  EXPECT_EQ(Ids(), std::vector<std::string>{"WO-1"});
  fs_.AppendFile(kLog, "ee | t2");
  EXPECT_EQ(Ids(), std::vector<std::string>{"WO-1"});
  fs_.AppendFile(kLog, "\n");
  EXPECT_EQ(Ids(), (std::vector<std::string>{"WO-1", "WO-2"}));
  EXPECT_EQ(Find("WO-2").workorder().description(), "bee");
  EXPECT_EQ(Find("WO-2").workorder().timestamp(), "t2");
  EXPECT_EQ(Find("WO-2").workorder().line_number(), 2u);
}

TEST_F(LogTailerTest, PartialCrlfLine) {
  fs_.AddFile(kLog, "WO-1 | noted | a | t1\r");
  EXPECT_TRUE(Ids().empty());
  fs_.AppendFile(kLog, "\n");
  EXPECT_EQ(Ids(), std::vector<std::string>{"WO-1"});
  EXPECT_EQ(Find("WO-1").workorder().timestamp(), "t1");
}

TEST_F(LogTailerTest, TruncateRereadsWholeFile) {
  fs_.AddFile(kLog, "WO-1 | noted | a | t1\nWO-2 | noted | b | t2\nWO-3 | noted | c | t3\n");
  EXPECT_EQ(Ids().size(), 3u);
  auto ino = fs_.Inode(kLog);
  fs_.WriteFile(kLog, "WO-2 | noted | b | t2\n");  // in place, shorter
  ASSERT_EQ(fs_.Inode(kLog), ino);
  EXPECT_EQ(Ids(), std::vector<std::string>{"WO-2"});
  fs_.Truncate(kLog, 0);
  EXPECT_TRUE(Ids().empty());
  fs_.AppendFile(kLog, "WO-9 | noted | z | t9\n");
  EXPECT_EQ(Ids(), std::vector<std::string>{"WO-9"});
  EXPECT_EQ(Find("WO-9").workorder().line_number(), 1u);
}

TEST_F(LogTailerTest, InPlaceRewriteOfTheHeadIsDetected) {
  fs_.AddFile(kLog, "WO-1 | noted | a | t1\n");
  EXPECT_EQ(Ids(), std::vector<std::string>{"WO-1"});
  // Same inode, grew, but the first line changed: a newest-first log that
  // was rewritten with a new line on top.
  fs_.WriteFile(kLog, "WO-2 | noted | b | t2\nWO-1 | noted | a | t1\n");
  std::vector<std::string> ids = Ids();
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<std::string>{"WO-1", "WO-2"})) << "no duplicate of WO-1";
  EXPECT_EQ(Find("WO-2").workorder().line_number(), 1u);
}

TEST_F(LogTailerTest, LongLogAcrossTheHeadCheckSize) {
  // Appends that carry the consumed size past the 4096-byte head check,
  // then an in-place rewrite of the first line.
  std::string content;
  size_t n = 0;
  while (content.size() < 6000) {
    std::string line = "WO-" + std::to_string(++n) + " | noted | " + std::string(100, 'x') + "\n";
    content += line;
    fs_.AppendFile(kLog, line);
    if (n % 7 == 0) {
      EXPECT_EQ(Ids().size(), n);
    }
  }
  EXPECT_EQ(Ids().size(), n);
  uint64_t bytes = fs_.bytes_read();
  EXPECT_EQ(Ids().size(), n);
  EXPECT_EQ(fs_.bytes_read() - bytes, 4096u);  // only the head was checked

  std::string rewritten = content;
  rewritten.replace(0, 4, "WO-0");  // "WO-1" -> "WO-0", same length
  fs_.WriteFile(kLog, rewritten + "WO-END | noted | e\n");
  std::vector<std::string> ids = Ids();
  ASSERT_EQ(ids.size(), n + 1);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), "WO-1"), 0);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), "WO-0"), 1);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), "WO-2"), 1);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), "WO-END"), 1);
}

TEST_F(LogTailerTest, ReplaceByRenameKeepsKeysOfSameLines) {
  fs_.AddFile(kLog, "WO-1 | noted | a | t1\nWO-2 | noted | b | t2\n");
  Ids();
  auto keys = Keys();
  std::map<std::string, std::string> before;
  for (const auto& [k, item] : tailer_.entries()) before[k] = item.SerializeAsString();

  // Atomic save of identical content: new inode, nothing changes.
  fs_.AddFile(kLog + ".tmp", "WO-1 | noted | a | t1\nWO-2 | noted | b | t2\n");
  ASSERT_TRUE(fs_.Rename(kLog + ".tmp", kLog));
  Ids();
  EXPECT_EQ(Keys(), keys);
  for (const auto& [k, item] : tailer_.entries()) EXPECT_EQ(item.SerializeAsString(), before[k]);

  // Replaced by a file with one new line and one line gone.
  uint64_t old_ino = fs_.Inode(kLog);
  fs_.AddFile(kLog + ".tmp", "WO-2 | noted | b | t2\nWO-3 | noted | c | t3\n");
  ASSERT_TRUE(fs_.Rename(kLog + ".tmp", kLog));
  ASSERT_NE(fs_.Inode(kLog), old_ino);
  EXPECT_EQ(Ids(), (std::vector<std::string>{"WO-2", "WO-3"}));
  std::set<std::string> now = Keys();
  int kept = 0;
  for (const auto& k : keys) kept += static_cast<int>(now.count(k));
  EXPECT_EQ(kept, 1);  // WO-2's key survives, WO-1's is gone
}

TEST_F(LogTailerTest, ReplacedWithSameSizeIsReread) {
  // Same size, so only the new inode tells the tailer to re-read.
  fs_.AddFile(kLog, "WO-1 | noted | a | t1\n");
  Ids();
  fs_.AddFile(kLog, "WO-7 | noted | a | t1\n");  // same size, new inode
  EXPECT_EQ(Ids(), std::vector<std::string>{"WO-7"});
}

TEST_F(LogTailerTest, DuplicateLinesGetNumberedKeys) {
  std::string line = "WO-1 | noted | same | t";
  fs_.AddFile(kLog, line + "\n" + line + "\n");
  EXPECT_EQ(Ids().size(), 2u);
  auto keys = Keys();
  ASSERT_EQ(keys.size(), 2u);
  std::string base = *keys.begin();
  EXPECT_TRUE(keys.count(base + "#2")) << base;

  fs_.AppendFile(kLog, line + "\n");
  EXPECT_EQ(Ids().size(), 3u);
  EXPECT_TRUE(Keys().count(base + "#3"));

  // A re-read of the same content restarts counting: identical keys.
  auto all = Keys();
  fs_.AddFile(kLog, fs_.Content(kLog));
  Ids();
  EXPECT_EQ(Keys(), all);
}

TEST_F(LogTailerTest, MalformedLinesAreSkippedAndCounted) {
  fs_.AddFile(kLog, "not a workorder\nWO-1 | only two\n\n   \nWO-2 | noted | ok\n");
  EXPECT_EQ(Ids(), std::vector<std::string>{"WO-2"});
  EXPECT_EQ(tailer_.skipped_lines(), 2u);
  EXPECT_EQ(Find("WO-2").workorder().line_number(), 5u);
}

TEST_F(LogTailerTest, Utf8BomOnFirstLine) {
  fs_.AddFile(kLog, "\xEF\xBB\xBFWO-1 | noted | a | t\n");
  EXPECT_EQ(Ids(), std::vector<std::string>{"WO-1"});
}

TEST_F(LogTailerTest, NonUtf8BytesAreEscaped) {
  fs_.AddFile(kLog, "WO-\xff | noted | caf\xe9 | t\n");
  ASSERT_EQ(tailer_.entries().size(), 0u);
  Ids();
  ASSERT_EQ(tailer_.entries().size(), 1u);
  const v1::Item& item = tailer_.entries().begin()->second;
  EXPECT_EQ(item.workorder().workorder_id(), "WO-\\xff");
  EXPECT_EQ(item.workorder().description(), "caf\\xe9");
  EXPECT_TRUE(IsValidUtf8(item.key()));
  EXPECT_TRUE(IsValidUtf8(item.workorder().line()));
  v1::Item back;
  EXPECT_TRUE(back.ParseFromString(item.SerializeAsString()));
}

TEST_F(LogTailerTest, ReadErrorKeepsEntries) {
  fs_.AddFile(kLog, "WO-1 | noted | a | t\n");
  Ids();
  fs_.AppendFile(kLog, "WO-2 | noted | b | t\n");
  fs_.InjectError(kLog, EACCES);
  std::string error;
  EXPECT_FALSE(tailer_.Update(fs_, &error));
  EXPECT_NE(error.find(kLog), std::string::npos) << error;
  EXPECT_EQ(tailer_.entries().size(), 1u);
  fs_.ClearError(kLog);
  EXPECT_EQ(Ids(), (std::vector<std::string>{"WO-1", "WO-2"}));
}

TEST_F(LogTailerTest, FolderInsteadOfFileIsAnError) {
  fs_.MkDir(kLog);
  std::string error;
  EXPECT_FALSE(tailer_.Update(fs_, &error));
  EXPECT_FALSE(error.empty());
  EXPECT_TRUE(tailer_.entries().empty());
}

class PrefixResolver final : public ProjectResolver {
 public:
  explicit PrefixResolver(std::string prefix) : prefix_(std::move(prefix)) {}
  std::string Resolve(const std::string& column) const override { return prefix_ + Slugify(column); }

 private:
  std::string prefix_;
};

TEST(LogTailerGlobal, ProjectFromTheLine) {
  FakeFileSystem fs;
  fs.AddFile("/var/log/wo.txt", "WO-1 | Noted App | a | t\nWO-2 | scriptboard | b | t\n");
  LogTailer global("/var/log/wo.txt", "/var/log/wo.txt", "");
  std::string error;
  ASSERT_TRUE(global.Update(fs, &error)) << error;
  std::set<std::string> projects;
  for (const auto& [k, item] : global.entries()) {
    projects.insert(item.project());
    EXPECT_EQ(item.file_path(), "/var/log/wo.txt");
    EXPECT_EQ(k.rfind("/var/log/wo.txt#WO-", 0), 0u) << k;
  }
  EXPECT_EQ(projects, (std::set<std::string>{"noted-app", "scriptboard"}));

  PrefixResolver prefix("p-");
  LogTailer resolved("/var/log/wo.txt", "/var/log/wo.txt", "");
  resolved.set_resolver(&prefix);
  ASSERT_TRUE(resolved.Update(fs, &error)) << error;
  projects.clear();
  for (const auto& [k, item] : resolved.entries()) projects.insert(item.project());
  EXPECT_EQ(projects, (std::set<std::string>{"p-noted-app", "p-scriptboard"}));
}

TEST(LogTailerPosix, TailsARealFile) {
  // The same tailer over the real file system, to check the seam.
  char tmpl[] = "/tmp/coderef-log-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string path = std::string(tmpl) + "/workorder-log.txt";
  auto write = [&](const char* mode, const std::string& s) {
    FILE* f = std::fopen(path.c_str(), mode);
    ASSERT_NE(f, nullptr);
    std::fwrite(s.data(), 1, s.size(), f);
    std::fclose(f);
  };
  PosixFileSystem fs;
  LogTailer t(path, "coderef/workorder-log.txt", "noted");
  std::string error;
  write("w", "WO-1 | noted | a | t\nWO-2 | noted");
  ASSERT_TRUE(t.Update(fs, &error)) << error;
  EXPECT_EQ(t.entries().size(), 1u);
  write("a", " | b\n");
  ASSERT_TRUE(t.Update(fs, &error)) << error;
  EXPECT_EQ(t.entries().size(), 2u);
  write("w", "WO-3 | noted | c\n");
  ASSERT_TRUE(t.Update(fs, &error)) << error;
  ASSERT_EQ(t.entries().size(), 1u);
  EXPECT_EQ(t.entries().begin()->second.workorder().workorder_id(), "WO-3");
  std::remove(path.c_str());
  ASSERT_TRUE(t.Update(fs, &error)) << error;
  EXPECT_TRUE(t.entries().empty());
  ::rmdir(tmpl);
}

}  // namespace
}  // namespace coderef::watcher
