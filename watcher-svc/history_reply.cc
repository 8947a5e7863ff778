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

uint64_t AnswerHistory(zmq::socket_t& router, const zmq::message_t& identity, bool delimiter,
                       const v1::SnapshotRequest& req, const std::string& epoch, uint64_t seq,
                       EventHistory& history, HistoryReplyLimits limits) {
  const v1::HistoryRequest& h = req.history();
  uint64_t until = h.until_seq() == 0 ? seq : std::min(h.until_seq(), seq);
  uint32_t index = 0;
  v1::SnapshotChunk chunk;
  auto send = [&](bool last, v1::HistoryStatus status) {
    chunk.set_request_id(req.request_id());
    chunk.set_epoch(epoch);
    chunk.set_seq(seq);
    chunk.set_chunk_index(index++);
    chunk.set_last(last);
    chunk.set_history(status);
    chunk.set_first_seq(history.first_seq());
    SendSnapshotReply(router, identity, delimiter, chunk);
    chunk.Clear();
  };
  const char* gone = nullptr;
  if (h.epoch() != epoch) gone = "another epoch";
  else if (h.after_seq() > seq) gone = "after_seq is ahead of the last seq";
  else if (h.after_seq() < until && h.after_seq() + 1 < history.first_seq()) gone = "older than the history held";
  if (gone) {
    LogInfo("history.gone")
        .Kv("request_id", req.request_id())
        .Kv("epoch", h.epoch())
        .Kv("after_seq", h.after_seq())
        .Kv("first_seq", history.first_seq())
        .Kv("reason", gone);
    send(true, v1::HISTORY_STATUS_GONE);
    return 0;
  }
  uint32_t max_events = req.max_items_per_chunk() ? req.max_items_per_chunk() : limits.max_events;
  uint64_t at = h.after_seq(), sent = 0, bytes = 0;
  std::vector<v1::ChangeEvent> page;
  while (at < until) {
    page.clear();
    size_t want = static_cast<size_t>(std::min<uint64_t>(until - at, 64));
    if (!history.Read(at, want, &page) || page.empty() || page.front().seq() != at + 1) {
      LogWarn("history.read_failed")
          .Kv("request_id", req.request_id())
          .Kv("after_seq", at)
          .Kv("reason", "the history could not be read; answering gone");
      chunk.clear_events();
      send(true, v1::HISTORY_STATUS_GONE);
      return 0;
    }
    for (auto& ev : page) {
      if (ev.seq() > until) break;
      at = ev.seq();
      bytes += ev.ByteSizeLong();
      *chunk.add_events() = std::move(ev);
      ++sent;
      if (at < until && (static_cast<uint32_t>(chunk.events_size()) >= max_events || bytes >= limits.max_bytes)) {
        send(false, v1::HISTORY_STATUS_OK);
        bytes = 0;
      }
    }
  }
  send(true, v1::HISTORY_STATUS_OK);
  LogDebug("history.served")
      .Kv("request_id", req.request_id())
      .Kv("after_seq", h.after_seq())
      .Kv("until_seq", until)
      .Kv("events", sent)
      .Kv("chunks", static_cast<uint64_t>(index));
  return sent;
}

}  // namespace coderef::watcher
