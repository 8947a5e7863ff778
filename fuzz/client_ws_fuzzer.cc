// Fuzz target: what WebSocket clients send the gateway (gateway-svc/hub.h
// Hub::OnClientFrame and the per-client limits), plus the resume position
// they connect with (topics and epoch/since from the query string).
// Input: connect parameters, then a script of client frames (raw bytes as a
// text or binary frame, or a well-formed op with fuzzed fields), control
// frames, time passing, pings, pong and stuck timeouts, reading and not
// reading, and events from the feed.
// Invariants: every frame a client gets is JSON in the order the protocol
// promises (stream_checker.h); nothing is sent after a close; and a
// bystander client that sends nothing is never closed and receives every
// event, gap-free, whatever the others do.
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/names.h"
#include "fuzz/fuzz_util.h"
#include "fuzz/stream_checker.h"
#include "gateway-svc/hub.h"
#include "gateway-svc/topic_filter.h"

namespace cg = coderef::gateway;
namespace v1 = coderef::v1;
using coderef::fuzz::ByteReader;
using coderef::fuzz::CheckedSink;

namespace {

v1::ChangeEvent MakeEvent(const std::string& epoch, uint64_t seq, ByteReader& in) {
  static const char* const kProjects[] = {"noted", "next"};
  v1::Kind kind = static_cast<v1::Kind>(1 + in.Below(4));
  v1::ChangeEvent ev;
  ev.set_epoch(epoch);
  ev.set_seq(seq);
  ev.set_kind(kind);
  ev.set_type(coderef::EventTypeFor(kind, coderef::Change::kAdded));
  ev.set_project(kProjects[in.Below(2)]);
  ev.set_file_path("coderef/working/f" + std::to_string(seq) + "/plan.json");
  ev.set_key(ev.file_path());
  v1::Item* item = ev.mutable_item();
  item->set_kind(kind);
  item->set_project(ev.project());
  item->set_key(ev.key());
  item->set_file_path(ev.file_path());
  item->set_valid(true);
  return ev;
}

// A well-formed client op whose fields come from the input.
std::string MakeOp(ByteReader& in) {
  static const char* const kTypes[] = {"ping", "pong", "subscribe", "unsubscribe", "", "PING"};
  static const char* const kTopics[] = {"plan", "stub", "workorder", "project", "plan/noted",
                                        "*", "all", "bogus", "", "stub/next"};
  std::string type = kTypes[in.Below(6)];
  std::string op = "{\"type\":\"" + type + "\"";
  switch (in.Below(4)) {
    case 0:
      break;
    case 1: {
      op += ",\"topics\":[";
      uint32_t n = in.Below(4);
      for (uint32_t i = 0; i < n; ++i) op += std::string(i ? "," : "") + "\"" + kTopics[in.Below(10)] + "\"";
      op += "]";
      break;
    }
    case 2:
      op += std::string(",\"topics\":\"") + kTopics[in.Below(10)] + "\"";
      break;
    case 3:
      op += ",\"topics\":" + std::string(in.Bool() ? "42" : "[1,null]");
      break;
  }
  return op + "}";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  coderef::fuzz::QuietLogs();
  ByteReader in(data, size);
  coderef::FakeClock clock;
  static cg::GatewayMetrics* metrics = new cg::GatewayMetrics();
  cg::HubOptions ho;
  ho.history = 8;
  ho.max_queue_bytes = 4096;
  cg::Hub hub(ho, coderef::fuzz::WireFrames(), metrics, &clock);
  const std::string epoch = "e1";
  uint64_t seq = 10;
  hub.OnWatcherUp(epoch);
  hub.OnSnapshot(epoch, seq, {}, cg::SnapshotCause::kInitial);

  // The bystander: connected first, sends nothing, reads everything.
  auto bystander = std::make_shared<CheckedSink>(&hub.fan_out(), false, "", 0);
  cg::Hub::ClientId bystander_id = hub.Connect(bystander, {});
  bystander->Attach(bystander_id);

  // The client under test: query-string topics and resume position.
  cg::ConnectRequest req;
  std::string error;
  bool filtered = false;
  if (in.Bool()) {
    std::string_view topics = in.Bytes(64);
    if (!cg::TopicFilter::Parse(topics, &req.topics, &error)) req.topics = cg::TopicFilter();
    filtered = !req.topics.all();
  }
  bool resume = in.Bool();
  if (resume) {
    req.resume.has_since = true;
    req.resume.since = in.Below(24);
    req.resume.epoch = in.Bool() ? epoch : std::string(in.Bytes(20));
  }
  auto client = std::make_shared<CheckedSink>(&hub.fan_out(), resume, req.resume.epoch,
                                             req.resume.since);
  client->allow_gaps = true;  // it may subscribe to a subset at any time
  (void)filtered;
  cg::Hub::ClientId id = hub.Connect(client, std::move(req));
  client->Attach(id);

  for (int step = 0; step < 300 && !in.empty(); ++step) {
    switch (in.Byte() % 10) {
      case 0:
      case 1:
        hub.OnClientFrame(id, false, in.Bytes(in.Bool() ? 70000 : 200));
        break;
      case 2:
      case 3:
        hub.OnClientFrame(id, false, MakeOp(in));
        break;
      case 4:
        hub.OnClientFrame(id, true, in.Bytes(64));
        break;
      case 5:
        hub.OnClientControlFrame(id);
        break;
      case 6:
        clock.Advance(coderef::Millis(in.Below(1500)));
        break;
      case 7: {
        uint32_t n = 1 + in.Below(4);
        for (uint32_t i = 0; i < n; ++i) {
          ++seq;
          hub.OnEvent({MakeEvent(epoch, seq, in), clock.UnixMicros()});
        }
        break;
      }
      case 8:
        hub.PingAll();
        hub.OnClientControlFrame(bystander_id);  // the bystander answers
        if (in.Bool()) {
          clock.Advance(coderef::Millis(ho.pong_timeout_ms));
          hub.CheckTimeouts();
        }
        break;
      case 9:
        client->reading = !client->reading;
        client->Drain(client->reading ? CheckedSink::kAll : in.Below(2048));
        break;
    }
  }
  hub.OnClientFrame(bystander_id, false, "{\"type\":\"ping\"}");
  FUZZ_CHECK(!bystander->closed(), "the bystander was closed");
  FUZZ_CHECK(bystander->position() == seq,
             "the bystander is at " + std::to_string(bystander->position()) + " of " + std::to_string(seq));
  hub.Disconnect(id);
  hub.Disconnect(bystander_id);
  return 0;
}
