// FanOut: the gateway's fan-out core. Knows nothing of sockets or JSON (the
// way uWebSockets keeps TopicTree apart from its sockets): frames are opaque
// prepared bytes (WireFrame), events come from the history ring of the
// FeedState, clients are ClientSinks that pull.
//
// Per client it holds only a cursor (the next seq the client needs), its
// topic filter, the epoch the cursor refers to, the frame being written and
// the offset into it, and a short queue of control frames (hello, resync,
// ping, replies) each tagged with the cursor position it must follow. Live
// delivery, resume replay and a slow reader are one mechanism: a client is
// simply behind, and its socket takes frames from its cursor as it drains
// (Take: up to kMaxPull frames per write). Memory does not grow per slow
// client: the history ring is shared, and a client that falls out of it is
// handed to the GapHandler (the hub fetches the missing range from the
// watcher's history, PROTOCOL section 6, and hands it back as a ReplayRange
// shared by every client replaying it; or resyncs the client). While the
// fetch runs the client is held: it takes nothing.
//
// Stuck detection: a client whose socket accepts nothing for `stuck` while
// data waits is reported by CheckStuck.
//
// Thread-safety: none; every method runs on the io thread.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "gateway-svc/client_sink.h"
#include "gateway-svc/feed_state.h"
#include "gateway-svc/frame.h"
#include "gateway-svc/gateway_metrics.h"
#include "gateway-svc/topic_filter.h"

namespace coderef::gateway {

using ClientId = uint64_t;

// Events older than the history ring, fetched from the watcher's history
// and rendered once: seq after + 1 .. last(), gap-free, in order. Shared
// (read-only) by every client replaying them; freed with the last one.
struct ReplayRange {
  std::string epoch;
  uint64_t after = 0;
  std::vector<HistoryEntry> entries;
  uint64_t last() const { return after + entries.size(); }
  // The entry with `seq`, or nullptr when outside the range.
  const HistoryEntry* At(uint64_t seq) const {
    return seq > after && seq <= last() ? &entries[seq - after - 1] : nullptr;
  }
};

// What to do with a client whose cursor fell below the history (it needs
// events the ring no longer holds). The handler must move the client on
// (FanOut::Resync), supply the range (SetReplay), or Hold the client until
// it has it (the hub fetches it from the watcher's history, PROTOCOL
// section 6, then SetReplay and Release); Take calls it at most once per
// pull.
class GapHandler {
 public:
  virtual ~GapHandler() = default;
  // `next` is the first seq the client needs; the ring holds
  // (history.base_seq(), history.last_seq()].
  virtual void OnHistoryGap(ClientId id, uint64_t next) = 0;
};

struct FanOutOptions {
  // Bytes one Take hands out at most (and the bound on a client's queued
  // control frames): --max-queue-bytes. At least one frame is always taken.
  size_t max_queue_bytes = 1 << 20;
  // A socket that takes nothing this long while data waits is stuck.
  Millis stuck{15000};
  // Frames and bytes taken by sockets are counted here (optional).
  GatewayMetrics* metrics = nullptr;
};

class FanOut {
 public:
  static constexpr size_t kMaxPull = 64;

  // What the socket should write next, in order: the rest of a frame begun
  // earlier, control frames and events. Filled by Take, consumed by Written
  // with the same object (nothing may change the core in between).
  struct Pull {
    size_t count = 0;
    size_t bytes = 0;
    std::array<std::string_view, kMaxPull> data;

   private:
    friend class FanOut;
    enum class Src : uint8_t { kPartial, kControl, kEvent };
    std::array<Src, kMaxPull> src;
    std::array<uint64_t, kMaxPull> seq;  // for kEvent
    uint64_t scan_end = 0;               // the cursor once everything is written
  };

  // `state`, `clock` and `gaps` must outlive the core.
  FanOut(FanOutOptions options, const FeedState* state, const Clock* clock, GapHandler* gaps);
  FanOut(const FanOut&) = delete;
  FanOut& operator=(const FanOut&) = delete;

  // A new client at `epoch`, needing events from seq `next` on, with
  // `first` (hello) before them. Woken at once. A null `first` adds the
  // client held: it takes nothing until Release (its hello is not known yet).
  void Add(ClientId id, std::shared_ptr<ClientSink> sink, TopicFilter topics, std::string epoch,
           uint64_t next, const FramePtr& first);
  void Remove(ClientId id);
  bool Has(ClientId id) const { return clients_.count(id) != 0; }
  // The client's connection (REQUIRES: Has(id)).
  ClientSink* sink(ClientId id) const { return clients_.at(id).sink.get(); }
  size_t size() const { return clients_.size(); }

  // Feed side: events up to state->seq() were appended to the history.
  // Wakes every idle client that now has something to write.
  void Published();

  // Queues a control frame to go out after everything before it (events
  // the client's cursor has passed). False (dropped) when the client's
  // queued control frames would exceed max_queue_bytes, or it is finished.
  bool Push(ClientId id, const FramePtr& frame);
  // Queues `frame` (resync_required) and moves the client to (epoch, next):
  // queued control frames go first, events it had not started are skipped.
  void Resync(ClientId id, const FramePtr& frame, std::string epoch, uint64_t next);
  // Holds the client: it takes nothing (frames pushed meanwhile wait) until
  // Release or Resync.
  void Hold(ClientId id);
  bool held(ClientId id) const;
  // The client's events from the cursor on come from `replay` (which must
  // begin at or before the cursor) as far as it reaches, then from the ring.
  void SetReplay(ClientId id, std::shared_ptr<const ReplayRange> replay);
  // Ends the hold: `first` (if any; hello) goes out before everything
  // queued, then the events from the cursor on.
  void Release(ClientId id, const FramePtr& first);
  // Queues `frame` before every queued control frame (a held client stays
  // held).
  void PushFront(ClientId id, const FramePtr& frame);
  // Events from the client's cursor up to the feed's seq that match its
  // topics (what a replay starting now would send).
  uint64_t CountBehind(ClientId id) const;
  // Changes the client's topic filter (events not yet taken follow it).
  void SetTopics(ClientId id, TopicFilter topics);
  // The connection is closing: no events and no queued frame not yet begun
  // go out any more; `last` (the close frame) follows the frame being
  // written, if any.
  void Finish(ClientId id, const FramePtr& last);

  // Socket side. Fills `pull` with what client `id` should write next; an
  // empty pull means nothing waits (the client is idle until the next Wake).
  void Take(ClientId id, Pull* pull);
  // The socket took `n` bytes of `pull` (0: it was full).
  void Written(ClientId id, const Pull& pull, size_t n);

  // Clients whose socket has taken nothing for options.stuck while data
  // waited are appended to *stuck (the caller closes them; they stay until
  // Remove). Returns when the next check is due, if any client is blocked.
  std::optional<SteadyTime> CheckStuck(std::vector<ClientId>* stuck);
  // Nothing waits to be written to the client (it took everything).
  bool Idle(ClientId id) const;
  // The client is closing (Finish): nothing but its close frame goes out.
  bool finished(ClientId id) const;
  // The client's next needed seq, and the epoch it refers to.
  uint64_t cursor(ClientId id) const;
  const std::string& epoch(ClientId id) const;
  // Bytes waiting in the client's control queue plus the unwritten rest of
  // the frame being written (what --max-queue-bytes bounds).
  size_t queued_bytes(ClientId id) const;

  // Called with the deadline of a client that just became blocked (the
  // transport arms its timer for CheckStuck).
  void set_on_blocked(std::function<void(SteadyTime due)> f) { on_blocked_ = std::move(f); }

 private:
  struct Control {
    uint64_t after;  // goes out once every event <= after is taken or skipped
    FramePtr frame;
  };
  struct Client {
    std::shared_ptr<ClientSink> sink;
    TopicFilter topics;
    std::string epoch;
    uint64_t next = 1;         // the next seq needed
    FramePtr partial;          // the frame being written, if any
    size_t offset = 0;         // bytes of it written
    std::vector<Control> control;  // control[control_head..] wait, in order
    uint32_t control_head = 0;
    size_t control_bytes = 0;
    bool idle = true;          // the last Take found nothing: Wake on new data
    bool blocked = false;      // the socket did not take all it was offered
    bool finished = false;     // closing: only the close frame goes out
    bool held = false;         // waiting for a history fetch: takes nothing
    std::shared_ptr<const ReplayRange> replay;  // fetched events it still needs
    SteadyTime progress{};     // blocked: when it blocked or last took bytes
  };

  Client* Find(ClientId id);
  const Client* Find(ClientId id) const;
  // True when client `c` has something to write.
  bool HasWork(const Client& c) const;
  void WakeIfIdle(Client& c);
  void PopControl(Client& c);
  // The event `seq` for client `c`: from its replay range, else the ring.
  const HistoryEntry* EventAt(const Client& c, uint64_t seq) const;

  FanOutOptions options_;
  const FeedState* state_;
  const Clock* clock_;
  GapHandler* gaps_;
  std::function<void(SteadyTime)> on_blocked_;
  std::unordered_map<ClientId, Client> clients_;
};

}  // namespace coderef::gateway
