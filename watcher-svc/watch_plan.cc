#include "watcher-svc/watch_plan.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/log.h"
#include "common/text.h"

namespace coderef::watcher {

namespace {
bool IsLocation(std::string_view s) { return s == "working" || s == "archived" || s == "stubs"; }
}  // namespace

int WatchPlan::ModeFor(const std::string& rel_dir) {
  auto parts = Split(rel_dir, '/');
  if (parts.empty() || parts[0] != "coderef") return 0;
  if (parts.size() == 1) return 2;
  if (!IsLocation(parts[1])) return 0;
  if (parts.size() == 2) return 1;
  if (parts.size() == 3) return 2;
  return 0;
}

void WatchPlan::SetUnwatchedGauge() {
  if (metrics_.unwatched_dirs) metrics_.unwatched_dirs->Set(static_cast<int64_t>(failed_.size()));
}

bool WatchPlan::Watch(const std::string& dir, bool entries_only) {
  int err = 0;
  if (backend_.AddWatch(dir, entries_only, &err)) {
    if (failed_.erase(dir)) SetUnwatchedGauge();
    return true;
  }
  if (err == ENOENT || err == ENOTDIR) return false;  // gone already: the parent's events cover it
  if (failed_.insert(dir).second) {
    if (metrics_.watch_errors) metrics_.watch_errors->Add();
    if (err == ENOSPC) {
      if (metrics_.watch_limit_errors) metrics_.watch_limit_errors->Add();
      LogError("watch.limit_reached")
          .Kv("dir", EscapeForDisplay(dir))
          .Kv("watches", static_cast<uint64_t>(backend_.watch_count()))
          .Kv("hint", "raise fs.inotify.max_user_watches; this folder is rescanned every 2 s meanwhile");
    } else {
      LogError("watch.failed").Kv("dir", EscapeForDisplay(dir)).Kv("error", std::strerror(err));
    }
  }
  SetUnwatchedGauge();
  return false;
}

std::vector<std::string> WatchPlan::TakeRetries() {
  std::vector<std::string> dirs(failed_.begin(), failed_.end());
  for (const auto& d : dirs) {
    FileStat st;
    int err = 0;
    if (!fs_.Stat(d, &st, &err) || !st.is_dir) failed_.erase(d);
  }
  SetUnwatchedGauge();
  return dirs;
}

void WatchPlan::DropAnchor(const std::string& project_id) {
  // A project has at most one anchor: find it through the index rather
  // than walking every anchor (that walk made start-up O(projects^2)).
  auto at = anchor_dir_of_.find(project_id);
  if (at == anchor_dir_of_.end()) return;
  auto it = anchors_.find(at->second);
  anchor_dir_of_.erase(at);
  if (it == anchors_.end()) return;
  auto& v = it->second;
  v.erase(std::remove_if(v.begin(), v.end(),
                         [&](const Anchor& a) { return a.project_id == project_id; }),
          v.end());
  if (v.empty()) {
    if (it->first != keep_dir_) backend_.RemoveWatch(it->first);
    anchors_.erase(it);
  }
}

void WatchPlan::AnchorProject(const ProjectEntry& p) {
  DropAnchor(p.id);
  // Anchor on the nearest existing ancestor of <root>/coderef, watching for
  // the next path component to appear.
  std::string child = "coderef";
  std::string dir = p.path;
  for (int guard = 0; guard < 64; ++guard) {
    FileStat st;
    int err = 0;
    if (fs_.Stat(dir, &st, &err) && st.is_dir) break;
    if (dir == "/") break;
    child = BaseName(dir);
    dir = DirName(dir);
  }
  anchors_[dir].push_back({p.id, child});
  anchor_dir_of_[p.id] = dir;
  Watch(dir, true);
}

void WatchPlan::DropProject(const ProjectEntry& p, const std::vector<std::string>& watched_sources) {
  DropAnchor(p.id);
  // The coderef tree: its directories are the watched ones under it.
  std::string prefix = JoinPath(p.path, "coderef");
  for (auto it = failed_.begin(); it != failed_.end();) {
    if (*it == prefix || StartsWith(*it, prefix + "/")) it = failed_.erase(it);
    else ++it;
  }
  // The folders of the published sources are the watched ones (cheaper
  // than asking the backend for a list; folders without sources are
  // dropped when the kernel reports them gone or on the next restart).
  std::set<std::string> dirs;
  for (const auto& s : watched_sources) {
    std::string d = DirName(s);
    while (d.size() >= prefix.size()) {
      dirs.insert(d);
      if (d == prefix) break;
      d = DirName(d);
    }
  }
  dirs.insert(prefix);
  for (const auto& d : dirs) backend_.RemoveWatch(d);
}

const std::vector<WatchPlan::Anchor>* WatchPlan::AnchorsIn(const std::string& dir) const {
  auto it = anchors_.find(dir);
  return it == anchors_.end() ? nullptr : &it->second;
}

}  // namespace coderef::watcher
