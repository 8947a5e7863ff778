// WatchBackend: the seam between the kernel's change notification and the
// watcher core. A backend watches individual directories (non-recursively);
// the core decides which ones (the coderef/ trees, the folders holding
// projects.json and the workorder logs, anchors for folders that do not exist
// yet) and adds watches for new sub-folders as they appear.
//
// Backends: InotifyBackend (default) and PollBackend (--poll-ms, for file
// systems without inotify). Both report the same RawEvents. Not thread-safe:
// owned by the watcher loop thread.
#pragma once

#include <string>
#include <vector>

namespace coderef::watcher {

// Whether the change an event reports leaves the file complete (see
// dirty_files.h): what lets a batch of complete writes flush early and keeps
// half-written files out of a batch.
enum class Completion {
  kUnknown,     // metadata only (IN_ATTRIB), a directory, or not known
  kInProgress,  // created or written, not yet closed (IN_CREATE, IN_MODIFY;
                // poll: size/mtime differ from the previous poll)
  kComplete,    // closed after writing (IN_CLOSE_WRITE), renamed into place
                // (IN_MOVED_TO); poll: size and mtime equal on two polls
};

struct RawEvent {
  enum class Type {
    kChanged,    // entry content/metadata changed (IN_MODIFY, IN_CLOSE_WRITE, IN_ATTRIB)
    kCreated,    // entry appeared (IN_CREATE, IN_MOVED_TO)
    kDeleted,    // entry disappeared (IN_DELETE, IN_MOVED_FROM)
    kSelfGone,   // the watched directory itself was deleted or moved away
    kOverflow,   // events were lost (IN_Q_OVERFLOW): rescan everything
  };
  Type type = Type::kChanged;
  std::string dir;   // the watched directory (absolute); "" for kOverflow
  std::string name;  // entry name within dir; "" for kSelfGone/kOverflow
  bool is_dir = false;
  Completion completion = Completion::kUnknown;
};

class WatchBackend {
 public:
  virtual ~WatchBackend() = default;
  // A file descriptor that becomes readable when events may be pending, or
  // -1 when the caller must call ReadEvents() every poll_interval_ms().
  virtual int fd() const = 0;
  virtual int poll_interval_ms() const { return 0; }
  // Watches `dir`. `entries_only`: only creation/deletion/moves of entries
  // (for anchors and parents of single files we do not need every write).
  // Idempotent (re-adding updates the mask). Returns false and sets *err
  // (errno; ENOSPC means the inotify watch limit is reached).
  virtual bool AddWatch(const std::string& dir, bool entries_only, int* err) = 0;
  virtual void RemoveWatch(const std::string& dir) = 0;
  virtual bool IsWatched(const std::string& dir) const = 0;
  // Appends pending events without blocking.
  virtual void ReadEvents(std::vector<RawEvent>* out) = 0;
  virtual size_t watch_count() const = 0;
};

}  // namespace coderef::watcher
