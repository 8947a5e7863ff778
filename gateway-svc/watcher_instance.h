// WatcherInstance: tells, from the heartbeats, a watcher process that
// restarted and resumed its stored epoch (PROTOCOL §1 (restarts)) apart from
// everything else. Each watcher process sends a random `instance` id in its
// heartbeats; a heartbeat from a new instance carrying the epoch the previous
// instance had is such a restart (whether or not the heartbeat's silence
// was noticed in between: a SIGTERM restart can be faster than
// --watcher-timeout-ms). A new instance with a new epoch is an ordinary new
// epoch (resynced elsewhere); a watcher that sends no instance id is never
// reported. Plain data; thread-safety: none (the feed thread's CloneSync).
#pragma once

#include <optional>
#include <string>

#include "coderef/v1/feed.pb.h"
#include "gateway-svc/feed_update.h"

namespace coderef::gateway {

class WatcherInstance {
 public:
  // Feed every heartbeat in arrival order. Returns the restart the first
  // heartbeat of a new instance of the same epoch announces, else nothing.
  std::optional<WatcherRestart> OnHeartbeat(const v1::Heartbeat& hb);

  const std::string& instance() const { return instance_; }

 private:
  std::string instance_;  // the last instance seen ("" before the first)
  std::string epoch_;     // the epoch its heartbeats carried
};

}  // namespace coderef::gateway
