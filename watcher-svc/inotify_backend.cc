#include "watcher-svc/inotify_backend.h"

#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace coderef::watcher {

namespace {
constexpr uint32_t kEntryMask = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO |
                                IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW;
constexpr uint32_t kFullMask = kEntryMask | IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB;
}  // namespace

InotifyBackend::InotifyBackend() {
  fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd_ < 0) init_errno_ = errno;
}

InotifyBackend::~InotifyBackend() {
  if (fd_ >= 0) ::close(fd_);
}

bool InotifyBackend::AddWatch(const std::string& dir, bool entries_only, int* err) {
  int wd = ::inotify_add_watch(fd_, dir.c_str(), entries_only ? kEntryMask : kFullMask);
  if (wd < 0) {
    *err = errno;
    return false;
  }
  auto old = by_wd_.find(wd);
  if (old != by_wd_.end() && old->second != dir) {
    // Same inode under another path (the directory was moved and we have
    // not seen IN_MOVE_SELF yet): the new path wins.
    by_path_.erase(old->second);
  }
  by_wd_[wd] = dir;
  by_path_[dir] = wd;
  return true;
}

void InotifyBackend::RemoveWatch(const std::string& dir) {
  auto it = by_path_.find(dir);
  if (it == by_path_.end()) return;
  ::inotify_rm_watch(fd_, it->second);
  by_wd_.erase(it->second);
  by_path_.erase(it);
}

void InotifyBackend::ReadEvents(std::vector<RawEvent>* out) {
  alignas(struct inotify_event) char buf[64 * 1024];
  for (;;) {
    ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // EAGAIN: drained
    }
    if (n == 0) return;
    for (char* p = buf; p < buf + n;) {
      auto* ev = reinterpret_cast<struct inotify_event*>(p);
      p += sizeof(struct inotify_event) + ev->len;
      if (ev->mask & IN_Q_OVERFLOW) {
        RawEvent r;
        r.type = RawEvent::Type::kOverflow;
        out->push_back(std::move(r));
        continue;
      }
      auto it = by_wd_.find(ev->wd);
      if (it == by_wd_.end()) continue;  // a watch we already dropped
      const std::string dir = it->second;
      if (ev->mask & IN_IGNORED) {
        // The kernel dropped the watch (directory deleted, or unmounted).
        by_path_.erase(dir);
        by_wd_.erase(it);
        continue;
      }
      RawEvent r;
      r.dir = dir;
      r.is_dir = (ev->mask & IN_ISDIR) != 0;
      if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT)) {
        r.type = RawEvent::Type::kSelfGone;
        r.is_dir = true;
        ::inotify_rm_watch(fd_, ev->wd);
        by_path_.erase(dir);
        by_wd_.erase(ev->wd);
        out->push_back(std::move(r));
        continue;
      }
      r.name = ev->len ? std::string(ev->name, strnlen(ev->name, ev->len)) : std::string();
      if (ev->mask & (IN_CREATE | IN_MOVED_TO)) r.type = RawEvent::Type::kCreated;
      else if (ev->mask & (IN_DELETE | IN_MOVED_FROM)) r.type = RawEvent::Type::kDeleted;
      else r.type = RawEvent::Type::kChanged;
      // A file created by open(O_CREAT) is written next; one renamed in is
      // whole. (A hard link or symlink made by IN_CREATE never closes: it
      // is held until --max-hold-ms.)
      if (!r.is_dir) {
        if (ev->mask & (IN_MOVED_TO | IN_CLOSE_WRITE)) r.completion = Completion::kComplete;
        else if (ev->mask & (IN_CREATE | IN_MODIFY)) r.completion = Completion::kInProgress;
      }
      out->push_back(std::move(r));
    }
  }
}

}  // namespace coderef::watcher
