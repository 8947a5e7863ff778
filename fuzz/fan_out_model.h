// FanOutModel: the fan-out core (gateway-svc/fan_out.h) with the production
// frame type and the real FeedState, driven by clients that read at their
// own speed, filter topics and resume from anywhere, checked against an
// oracle: every client gets every event its filter matches exactly once, in
// seq order, from where it started, unless a resync_required (the history
// gap) says where it goes on from; nothing after its close frame; and once
// every socket drains, every client is at the feed's seq. Shared by the
// fan_out fuzz target and tests/gateway/fan_out_test.cpp (thousands of
// clients). Header-only; single thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/names.h"
#include "fuzz/fuzz_util.h"
#include "fuzz/pull_sink.h"
#include "gateway-svc/fan_out.h"
#include "gateway-svc/feed_state.h"
#include "gateway-svc/gateway_metrics.h"
#include "gateway-svc/topic_filter.h"
#include "gateway-svc/ws_wire.h"

namespace coderef::fuzz {

class FanOutModel : private gateway::GapHandler {
 public:
  static constexpr const char* kFilters[] = {"", "plan", "stub,workorder", "plan/a",
                                             "project,stub/b", "workorder/a"};
  static constexpr uint32_t kFilterCount = 6;

  FanOutModel(size_t history, size_t max_queue_bytes)
      : state_(history, [](std::string s) { return gateway::WireFrame::Text(s); }, Metrics()),
        core_(gateway::FanOutOptions{max_queue_bytes, Millis(15000), Metrics()}, &state_, &clock_,
              this) {
    state_.Reset("E", 0, {});
    kinds_.push_back({});  // seq 0: none
  }

  // Appends event seq()+1 of `kind` (1..4) in project "a" or "b" (with
  // `pad` bytes of text) and wakes the clients.
  void Publish(uint32_t kind, bool project_b, size_t pad = 0) {
    v1::ChangeEvent ev;
    ev.set_epoch("E");
    ev.set_seq(state_.seq() + 1);
    ev.set_kind(static_cast<v1::Kind>(kind));
    ev.set_type(EventTypeFor(ev.kind(), Change::kAdded));
    ev.set_project(project_b ? "b" : "a");
    ev.set_file_path("coderef/working/f" + std::to_string(ev.seq()) + "/plan.json");
    ev.set_key(ev.file_path());
    v1::Item* item = ev.mutable_item();
    item->set_kind(ev.kind());
    item->set_project(ev.project());
    item->set_key(ev.key());
    item->set_file_path(ev.file_path());
    item->set_feature_name(std::string(pad, 'p'));
    kinds_.push_back({ev.kind(), ev.project()});
    FUZZ_CHECK(state_.Ingest({std::move(ev), 0}), "ingest");
    core_.Published();
  }

  // A client with filter kFilters[filter] resuming after `since` (clamped
  // to the feed's seq; below the history it is handed to the gap handler).
  size_t Connect(uint32_t filter, uint64_t since, bool reading) {
    auto c = std::make_unique<Client>();
    std::string error;
    FUZZ_CHECK(gateway::TopicFilter::Parse(kFilters[filter % kFilterCount], &c->filter, &error),
               error);
    since = std::min(since, state_.seq());
    c->expected = since + 1;
    c->sink = std::make_shared<PullSink>(&core_);
    c->sink->reading = reading;
    Client* raw = c.get();
    c->sink->on_text = [this, raw](std::string_view text) { Check(*raw, text); };
    const gateway::ClientId id = next_id_++;
    core_.Add(id, c->sink, c->filter, "E", since + 1, gateway::WireFrame::Text(R"({"type":"hello"})"));
    c->sink->Attach(id);
    clients_.push_back(std::move(c));
    return clients_.size() - 1;
  }

  size_t clients() const { return clients_.size(); }
  // Lets client i's socket take `budget` bytes (PullSink::kAll: everything).
  void Drain(size_t i, size_t budget) { clients_[i]->sink->Drain(budget); }
  void SetReading(size_t i, bool reading) { clients_[i]->sink->reading = reading; }
  // A control frame (as a ping round queues) to client i.
  void Ping(size_t i) { core_.Push(clients_[i]->sink->id(), ping_); }
  // Closes client i (its close frame follows the frame being written).
  void Close(size_t i) {
    Client& c = *clients_[i];
    if (c.closed) return;
    c.closed = true;
    c.sink->Close(4000, "closing");
  }
  // The transport ends client i.
  void Remove(size_t i) {
    core_.Remove(clients_[i]->sink->id());
    clients_[i]->sink->gone = true;
    clients_[i]->removed = true;
  }

  // Every socket drains; every open client must be at the feed's seq.
  void DrainAllAndCheck() {
    for (auto& c : clients_) {
      if (c->removed) continue;
      c->sink->Drain(PullSink::kAll);
      FUZZ_CHECK(c->sink->frames_after_close == 0, "frames after the close frame");
      if (c->closed) continue;
      // Events after the last one it got that it did not want.
      for (uint64_t s = c->expected; s <= state_.seq(); ++s)
        FUZZ_CHECK(!c->filter.Matches(kinds_[s].kind, kinds_[s].project),
                   "client stopped at " + std::to_string(c->expected) + " but wants " +
                       std::to_string(s) + " (feed at " + std::to_string(state_.seq()) + ")");
      FUZZ_CHECK(core_.queued_bytes(c->sink->id()) == 0, "bytes left after draining");
    }
  }

  uint64_t seq() const { return state_.seq(); }
  uint64_t history_base() const { return state_.history().base_seq(); }
  uint64_t gaps() const { return gaps_; }
  uint64_t delivered() const { return delivered_; }
  gateway::FanOut& core() { return core_; }

 private:
  struct Kind {
    v1::Kind kind = v1::KIND_UNSPECIFIED;
    std::string project;
  };
  struct Client {
    std::shared_ptr<PullSink> sink;
    gateway::TopicFilter filter;
    uint64_t expected = 1;  // the next seq it may get
    bool hello = false;
    bool closed = false;
    bool removed = false;
  };

  static gateway::GatewayMetrics* Metrics() {
    static gateway::GatewayMetrics* m = new gateway::GatewayMetrics();  // process-wide registry
    return m;
  }

  static uint64_t SeqOf(std::string_view text) {
    size_t at = text.find("\"seq\":");
    FUZZ_CHECK(at != std::string_view::npos, "no seq: " + std::string(text));
    return std::strtoull(std::string(text.substr(at + 6, 24)).c_str(), nullptr, 10);
  }

  void Check(Client& c, std::string_view text) {
    if (!c.hello) {
      FUZZ_CHECK(text == R"({"type":"hello"})", "first message is not hello: " + std::string(text));
      c.hello = true;
      return;
    }
    FUZZ_CHECK(text.substr(0, 9) == R"({"type":")", "not a message: " + std::string(text));
    if (text == R"({"type":"ping"})") return;
    if (text.substr(9, 15) == "resync_required") {
      const uint64_t s = SeqOf(text);
      FUZZ_CHECK(s + 1 >= c.expected, "resync backwards");
      c.expected = s + 1;
      return;
    }
    const uint64_t s = SeqOf(text);
    FUZZ_CHECK(s >= c.expected, "event " + std::to_string(s) + " repeated or out of order (next " +
                                    std::to_string(c.expected) + ")");
    FUZZ_CHECK(s <= state_.seq(), "event from the future");
    FUZZ_CHECK(c.filter.Matches(kinds_[s].kind, kinds_[s].project), "an event the filter excludes");
    for (uint64_t m = c.expected; m < s; ++m)
      FUZZ_CHECK(!c.filter.Matches(kinds_[m].kind, kinds_[m].project),
                 "event " + std::to_string(m) + " missed before " + std::to_string(s));
    c.expected = s + 1;
    ++delivered_;
  }

  // GapHandler: what the hub does today (resync_required(history_gap)).
  void OnHistoryGap(gateway::ClientId id, uint64_t next) override {
    FUZZ_CHECK(next <= state_.history().base_seq(), "a gap that is not one");
    ++gaps_;
    core_.Resync(id,
                 gateway::WireFrame::Text(R"({"type":"resync_required","seq":)" +
                                          std::to_string(state_.seq()) + "}"),
                 "E", state_.seq() + 1);
  }

  FakeClock clock_;
  gateway::FeedState state_;
  gateway::FanOut core_;
  std::vector<Kind> kinds_;  // by seq
  std::vector<std::unique_ptr<Client>> clients_;
  gateway::ClientId next_id_ = 1;
  uint64_t gaps_ = 0;
  uint64_t delivered_ = 0;
  const gateway::FramePtr ping_ = gateway::WireFrame::Text(R"({"type":"ping"})");
};

}  // namespace coderef::fuzz
