// FakeFileSystem: an in-memory FileSystem for unit tests (header-only).
// A map of normalised absolute path -> node (file, folder or symlink) with
// POSIX-like behaviour where the watcher can tell the difference:
//   - inodes: WriteFile/AppendFile keep a file's inode (in-place write);
//     AddFile over an existing file and Rename give the path a different
//     inode (a replace), as an editor's atomic save does.
//   - mtimes come from a fake clock that advances 1 ms per mutation, so two
//     writes always differ; SetNow/SetMtime pin them.
//   - errors: ENOENT, ENOTDIR (a parent is a file), EISDIR (Read of a
//     folder), plus any errno injected per path with InjectError.
//   - counters of Read calls and bytes read, to check that a tailer reads
//     only what is new.
// Parent folders are created implicitly by AddFile/WriteFile/MkDir/Symlink.
// Thread-safe (one mutex), so a test thread may mutate it while a loop reads.
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "watcher-svc/file_system.h"

namespace coderef::watcher {

class FakeFileSystem final : public FileSystem {
 public:
  static constexpr uint64_t kDev = 1;

  FakeFileSystem() {
    Node root;
    root.is_dir = true;
    root.ino = next_ino_++;
    root.mtime_ns = now_ns_;
    nodes_["/"] = root;
  }

  // --- mutations -----------------------------------------------------------

  // Creates the file, or replaces an existing one with a new inode (like
  // writing a temp file and renaming it over). Creates missing parents.
  void AddFile(const std::string& path, const std::string& content) {
    std::lock_guard<std::mutex> lock(mu_);
    std::string p = NormalizePath(path);
    MkDirsLocked(DirName(p));
    EraseTreeLocked(p);  // a folder replaced by a file goes with its contents
    Node n;
    n.content = content;
    n.ino = next_ino_++;
    n.mtime_ns = Tick();
    nodes_[p] = n;
    TouchParentLocked(p);
  }

  // Overwrites in place (open with O_TRUNC, write): the inode is kept.
  // Creates the file (and parents) when missing.
  void WriteFile(const std::string& path, const std::string& content) {
    std::lock_guard<std::mutex> lock(mu_);
    std::string p = NormalizePath(path);
    auto it = nodes_.find(p);
    if (it == nodes_.end() || it->second.is_dir || it->second.is_symlink) {
      if (it != nodes_.end()) EraseTreeLocked(p);
      MkDirsLocked(DirName(p));
      Node n;
      n.ino = next_ino_++;
      it = nodes_.insert_or_assign(p, n).first;
      TouchParentLocked(p);
    }
    it->second.content = content;
    it->second.mtime_ns = Tick();
  }

  // Appends in place (O_APPEND): the inode is kept. Creates when missing.
  void AppendFile(const std::string& path, const std::string& data) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = nodes_.find(NormalizePath(path));
      if (it != nodes_.end() && !it->second.is_dir && !it->second.is_symlink) {
        it->second.content += data;
        it->second.mtime_ns = Tick();
        return;
      }
    }
    WriteFile(path, data);
  }

  // Truncates in place to `size` bytes (the inode is kept).
  void Truncate(const std::string& path, uint64_t size) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = nodes_.find(NormalizePath(path));
    if (it == nodes_.end() || it->second.is_dir) return;
    if (it->second.content.size() > size) it->second.content.resize(static_cast<size_t>(size));
    it->second.mtime_ns = Tick();
  }

  // A writer opens (true) or closes (false) the file, with no event: Stat
  // reports open_for_writing as a read lease would find it.
  void SetOpenForWriting(const std::string& path, bool open) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = nodes_.find(NormalizePath(path));
    if (it != nodes_.end()) it->second.open_for_writing = open;
  }

  // mkdir -p.
  void MkDir(const std::string& path) {
    std::lock_guard<std::mutex> lock(mu_);
    MkDirsLocked(NormalizePath(path));
  }

  // A symlink at `link` pointing to `target` (absolute, or relative to the
  // link's folder). Stat follows it; ListDir reports it as the POSIX one does.
  void Symlink(const std::string& target, const std::string& link) {
    std::lock_guard<std::mutex> lock(mu_);
    std::string p = NormalizePath(link);
    MkDirsLocked(DirName(p));
    Node n;
    n.is_symlink = true;
    n.target = target;
    n.ino = next_ino_++;
    n.mtime_ns = Tick();
    nodes_[p] = n;
    TouchParentLocked(p);
  }

  // rm -rf: removes a file, a symlink, or a folder and all under it.
  // Returns false when nothing was there.
  bool Remove(const std::string& path) {
    std::lock_guard<std::mutex> lock(mu_);
    std::string p = NormalizePath(path);
    if (p == "/" || !nodes_.count(p)) return false;
    EraseTreeLocked(p);
    TouchParentLocked(p);
    return true;
  }

  // rename(2): moves a file, symlink or folder (with everything under it),
  // keeping its inode; whatever was at `to` is replaced. Returns false when
  // `from` does not exist or `to` is inside `from`.
  bool Rename(const std::string& from, const std::string& to) {
    std::lock_guard<std::mutex> lock(mu_);
    std::string f = NormalizePath(from), t = NormalizePath(to);
    if (f == "/" || !nodes_.count(f)) return false;
    if (f == t) return true;
    if (IsUnder(t, f)) return false;
    std::map<std::string, Node> moved;
    for (auto it = nodes_.begin(); it != nodes_.end();) {
      if (it->first == f || IsUnder(it->first, f)) {
        moved[t + it->first.substr(f.size())] = std::move(it->second);
        it = nodes_.erase(it);
      } else {
        ++it;
      }
    }
    if (nodes_.count(t)) EraseTreeLocked(t);
    MkDirsLocked(DirName(t));
    for (auto& [p, n] : moved) nodes_[p] = std::move(n);
    TouchParentLocked(f);
    TouchParentLocked(t);
    return true;
  }

  // Makes Stat/Read/ListDir of exactly `path` fail with `err` until cleared.
  void InjectError(const std::string& path, int err) {
    std::lock_guard<std::mutex> lock(mu_);
    errors_[NormalizePath(path)] = err;
  }
  void ClearError(const std::string& path) {
    std::lock_guard<std::mutex> lock(mu_);
    errors_.erase(NormalizePath(path));
  }

  // The fake clock (ns since the epoch) used for the next mutation's mtime.
  void SetNow(int64_t ns) {
    std::lock_guard<std::mutex> lock(mu_);
    now_ns_ = ns;
  }
  void SetMtime(const std::string& path, int64_t ns) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = nodes_.find(NormalizePath(path));
    if (it != nodes_.end()) it->second.mtime_ns = ns;
  }

  // --- inspection ----------------------------------------------------------

  bool Exists(const std::string& path) {
    std::lock_guard<std::mutex> lock(mu_);
    return nodes_.count(NormalizePath(path)) > 0;
  }
  std::string Content(const std::string& path) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = nodes_.find(NormalizePath(path));
    return it == nodes_.end() ? std::string() : it->second.content;
  }
  uint64_t Inode(const std::string& path) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = nodes_.find(NormalizePath(path));
    return it == nodes_.end() ? 0 : it->second.ino;
  }
  uint64_t read_calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return read_calls_;
  }
  uint64_t bytes_read() {
    std::lock_guard<std::mutex> lock(mu_);
    return bytes_read_;
  }

  // --- FileSystem ----------------------------------------------------------

  bool Stat(const std::string& path, FileStat* st, int* err) override {
    std::lock_guard<std::mutex> lock(mu_);
    *st = FileStat{};
    std::string p = NormalizePath(path);
    if (InjectedLocked(p, err)) return false;
    const Node* link = nullptr;
    const Node* n = ResolveLocked(p, &link, err);
    if (n == nullptr) return false;
    st->exists = true;
    st->is_symlink = link != nullptr;
    st->is_dir = n->is_dir;
    st->is_file = !n->is_dir;
    st->size = n->is_dir ? 4096 : n->content.size();
    st->mtime_ns = n->mtime_ns;
    st->ino = n->ino;
    st->dev = kDev;
    st->open_for_writing = n->open_for_writing;
    return true;
  }

  bool Read(const std::string& path, uint64_t offset, uint64_t max_bytes, std::string* out,
            int* err) override {
    std::lock_guard<std::mutex> lock(mu_);
    out->clear();
    std::string p = NormalizePath(path);
    if (InjectedLocked(p, err)) return false;
    const Node* link = nullptr;
    const Node* n = ResolveLocked(p, &link, err);
    if (n == nullptr) return false;
    if (n->is_dir) {
      *err = EISDIR;
      return false;
    }
    ++read_calls_;
    if (offset < n->content.size()) {
      *out = n->content.substr(static_cast<size_t>(offset), static_cast<size_t>(max_bytes));
    }
    bytes_read_ += out->size();
    return true;
  }

  bool ListDir(const std::string& path, std::vector<DirEntry>* out, int* err) override {
    std::lock_guard<std::mutex> lock(mu_);
    out->clear();
    std::string p = NormalizePath(path);
    if (InjectedLocked(p, err)) return false;
    const Node* link = nullptr;
    const Node* dir = ResolveLocked(p, &link, err);
    if (dir == nullptr) return false;
    if (!dir->is_dir) {
      *err = ENOTDIR;
      return false;
    }
    // Children of a symlinked folder live under the folder it points to.
    std::string real = link ? RealPathLocked(p) : p;
    std::string prefix = real == "/" ? "/" : real + "/";
    for (auto it = nodes_.lower_bound(prefix); it != nodes_.end(); ++it) {
      if (it->first.compare(0, prefix.size(), prefix) != 0) break;
      std::string rest = it->first.substr(prefix.size());
      if (rest.empty() || rest.find('/') != std::string::npos) continue;
      DirEntry e;
      e.name = rest;
      if (it->second.is_symlink) {
        int ignored = 0;
        const Node* ignored_link = nullptr;
        const Node* t = ResolveLocked(it->first, &ignored_link, &ignored);
        e.is_file = t != nullptr && !t->is_dir;
      } else {
        e.is_dir = it->second.is_dir;
        e.is_file = !it->second.is_dir;
      }
      out->push_back(std::move(e));
    }
    return true;
  }

 private:
  struct Node {
    bool is_dir = false;
    bool is_symlink = false;
    std::string content;  // file bytes
    std::string target;   // symlink target
    uint64_t ino = 0;
    int64_t mtime_ns = 0;
    bool open_for_writing = false;
  };

  static bool IsUnder(const std::string& path, const std::string& dir) {
    if (dir == "/") return path != "/";
    return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
           path[dir.size()] == '/';
  }

  int64_t Tick() {
    int64_t t = now_ns_;
    now_ns_ += 1'000'000;
    return t;
  }

  bool InjectedLocked(const std::string& p, int* err) const {
    auto it = errors_.find(p);
    if (it == errors_.end()) return false;
    *err = it->second;
    return true;
  }

  void MkDirsLocked(const std::string& p) {
    if (p == "/") return;
    MkDirsLocked(DirName(p));
    auto it = nodes_.find(p);
    if (it != nodes_.end()) return;  // an existing file stays (later ENOTDIR)
    Node n;
    n.is_dir = true;
    n.ino = next_ino_++;
    n.mtime_ns = Tick();
    nodes_[p] = n;
    TouchParentLocked(p);
  }

  void TouchParentLocked(const std::string& p) {
    auto it = nodes_.find(DirName(p));
    if (it != nodes_.end() && it->second.is_dir) it->second.mtime_ns = now_ns_;
  }

  void EraseTreeLocked(const std::string& p) {
    for (auto it = nodes_.begin(); it != nodes_.end();) {
      if (it->first == p || IsUnder(it->first, p)) it = nodes_.erase(it);
      else ++it;
    }
  }

  // Resolves symlinks in every component (up to 16 hops), like the kernel.
  // Returns the path of the real node, or "" when a component is missing.
  std::string RealPathLocked(const std::string& path, int* err = nullptr) const {
    std::string cur = "/";
    std::vector<std::string> todo;
    for (std::string_view part : SplitPath(path)) todo.emplace_back(part);
    int hops = 0;
    size_t i = 0;
    while (i < todo.size()) {
      const std::string next = JoinPath(cur, todo[i]);
      auto it = nodes_.find(next);
      if (it == nodes_.end()) {
        if (err) *err = ENOENT;
        return "";
      }
      if (it->second.is_symlink) {
        if (++hops > 16) {
          if (err) *err = ELOOP;
          return "";
        }
        const std::string& t = it->second.target;
        std::string resolved = NormalizePath(t.size() && t[0] == '/' ? t : JoinPath(cur, t));
        std::vector<std::string> rest;
        for (std::string_view part : SplitPath(resolved)) rest.emplace_back(part);
        rest.insert(rest.end(), todo.begin() + static_cast<std::ptrdiff_t>(i) + 1, todo.end());
        todo = std::move(rest);
        cur = "/";
        i = 0;
        continue;
      }
      if (!it->second.is_dir && i + 1 < todo.size()) {
        if (err) *err = ENOTDIR;
        return "";
      }
      cur = next;
      ++i;
    }
    return cur;
  }

  // The node at `p` after following symlinks; *link is the symlink node when
  // `p` itself is one. Sets *err and returns nullptr when it does not resolve.
  const Node* ResolveLocked(const std::string& p, const Node** link, int* err) const {
    std::string real = RealPathLocked(p, err);
    if (real.empty()) return nullptr;
    auto self = nodes_.find(p);
    if (self != nodes_.end() && self->second.is_symlink) *link = &self->second;
    return &nodes_.at(real);
  }

  static std::vector<std::string_view> SplitPath(const std::string& p) {
    std::vector<std::string_view> out;
    std::string_view s = p;
    size_t i = 0;
    while (i < s.size()) {
      size_t j = s.find('/', i);
      if (j == std::string_view::npos) j = s.size();
      if (j > i) out.push_back(s.substr(i, j - i));
      i = j + 1;
    }
    return out;
  }

  std::mutex mu_;
  std::map<std::string, Node> nodes_;
  std::map<std::string, int> errors_;
  uint64_t next_ino_ = 1;
  int64_t now_ns_ = 1'700'000'000'000'000'000;
  uint64_t read_calls_ = 0;
  uint64_t bytes_read_ = 0;
};

}  // namespace coderef::watcher
