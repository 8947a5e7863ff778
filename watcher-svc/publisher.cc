#include "watcher-svc/publisher.h"

#include "common/log.h"
#include "common/names.h"
#include "common/text.h"

namespace coderef::watcher {

Publisher::Publisher(zmq::context_t& ctx, PublisherOptions options, const Clock& clock,
                     MetricsRegistry& metrics)
    : options_(std::move(options)),
      clock_(clock),
      pub_(ctx, zmq::socket_type::pub),
      router_(ctx, zmq::socket_type::router),
      epoch_(RandomHex(16)) {
  pub_.set(zmq::sockopt::sndhwm, options_.pub_hwm);
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
  heartbeats_ = metrics.Counter("coderef_watcher_heartbeats_total", "Heartbeats sent");
  seq_gauge_ = metrics.Gauge("coderef_watcher_seq", "Last seq published in this epoch");
}

void Publisher::Publish(std::vector<v1::ChangeEvent>* events, int64_t first_change_us) {
  v1::FeedMessage msg;
  for (auto& ev : *events) {
    ev.set_epoch(epoch_);
    ev.set_seq(++seq_);
    ev.set_first_change_us(first_change_us);
    ev.set_published_us(clock_.UnixMicros());
    msg.mutable_event()->Swap(&ev);
    if (!SendTopicMessage(pub_, Topic(msg.event().kind(), msg.event().project()), msg)) {
      send_failures_->Add();
    }
    msg.mutable_event()->Swap(&ev);
    published_->Add();
  }
  seq_gauge_->Set(static_cast<int64_t>(seq_));
}

void Publisher::Heartbeat(uint32_t interval_ms) {
  v1::FeedMessage msg;
  auto* hb = msg.mutable_heartbeat();
  hb->set_epoch(epoch_);
  hb->set_seq(seq_);
  hb->set_sent_us(clock_.UnixMicros());
  hb->set_interval_ms(interval_ms);
  if (!SendTopicMessage(pub_, std::string(kHeartbeatTopic), msg)) send_failures_->Add();
  heartbeats_->Add();
}

void Publisher::ServeSnapshots(const StateStore& state) {
  for (int i = 0; i < 64; ++i) {
    std::vector<zmq::message_t> parts;
    auto got = zmq::recv_multipart(router_, std::back_inserter(parts), zmq::recv_flags::dontwait);
    if (!got) return;
    AnswerSnapshot(parts, state);
  }
}

void Publisher::AnswerSnapshot(const std::vector<zmq::message_t>& request, const StateStore& state) {
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
    std::string out;
    chunk.SerializeToString(&out);
    router_.send(zmq::buffer(identity.data(), identity.size()), zmq::send_flags::sndmore);
    if (delimiter) router_.send(zmq::message_t(), zmq::send_flags::sndmore);
    router_.send(zmq::buffer(out), zmq::send_flags::none);
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
    std::string out;
    chunk.SerializeToString(&out);
    router_.send(zmq::buffer(identity.data(), identity.size()), zmq::send_flags::sndmore);
    if (delimiter) router_.send(zmq::message_t(), zmq::send_flags::sndmore);
    router_.send(zmq::buffer(out), zmq::send_flags::none);
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
