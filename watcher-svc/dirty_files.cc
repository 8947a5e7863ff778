#include "watcher-svc/dirty_files.h"

namespace coderef::watcher {

void DirtyFiles::Mark(const std::string& path, Completion completion, bool removed, bool holdable,
                      SteadyTime now) {
  if (removed) removed_ = true;
  auto [it, inserted] = entries_.try_emplace(path);
  Entry& e = it->second;
  if (inserted) {
    e.first_change = now;
    e.holdable = holdable;
    ++incomplete_;  // a new entry starts unknown
  } else if (Holds(e)) {
    holds_.erase({e.first_change + max_hold_, path});
  }
  bool was_incomplete = Incomplete(e);
  // A new write after a complete one (the file closed, then opened again):
  // its hold counts from this write, not from the entry's first change, or
  // a file rewritten in place again and again would, once its first hold
  // ran out, be read in the middle of a later write.
  if (completion == Completion::kInProgress && e.completion == Completion::kComplete) e.first_change = now;
  if (completion != Completion::kUnknown) e.completion = completion;
  if (holdable && !e.holdable) {
    // Found by a scan first, written now: the hold counts from this write.
    e.holdable = true;
    e.first_change = now;
  }
  if (was_incomplete && !Incomplete(e)) --incomplete_;
  if (!was_incomplete && Incomplete(e)) ++incomplete_;
  if (Holds(e)) holds_.emplace(e.first_change + max_hold_, path);
}

bool DirtyFiles::HasReady(SteadyTime now) const {
  if (entries_.size() > holds_.size()) return true;
  return !holds_.empty() && holds_.begin()->first <= now;
}

bool DirtyFiles::IsHeld(const std::string& path, SteadyTime now) const {
  auto it = entries_.find(path);
  return it != entries_.end() && Holds(it->second) && now < it->second.first_change + max_hold_;
}

SteadyTime DirtyFiles::NextHoldExpiry() const {
  return holds_.empty() ? SteadyTime::max() : holds_.begin()->first;
}

std::vector<std::string> DirtyFiles::Take(SteadyTime now, std::vector<std::string>* expired) {
  removed_ = false;
  std::vector<std::string> out;
  out.reserve(entries_.size() - std::min(entries_.size(), holds_.size()));
  for (auto it = entries_.begin(); it != entries_.end();) {
    const Entry& e = it->second;
    if (Holds(e)) {
      SteadyTime expiry = e.first_change + max_hold_;
      if (now < expiry) {
        ++it;
        continue;
      }
      holds_.erase({expiry, it->first});
      if (expired) expired->push_back(it->first);
    }
    if (Incomplete(e)) --incomplete_;
    out.push_back(it->first);
    it = entries_.erase(it);
  }
  return out;
}

}  // namespace coderef::watcher
