#include "gateway-svc/history_fetcher.h"

#include "common/log.h"

namespace coderef::gateway {

HistoryFetcher::~HistoryFetcher() {
  while (!fetches_.empty()) Finish(fetches_.begin()->first, false, "the feed stopped");
}

bool HistoryFetcher::Fetch(const std::string& epoch, uint64_t after_seq, uint64_t until_seq,
                           HistoryCallback done) {
  Key key{epoch, after_seq, until_seq};
  auto same = by_range_.find(key);
  if (same != by_range_.end()) {
    fetches_[same->second].callbacks.push_back(std::move(done));
    return false;
  }
  std::string id = "gw-r" + std::to_string(++counter_);
  Pending& p = fetches_[id];
  p.key = key;
  p.range = std::make_shared<HistoryRange>();
  p.range->epoch = epoch;
  p.range->after_seq = after_seq;
  p.range->until_seq = until_seq;
  p.callbacks.push_back(std::move(done));
  p.deadline = clock_->Now() + Millis(timeout_ms_);
  by_range_[key] = id;
  return true;
}

bool HistoryFetcher::TakeRequest(v1::SnapshotRequest* request) {
  for (auto& [id, p] : fetches_) {
    if (p.sent) continue;
    p.sent = true;
    request->Clear();
    request->set_request_id(id);
    request->mutable_history()->set_epoch(p.range->epoch);
    request->mutable_history()->set_after_seq(p.range->after_seq);
    request->mutable_history()->set_until_seq(p.range->until_seq);
    return true;
  }
  return false;
}

bool HistoryFetcher::OnChunk(v1::SnapshotChunk&& chunk) {
  auto it = fetches_.find(chunk.request_id());
  if (it == fetches_.end()) return false;
  Pending& p = it->second;
  HistoryRange& r = *p.range;
  if (chunk.history() != v1::HISTORY_STATUS_OK) {
    Finish(chunk.request_id(), false,
           chunk.history() == v1::HISTORY_STATUS_GONE ? "gone" : "the watcher serves no history");
    return true;
  }
  if (chunk.chunk_index() != p.next_chunk++ || chunk.epoch() != r.epoch) {
    Finish(chunk.request_id(), false, "inconsistent reply");
    return true;
  }
  for (auto& ev : *chunk.mutable_events()) {
    uint64_t want = r.events.empty() ? r.after_seq + 1 : r.events.back().seq() + 1;
    if (ev.seq() != want) {
      Finish(chunk.request_id(), false, "the reply has a gap");
      return true;
    }
    r.events.push_back(std::move(ev));
  }
  r.watcher_seq = chunk.seq();
  if (chunk.last()) Finish(chunk.request_id(), true, "");
  return true;
}

void HistoryFetcher::Tick() {
  SteadyTime now = clock_->Now();
  std::vector<std::string> late;
  for (const auto& [id, p] : fetches_)
    if (now >= p.deadline) late.push_back(id);
  for (const auto& id : late) Finish(id, false, "no answer in time");
}

void HistoryFetcher::Finish(std::string request_id, bool ok, std::string error) {
  auto it = fetches_.find(request_id);
  Pending p = std::move(it->second);
  fetches_.erase(it);
  by_range_.erase(p.key);
  p.range->ok = ok;
  p.range->error = std::move(error);
  if (!ok) p.range->events.clear();
  LogInfo(ok ? "history.fetched" : "history.fetch_failed")
      .Kv("request_id", request_id)
      .Kv("epoch", p.range->epoch)
      .Kv("after_seq", p.range->after_seq)
      .Kv("events", static_cast<uint64_t>(p.range->events.size()))
      .Kv("waiters", static_cast<uint64_t>(p.callbacks.size()))
      .Kv("reason", ok ? "" : p.range->error);
  std::shared_ptr<const HistoryRange> done = p.range;
  for (auto& cb : p.callbacks) cb(done);
}

}  // namespace coderef::gateway
