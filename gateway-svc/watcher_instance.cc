#include "gateway-svc/watcher_instance.h"

namespace coderef::gateway {

std::optional<WatcherRestart> WatcherInstance::OnHeartbeat(const v1::Heartbeat& hb) {
  if (hb.instance().empty()) return std::nullopt;
  std::optional<WatcherRestart> out;
  if (!instance_.empty() && hb.instance() != instance_ && hb.epoch() == epoch_) {
    WatcherRestart r;
    r.changes = hb.restart_changes();
    // A resumed watcher says where its catch-up ended; one that does not (it
    // should not happen with the same epoch) is caught up at its last seq.
    r.caught_up_seq = hb.resumed() ? hb.caught_up_seq() : hb.seq();
    out = r;
  }
  instance_ = hb.instance();
  epoch_ = hb.epoch();
  return out;
}

}  // namespace coderef::gateway
