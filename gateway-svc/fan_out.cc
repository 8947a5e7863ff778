#include "gateway-svc/fan_out.h"

#include <algorithm>

namespace coderef::gateway {

FanOut::FanOut(FanOutOptions options, const FeedState* state, const Clock* clock, GapHandler* gaps)
    : options_(options), state_(state), clock_(clock), gaps_(gaps) {
  options_.max_queue_bytes = std::max<size_t>(options_.max_queue_bytes, 1);
}

FanOut::Client* FanOut::Find(ClientId id) {
  auto it = clients_.find(id);
  return it == clients_.end() ? nullptr : &it->second;
}

const FanOut::Client* FanOut::Find(ClientId id) const {
  auto it = clients_.find(id);
  return it == clients_.end() ? nullptr : &it->second;
}

void FanOut::Add(ClientId id, std::shared_ptr<ClientSink> sink, TopicFilter topics,
                 std::string epoch, uint64_t next, const FramePtr& first) {
  Client& c = clients_[id];
  if (first) {
    c.control.push_back(Control{0, first});
    c.control_bytes = first->wire().size();
  } else {
    c.held = true;
  }
  c.sink = std::move(sink);
  c.topics = std::move(topics);
  c.epoch = std::move(epoch);
  c.next = next;
  WakeIfIdle(c);
}

void FanOut::Remove(ClientId id) { clients_.erase(id); }

bool FanOut::HasWork(const Client& c) const {
  if (c.held) return false;
  if (c.partial || c.control_head < c.control.size()) return true;
  if (c.finished) return false;
  return c.epoch == state_->epoch() && c.next <= state_->seq();
}

void FanOut::WakeIfIdle(Client& c) {
  if (!c.idle || !HasWork(c)) return;
  c.idle = false;
  c.sink->Wake();
}

void FanOut::Published() {
  for (auto& [id, c] : clients_) WakeIfIdle(c);
}

bool FanOut::Push(ClientId id, const FramePtr& frame) {
  Client* c = Find(id);
  if (!c || c->finished) return false;
  const size_t size = frame->wire().size();
  if (c->control_head < c->control.size() && c->control_bytes + size > options_.max_queue_bytes)
    return false;
  // After the events the client still needs now (none when it is ahead, or
  // on another epoch than the feed).
  uint64_t after = c->next - 1;
  if (c->epoch == state_->epoch()) after = std::max(after, state_->seq());
  c->control.push_back(Control{after, frame});
  c->control_bytes += size;
  WakeIfIdle(*c);
  return true;
}

void FanOut::Resync(ClientId id, const FramePtr& frame, std::string epoch, uint64_t next) {
  Client* c = Find(id);
  if (!c || c->finished) return;
  // What is queued goes out now, then the resync, then events from `next`.
  for (size_t i = c->control_head; i < c->control.size(); ++i) c->control[i].after = 0;
  c->control.push_back(Control{0, frame});
  c->control_bytes += frame->wire().size();
  c->epoch = std::move(epoch);
  c->next = next;
  c->held = false;
  c->replay.reset();
  WakeIfIdle(*c);
}

void FanOut::Hold(ClientId id) {
  if (Client* c = Find(id)) c->held = true;
}

bool FanOut::held(ClientId id) const {
  const Client* c = Find(id);
  return c && c->held;
}

void FanOut::SetReplay(ClientId id, std::shared_ptr<const ReplayRange> replay) {
  if (Client* c = Find(id)) c->replay = std::move(replay);
}

void FanOut::Release(ClientId id, const FramePtr& first) {
  Client* c = Find(id);
  if (!c) return;
  c->held = false;
  if (first) {
    PushFront(id, first);
  } else {
    WakeIfIdle(*c);
  }
}

void FanOut::PushFront(ClientId id, const FramePtr& frame) {
  Client* c = Find(id);
  if (!c || c->finished) return;
  c->control.insert(c->control.begin() + c->control_head, Control{0, frame});
  c->control_bytes += frame->wire().size();
  WakeIfIdle(*c);
}

const HistoryEntry* FanOut::EventAt(const Client& c, uint64_t seq) const {
  if (c.replay && c.replay->epoch == c.epoch) {
    if (const HistoryEntry* e = c.replay->At(seq)) return e;
  }
  return state_->history().At(seq);
}

uint64_t FanOut::CountBehind(ClientId id) const {
  const Client* c = Find(id);
  if (!c || c->epoch != state_->epoch()) return 0;
  uint64_t n = 0;
  for (uint64_t s = c->next; s <= state_->seq(); ++s) {
    const HistoryEntry* e = EventAt(*c, s);
    if (e && e->frame && c->topics.Matches(e->kind, e->project)) ++n;
  }
  return n;
}

void FanOut::SetTopics(ClientId id, TopicFilter topics) {
  if (Client* c = Find(id)) c->topics = std::move(topics);
}

void FanOut::Finish(ClientId id, const FramePtr& last) {
  Client* c = Find(id);
  if (!c || c->finished) return;
  c->finished = true;
  c->held = false;
  std::vector<Control>().swap(c->control);
  c->control_head = 0;
  c->control_bytes = 0;
  c->control.push_back(Control{0, last});
  c->control_bytes = last->wire().size();
  WakeIfIdle(*c);
}

void FanOut::PopControl(Client& c) {
  c.control_bytes -= c.control[c.control_head].frame->wire().size();
  c.control[c.control_head].frame.reset();
  if (++c.control_head == c.control.size()) {
    std::vector<Control>().swap(c.control);  // an idle client holds no queue
    c.control_head = 0;
  }
}

void FanOut::Take(ClientId id, Pull* pull) {
  pull->count = 0;
  pull->bytes = 0;
  Client* c = Find(id);
  if (!c || c->held) return;
  auto add = [pull](Pull::Src src, std::string_view data, uint64_t seq) {
    pull->src[pull->count] = src;
    pull->seq[pull->count] = seq;
    pull->data[pull->count] = data;
    pull->bytes += data.size();
    ++pull->count;
  };
  if (c->partial) add(Pull::Src::kPartial, c->partial->wire().substr(c->offset), 0);

  const HistoryRing& history = state_->history();
  uint64_t next = c->next;
  size_t ci = c->control_head;
  bool same_epoch = c->epoch == state_->epoch();
  bool gap_handled = false;
  while (pull->count < kMaxPull && pull->bytes < options_.max_queue_bytes) {
    if (ci < c->control.size() && (c->finished || c->control[ci].after < next)) {
      add(Pull::Src::kControl, c->control[ci].frame->wire(), 0);
      ++ci;
      continue;
    }
    if (c->finished || !same_epoch || next > state_->seq()) break;
    const HistoryEntry* e = c->replay && c->replay->epoch == c->epoch ? c->replay->At(next) : nullptr;
    if (!e && next <= history.base_seq()) {
      // Fell out of the history. What is already in the pull goes first;
      // then the handler moves the client on (once per pull).
      if (gap_handled || pull->count > 0) break;
      gap_handled = true;
      gaps_->OnHistoryGap(id, next);
      if (c->held) break;  // the handler is fetching the range
      next = c->next;
      ci = c->control_head;
      same_epoch = c->epoch == state_->epoch();
      continue;
    }
    if (!e) e = history.At(next);
    if (e->frame && c->topics.Matches(e->kind, e->project))
      add(Pull::Src::kEvent, e->frame->wire(), next);
    ++next;
  }
  pull->scan_end = next;
  if (pull->count == 0) {
    c->next = next;  // only skipped events: nothing to write
    if (c->replay && c->next > c->replay->last()) c->replay.reset();
    c->idle = true;
    c->blocked = false;
  } else {
    c->idle = false;
  }
}

void FanOut::Written(ClientId id, const Pull& pull, size_t n) {
  Client* c = Find(id);
  if (!c || pull.count == 0) return;
  const SteadyTime now = clock_->Now();
  if (n > 0 && c->blocked) c->progress = now;
  if (options_.metrics && n > 0) options_.metrics->bytes_out->Add(static_cast<int64_t>(n));
  size_t left = n, frames = 0;
  for (size_t i = 0; i < pull.count; ++i) {
    const size_t size = pull.data[i].size();
    const bool whole = left >= size;
    if (!whole && left == 0) break;  // not begun
    switch (pull.src[i]) {
      case Pull::Src::kPartial:
        if (whole) {
          c->partial.reset();
          c->offset = 0;
        } else {
          c->offset += left;
        }
        break;
      case Pull::Src::kControl:
        if (!whole) {
          c->partial = c->control[c->control_head].frame;
          c->offset = left;
        }
        PopControl(*c);
        break;
      case Pull::Src::kEvent:
        if (!whole) {
          c->partial = EventAt(*c, pull.seq[i])->frame;
          c->offset = left;
        }
        c->next = pull.seq[i] + 1;
        break;
    }
    if (!whole) break;
    left -= size;
    if (pull.src[i] != Pull::Src::kPartial) ++frames;
  }
  if (options_.metrics && frames > 0) options_.metrics->events_out->Add(static_cast<int64_t>(frames));
  if (c->replay && c->next > c->replay->last()) c->replay.reset();  // past it: let it go
  if (n >= pull.bytes) {
    c->next = std::max(c->next, pull.scan_end);
    if (c->replay && c->next > c->replay->last()) c->replay.reset();
    c->blocked = false;
    return;
  }
  if (!c->blocked) {
    c->blocked = true;
    c->progress = now;
    if (on_blocked_) on_blocked_(now + options_.stuck);
  }
}

std::optional<SteadyTime> FanOut::CheckStuck(std::vector<ClientId>* stuck) {
  const SteadyTime now = clock_->Now();
  std::optional<SteadyTime> next;
  for (auto& [id, c] : clients_) {
    if (!c.blocked || c.finished) continue;
    const SteadyTime due = c.progress + options_.stuck;
    if (due <= now) {
      stuck->push_back(id);
    } else if (!next || due < *next) {
      next = due;
    }
  }
  return next;
}

bool FanOut::finished(ClientId id) const {
  const Client* c = Find(id);
  return !c || c->finished;
}

bool FanOut::Idle(ClientId id) const {
  const Client* c = Find(id);
  return !c || !HasWork(*c);
}

uint64_t FanOut::cursor(ClientId id) const {
  const Client* c = Find(id);
  return c ? c->next : 0;
}

const std::string& FanOut::epoch(ClientId id) const {
  static const std::string kNone;
  const Client* c = Find(id);
  return c ? c->epoch : kNone;
}

size_t FanOut::queued_bytes(ClientId id) const {
  const Client* c = Find(id);
  if (!c) return 0;
  return c->control_bytes + (c->partial ? c->partial->wire().size() - c->offset : 0);
}

}  // namespace coderef::gateway
