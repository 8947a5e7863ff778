// DirtyFiles: the tracked files changed since they were last read into a
// batch, each with whether its last change is complete (PROTOCOL §1,
// "Early flush of complete writes" and "No torn reads").
//
// A change is complete when the file was renamed into place (IN_MOVED_TO),
// closed after writing (IN_CLOSE_WRITE), or deleted; in progress when it was
// created or written and not yet closed (IN_CREATE, IN_MODIFY; with
// --poll-ms: size or mtime differed from the previous poll); unknown when
// the file was found by a scan (a new folder, a rescan) or only its
// metadata changed. An in-progress file that may be held (a plain file, not
// a log: the log tailer reads whole lines only) is not handed out by Take()
// until it completes or `max_hold` has passed since its first change (the
// first change of the current write: a file closed and written again starts
// a new hold), so a half-written file is never read into a batch.
//
// The batch-level questions the loop asks: is every dirty file complete and
// was nothing removed (then the batch may flush after --quiet-ms), and when
// does the next hold expire. Both are O(1)/O(log n): a burst of 100,000
// files costs a map update per event. Not thread-safe (the loop thread).
#pragma once

#include <cstddef>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "watcher-svc/watch_backend.h"

namespace coderef::watcher {

class DirtyFiles {
 public:
  explicit DirtyFiles(Millis max_hold) : max_hold_(max_hold) {}

  // Records a change to `path` at `now`. `completion` kUnknown never
  // overrides what an earlier event said (an IN_ATTRIB in the middle of a
  // write). `removed`: the path was deleted or moved away (the batch then
  // waits for the settle window: it may be the first half of a replace).
  // `holdable`: an in-progress change keeps the file out of Take().
  void Mark(const std::string& path, Completion completion, bool removed, bool holdable,
            SteadyTime now);
  // A path found by a scan: dirty, completion unknown.
  void MarkFound(const std::string& path) {
    Mark(path, Completion::kUnknown, false, false, SteadyTime{});
  }

  // A folder was deleted or moved away: the batch waits for the settle
  // window (it may be the first half of a move).
  void NoteRemoval() { removed_ = true; }

  bool Contains(const std::string& path) const { return entries_.count(path) > 0; }
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  // True when Take(now) would hand out at least one path.
  bool HasReady(SteadyTime now) const;
  // Every dirty path's last change is complete and none was removed since
  // the last Take(). False when empty.
  bool AllComplete() const { return !entries_.empty() && incomplete_ == 0 && !removed_; }
  // Paths held now (in progress, hold not expired).
  bool IsHeld(const std::string& path, SteadyTime now) const;
  // When the earliest hold runs out; SteadyTime::max() when nothing is held.
  SteadyTime NextHoldExpiry() const;

  // Removes and returns (sorted) every path not held at `now`; the held ones
  // stay. `expired` (optional) receives the paths handed out because their
  // hold ran out (still being written: published as they are). Clears the
  // batch's removal flag.
  std::vector<std::string> Take(SteadyTime now, std::vector<std::string>* expired = nullptr);

 private:
  struct Entry {
    Completion completion = Completion::kUnknown;
    bool holdable = false;
    SteadyTime first_change{};
  };
  bool Incomplete(const Entry& e) const { return e.completion != Completion::kComplete; }
  bool Holds(const Entry& e) const { return e.holdable && e.completion == Completion::kInProgress; }

  Millis max_hold_;
  std::map<std::string, Entry> entries_;
  // (hold expiry, path) of every entry that Holds(): the earliest first.
  std::set<std::pair<SteadyTime, std::string>> holds_;
  size_t incomplete_ = 0;
  bool removed_ = false;
};

}  // namespace coderef::watcher
