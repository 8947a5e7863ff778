// History replies on the snapshot ROUTER (PROTOCOL §1 (restarts), PROTOCOL
// "History requests"): a SnapshotRequest with `history` set is answered with
// the events after history.after_seq (up to until_seq, or the last seq) in
// SnapshotChunks, in seq order, the last chunk marked; or with one chunk
// marked HISTORY_STATUS_GONE when the epoch is not ours or the range starts
// before the oldest event held. Runs on the watcher loop thread, a chunk at
// a time (HistoryJob).
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

// One history answer in progress: the publisher sends it a chunk per loop
// turn (ContinueHistory), so a 100,000-event answer does not hold up live
// events for the ~0.4 s it takes to read and send (docs/PERFORMANCE.md,
// "A large history answer").
struct HistoryJob {
  zmq::message_t identity;
  bool delimiter = false;
  v1::SnapshotRequest req;
  std::string epoch;   // the watcher's epoch and seq when it was asked
  uint64_t seq = 0;
  uint64_t at = 0;     // the last seq sent (after_seq before the first chunk)
  uint64_t until = 0;  // the last seq to send
  uint32_t index = 0;  // the next chunk's index
  uint64_t sent = 0;   // events sent so far
};

// Starts answering `req` (REQUIRES: req.has_history()) for a watcher at
// `epoch`/`seq`: answers "gone" at once and returns false, or fills *job
// (nothing sent yet) and returns true.
bool StartHistory(zmq::socket_t& router, const zmq::message_t& identity, bool delimiter,
                  const v1::SnapshotRequest& req, const std::string& epoch, uint64_t seq,
                  const EventHistory& history, HistoryJob* job);
// Sends the next chunk of `job` (up to limits: events per chunk, bytes);
// returns true when that was its last chunk (the job is done). A range the
// history no longer holds (trimmed meanwhile, a read error) ends the answer
// with a last chunk marked "gone".
bool ContinueHistory(zmq::socket_t& router, HistoryJob& job, EventHistory& history,
                     HistoryReplyLimits limits);

// Ends `job` with a last chunk marked "gone" (the range is no longer the
// watcher's to give: its epoch changed while it was answered).
void AbandonHistory(zmq::socket_t& router, HistoryJob& job, uint64_t first_seq);

// The whole answer at once: StartHistory, then ContinueHistory until done.
// Returns the number of events sent (0 for "gone").
uint64_t AnswerHistory(zmq::socket_t& router, const zmq::message_t& identity, bool delimiter,
                       const v1::SnapshotRequest& req, const std::string& epoch, uint64_t seq,
                       EventHistory& history, HistoryReplyLimits limits);

}  // namespace coderef::watcher
