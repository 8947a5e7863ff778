// History replies on the snapshot ROUTER (PROTOCOL §1 (restarts), PROTOCOL
// "History requests"): a SnapshotRequest with `history` set is answered with
// the events after history.after_seq (up to until_seq, or the last seq) in
// SnapshotChunks, in seq order, the last chunk marked; or with one chunk
// marked HISTORY_STATUS_GONE when the epoch is not ours or the range starts
// before the oldest event held. Runs on the watcher loop thread.
#pragma once

#include <cstdint>
#include <string>
#include <zmq.hpp>

#include "coderef/v1/feed.pb.h"
#include "watcher-svc/event_history.h"

namespace coderef::watcher {

// One reply frame set to `identity` (with an empty delimiter first when the
// request had one).
void SendSnapshotReply(zmq::socket_t& router, const zmq::message_t& identity, bool delimiter,
                       const v1::SnapshotChunk& chunk);

struct HistoryReplyLimits {
  uint32_t max_events = 1000;        // per chunk
  uint64_t max_bytes = 4 << 20;      // soft cap per chunk
};

// Answers `req` (REQUIRES: req.has_history()) for a watcher at `epoch`/`seq`.
// Returns the number of events sent (0 for "gone").
uint64_t AnswerHistory(zmq::socket_t& router, const zmq::message_t& identity, bool delimiter,
                       const v1::SnapshotRequest& req, const std::string& epoch, uint64_t seq,
                       EventHistory& history, HistoryReplyLimits limits);

}  // namespace coderef::watcher
