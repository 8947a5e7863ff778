// FileSystem: the seam through which the watcher reads the disk. The real
// one (PosixFileSystem) is chosen in main.cpp; unit tests use an in-memory
// fake. Paths are absolute, '/'-separated byte strings (not necessarily
// UTF-8). Thread-safety: implementations must allow concurrent calls (the
// watcher reads and parses large batches of files on a few threads; the
// real one is stateless, the test fake locks).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace coderef::watcher {

struct FileStat {
  bool exists = false;
  bool is_dir = false;
  bool is_file = false;     // regular file
  bool is_symlink = false;  // the path itself is a symlink (lstat)
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint64_t ino = 0;
  uint64_t dev = 0;
  // StatAndRead only: a process had the file open for writing when it was
  // to be read (the content may be half a write; PROTOCOL §1, "No
  // torn reads"). Unknown (false) where the file system cannot tell.
  bool open_for_writing = false;
};

// Whether any process has a file open for writing (FileSystem::Writers).
enum class WriterState {
  kNone,     // nobody: the last write, if any, is complete
  kOpen,     // a writer has it open: a write may be in progress
  kUnknown,  // cannot tell (no lease here, not the owner, gone, a fake)
};

struct DirEntry {
  std::string name;
  bool is_dir = false;      // a real directory (symlinks to dirs are not followed)
  bool is_file = false;     // a regular file or a symlink to one
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;
  // stat() following symlinks, but `is_symlink` reports lstat(). Returns
  // false and sets *err (errno) on failure; ENOENT is not exceptional.
  virtual bool Stat(const std::string& path, FileStat* st, int* err) = 0;
  // Reads up to `max_bytes` from `offset`. *out holds what was read.
  virtual bool Read(const std::string& path, uint64_t offset, uint64_t max_bytes,
                    std::string* out, int* err) = 0;
  // Lists a directory (without "." and ".."), unsorted.
  virtual bool ListDir(const std::string& path, std::vector<DirEntry>* out, int* err) = 0;
  // Stat() plus, for a regular file of at most `max_bytes`, its whole
  // content: what the watcher needs for every tracked file. Returns false
  // (with *err) when the stat fails. Otherwise *read tells whether *out
  // holds the content; when a read was due but failed, *read_err is its
  // errno. `is_symlink` is not filled in. The default composes Stat and
  // Read; the real one opens the file once (open, fstat, read) and reads
  // under a read lease (fcntl F_SETLEASE): taking it fails while anyone has
  // the file open for writing (then *st says open_for_writing and nothing
  // is read), and while it is held a writer's open waits, so the content
  // read is never the middle of a write. inotify cannot promise that: the
  // kernel queues IN_MODIFY after a truncate or write is already visible.
  virtual bool StatAndRead(const std::string& path, uint64_t max_bytes, FileStat* st,
                           std::string* out, bool* read, int* read_err, int* err);
  // Whether a process has `path` open for writing, asked with a read lease
  // (taken and dropped at once). A scan uses it for the files it finds:
  // with no writer, a file found in a folder that just appeared (a folder
  // moved in, `mkdir` + save before the folder's watch) is as complete as
  // one reported by IN_CLOSE_WRITE, so its batch need not wait the settle
  // window (PROTOCOL §1, "Early flush of complete writes").
  virtual WriterState Writers(const std::string& path) {
    (void)path;
    return WriterState::kUnknown;
  }
  // Which files StatAndRead can read under a lease: "all" (CAP_LEASE),
  // "owned" (only files of the watcher's own uid), "off" (fs.leases-enable
  // is 0), "none" (a file system without leases, e.g. a test fake).
  virtual std::string lease_scope() const { return "none"; }
};

// Leases: a lease break is signalled with SIGIO, so the constructor sets
// SIGIO to ignored when it is at its default (terminate). It also raises
// CAP_LEASE into the effective set when it is only permitted (a file
// capability `cap_lease+p`, as the Docker image sets: without the
// effective bit the binary still starts where the capability is not
// granted). Where no lease can be taken (not the file's owner without
// CAP_LEASE, a file system without leases) the file is read as before,
// without the guarantee.
class PosixFileSystem final : public FileSystem {
 public:
  PosixFileSystem();
  std::string lease_scope() const override { return lease_scope_; }
  WriterState Writers(const std::string& path) override;
  bool Stat(const std::string& path, FileStat* st, int* err) override;
  bool Read(const std::string& path, uint64_t offset, uint64_t max_bytes, std::string* out,
            int* err) override;
  bool ListDir(const std::string& path, std::vector<DirEntry>* out, int* err) override;
  bool StatAndRead(const std::string& path, uint64_t max_bytes, FileStat* st, std::string* out,
                   bool* read, int* read_err, int* err) override;

 private:
  std::string lease_scope_;
};

// Joins with one '/'.
std::string JoinPath(const std::string& a, const std::string& b);
// Lexically normalises an absolute path ("/a/./b/../c/" -> "/a/c").
std::string NormalizePath(const std::string& path);
// Parent directory of an absolute path ("/a/b" -> "/a", "/a" -> "/").
std::string DirName(const std::string& path);
std::string BaseName(const std::string& path);

}  // namespace coderef::watcher
