// HistorySource: the hub's seam to the watcher's history (PROTOCOL §1 (restarts)). Fetch asks for the events (after_seq, until_seq] of `epoch`; `done`
// runs later on the hub's (io) thread, exactly once, with the range or a
// failure (gone, other epoch, timeout, feed stopped). The gateway's
// implementation (server.cc) forwards to FeedClient::FetchHistory, which
// coalesces identical ranges and fails fetches unanswered within the
// snapshot timeout, and posts the answer to the io thread; unit tests use a
// fake.
// Thread-safety: Fetch is called on the io thread; `done` runs there.
#pragma once

#include <cstdint>
#include <string>

#include "gateway-svc/history_fetcher.h"

namespace coderef::gateway {

class HistorySource {
 public:
  virtual ~HistorySource() = default;
  virtual void Fetch(const std::string& epoch, uint64_t after_seq, uint64_t until_seq,
                     HistoryCallback done) = 0;
};

}  // namespace coderef::gateway
