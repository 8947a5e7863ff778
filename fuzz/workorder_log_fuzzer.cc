// Fuzz target: workorder-log lines and the tailer (watcher-svc/workorder_log.h
// ParseLogLine, LogTailer) over an in-memory file system.
// Input: a script of file operations (append, rewrite in place, replace by
// rename, truncate, delete) each followed or not by an Update().
// Invariants: every parsed line starts with WO- and has no line break; every
// entry survives a protobuf round trip (UTF-8); and after the script the
// tailer that followed every step holds exactly the entries (keys) a fresh
// tailer reads from the final file: no line lost, none repeated, whatever
// the order of appends, partial lines, CRLFs, truncations and rewrites.
// Files stay under 4 KiB: an in-place rewrite that keeps the first 4 KiB
// is not detected by design (docs: the tailer compares the head only).
#include <cstdint>
#include <set>
#include <string>

#include "fuzz/fuzz_util.h"
#include "tests/watcher/fake_file_system.h"
#include "watcher-svc/workorder_log.h"

namespace cw = coderef::watcher;
using coderef::fuzz::ByteReader;

namespace {

constexpr const char* kLog = "/p/coderef/workorder-log.txt";
constexpr size_t kMaxFile = 4000;

void CheckLine(std::string_view line) {
  auto parsed = cw::ParseLogLine(line);
  if (!parsed) return;
  FUZZ_CHECK(parsed->workorder_id.rfind("WO-", 0) == 0, "id without WO-: " + parsed->workorder_id);
  FUZZ_CHECK(parsed->raw.find('\n') == std::string::npos, "raw holds a newline");
  FUZZ_CHECK(parsed->raw.empty() || parsed->raw.back() != '\r', "raw keeps a CR");
  FUZZ_CHECK(!parsed->timestamp || !parsed->timestamp->empty(), "empty timestamp is not null");
}

std::set<std::string> Keys(const cw::LogTailer& t) {
  std::set<std::string> out;
  for (const auto& [key, item] : t.entries()) {
    FUZZ_CHECK(key == item.key(), "map key differs from item key");
    std::string wire;
    FUZZ_CHECK(item.SerializeToString(&wire), "serialize");
    coderef::v1::Item back;
    FUZZ_CHECK(back.ParseFromString(wire), "entry is not valid UTF-8 on the wire: " + key);
    out.insert(key);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  coderef::fuzz::QuietLogs();
  ByteReader in(data, size);
  std::string owner = in.Bool() ? "noted" : "";
  cw::FakeFileSystem fs;
  cw::LogTailer tailer(kLog, "coderef/workorder-log.txt", owner);
  std::string error;
  for (int step = 0; step < 64 && !in.empty(); ++step) {
    uint8_t op = in.Byte();
    std::string current = fs.Content(kLog);
    switch (op % 6) {
      case 0:
      case 1: {  // append (the common case)
        std::string_view chunk = in.Bytes(600);
        if (current.size() + chunk.size() <= kMaxFile) fs.AppendFile(kLog, std::string(chunk));
        break;
      }
      case 2: {  // rewrite in place (O_TRUNC + write)
        std::string_view text = in.Bytes(kMaxFile);
        fs.WriteFile(kLog, std::string(text));
        break;
      }
      case 3: {  // editor save: new inode
        std::string_view text = in.Bytes(kMaxFile);
        fs.AddFile(kLog, std::string(text));
        break;
      }
      case 4:  // truncate
        fs.Truncate(kLog, current.empty() ? 0 : in.Below(static_cast<uint32_t>(current.size() + 1)));
        break;
      case 5:  // delete
        fs.Remove(kLog);
        break;
    }
    if (in.Bool()) {
      FUZZ_CHECK(tailer.Update(fs, &error), "update failed: " + error);
      Keys(tailer);
    }
  }
  FUZZ_CHECK(tailer.Update(fs, &error), "update failed: " + error);
  std::string final_text = fs.Content(kLog);
  size_t pos = 0;
  while (pos <= final_text.size()) {
    size_t nl = final_text.find('\n', pos);
    if (nl == std::string::npos) nl = final_text.size();
    CheckLine(std::string_view(final_text).substr(pos, nl - pos));
    pos = nl + 1;
  }
  cw::LogTailer fresh(kLog, "coderef/workorder-log.txt", owner);
  FUZZ_CHECK(fresh.Update(fs, &error), "fresh update failed: " + error);
  std::set<std::string> followed = Keys(tailer), reread = Keys(fresh);
  FUZZ_CHECK(followed == reread,
             "the tailer that followed the file holds " + std::to_string(followed.size()) +
                 " entries, a fresh read " + std::to_string(reread.size()));
  return 0;
}
