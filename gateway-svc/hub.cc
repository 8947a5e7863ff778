#include "gateway-svc/hub.h"

#include <algorithm>

#include "common/log.h"
#include "gateway-svc/client_messages.h"
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

Hub::Hub(HubOptions options, FrameFactory factory, GatewayMetrics* metrics, const Clock* clock)
    : options_(std::move(options)),
      metrics_(metrics),
      clock_(clock),
      state_(options_.history, std::move(factory), metrics),
      fan_out_(FanOutOptions{options_.max_queue_bytes, Millis(options_.stuck_ms), metrics},
               &state_, clock, this) {}

Hub::Client* Hub::Find(ClientId id) {
  auto it = clients_.find(id);
  return it == clients_.end() ? nullptr : &it->second;
}

void Hub::UpdateGauges() {
  metrics_->clients->Set(static_cast<int64_t>(clients_.size()));
  metrics_->replica_items->Set(static_cast<int64_t>(state_.replica().size()));
  metrics_->seq->Set(static_cast<int64_t>(state_.seq()));
  metrics_->history_size->Set(static_cast<int64_t>(state_.history().size()));
}

// ---- feed side -------------------------------------------------------------

void Hub::Apply(std::vector<FeedUpdate>&& updates) {
  for (FeedUpdate& u : updates) {
    switch (u.type) {
      case FeedUpdate::Type::kSnapshot:
        OnSnapshot(std::move(u.epoch), u.seq, std::move(u.items), u.cause);
        break;
      case FeedUpdate::Type::kEvents:
        OnEvents(std::move(u.events));
        break;
      case FeedUpdate::Type::kWatcherDown:
        OnWatcherDown();
        break;
      case FeedUpdate::Type::kWatcherUp:
        OnWatcherUp(u.epoch, u.restart);
        break;
    }
  }
}

void Hub::OnSnapshot(std::string epoch, uint64_t seq, std::vector<v1::Item> items,
                     SnapshotCause cause) {
  bool epoch_changed = epoch != state_.epoch();
  size_t n = items.size();
  state_.Reset(std::move(epoch), seq, std::move(items));
  metrics_->snapshots->Add();
  size_t resynced[3] = {0, 0, 0};
  for (auto& [id, c] : clients_) {
    if (c.closing) continue;
    if (fan_out_.epoch(id) == state_.epoch() && fan_out_.cursor(id) > seq) {
      continue;  // already at (or ahead of) the snapshot: nothing was missed
    }
    ResyncReason reason = fan_out_.epoch(id) != state_.epoch() ? ResyncReason::kEpochChanged
                          : cause == SnapshotCause::kGap       ? ResyncReason::kOverflow
                                                               : ResyncReason::kHistoryGap;
    // A client waiting for the first snapshot at an older position of this
    // epoch: the watcher's history may still hold what it needs.
    if (reason == ResyncReason::kHistoryGap && FetchFor(id, fan_out_.cursor(id))) continue;
    Resync(id, reason);
    ++resynced[static_cast<size_t>(reason)];
  }
  LogInfo("snapshot.applied")
      .Kv("cause", SnapshotCauseName(cause))
      .Kv("epoch", state_.epoch())
      .Kv("seq", seq)
      .Kv("items", static_cast<uint64_t>(n))
      .Kv("epoch_changed", epoch_changed)
      .Kv("clients", static_cast<uint64_t>(clients_.size()))
      .Kv("resync_epoch_changed", static_cast<uint64_t>(resynced[0]))
      .Kv("resync_history_gap", static_cast<uint64_t>(resynced[1]))
      .Kv("resync_overflow", static_cast<uint64_t>(resynced[2]));
  UpdateGauges();
}

size_t Hub::Ingest(ReceivedEvent&& received) {
  if (!state_.Ingest(std::move(received))) return 0;
  const HistoryEntry* e = state_.history().At(state_.seq());
  return e ? e->frame->wire().size() : 0;
}

void Hub::Publish() {
  fan_out_.Published();
  UpdateGauges();
}

void Hub::OnEvents(std::vector<ReceivedEvent>&& run) {
  for (ReceivedEvent& e : run) Ingest(std::move(e));
  Publish();
}

void Hub::OnEvent(ReceivedEvent&& received) {
  Ingest(std::move(received));
  Publish();
}

void Hub::OnWatcherDown() {
  if (!state_.SetWatcher(WatcherState::kDown)) return;
  metrics_->watcher_up->Set(0);
  LogWarn("watcher.down").Kv("clients", static_cast<uint64_t>(clients_.size()));
  Broadcast(state_.factory()(WatcherDownJson()));
}

void Hub::OnWatcherUp(const std::string& epoch, const std::optional<WatcherRestart>& restart) {
  bool was_down = state_.watcher() == WatcherState::kDown;
  if (!state_.SetWatcher(WatcherState::kUp) && !restart) return;
  metrics_->watcher_up->Set(1);
  LogInfo("watcher.up").Kv("epoch", epoch).Kv("was_down", was_down).Kv("restarted", restart.has_value());
  Broadcast(state_.factory()(WatcherUpJson(epoch, restart ? &*restart : nullptr)));
}

void Hub::Broadcast(const FramePtr& frame) {
  for (auto& [id, c] : clients_)
    if (!c.closing) Send(id, frame);
}

// ---- client side -----------------------------------------------------------

bool Hub::Send(ClientId id, const FramePtr& frame) {
  if (fan_out_.Push(id, frame)) return true;
  if (fan_out_.finished(id)) return false;  // closing: nothing more goes out
  LogWarn("client.control_dropped")
      .Kv("client", id)
      .Kv("queued_bytes", static_cast<uint64_t>(fan_out_.queued_bytes(id)))
      .Kv("reason", "control frames past --max-queue-bytes; this one is not sent");
  return false;
}

void Hub::Drop(ClientId id, Client& c, uint16_t code, std::string_view reason) {
  if (c.closing) return;
  c.closing = true;
  metrics_->dropped_clients->Add();
  LogDebug("client.drop").Kv("client", id).Kv("code", code).Kv("reason", reason);
  fan_out_.sink(id)->Close(code, reason);
}

void Hub::Resync(ClientId id, ResyncReason reason) {
  if (Client* c = Find(id)) {
    c->fetch = 0;
    if (c->awaiting_hello) {  // held for a fetch before its hello: hello first
      c->awaiting_hello = false;  // (still held: it takes nothing before the resync)
      fan_out_.PushFront(id, MakeHello(state_.epoch(), state_.seq(), 0));
    }
  }
  metrics_->Resync(reason)->Add();
  fan_out_.Resync(id,
                  state_.factory()(ResyncJson(ResyncReasonName(reason), state_.epoch(), state_.seq())),
                  state_.epoch(), state_.seq() + 1);
}

FramePtr Hub::MakeHello(const std::string& epoch, uint64_t seq, uint64_t replayed) const {
  return state_.factory()(HelloJson(epoch, seq, options_.ping_ms, replayed, options_.gateway_id,
                                    WatcherStateName(state_.watcher())));
}

void Hub::OnHistoryGap(ClientId id, uint64_t next) {
  if (FetchFor(id, next)) return;
  LogInfo("client.resync")
      .Kv("client", id)
      .Kv("reason", "history_gap")
      .Kv("note", "fell out of the history while behind")
      .Kv("next", next)
      .Kv("history_base", state_.history().base_seq());
  Resync(id, ResyncReason::kHistoryGap);
}

// ---- the watcher's history (PROTOCOL section 6) ------------------------------

bool Hub::FetchFor(ClientId id, uint64_t next) {
  Client* c = Find(id);
  const uint64_t after = next - 1;
  const uint64_t until = state_.history().base_seq();
  if (!c || !history_source_ || after >= until) return false;
  const std::string& epoch = state_.epoch();
  fan_out_.Hold(id);
  const SteadyTime now = clock_->Now();
  recent_.erase(std::remove_if(recent_.begin(), recent_.end(),
                               [now](const auto& r) { return r.first + kRecentRangeTtl <= now; }),
                recent_.end());
  // A range fetched for others (in use, or recent) reaches the ring: share it.
  for (auto it = ranges_.begin(); it != ranges_.end();) {
    std::shared_ptr<const ReplayRange> r = it->lock();
    if (!r) {
      it = ranges_.erase(it);
      continue;
    }
    if (r->epoch == epoch && r->after <= after && r->last() >= until) {
      metrics_->history_fetch_shared->Add();
      Deliver(id, r);
      return true;
    }
    ++it;
  }
  // A fetch in flight covers it: join.
  for (auto& [fid, f] : fetches_) {
    if (f.epoch == epoch && f.after <= after && f.until >= until) {
      f.waiting.push_back(id);
      c->fetch = fid;
      metrics_->history_fetch_shared->Add();
      return true;
    }
  }
  const uint64_t fid = next_fetch_++;
  fetches_[fid] = Fetch{epoch, after, until, {id}};
  c->fetch = fid;
  metrics_->history_fetches->Add();
  LogInfo("replay.fetch")
      .Kv("client", id)
      .Kv("epoch", epoch)
      .Kv("after", after)
      .Kv("until", until)
      .Kv("events", until - after);
  history_source_->Fetch(epoch, after, until, [this, fid](std::shared_ptr<const HistoryRange> r) {
    OnFetched(fid, std::move(r));
  });
  return true;
}

void Hub::OnFetched(uint64_t fetch_id, std::shared_ptr<const HistoryRange> answer) {
  auto it = fetches_.find(fetch_id);
  if (it == fetches_.end()) return;
  Fetch f = std::move(it->second);
  fetches_.erase(it);
  std::string why;
  if (!answer || !answer->ok) {
    why = answer && !answer->error.empty() ? answer->error : "the watcher did not serve the range";
  } else if (f.epoch != state_.epoch()) {
    why = "the epoch changed during the fetch";
  } else if (answer->events.size() != f.until - f.after ||
             answer->events.front().seq() != f.after + 1) {
    why = "the watcher's answer does not cover the range";
  }
  std::shared_ptr<ReplayRange> range;
  if (why.empty()) {
    range = std::make_shared<ReplayRange>();
    range->epoch = f.epoch;
    range->after = f.after;
    range->entries.reserve(answer->events.size());
    for (const v1::ChangeEvent& ev : answer->events) range->entries.push_back(state_.RenderPast(ev));
    ranges_.push_back(range);
    if (recent_.size() == kRecentRanges) recent_.erase(recent_.begin());
    recent_.emplace_back(clock_->Now(), range);
    LogInfo("replay.fetched")
        .Kv("after", f.after)
        .Kv("until", f.until)
        .Kv("clients", static_cast<uint64_t>(f.waiting.size()));
  } else {
    metrics_->history_fetch_failures->Add();
    LogWarn("replay.fetch_failed")
        .Kv("after", f.after)
        .Kv("until", f.until)
        .Kv("clients", static_cast<uint64_t>(f.waiting.size()))
        .Kv("reason", why + "; its clients get resync_required(history_gap)");
  }
  for (ClientId id : f.waiting) {
    Client* c = Find(id);
    if (!c || c->closing || c->fetch != fetch_id) continue;  // gone, or moved on meanwhile
    if (!range) {
      FailFetch(id, why);
    } else if (c->awaiting_hello && state_.history().base_seq() > range->last()) {
      // Its hello must count every event replayed: no second fetch behind it.
      FailFetch(id, "the history moved past the fetched range during the fetch");
    } else {
      Deliver(id, range);
    }
  }
  UpdateGauges();
}

void Hub::Deliver(ClientId id, const std::shared_ptr<const ReplayRange>& range) {
  Client* c = Find(id);
  if (!c) return;
  c->fetch = 0;
  fan_out_.SetReplay(id, range);
  FramePtr hello;
  if (c->awaiting_hello) {
    c->awaiting_hello = false;
    const uint64_t replayed = fan_out_.CountBehind(id);
    metrics_->replayed_events->Add(static_cast<int64_t>(replayed));
    hello = MakeHello(state_.epoch(), state_.seq(), replayed);
    LogDebug("client.replay").Kv("client", id).Kv("from_watcher_after", range->after).Kv("replayed", replayed);
  }
  // If the ring moved past the range meanwhile, the client falls out again
  // once it has taken the range, and the rest is fetched then.
  fan_out_.Release(id, hello);
}

void Hub::FailFetch(ClientId id, std::string_view why) {
  LogInfo("client.resync")
      .Kv("client", id)
      .Kv("reason", "history_gap")
      .Kv("note", why)
      .Kv("history_base", state_.history().base_seq());
  Resync(id, ResyncReason::kHistoryGap);  // sends its hello first if it is connecting
}

Hub::ClientId Hub::Connect(std::shared_ptr<ClientSink> sink, ConnectRequest request) {
  ClientId id = next_id_++;
  clients_[id];  // flood window and pong watch, fresh
  metrics_->connections_total->Add();

  GatewayPosition gw;
  gw.has_state = state_.replica().has_snapshot();
  gw.epoch = state_.epoch();
  gw.seq = state_.seq();
  gw.history_base = state_.resume_base();
  ResumeDecision d = DecideResume(request.resume, gw);
  if (d.action == ResumeAction::kResync && d.reason == ResyncReason::kHistoryGap &&
      history_source_) {
    // The watcher's history reaches further back than ours: replay, the
    // part older than the ring fetched from it.
    d.action = ResumeAction::kReplay;
    d.position = request.resume.since;
  }
  if (d.action == ResumeAction::kReplay && d.position < state_.history().base_seq()) {
    // Held without a hello until the fetch answers (its hello counts the
    // fetched events too), or resynced if it cannot be served.
    fan_out_.Add(id, std::move(sink), std::move(request.topics), d.epoch, d.position + 1, nullptr);
    clients_[id].awaiting_hello = true;
    if (state_.watcher() == WatcherState::kDown) Send(id, state_.factory()(WatcherDownJson()));
    LogDebug("client.open")
        .Kv("client", id)
        .Kv("remote", fan_out_.sink(id)->Describe())
        .Kv("since", request.resume.since)
        .Kv("position", d.position)
        .Kv("history_base", state_.history().base_seq())
        .Kv("note", "older than the history: fetching from the watcher");
    if (!FetchFor(id, d.position + 1)) FailFetch(id, "no history source");
    UpdateGauges();
    return id;
  }

  uint64_t hello_seq = d.position;
  uint64_t replayed = 0;
  if (d.action == ResumeAction::kReplay) {
    for (uint64_t s = d.position + 1; s <= state_.seq(); ++s) {
      const HistoryEntry* e = state_.history().At(s);
      if (e && request.topics.Matches(e->kind, e->project)) ++replayed;
    }
    hello_seq = state_.seq();
  }
  if (d.action == ResumeAction::kResync) hello_seq = state_.seq();
  // The client starts at its position, with hello first; a replay is just
  // a client behind (the core hands it the history as its socket drains).
  FramePtr hello =
      MakeHello(d.action == ResumeAction::kPending ? d.epoch : state_.epoch(), hello_seq, replayed);
  fan_out_.Add(id, std::move(sink), std::move(request.topics), d.epoch, d.position + 1, hello);
  if (state_.watcher() == WatcherState::kDown) Send(id, state_.factory()(WatcherDownJson()));

  if (d.action == ResumeAction::kReplay) {
    metrics_->replayed_events->Add(static_cast<int64_t>(replayed));
  } else if (d.action == ResumeAction::kResync) {
    LogInfo("client.resync")
        .Kv("client", id)
        .Kv("reason", ResyncReasonName(d.reason))
        .Kv("client_epoch", request.resume.epoch)
        .Kv("since", request.resume.since)
        .Kv("epoch", state_.epoch())
        .Kv("seq", state_.seq())
        .Kv("history_base", state_.resume_base());
    Resync(id, d.reason);
  }
  LogDebug("client.open")
      .Kv("client", id)
      .Kv("remote", fan_out_.sink(id)->Describe())
      .Kv("since", request.resume.since)
      .Kv("position", d.position)
      .Kv("replayed", replayed);
  UpdateGauges();
  return id;
}

void Hub::Disconnect(ClientId id) {
  auto it = clients_.find(id);
  if (it == clients_.end()) return;
  LogDebug("client.closed").Kv("client", id).Kv("position", fan_out_.cursor(id) - 1);
  fan_out_.Remove(id);
  clients_.erase(it);
  UpdateGauges();
}

bool Hub::CountFrame(ClientId id, Client& c) {
  c.pong.Answered();
  if (c.flood.Count(clock_->Now(), options_.max_frames_per_second)) return true;
  LogWarn("client.flood")
      .Kv("client", id)
      .Kv("remote", fan_out_.sink(id)->Describe())
      .Kv("frames_per_second", c.flood.frames())
      .Kv("reason", "more client frames per second than allowed; closing 1008");
  Drop(id, c, 1008, "flood");
  return false;
}

void Hub::OnClientControlFrame(ClientId id) {
  Client* c = Find(id);
  if (!c || c->closing) return;
  CountFrame(id, *c);
}

void Hub::OnClientFrame(ClientId id, bool binary, std::string_view payload) {
  Client* c = Find(id);
  if (!c || c->closing) return;
  if (!CountFrame(id, *c)) return;
  ClientMessage m = ParseClientMessage(binary, payload);
  switch (m.action) {
    case ClientMessage::Action::kNone:
      return;
    case ClientMessage::Action::kPong:
      Send(id, state_.factory()(PongJson(clock_->UnixMicros() / 1000)));
      return;
    case ClientMessage::Action::kSubscribe:
      fan_out_.SetTopics(id, std::move(m.topics));
      return;
    case ClientMessage::Action::kError:
      Send(id, state_.factory()(ErrorJson(m.error)));
      return;
    case ClientMessage::Action::kClose:
      LogInfo("client.bad_frame")
          .Kv("client", id)
          .Kv("reason", m.error + "; closing " + std::to_string(m.close_code));
      Drop(id, *c, m.close_code, m.error);
      return;
  }
}

void Hub::PingAll() {
  if (clients_.empty()) return;
  FramePtr frame = state_.factory()(PingJson(clock_->UnixMicros() / 1000));
  for (auto& [id, c] : clients_) {
    if (c.closing) continue;
    Send(id, frame);
    if (c.pong.awaiting()) continue;  // its deadline stands
    ClientSink* sink = fan_out_.sink(id);
    sink->Ping();
    c.pong.Sent(clock_->Now(), sink->Acknowledged().bytes);
  }
}

std::optional<SteadyTime> Hub::CheckTimeouts() {
  const SteadyTime now = clock_->Now();
  const Millis timeout(options_.pong_timeout_ms);
  std::optional<SteadyTime> next;
  for (auto& [id, c] : clients_) {
    if (c.closing) continue;
    std::optional<SteadyTime> due;
    ClientSink* sink = fan_out_.sink(id);
    const ClientSink::Acks acks = sink->Acknowledged();
    if (c.pong.Check(now, timeout, acks.bytes, acks.all && fan_out_.Idle(id), &due) ==
        PongWatch::Verdict::kDead) {
      LogWarn("client.pong_timeout")
          .Kv("client", id)
          .Kv("remote", sink->Describe())
          .Kv("reason", "no pong within --pong-timeout-ms, and the peer has the ping or "
                        "acknowledged nothing since; closing 1008");
      Drop(id, c, 1008, "pong timeout");
      continue;
    }
    if (due && (!next || *due < *next)) next = due;
  }
  std::vector<ClientId> stuck;
  std::optional<SteadyTime> stuck_next = fan_out_.CheckStuck(&stuck);
  for (ClientId id : stuck) {
    Client* c = Find(id);
    if (!c || c->closing) continue;
    LogWarn("client.stuck")
        .Kv("client", id)
        .Kv("remote", fan_out_.sink(id)->Describe())
        .Kv("queued_bytes", static_cast<uint64_t>(fan_out_.queued_bytes(id)))
        .Kv("stuck_ms", options_.stuck_ms)
        .Kv("reason", "the socket took nothing for --stuck-ms while data waited; closing 4000");
    metrics_->stuck_client_disconnects->Add();
    Drop(id, *c, 4000, "stuck client");
  }
  if (stuck_next && (!next || *stuck_next < *next)) next = stuck_next;
  return next;
}

void Hub::CloseAll(uint16_t code, std::string_view reason) {
  for (auto& [id, c] : clients_) {
    if (c.closing) continue;
    c.closing = true;
    fan_out_.sink(id)->Close(code, reason);
  }
}

}  // namespace coderef::gateway
