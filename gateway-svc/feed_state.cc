#include "gateway-svc/feed_state.h"

#include <algorithm>

#include "common/log.h"
#include "common/names.h"
#include "gateway-svc/event_json.h"

namespace coderef::gateway {

std::string_view WatcherStateName(WatcherState s) {
  switch (s) {
    case WatcherState::kUnknown: return "unknown";
    case WatcherState::kUp: return "up";
    case WatcherState::kDown: return "down";
  }
  return "unknown";
}

FeedState::FeedState(size_t history, FrameFactory factory, GatewayMetrics* metrics)
    : factory_(std::move(factory)),
      metrics_(metrics),
      history_(std::max(history, kMinRing)),
      history_limit_(history) {}

void FeedState::Reset(std::string epoch, uint64_t seq, std::vector<v1::Item> items) {
  replica_.Reset(std::move(epoch), seq, std::move(items));
  history_.Reset(seq);
}

namespace {
v1::Kind EntryKind(const v1::ChangeEvent& ev) {
  return ev.kind() != v1::KIND_UNSPECIFIED ? ev.kind() : KindOf(ev.type());
}
}  // namespace

HistoryEntry FeedState::RenderPast(const v1::ChangeEvent& ev) const {
  HistoryEntry entry;
  entry.seq = ev.seq();
  entry.kind = EntryKind(ev);
  entry.project = ev.project();
  entry.frame = factory_(
      EventJson(ev, ev.has_item() ? &ev.item() : nullptr, replica_.ProjectName(ev.project())));
  return entry;
}

bool FeedState::Ingest(ReceivedEvent&& received) {
  v1::ChangeEvent& ev = received.event;
  if (!replica_.has_snapshot() || ev.epoch() != replica_.epoch() || ev.seq() != replica_.seq() + 1) {
    LogError("feed.event_out_of_order")
        .Kv("epoch", ev.epoch())
        .Kv("seq", ev.seq())
        .Kv("replica_epoch", replica_.epoch())
        .Kv("replica_seq", replica_.seq());
    return false;
  }
  HistoryEntry entry;
  entry.kind = EntryKind(ev);
  // The name before applying: a project_removed still shows its name.
  std::string name = (entry.kind == v1::KIND_PROJECT && ev.has_item() &&
                      ev.item().has_project_info() && !ev.item().project_info().name().empty())
                         ? ev.item().project_info().name()
                         : replica_.ProjectName(ev.project());
  const v1::Item* stored = nullptr;
  replica_.Apply(ev, &stored);
  entry.seq = ev.seq();
  entry.project = ev.project();
  entry.frame = factory_(EventJson(ev, stored, name));
  metrics_->events_in->Add();
  if (ev.published_us() > 0 && received.received_us > 0) {
    metrics_->feed_lag_ms->Set(
        std::max<int64_t>(0, (received.received_us - ev.published_us()) / 1000));
  }
  history_.Append(std::move(entry));
  return true;
}

bool FeedState::SetWatcher(WatcherState s) {
  if (watcher_ == s) return false;
  watcher_ = s;
  return true;
}

}  // namespace coderef::gateway
