// The write-ahead publish path (PROTOCOL §1 (restarts)): where DurableState
// (what is stored) meets the Publisher (what goes out). Loop thread only.
#pragma once

#include <cstdint>
#include <vector>

#include "coderef/v1/feed.pb.h"
#include "watcher-svc/durable_state.h"
#include "watcher-svc/publisher.h"

namespace coderef::watcher {

// At start, after DurableState::Start: sets the publisher's epoch and seq,
// re-sends the stored events that may not have gone out (with their seqs),
// then publishes what changed while the watcher was down as one batch; a
// resumed epoch is then announced in the heartbeats (Publisher::SetRestart:
// how many changes, and the seq at which they are all out).
void ResumeFeed(Publisher& publisher, DurableState& durable, DurableState::Resume* resume,
                int64_t now_us);

// Publishes a batch write-ahead: numbers the events, commits them to the
// store, and only then sends them. A commit that fails switches the
// publisher to a new in-memory epoch first, so no event goes out under an
// epoch that claims durability without being stored.
void PublishDurably(Publisher& publisher, DurableState& durable,
                    std::vector<v1::ChangeEvent>* events, int64_t first_change_us);

}  // namespace coderef::watcher
