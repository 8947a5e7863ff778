// Fuzz target: the gateway's feed side (gateway-svc/clone_sync.h CloneSync
// and hub.h Hub) driven by a model watcher whose PUB drops, duplicates and
// reorders nothing but what the input says, plus raw undecodable or hostile
// feed messages and snapshot chunks.
// Input: a script of operations: publish the next event (delivered, dropped
// by the PUB, or delivered twice), heartbeat, answer the pending snapshot
// (in 1-4 chunks, possibly stale), watcher restart (new epoch), time passes,
// raw bytes as a FeedMessage or SnapshotChunk, clients connect (fresh, or
// resuming from where an earlier client was), disconnect, stop reading.
// Invariant (stream_checker.h): no client is ever left with a silent hole,
// a duplicate, a frame of another epoch, or a frame that is not JSON.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/names.h"
#include "fuzz/fuzz_util.h"
#include "fuzz/stream_checker.h"
#include "gateway-svc/clone_sync.h"
#include "gateway-svc/hub.h"

namespace cg = coderef::gateway;
namespace v1 = coderef::v1;
using coderef::fuzz::ByteReader;
using coderef::fuzz::CheckedSink;

namespace {

struct ModelWatcher {
  std::string epoch = "e0";
  uint64_t seq = 0;
  int restarts = 0;
  std::map<std::string, v1::Item> state;  // key -> item

  v1::ChangeEvent Next(ByteReader& in) {
    static const char* const kProjects[] = {"noted", "next", "caf\xc3\xa9"};
    v1::Kind kind = static_cast<v1::Kind>(1 + in.Below(3));
    std::string project = kProjects[in.Below(3)];
    std::string feature = "f" + std::to_string(in.Below(6));
    std::string path = kind == v1::KIND_STUB ? "coderef/stubs/" + feature + "/stub.json"
                                             : "coderef/working/" + feature + "/plan.json";
    std::string id = std::to_string(kind) + "|" + project + "|" + path;
    v1::ChangeEvent ev;
    ev.set_epoch(epoch);
    ev.set_seq(++seq);
    ev.set_kind(kind);
    ev.set_project(project);
    ev.set_file_path(path);
    ev.set_key(path);
    ev.set_feature_name(feature);
    ev.set_location(kind == v1::KIND_STUB ? "stubs" : "working");
    ev.set_first_change_us(1'795'000'000'000'000 + static_cast<int64_t>(seq));
    ev.set_published_us(ev.first_change_us() + 1000);
    auto it = state.find(id);
    bool remove = it != state.end() && in.Below(3) == 0;
    if (remove) {
      ev.set_type(coderef::EventTypeFor(kind, coderef::Change::kDeleted));
      state.erase(it);
    } else {
      v1::Item item;
      item.set_kind(kind);
      item.set_project(project);
      item.set_key(path);
      item.set_file_path(path);
      item.set_feature_name(feature);
      item.set_valid(in.Bool());
      item.set_parse_error(item.valid() ? "" : "parse error at line 1");
      item.set_content_hash(seq);
      ev.set_type(coderef::EventTypeFor(kind, it == state.end() ? coderef::Change::kAdded
                                                              : coderef::Change::kUpdated));
      *ev.mutable_item() = item;
      state[id] = item;
    }
    return ev;
  }
};

struct Client {
  std::shared_ptr<CheckedSink> sink;
  cg::Hub::ClientId id = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  coderef::fuzz::QuietLogs();
  ByteReader in(data, size);
  coderef::FakeClock clock;
  static cg::GatewayMetrics* metrics = new cg::GatewayMetrics();  // registry is process-wide
  cg::CloneSyncOptions so;
  so.max_buffered = 1 + in.Below(64);
  cg::CloneSync sync(so, &clock, metrics);
  cg::HubOptions ho;
  ho.history = in.Below(16);
  ho.max_queue_bytes = 1024 + in.Below(8) * 512;
  cg::Hub hub(ho, coderef::fuzz::WireFrames(), metrics, &clock);
  ModelWatcher watcher;
  std::vector<Client> clients;
  std::string pending_request;

  auto connect = [&](bool resume, std::string epoch, uint64_t since) {
    Client c;
    c.sink = std::make_shared<CheckedSink>(&hub.fan_out(), resume, epoch, since);
    cg::ConnectRequest req;
    if (resume) {
      req.resume.has_since = true;
      req.resume.epoch = epoch;
      req.resume.since = since;
    }
    c.id = hub.Connect(c.sink, std::move(req));
    c.sink->Attach(c.id);
    clients.push_back(std::move(c));
  };
  auto flush = [&] {
    sync.Tick();
    std::string rid;
    bool reset = false;
    if (sync.TakeRequest(&rid, &reset)) pending_request = rid;
    hub.Apply(sync.TakeUpdates());
  };
  auto deliver = [&](const v1::ChangeEvent& ev) {
    v1::FeedMessage m;
    *m.mutable_event() = ev;
    sync.OnFeedMessage(std::move(m), clock.UnixMicros());
  };

  sync.Start();
  connect(false, "", 0);
  flush();
  for (int step = 0; step < 200 && !in.empty(); ++step) {
    uint8_t op = in.Byte();
    switch (op % 12) {
      case 0:
      case 1:
      case 2: {  // publish; the PUB may drop it or (a bug elsewhere) repeat it
        v1::ChangeEvent ev = watcher.Next(in);
        uint8_t fate = in.Below(8);
        if (fate != 0) deliver(ev);
        if (fate == 1) deliver(ev);
        break;
      }
      case 3: {  // heartbeat
        v1::FeedMessage m;
        m.mutable_heartbeat()->set_epoch(watcher.epoch);
        m.mutable_heartbeat()->set_seq(watcher.seq);
        sync.OnFeedMessage(std::move(m), clock.UnixMicros());
        break;
      }
      case 4: {  // the snapshot reply, consistent with the model
        if (pending_request.empty()) break;
        bool stale = in.Below(8) == 0;
        uint32_t chunks = 1 + in.Below(4);
        std::vector<v1::Item> items;
        for (const auto& [k, it] : watcher.state) items.push_back(it);
        for (uint32_t i = 0; i < chunks; ++i) {
          v1::SnapshotChunk c;
          c.set_request_id(stale ? "old" : pending_request);
          c.set_epoch(watcher.epoch);
          c.set_seq(watcher.seq);
          c.set_chunk_index(i);
          c.set_total_items(static_cast<uint32_t>(items.size()));
          for (size_t j = i; j < items.size(); j += chunks) *c.add_items() = items[j];
          c.set_last(i + 1 == chunks);
          sync.OnSnapshotChunk(std::move(c));
        }
        if (!stale) pending_request.clear();
        break;
      }
      case 5:  // the watcher restarts: new epoch, seq from 1, state kept on disk
        watcher.epoch = "e" + std::to_string(++watcher.restarts);
        watcher.seq = 0;
        break;
      case 6:  // time passes (watchdog, snapshot timeouts, flood windows)
        clock.Advance(coderef::Millis(in.Below(4000)));
        break;
      case 7: {  // raw bytes from the feed socket
        std::string_view raw = in.Bytes(512);
        if (in.Bool()) {
          v1::FeedMessage m;
          if (m.ParseFromArray(raw.data(), static_cast<int>(raw.size())))
            sync.OnFeedMessage(std::move(m), clock.UnixMicros());
        } else {
          v1::SnapshotChunk c;
          if (c.ParseFromArray(raw.data(), static_cast<int>(raw.size())))
            sync.OnSnapshotChunk(std::move(c));
        }
        break;
      }
      case 8: {  // a client connects: fresh, resuming from a known position, or bogus
        if (clients.size() >= 8) break;
        uint8_t kind = in.Below(4);
        if (kind == 0 || clients.empty()) {
          connect(false, "", 0);
        } else if (kind == 3) {
          connect(true, in.Bool() ? watcher.epoch : "zz", in.Below(40));
        } else {
          // Reconnect: the client closes and comes back with its position.
          Client& old = clients[in.Below(static_cast<uint32_t>(clients.size()))];
          if (!old.sink->got_hello() || old.sink->epoch().empty()) break;
          hub.Disconnect(old.id);
          std::string e = old.sink->epoch();
          uint64_t pos = old.sink->position();
          old = clients.back();
          clients.pop_back();
          connect(true, e, pos);
        }
        break;
      }
      case 9: {  // a client goes, or stops/starts reading
        if (clients.empty()) break;
        size_t i = in.Below(static_cast<uint32_t>(clients.size()));
        uint8_t what = in.Below(3);
        if (what == 0 || clients[i].sink->closed()) {
          hub.Disconnect(clients[i].id);
          clients.erase(clients.begin() + static_cast<long>(i));
        } else if (what == 1) {
          clients[i].sink->reading = !clients[i].sink->reading;
        } else {
          clients[i].sink->Drain(in.Below(4096));  // a slow reader takes a little
        }
        break;
      }
      case 10:
        hub.PingAll();
        break;
      case 11:
        for (auto& c : clients) c.sink->Drain(CheckedSink::kAll);
        break;
    }
    flush();
  }
  // Make the watcher quiet and the gateway catch up: every surviving client
  // ends at the watcher's position (or was told to resync to it).
  for (int i = 0; i < 4; ++i) {
    v1::FeedMessage m;
    m.mutable_heartbeat()->set_epoch(watcher.epoch);
    m.mutable_heartbeat()->set_seq(watcher.seq);
    sync.OnFeedMessage(std::move(m), clock.UnixMicros());
    flush();
    if (!pending_request.empty()) {
      std::vector<v1::Item> items;
      for (const auto& [k, it] : watcher.state) items.push_back(it);
      v1::SnapshotChunk c;
      c.set_request_id(pending_request);
      c.set_epoch(watcher.epoch);
      c.set_seq(watcher.seq);
      c.set_last(true);
      for (auto& it : items) *c.add_items() = it;
      pending_request.clear();
      sync.OnSnapshotChunk(std::move(c));
    }
    flush();
    for (auto& c : clients) c.sink->Drain(CheckedSink::kAll);
  }
  if (hub.replica().has_snapshot() && hub.replica().epoch() == watcher.epoch &&
      hub.replica().seq() == watcher.seq) {
    for (auto& c : clients) {
      if (c.sink->closed() || !c.sink->got_hello()) continue;
      FUZZ_CHECK(c.sink->epoch() == watcher.epoch,
                 "a client left at epoch " + c.sink->epoch() + " without resync_required");
      FUZZ_CHECK(c.sink->position() >= watcher.seq || c.sink->position() > hub.replica().seq(),
                 "a client stopped at " + std::to_string(c.sink->position()) + " of " +
                     std::to_string(watcher.seq));
    }
  }
  for (auto& c : clients) hub.Disconnect(c.id);
  return 0;
}
