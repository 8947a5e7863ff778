#include "watcher-svc/history_reply.h"

#include <algorithm>

#include "common/log.h"

namespace coderef::watcher {

void SendSnapshotReply(zmq::socket_t& router, const zmq::message_t& identity, bool delimiter,
                       const v1::SnapshotChunk& chunk) {
  std::string out;
  chunk.SerializeToString(&out);
  router.send(zmq::buffer(identity.data(), identity.size()), zmq::send_flags::sndmore);
  if (delimiter) router.send(zmq::message_t(), zmq::send_flags::sndmore);
  router.send(zmq::buffer(out), zmq::send_flags::none);
}

namespace {

void SendHistoryChunk(zmq::socket_t& router, HistoryJob& job, v1::SnapshotChunk& chunk, bool last,
                      v1::HistoryStatus status, uint64_t first_seq) {
  chunk.set_request_id(job.req.request_id());
  chunk.set_epoch(job.epoch);
  chunk.set_seq(job.seq);
  chunk.set_chunk_index(job.index++);
  chunk.set_last(last);
  chunk.set_history(status);
  chunk.set_first_seq(first_seq);
  SendSnapshotReply(router, job.identity, job.delimiter, chunk);
}

}  // namespace

void AbandonHistory(zmq::socket_t& router, HistoryJob& job, uint64_t first_seq) {
  v1::SnapshotChunk chunk;
  SendHistoryChunk(router, job, chunk, true, v1::HISTORY_STATUS_GONE, first_seq);
}

bool StartHistory(zmq::socket_t& router, const zmq::message_t& identity, bool delimiter,
                  const v1::SnapshotRequest& req, const std::string& epoch, uint64_t seq,
                  const EventHistory& history, HistoryJob* job) {
  const v1::HistoryRequest& h = req.history();
  job->identity.rebuild(identity.data(), identity.size());
  job->delimiter = delimiter;
  job->req = req;
  job->epoch = epoch;
  job->seq = seq;
  job->at = h.after_seq();
  job->until = h.until_seq() == 0 ? seq : std::min(h.until_seq(), seq);
  job->index = 0;
  job->sent = 0;
  const char* gone = nullptr;
  if (h.epoch() != epoch) gone = "another epoch";
  else if (h.after_seq() > seq) gone = "after_seq is ahead of the last seq";
  else if (h.after_seq() < job->until && h.after_seq() + 1 < history.first_seq()) gone = "older than the history held";
  if (!gone) return true;
  LogInfo("history.gone")
      .Kv("request_id", req.request_id())
      .Kv("epoch", h.epoch())
      .Kv("after_seq", h.after_seq())
      .Kv("first_seq", history.first_seq())
      .Kv("reason", gone);
  v1::SnapshotChunk chunk;
  SendHistoryChunk(router, *job, chunk, true, v1::HISTORY_STATUS_GONE, history.first_seq());
  return false;
}

bool ContinueHistory(zmq::socket_t& router, HistoryJob& job, EventHistory& history,
                     HistoryReplyLimits limits) {
  const uint32_t max_events = job.req.max_items_per_chunk() ? job.req.max_items_per_chunk() : limits.max_events;
  v1::SnapshotChunk chunk;
  uint64_t bytes = 0;
  std::vector<v1::ChangeEvent> page;
  while (job.at < job.until && static_cast<uint32_t>(chunk.events_size()) < max_events &&
         bytes < limits.max_bytes) {
    page.clear();
    const uint64_t room = std::min<uint64_t>(job.until - job.at, max_events - chunk.events_size());
    const size_t want = static_cast<size_t>(std::min<uint64_t>(room, 64));
    if (!history.Read(job.at, want, &page) || page.empty() || page.front().seq() != job.at + 1) {
      LogWarn("history.read_failed")
          .Kv("request_id", job.req.request_id())
          .Kv("after_seq", job.at)
          .Kv("first_seq", history.first_seq())
          .Kv("reason", "the range is no longer held (trimmed while it was answered, or a read error); "
                        "answering gone");
      AbandonHistory(router, job, history.first_seq());
      return true;
    }
    for (auto& ev : page) {
      if (ev.seq() > job.until) break;
      job.at = ev.seq();
      bytes += ev.ByteSizeLong();
      *chunk.add_events() = std::move(ev);
      ++job.sent;
    }
  }
  const bool last = job.at >= job.until;
  SendHistoryChunk(router, job, chunk, last, v1::HISTORY_STATUS_OK, history.first_seq());
  if (last)
    LogDebug("history.served")
        .Kv("request_id", job.req.request_id())
        .Kv("after_seq", job.req.history().after_seq())
        .Kv("until_seq", job.until)
        .Kv("events", job.sent)
        .Kv("chunks", static_cast<uint64_t>(job.index));
  return last;
}

uint64_t AnswerHistory(zmq::socket_t& router, const zmq::message_t& identity, bool delimiter,
                       const v1::SnapshotRequest& req, const std::string& epoch, uint64_t seq,
                       EventHistory& history, HistoryReplyLimits limits) {
  HistoryJob job;
  if (!StartHistory(router, identity, delimiter, req, epoch, seq, history, &job)) return 0;
  while (!ContinueHistory(router, job, history, limits)) {
  }
  return job.sent;
}

}  // namespace coderef::watcher
