#include "watcher-svc/poll_backend.h"

#include <cerrno>

namespace coderef::watcher {

bool PollBackend::List(const std::string& dir, bool entries_only, DirState* st, int* err) {
  FileStat ds;
  if (!fs_.Stat(dir, &ds, err)) return false;
  if (!ds.is_dir) {
    *err = ENOTDIR;
    return false;
  }
  std::vector<DirEntry> entries;
  if (!fs_.ListDir(dir, &entries, err)) return false;
  st->entries_only = entries_only;
  st->ino = ds.ino;
  st->entries.clear();
  for (const auto& e : entries) {
    EntrySig sig;
    sig.is_dir = e.is_dir;
    if (!entries_only && !e.is_dir) {
      FileStat fst;
      int ferr = 0;
      if (fs_.Stat(JoinPath(dir, e.name), &fst, &ferr)) {
        sig.size = fst.size;
        sig.mtime_ns = fst.mtime_ns;
        sig.ino = fst.ino;
      }
    }
    st->entries[e.name] = sig;
  }
  return true;
}

bool PollBackend::AddWatch(const std::string& dir, bool entries_only, int* err) {
  auto it = dirs_.find(dir);
  if (it != dirs_.end() && it->second.entries_only == entries_only) return true;
  DirState st;
  if (!List(dir, entries_only, &st, err)) return false;
  dirs_[dir] = std::move(st);
  return true;
}

void PollBackend::ReadEvents(std::vector<RawEvent>* out) {
  // Copy the keys first: the caller reacts to events by adding/removing
  // watches only after we return.
  for (auto it = dirs_.begin(); it != dirs_.end();) {
    const std::string& dir = it->first;
    DirState now;
    int err = 0;
    if (!List(dir, it->second.entries_only, &now, &err) || now.ino != it->second.ino) {
      RawEvent r;
      r.type = RawEvent::Type::kSelfGone;
      r.dir = dir;
      r.is_dir = true;
      out->push_back(std::move(r));
      it = dirs_.erase(it);
      continue;
    }
    const auto& before = it->second.entries;
    // Only full watches see sizes and mtimes, so only they can tell when a
    // file stops changing.
    const bool sized = !it->second.entries_only;
    for (auto& [name, sig] : now.entries) {
      auto b = before.find(name);
      RawEvent r;
      r.dir = dir;
      r.name = name;
      r.is_dir = sig.is_dir;
      if (sized && !sig.is_dir) r.completion = Completion::kInProgress;
      if (b == before.end()) {
        r.type = RawEvent::Type::kCreated;
      } else if (b->second.is_dir != sig.is_dir || (sig.ino != b->second.ino && !sig.is_dir)) {
        // Replaced by another inode (atomic save): deleted + created.
        RawEvent d = r;
        d.type = RawEvent::Type::kDeleted;
        d.is_dir = b->second.is_dir;
        d.completion = Completion::kUnknown;
        out->push_back(std::move(d));
        r.type = RawEvent::Type::kCreated;
      } else if (!(b->second == sig)) {
        r.type = RawEvent::Type::kChanged;
      } else if (b->second.unsettled) {
        // Same size and mtime on two polls: the write is complete.
        r.type = RawEvent::Type::kChanged;
        r.completion = Completion::kComplete;
        out->push_back(std::move(r));
        continue;
      } else {
        continue;
      }
      sig.unsettled = r.completion == Completion::kInProgress;
      out->push_back(std::move(r));
    }
    for (const auto& [name, sig] : before) {
      if (now.entries.count(name)) continue;
      RawEvent r;
      r.type = RawEvent::Type::kDeleted;
      r.dir = dir;
      r.name = name;
      r.is_dir = sig.is_dir;
      out->push_back(std::move(r));
    }
    it->second = std::move(now);
    ++it;
  }
}

}  // namespace coderef::watcher
