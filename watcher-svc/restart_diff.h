// RestartDiff: what changed on disk while the watcher was down (contract
// section 6). At a restart with a readable store, the core reads the disk as
// at any start (its state then is the disk's); this compares it with the
// state the store says was last published, by content hash (and validity),
// as the core's differ does for a batch, and returns the events to publish:
// project added/updated first, then each item added/updated/deleted in item
// id order (kind, project, path), then projects removed — the order a batch
// would use. The events are unstamped (the publisher numbers them).
// Pure function; thread-safe.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "coderef/v1/feed.pb.h"
#include "watcher-svc/state_store.h"

namespace coderef::watcher {

std::vector<v1::ChangeEvent> RestartDiff(const std::map<std::string, v1::Item>& stored,
                                         const StateStore& now);

}  // namespace coderef::watcher
