// Fuzz target: projects.json (watcher-svc/registry.h ParseRegistry) over an
// in-memory file system holding a few folders and a file.
// Invariants: a rejection names its problem on one printable line (it is
// logged); an accepted registry has unique ids in [a-z0-9._-], absolute
// normalised paths, never "/" and never a path that is a file.
#include <cstdint>
#include <set>

#include "fuzz/fuzz_util.h"
#include "tests/watcher/fake_file_system.h"
#include "watcher-svc/registry.h"

using coderef::watcher::FakeFileSystem;
using coderef::watcher::NormalizePath;
using coderef::watcher::ParseRegistry;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  coderef::fuzz::QuietLogs();
  static FakeFileSystem* fs = [] {
    auto* f = new FakeFileSystem();
    f->MkDir("/ws/alpha/coderef/working");
    f->MkDir("/ws/beta");
    f->MkDir("/srv/projects/next");
    f->AddFile("/ws/readme.txt", "a file, not a folder");
    f->Symlink("/ws/loop", "/ws/loop");
    return f;
  }();
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto r = ParseRegistry(text, "/ws/projects.json", *fs);
  if (!r.ok) {
    FUZZ_CHECK(!r.error.empty(), "a rejection without a reason");
    FUZZ_CHECK(r.error.find('\n') == std::string::npos && r.error.find('\r') == std::string::npos,
               "the error is logged on one line: " + r.error);
    return 0;
  }
  std::set<std::string> ids;
  for (const auto& p : r.projects) {
    FUZZ_CHECK(ids.insert(p.id).second, "duplicate id accepted: " + p.id);
    FUZZ_CHECK(!p.id.empty(), "empty id accepted");
    for (char c : p.id)
      FUZZ_CHECK((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-',
                 "id with a bad character: " + p.id);
    FUZZ_CHECK(!p.path.empty() && p.path[0] == '/', "relative path: " + p.path);
    FUZZ_CHECK(NormalizePath(p.path) == p.path, "path not normalised: " + p.path);
    FUZZ_CHECK(p.path != "/", "the root accepted as a project");
    FUZZ_CHECK(p.path != "/ws/readme.txt", "a file accepted as a project folder");
    FUZZ_CHECK(!p.name.empty(), "empty name accepted");
  }
  return 0;
}
