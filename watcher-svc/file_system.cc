#include "watcher-svc/file_system.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>

namespace coderef::watcher {

namespace {

// CAP_LEASE effective after the call: already, or raised from the
// permitted set (raw capget/capset: one capability, no libcap).
bool RaiseLeaseCapability() {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (::syscall(SYS_capget, &hdr, data) != 0) return false;
  constexpr int kWord = CAP_LEASE / 32;
  constexpr uint32_t kBit = 1u << (CAP_LEASE % 32);
  if (data[kWord].effective & kBit) return true;
  if (!(data[kWord].permitted & kBit)) return false;
  data[kWord].effective |= kBit;
  return ::syscall(SYS_capset, &hdr, data) == 0;
}

bool LeasesEnabled() {
  std::ifstream f("/proc/sys/fs/leases-enable");
  int v = 1;  // no such file: leases are not switchable, so on
  return !(f >> v) || v != 0;
}

}  // namespace

bool PosixFileSystem::Stat(const std::string& path, FileStat* st, int* err) {
  *st = FileStat{};
  struct stat ls;
  if (::lstat(path.c_str(), &ls) != 0) {
    *err = errno;
    return false;
  }
  st->is_symlink = S_ISLNK(ls.st_mode);
  struct stat s = ls;
  if (st->is_symlink && ::stat(path.c_str(), &s) != 0) {
    *err = errno;
    return false;
  }
  st->exists = true;
  st->is_dir = S_ISDIR(s.st_mode);
  st->is_file = S_ISREG(s.st_mode);
  st->size = static_cast<uint64_t>(s.st_size);
  st->mtime_ns = static_cast<int64_t>(s.st_mtim.tv_sec) * 1'000'000'000 + s.st_mtim.tv_nsec;
  st->ino = s.st_ino;
  st->dev = s.st_dev;
  return true;
}

bool PosixFileSystem::Read(const std::string& path, uint64_t offset, uint64_t max_bytes,
                           std::string* out, int* err) {
  out->clear();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    *err = errno;
    return false;
  }
  struct stat s;
  bool have_stat = ::fstat(fd, &s) == 0;
  if (have_stat && !S_ISREG(s.st_mode)) {
    ::close(fd);
    *err = EINVAL;  // never read FIFOs or devices
    return false;
  }
  uint64_t want = max_bytes;
  if (have_stat && static_cast<uint64_t>(s.st_size) > offset)
    want = std::min<uint64_t>(max_bytes, static_cast<uint64_t>(s.st_size) - offset);
  out->resize(static_cast<size_t>(std::min<uint64_t>(want, 64ull << 20)));
  size_t got = 0;
  while (got < out->size()) {
    ssize_t n = ::pread(fd, out->data() + got, out->size() - got, static_cast<off_t>(offset + got));
    if (n < 0) {
      if (errno == EINTR) continue;
      *err = errno;
      ::close(fd);
      return false;
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  out->resize(got);
  ::close(fd);
  return true;
}

bool FileSystem::StatAndRead(const std::string& path, uint64_t max_bytes, FileStat* st,
                             std::string* out, bool* read, int* read_err, int* err) {
  *read = false;
  *read_err = 0;
  out->clear();
  if (!Stat(path, st, err)) return false;
  if (!st->is_file || st->size > max_bytes || st->open_for_writing) return true;
  *read = Read(path, 0, max_bytes, out, read_err);
  if (!*read) out->clear();
  return true;
}

PosixFileSystem::PosixFileSystem() {
  struct sigaction old {};
  if (::sigaction(SIGIO, nullptr, &old) == 0 && old.sa_handler == SIG_DFL) {
    struct sigaction ign {};
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    ::sigaction(SIGIO, &ign, nullptr);
  }
  const bool cap = RaiseLeaseCapability();
  lease_scope_ = !LeasesEnabled() ? "off" : cap ? "all" : "owned";
}

WriterState PosixFileSystem::Writers(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return WriterState::kUnknown;
  WriterState w = WriterState::kUnknown;
  struct stat s;
  if (::fstat(fd, &s) == 0 && S_ISREG(s.st_mode)) {
    if (::fcntl(fd, F_SETLEASE, F_RDLCK) == 0) {
      w = WriterState::kNone;
      ::fcntl(fd, F_SETLEASE, F_UNLCK);
    } else if (errno == EAGAIN) {
      w = WriterState::kOpen;
    }
  }
  ::close(fd);
  return w;
}

bool PosixFileSystem::StatAndRead(const std::string& path, uint64_t max_bytes, FileStat* st,
                                  std::string* out, bool* read, int* read_err, int* err) {
  *read = false;
  *read_err = 0;
  out->clear();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    // Not openable but maybe there (EACCES, ELOOP...): let Stat tell, and
    // report the open error as the read error.
    int open_err = errno;
    if (!Stat(path, st, err)) return false;
    if (st->is_file && st->size <= max_bytes) *read_err = open_err;
    return true;
  }
  struct stat s;
  if (::fstat(fd, &s) != 0) {
    *err = errno;
    ::close(fd);
    return false;
  }
  *st = FileStat{};
  st->exists = true;
  st->is_dir = S_ISDIR(s.st_mode);
  st->is_file = S_ISREG(s.st_mode);
  st->size = static_cast<uint64_t>(s.st_size);
  st->mtime_ns = static_cast<int64_t>(s.st_mtim.tv_sec) * 1'000'000'000 + s.st_mtim.tv_nsec;
  st->ino = s.st_ino;
  st->dev = s.st_dev;
  if (!st->is_file || st->size > max_bytes) {
    ::close(fd);
    return true;
  }
  // No writer may hold the file open while it is read: a read lease fails
  // with EAGAIN when one does, and makes a writer's open wait for its
  // release (a few microseconds: the read below). Other failures (EACCES:
  // not the owner; EINVAL: no leases here) read without the guarantee.
  bool leased = ::fcntl(fd, F_SETLEASE, F_RDLCK) == 0;
  if (!leased && errno == EAGAIN) {
    st->open_for_writing = true;
    ::close(fd);
    return true;
  }
  // What fstat saw (as Read does); a file that grows meanwhile is read
  // again on its next change event.
  out->resize(static_cast<size_t>(st->size));
  size_t got = 0;
  while (got < out->size()) {
    ssize_t n = ::read(fd, out->data() + got, out->size() - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      *read_err = errno;
      out->clear();
      ::close(fd);
      return true;
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  out->resize(got);
  if (leased) ::fcntl(fd, F_SETLEASE, F_UNLCK);
  ::close(fd);
  *read = true;
  return true;
}

bool PosixFileSystem::ListDir(const std::string& path, std::vector<DirEntry>* out, int* err) {
  out->clear();
  DIR* d = ::opendir(path.c_str());
  if (!d) {
    *err = errno;
    return false;
  }
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    DirEntry de;
    de.name = name;
    unsigned char t = e->d_type;
    if (t == DT_UNKNOWN || t == DT_LNK) {
      struct stat ls, s;
      std::string full = JoinPath(path, name);
      if (::lstat(full.c_str(), &ls) == 0) {
        if (S_ISDIR(ls.st_mode)) de.is_dir = true;
        else if (S_ISREG(ls.st_mode)) de.is_file = true;
        else if (S_ISLNK(ls.st_mode) && ::stat(full.c_str(), &s) == 0 && S_ISREG(s.st_mode))
          de.is_file = true;
      }
    } else {
      de.is_dir = t == DT_DIR;
      de.is_file = t == DT_REG;
    }
    out->push_back(std::move(de));
  }
  ::closedir(d);
  return true;
}

std::string JoinPath(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  if (a.back() == '/') return b.front() == '/' ? a + b.substr(1) : a + b;
  return b.front() == '/' ? a + b : a + "/" + b;
}

std::string NormalizePath(const std::string& path) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    std::string part = path.substr(i, j - i);
    if (part.empty() || part == ".") {
    } else if (part == "..") {
      if (!parts.empty()) parts.pop_back();
    } else {
      parts.push_back(part);
    }
    i = j + 1;
  }
  std::string out;
  for (const auto& p : parts) out += "/" + p;
  return out.empty() ? "/" : out;
}

std::string DirName(const std::string& path) {
  auto pos = path.rfind('/');
  if (pos == std::string::npos) return ".";
  if (pos == 0) return "/";
  return path.substr(0, pos);
}

std::string BaseName(const std::string& path) {
  auto pos = path.rfind('/');
  return pos == std::string::npos ? path : path.substr(pos + 1);
}

}  // namespace coderef::watcher
