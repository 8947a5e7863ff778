#include "watcher-svc/publisher.h"

#include <algorithm>

#include "common/log.h"
#include "common/names.h"
#include "common/text.h"
#include "watcher-svc/history_reply.h"

namespace coderef::watcher {

Publisher::Publisher(zmq::context_t& ctx, PublisherOptions options, const Clock& clock,
                     MetricsRegistry& metrics)
    : options_(std::move(options)),
      clock_(clock),
      pub_(ctx, zmq::socket_type::xpub),
      router_(ctx, zmq::socket_type::router),
      epoch_(RandomHex(16)),
      instance_(RandomHex(16)) {
  pub_.set(zmq::sockopt::sndhwm, options_.pub_hwm);
  pub_.set(zmq::sockopt::xpub_nodrop, 1);
  pub_.set(zmq::sockopt::linger, 1000);
  router_.set(zmq::sockopt::sndhwm, 0);  // a snapshot is never cut short
  router_.set(zmq::sockopt::linger, 0);
  ApplyCurveServer(pub_, options_.curve);
  ApplyCurveServer(router_, options_.curve);
  pub_bound_ = BindAndResolve(pub_, options_.pub_endpoint);
  snapshot_bound_ = BindAndResolve(router_, options_.snapshot_endpoint);
  published_ = metrics.Counter("coderef_watcher_events_published_total", "Change events published");
  send_failures_ = metrics.Counter("coderef_watcher_send_failures_total", "Messages the PUB socket refused");
  snapshots_ = metrics.Counter("coderef_watcher_snapshots_served_total", "Snapshot requests answered");
  histories_ = metrics.Counter("coderef_watcher_history_requests_total", "History requests answered (events or gone)");
  heartbeats_ = metrics.Counter("coderef_watcher_heartbeats_total", "Heartbeats sent");
  seq_gauge_ = metrics.Gauge("coderef_watcher_seq", "Last seq published in this epoch");
  blocked_total_ = metrics.Counter("coderef_watcher_pub_blocked_total",
                                   "Times a full subscriber queue held publishing back");
  lossy_ = metrics.Counter("coderef_watcher_pub_stuck_total",
                           "Times a subscriber's full queue was given up on after --pub-block-ms");
  outbox_gauge_ = metrics.Gauge("coderef_watcher_pub_outbox", "Messages waiting for a full subscriber");
}

void Publisher::Enqueue(std::string topic, const v1::FeedMessage& msg, uint64_t seq) {
  Outgoing out;
  out.topic = std::move(topic);
  msg.SerializeToString(&out.body);
  out.seq = seq;
  outbox_.push_back(std::move(out));
}

bool Publisher::TrySend(const Outgoing& out) {
  zmq::message_t t(out.topic.data(), out.topic.size());
  auto sent = pub_.send(t, zmq::send_flags::sndmore | zmq::send_flags::dontwait);
  if (!sent) return false;  // EAGAIN: a matching subscriber's queue is full
  zmq::message_t b(out.body.data(), out.body.size());
  // Once the first part is accepted the rest of the message is too.
  if (!pub_.send(b, zmq::send_flags::dontwait)) send_failures_->Add();
  return true;
}

bool Publisher::Flush() {
  auto now = clock_.Now();
  while (!outbox_.empty()) {
    if (TrySend(outbox_.front())) {
      if (outbox_.front().seq) sent_seq_ = outbox_.front().seq;
      outbox_.pop_front();
      blocked_ = false;  // progress: the subscribers are reading
      continue;
    }
    if (!blocked_) {
      blocked_ = true;
      blocked_since_ = now;
      blocked_total_->Add();
      break;
    }
    if (now - blocked_since_ < std::chrono::milliseconds(options_.block_ms)) break;
    // No room for block_ms: while nothing was sent, every subscriber that
    // reads has emptied its queue, so the full ones are stuck. One message
    // sent in lossy mode is dropped for them, and ZeroMQ then leaves their
    // pipes out (they are inactive until they read again), so the rest goes
    // on losslessly to everyone else.
    uint64_t seq = outbox_.front().seq;
    pub_.set(zmq::sockopt::xpub_nodrop, 0);
    TrySend(outbox_.front());
    pub_.set(zmq::sockopt::xpub_nodrop, 1);
    if (seq) sent_seq_ = seq;
    outbox_.pop_front();
    blocked_ = false;
    lossy_->Add();
    LogWarn("pub.subscriber_stuck")
        .Kv("seq", seq)
        .Kv("waiting", static_cast<uint64_t>(outbox_.size()))
        .Kv("block_ms", options_.block_ms)
        .Kv("reason",
            "a subscriber's queue (--pub-hwm) stayed full for --pub-block-ms: it is skipped until "
            "it reads again (it sees the gap in the next heartbeat and re-snapshots); the others "
            "go on");
  }
  outbox_gauge_->Set(static_cast<int64_t>(outbox_.size()));
  return outbox_.empty();
}

void Publisher::DrainSubscriptions() {
  zmq::message_t m;
  for (int i = 0; i < 1024 && pub_.recv(m, zmq::recv_flags::dontwait); ++i) {
  }
}

void Publisher::SetEpoch(std::string epoch, uint64_t seq, uint64_t sent_seq) {
  epoch_ = std::move(epoch);
  seq_ = seq;
  sent_seq_ = std::min(seq, sent_seq);
  seq_gauge_->Set(static_cast<int64_t>(seq_));
}

void Publisher::SetRestart(uint64_t changes, uint64_t caught_up_seq) {
  resumed_ = true;
  restart_changes_ = changes;
  caught_up_seq_ = caught_up_seq;
}

void Publisher::Publish(std::vector<v1::ChangeEvent>* events, int64_t first_change_us) {
  Stamp(events, first_change_us);
  Send(events);
}

void Publisher::Stamp(std::vector<v1::ChangeEvent>* events, int64_t first_change_us) {
  int64_t now_us = clock_.UnixMicros();
  for (auto& ev : *events) {
    ev.set_epoch(epoch_);
    ev.set_seq(++seq_);
    ev.set_first_change_us(first_change_us);
    ev.set_published_us(now_us);
  }
}

void Publisher::Send(std::vector<v1::ChangeEvent>* events) {
  v1::FeedMessage msg;
  for (auto& ev : *events) {
    msg.mutable_event()->Swap(&ev);  // no copy of the item's text
    Enqueue(Topic(msg.event().kind(), msg.event().project()), msg, msg.event().seq());
    msg.mutable_event()->Swap(&ev);
    published_->Add();
  }
  seq_gauge_->Set(static_cast<int64_t>(seq_));
  Flush();
}

void Publisher::Heartbeat(uint32_t interval_ms) {
  v1::FeedMessage msg;
  auto* hb = msg.mutable_heartbeat();
  hb->set_epoch(epoch_);
  hb->set_seq(seq_);  // goes out after every event up to seq_ (the outbox keeps order)
  hb->set_sent_us(clock_.UnixMicros());
  hb->set_interval_ms(interval_ms);
  hb->set_instance(instance_);
  if (resumed_) {
    hb->set_resumed(true);
    hb->set_restart_changes(restart_changes_);
    hb->set_caught_up_seq(caught_up_seq_);
  }
  // One heartbeat waiting is enough: a newer one replaces it.
  if (!outbox_.empty() && outbox_.back().seq == 0) outbox_.pop_back();
  Enqueue(std::string(kHeartbeatTopic), msg, 0);
  heartbeats_->Add();
  Flush();
}

void Publisher::ServeSnapshots(const StateStore& state, EventHistory* history) {
  for (int i = 0; i < 64; ++i) {
    std::vector<zmq::message_t> parts;
    auto got = zmq::recv_multipart(router_, std::back_inserter(parts), zmq::recv_flags::dontwait);
    if (!got) return;
    AnswerSnapshot(parts, state, history);
  }
}

bool Publisher::ServeHistory(EventHistory* history) {
  if (history_jobs_.empty()) return false;
  HistoryJob job = std::move(history_jobs_.front());
  history_jobs_.pop_front();
  MemoryHistory none(0, 0);
  none.Reset(seq_ + 1);
  EventHistory& from = history ? *history : none;
  bool done;
  if (job.epoch != epoch_) {
    // The epoch changed while it was answered (the store failed: a new
    // in-memory epoch): what is held now is not that epoch's history.
    AbandonHistory(router_, job, from.first_seq());
    done = true;
  } else {
    done = ContinueHistory(router_, job, from, HistoryReplyLimits{options_.chunk_items, options_.chunk_bytes});
  }
  if (!done) history_jobs_.push_back(std::move(job));  // round robin
  return !history_jobs_.empty();
}

void Publisher::AnswerSnapshot(const std::vector<zmq::message_t>& request, const StateStore& state,
                               EventHistory* history) {
  if (request.empty()) return;
  const zmq::message_t& identity = request[0];
  bool delimiter = request.size() >= 3 && request[1].size() == 0;
  v1::SnapshotRequest req;
  const zmq::message_t* body = nullptr;
  if (request.size() >= 2) body = &request[request.size() - 1];
  if (body && body->size() > 0 && !req.ParseFromArray(body->data(), static_cast<int>(body->size()))) {
    LogWarn("snapshot.bad_request").Kv("bytes", static_cast<uint64_t>(body->size()));
    req.Clear();
    req.set_request_id("");
    // Answer with an empty last chunk so the requester is not left waiting.
    v1::SnapshotChunk chunk;
    chunk.set_epoch(epoch_);
    chunk.set_seq(seq_);
    chunk.set_last(true);
    SendSnapshotReply(router_, identity, delimiter, chunk);
    return;
  }
  if (req.has_history()) {
    MemoryHistory none(0, 0);
    none.Reset(seq_ + 1);
    HistoryJob job;
    histories_->Add();
    // Answered a chunk per loop turn (ServeHistory), not here in one go.
    if (StartHistory(router_, identity, delimiter, req, epoch_, seq_, history ? *history : none, &job))
      history_jobs_.push_back(std::move(job));
    return;
  }
  uint32_t max_items = req.max_items_per_chunk() ? req.max_items_per_chunk() : options_.chunk_items;
  uint64_t total = 0;
  state.ForEach(req.prefix(), [&](const v1::Item&) {
    ++total;
    return true;
  });
  v1::SnapshotChunk chunk;
  uint32_t index = 0;
  uint64_t bytes = 0;
  auto send_chunk = [&](bool last) {
    chunk.set_request_id(req.request_id());
    chunk.set_epoch(epoch_);
    chunk.set_seq(seq_);
    chunk.set_chunk_index(index++);
    chunk.set_last(last);
    chunk.set_total_items(total);
    SendSnapshotReply(router_, identity, delimiter, chunk);
    chunk.Clear();
    bytes = 0;
  };
  uint64_t sent = 0;
  state.ForEach(req.prefix(), [&](const v1::Item& item) {
    *chunk.add_items() = item;
    bytes += item.ByteSizeLong();
    ++sent;
    if ((static_cast<uint32_t>(chunk.items_size()) >= max_items || bytes >= options_.chunk_bytes) &&
        sent < total)
      send_chunk(false);
    return true;
  });
  send_chunk(true);
  snapshots_->Add();
  LogDebug("snapshot.served")
      .Kv("prefix", req.prefix())
      .Kv("items", total)
      .Kv("chunks", static_cast<uint64_t>(index))
      .Kv("seq", seq_);
}

}  // namespace coderef::watcher
