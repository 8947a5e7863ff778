#include "gateway-svc/hub.h"

#include <nlohmann/json.hpp>

#include "common/log.h"
#include "common/names.h"
#include "gateway-svc/event_json.h"

namespace coderef::gateway {

std::string_view SnapshotCauseName(SnapshotCause c) {
  switch (c) {
    case SnapshotCause::kInitial: return "initial";
    case SnapshotCause::kGap: return "gap";
    case SnapshotCause::kEpoch: return "epoch";
  }
  return "initial";
}

std::string_view WatcherStateName(WatcherState s) {
  switch (s) {
    case WatcherState::kUnknown: return "unknown";
    case WatcherState::kUp: return "up";
    case WatcherState::kDown: return "down";
  }
  return "unknown";
}

Hub::Hub(HubOptions options, FrameFactory factory, GatewayMetrics* metrics, const Clock* clock)
    : options_(std::move(options)),
      factory_(std::move(factory)),
      metrics_(metrics),
      clock_(clock),
      history_(options_.history) {}

Hub::Client* Hub::Find(ClientId id) {
  auto it = clients_.find(id);
  return it == clients_.end() ? nullptr : &it->second;
}

void Hub::UpdateGauges() {
  metrics_->clients->Set(static_cast<int64_t>(clients_.size()));
  metrics_->replica_items->Set(static_cast<int64_t>(replica_.size()));
  metrics_->seq->Set(static_cast<int64_t>(replica_.seq()));
  metrics_->history_size->Set(static_cast<int64_t>(history_.size()));
}

// ---- feed side -------------------------------------------------------------

void Hub::Apply(std::vector<FeedUpdate>&& updates) {
  for (FeedUpdate& u : updates) {
    switch (u.type) {
      case FeedUpdate::Type::kSnapshot:
        OnSnapshot(std::move(u.epoch), u.seq, std::move(u.items), u.cause);
        break;
      case FeedUpdate::Type::kEvents:
        for (ReceivedEvent& e : u.events) OnEvent(std::move(e));
        break;
      case FeedUpdate::Type::kWatcherDown:
        OnWatcherDown();
        break;
      case FeedUpdate::Type::kWatcherUp:
        OnWatcherUp(u.epoch);
        break;
    }
  }
}

void Hub::OnSnapshot(std::string epoch, uint64_t seq, std::vector<v1::Item> items,
                     SnapshotCause cause) {
  bool epoch_changed = epoch != replica_.epoch();
  size_t n = items.size();
  replica_.Reset(std::move(epoch), seq, std::move(items));
  history_.Reset(seq);
  metrics_->snapshots->Add();
  size_t resynced[3] = {0, 0, 0};
  for (auto& [id, c] : clients_) {
    if (c.closing) continue;
    if (c.epoch == replica_.epoch() && c.pos >= seq) {
      // Already at (or ahead of) the snapshot: nothing was missed.
      c.behind = false;
      continue;
    }
    ResyncReason reason = c.epoch != replica_.epoch() ? ResyncReason::kEpochChanged
                          : cause == SnapshotCause::kGap ? ResyncReason::kOverflow
                                                         : ResyncReason::kHistoryGap;
    Resync(id, c, reason);
    ++resynced[static_cast<size_t>(reason)];
  }
  pump_needed_ = false;
  LogInfo("snapshot.applied")
      .Kv("cause", SnapshotCauseName(cause))
      .Kv("epoch", replica_.epoch())
      .Kv("seq", seq)
      .Kv("items", static_cast<uint64_t>(n))
      .Kv("epoch_changed", epoch_changed)
      .Kv("clients", static_cast<uint64_t>(clients_.size()))
      .Kv("resync_epoch_changed", static_cast<uint64_t>(resynced[0]))
      .Kv("resync_history_gap", static_cast<uint64_t>(resynced[1]))
      .Kv("resync_overflow", static_cast<uint64_t>(resynced[2]));
  UpdateGauges();
}

bool Hub::Ingest(ReceivedEvent&& received, HistoryEntry* entry) {
  v1::ChangeEvent& ev = received.event;
  if (!replica_.has_snapshot() || ev.epoch() != replica_.epoch() || ev.seq() != replica_.seq() + 1) {
    // The feed client only hands over contiguous events; this is a bug.
    LogError("feed.event_out_of_order")
        .Kv("epoch", ev.epoch())
        .Kv("seq", ev.seq())
        .Kv("replica_epoch", replica_.epoch())
        .Kv("replica_seq", replica_.seq());
    return false;
  }
  v1::Kind kind = ev.kind() != v1::KIND_UNSPECIFIED ? ev.kind() : KindOf(ev.type());
  // The name before applying: a project_removed still shows its name.
  std::string name = (kind == v1::KIND_PROJECT && ev.has_item() && ev.item().has_project_info() &&
                      !ev.item().project_info().name().empty())
                         ? ev.item().project_info().name()
                         : replica_.ProjectName(ev.project());
  const v1::Item* stored = nullptr;
  replica_.Apply(ev, &stored);
  entry->seq = ev.seq();
  entry->kind = kind;
  entry->project = ev.project();
  entry->frame = factory_(EventJson(ev, stored, name));
  metrics_->events_in->Add();
  if (ev.published_us() > 0 && received.received_us > 0) {
    metrics_->feed_lag_ms->Set(std::max<int64_t>(0, (received.received_us - ev.published_us()) / 1000));
  }
  history_.Append(*entry);
  return true;
}

size_t Hub::OnEvent(ReceivedEvent&& received) {
  HistoryEntry entry;
  if (!Ingest(std::move(received), &entry)) return 0;
  for (auto& [id, c] : clients_) Deliver(id, c, entry);
  UpdateGauges();
  return entry.frame->payload().size();
}

size_t Hub::OnEvents(std::vector<ReceivedEvent>&& run) {
  if (!batch_factory_ || run.size() < 2) {
    size_t bytes = 0;
    for (ReceivedEvent& e : run) bytes += OnEvent(std::move(e));
    return bytes;
  }
  std::vector<HistoryEntry> entries;
  entries.reserve(run.size());
  size_t bytes = 0;
  for (ReceivedEvent& e : run) {
    HistoryEntry entry;
    if (!Ingest(std::move(e), &entry)) continue;
    bytes += entry.frame->payload().size();
    entries.push_back(std::move(entry));
  }
  if (entries.empty()) return 0;
  // A live client that takes every event of the run gets them as one
  // write (one shared buffer holding all the frames); any other client
  // (behind, ahead, or filtering topics) gets them one by one as before.
  FramePtr batch;
  const uint64_t first = entries.front().seq, last = entries.back().seq;
  for (auto& [id, c] : clients_) {
    bool whole = !c.closing && c.epoch == replica_.epoch() && !c.behind && c.pos + 1 == first;
    for (size_t i = 0; whole && i < entries.size(); ++i)
      whole = c.topics.Matches(entries[i].kind, entries[i].project);
    if (!whole) {
      for (const HistoryEntry& entry : entries) Deliver(id, c, entry);
      continue;
    }
    if (!batch) {
      std::vector<FramePtr> frames;
      frames.reserve(entries.size());
      for (const HistoryEntry& entry : entries) frames.push_back(entry.frame);
      batch = batch_factory_(frames);
    }
    c.pos = last;
    SendOrDrop(id, c, batch, entries.size());
  }
  UpdateGauges();
  return bytes;
}

void Hub::Deliver(ClientId id, Client& c, const HistoryEntry& entry) {
  if (c.closing || c.epoch != replica_.epoch()) return;
  if (c.pos >= entry.seq) return;  // ahead of the gateway: already has it
  if (c.behind || c.pos + 1 != entry.seq) {
    // Catching up from history: the pump sends it in order.
    c.behind = true;
    pump_needed_ = true;
    return;
  }
  c.pos = entry.seq;
  if (c.topics.Matches(entry.kind, entry.project)) SendOrDrop(id, c, entry.frame);
}

void Hub::OnWatcherDown() {
  if (watcher_state_ == WatcherState::kDown) return;
  watcher_state_ = WatcherState::kDown;
  metrics_->watcher_up->Set(0);
  LogWarn("watcher.down").Kv("clients", static_cast<uint64_t>(clients_.size()));
  Broadcast(factory_(WatcherDownJson()));
}

void Hub::OnWatcherUp(const std::string& epoch) {
  if (watcher_state_ == WatcherState::kUp) return;
  bool was_down = watcher_state_ == WatcherState::kDown;
  watcher_state_ = WatcherState::kUp;
  metrics_->watcher_up->Set(1);
  LogInfo("watcher.up").Kv("epoch", epoch).Kv("was_down", was_down);
  Broadcast(factory_(WatcherUpJson(epoch)));
}

void Hub::Broadcast(const FramePtr& frame) {
  for (auto& [id, c] : clients_)
    if (!c.closing) SendOrDrop(id, c, frame);
}

// ---- client side -----------------------------------------------------------

bool Hub::SendOrDrop(ClientId id, Client& c, const FramePtr& frame, size_t frames) {
  if (c.closing) return false;
  size_t size = frame->payload().size();
  size_t buffered = c.sink->BufferedBytes();
  if (buffered + size > options_.max_queue_bytes) {
    LogWarn("client.slow")
        .Kv("client", id)
        .Kv("remote", c.sink->Describe())
        .Kv("buffered_bytes", static_cast<uint64_t>(buffered))
        .Kv("max_queue_bytes", static_cast<uint64_t>(options_.max_queue_bytes))
        .Kv("reason", "unsent bytes over --max-queue-bytes; closing 4000");
    Drop(id, c, 4000, "slow client", true);
    return false;
  }
  c.sink->Send(frame);
  metrics_->events_out->Add(static_cast<int64_t>(frames));
  metrics_->bytes_out->Add(static_cast<int64_t>(size));
  return true;
}

void Hub::Drop(ClientId id, Client& c, uint16_t code, std::string_view reason, bool slow) {
  if (c.closing) return;
  c.closing = true;
  c.behind = false;
  metrics_->dropped_clients->Add();
  if (slow) metrics_->slow_client_disconnects->Add();
  c.sink->Close(code, reason);
}

void Hub::Resync(ClientId id, Client& c, ResyncReason reason) {
  c.epoch = replica_.epoch();
  c.pos = replica_.seq();
  c.behind = false;
  metrics_->Resync(reason)->Add();
  SendOrDrop(id, c, factory_(ResyncJson(ResyncReasonName(reason), replica_.epoch(), replica_.seq())));
}

Hub::ClientId Hub::Connect(std::shared_ptr<ClientSink> sink, ConnectRequest request) {
  ClientId id = next_id_++;
  Client& c = clients_[id];
  c.sink = std::move(sink);
  c.topics = std::move(request.topics);
  c.last_activity = clock_->Now();
  c.window_start = c.last_activity;
  metrics_->connections_total->Add();

  GatewayPosition gw;
  gw.has_state = replica_.has_snapshot();
  gw.epoch = replica_.epoch();
  gw.seq = replica_.seq();
  gw.history_base = history_.base_seq();
  ResumeDecision d = DecideResume(request.resume, gw);
  c.epoch = d.epoch;

  uint64_t hello_seq = d.position;
  uint64_t replayed = 0;
  if (d.action == ResumeAction::kReplay) {
    for (uint64_t s = d.position + 1; s <= replica_.seq(); ++s) {
      const HistoryEntry* e = history_.At(s);
      if (e && c.topics.Matches(e->kind, e->project)) ++replayed;
    }
    hello_seq = replica_.seq();
  }
  if (d.action == ResumeAction::kResync) hello_seq = replica_.seq();
  SendOrDrop(id, c,
             factory_(HelloJson(d.action == ResumeAction::kPending ? d.epoch : replica_.epoch(),
                                hello_seq, options_.ping_ms, replayed, options_.gateway_id,
                                WatcherStateName(watcher_state_))));
  if (watcher_state_ == WatcherState::kDown) SendOrDrop(id, c, factory_(WatcherDownJson()));

  switch (d.action) {
    case ResumeAction::kLive:
    case ResumeAction::kAhead:
    case ResumeAction::kPending:
      c.pos = d.position;
      break;
    case ResumeAction::kReplay:
      c.pos = d.position;
      c.behind = true;
      metrics_->replayed_events->Add(static_cast<int64_t>(replayed));
      Pump(id, c);
      break;
    case ResumeAction::kResync:
      LogInfo("client.resync")
          .Kv("client", id)
          .Kv("reason", ResyncReasonName(d.reason))
          .Kv("client_epoch", request.resume.epoch)
          .Kv("since", request.resume.since)
          .Kv("epoch", replica_.epoch())
          .Kv("seq", replica_.seq())
          .Kv("history_base", history_.base_seq());
      Resync(id, c, d.reason);
      break;
  }
  LogDebug("client.open")
      .Kv("client", id)
      .Kv("remote", c.sink->Describe())
      .Kv("since", request.resume.since)
      .Kv("position", c.pos)
      .Kv("replayed", replayed);
  UpdateGauges();
  return id;
}

void Hub::Disconnect(ClientId id) {
  auto it = clients_.find(id);
  if (it == clients_.end()) return;
  LogDebug("client.closed").Kv("client", id).Kv("position", it->second.pos);
  clients_.erase(it);
  UpdateGauges();
}

void Hub::Pump(ClientId id, Client& c) {
  while (c.behind && !c.closing) {
    if (c.pos >= history_.last_seq()) {
      c.behind = false;
      break;
    }
    if (c.pos < history_.base_seq()) {
      LogInfo("client.resync")
          .Kv("client", id)
          .Kv("reason", "history_gap")
          .Kv("note", "fell out of the history while catching up")
          .Kv("position", c.pos)
          .Kv("history_base", history_.base_seq());
      Resync(id, c, ResyncReason::kHistoryGap);
      break;
    }
    // Pace the replay on the client's reading, so a long replay never
    // counts as a slow client.
    if (c.sink->BufferedBytes() >= options_.max_queue_bytes / 2) {
      pump_needed_ = true;
      return;
    }
    const HistoryEntry* e = history_.At(c.pos + 1);
    c.pos += 1;
    if (e && c.topics.Matches(e->kind, e->project)) SendOrDrop(id, c, e->frame);
  }
}

bool Hub::PumpAll() {
  pump_needed_ = false;
  for (auto& [id, c] : clients_)
    if (c.behind) Pump(id, c);
  return pump_needed_;
}

bool Hub::CountFrame(ClientId id, Client& c) {
  SteadyTime now = clock_->Now();
  c.last_activity = now;
  c.awaiting_pong = false;
  if (now - c.window_start >= std::chrono::seconds(1)) {
    c.window_start = now;
    c.window_frames = 0;
  }
  if (++c.window_frames > options_.max_frames_per_second) {
    LogWarn("client.flood")
        .Kv("client", id)
        .Kv("remote", c.sink->Describe())
        .Kv("frames_per_second", c.window_frames)
        .Kv("reason", "more client frames per second than allowed; closing 1008");
    Drop(id, c, 1008, "flood", false);
    return false;
  }
  return true;
}

void Hub::OnClientControlFrame(ClientId id) {
  Client* c = Find(id);
  if (!c || c->closing) return;
  CountFrame(id, *c);
}

void Hub::OnClientFrame(ClientId id, bool binary, std::string_view payload) {
  Client* cp = Find(id);
  if (!cp || cp->closing) return;
  Client& c = *cp;
  if (!CountFrame(id, c)) return;
  if (binary) {
    LogInfo("client.bad_frame").Kv("client", id).Kv("reason", "binary frame; closing 1003");
    Drop(id, c, 1003, "binary frames are not supported", false);
    return;
  }
  nlohmann::json msg = nlohmann::json::parse(payload.begin(), payload.end(), nullptr, false);
  if (msg.is_discarded() || !msg.is_object()) {
    LogInfo("client.bad_frame").Kv("client", id).Kv("reason", "not a JSON object; closing 1003");
    Drop(id, c, 1003, "invalid json", false);
    return;
  }
  std::string type;
  if (auto it = msg.find("type"); it != msg.end() && it->is_string()) type = it->get<std::string>();
  int64_t now_ms = clock_->UnixMicros() / 1000;
  if (type == "pong") return;
  if (type == "ping") {
    SendOrDrop(id, c, factory_(PongJson(now_ms)));
    return;
  }
  if (type == "subscribe") {
    std::vector<std::string> entries;
    auto it = msg.find("topics");
    bool ok = true;
    if (it == msg.end() || it->is_null()) {
      // no topics: everything
    } else if (it->is_string()) {
      entries.push_back(it->get<std::string>());
    } else if (it->is_array()) {
      for (const auto& t : *it) {
        if (!t.is_string()) { ok = false; break; }
        entries.push_back(t.get<std::string>());
      }
    } else {
      ok = false;
    }
    std::string error = "topics must be a list of strings";
    TopicFilter filter;
    if (ok && TopicFilter::FromList(entries, &filter, &error)) {
      c.topics = std::move(filter);
    } else {
      SendOrDrop(id, c, factory_(ErrorJson(error)));
    }
    return;
  }
  SendOrDrop(id, c, factory_(ErrorJson("unknown op")));
}

void Hub::OnPongTimeout(ClientId id) {
  Client* c = Find(id);
  if (!c || c->closing) return;
  if (!c->awaiting_pong) return;  // answered with {"type":"pong"} (or anything)
  LogWarn("client.pong_timeout")
      .Kv("client", id)
      .Kv("remote", c->sink->Describe())
      .Kv("reason", "no pong within --pong-timeout-ms; closing 1008");
  Drop(id, *c, 1008, "pong timeout", false);
}

void Hub::PingAll() {
  if (clients_.empty()) return;
  FramePtr frame = factory_(PingJson(clock_->UnixMicros() / 1000));
  for (auto& [id, c] : clients_) {
    if (c.closing) continue;
    if (!SendOrDrop(id, c, frame)) continue;
    if (!c.awaiting_pong) {
      // An unanswered ping keeps its deadline: later rounds do not restart it.
      c.awaiting_pong = true;
      c.ping_sent = clock_->Now();
      c.sink->Ping();
    }
  }
}

std::optional<SteadyTime> Hub::CheckPongs() {
  const SteadyTime now = clock_->Now();
  const auto timeout = std::chrono::milliseconds(options_.pong_timeout_ms);
  std::optional<SteadyTime> next;
  for (auto& [id, c] : clients_) {
    if (c.closing || !c.awaiting_pong) continue;
    SteadyTime due = c.ping_sent + timeout;
    if (due <= now) {
      OnPongTimeout(id);  // closes; the entry stays until Disconnect
    } else if (!next || due < *next) {
      next = due;
    }
  }
  return next;
}

void Hub::CloseAll(uint16_t code, std::string_view reason) {
  for (auto& [id, c] : clients_) {
    if (c.closing) continue;
    c.closing = true;
    c.sink->Close(code, reason);
  }
}

}  // namespace coderef::gateway
