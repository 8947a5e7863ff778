// What a WebSocket client may rely on (PROTOCOL section 3), as a checker the
// gateway fuzz targets run over every frame a client is sent: valid JSON
// objects with a "type"; the first is hello; events in seq order with no
// duplicate and no gap that resync_required does not announce; nothing after
// the gateway's close frame. Header-only; single thread.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "fuzz/pull_sink.h"
#include "gateway-svc/hub.h"
#include "gateway-svc/ws_wire.h"

namespace coderef::fuzz {

// A connection that checks each message as its socket takes it (a
// PullSink: `reading` false is a client that stopped reading; Drain(n)
// lets its socket take n bytes).
class CheckedSink : public PullSink {
 public:
  // A resuming client knows its position; a fresh one learns it from hello.
  CheckedSink(gateway::FanOut* core, bool resume, std::string epoch, uint64_t since)
      : PullSink(core), resume_(resume), epoch_(std::move(epoch)), expected_(since) {
    on_text = [this](std::string_view text) { Check(text); };
  }

  const std::string& epoch() const { return epoch_; }
  uint64_t position() const { return expected_; }
  bool got_hello() const { return got_hello_; }

  bool allow_gaps = false;  // the client has (or may have) a topic filter
  uint64_t events = 0;
  uint64_t resyncs = 0;

 private:
  void Check(std::string_view text) {
    FUZZ_CHECK(close_frames == 0, "a frame after the close frame: " + std::string(text));
    nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    FUZZ_CHECK(!j.is_discarded() && j.is_object(), "not a JSON object: " + std::string(text));
    FUZZ_CHECK(j.contains("type") && j["type"].is_string(), "no type: " + std::string(text));
    std::string type = j["type"];
    if (!got_hello_) {
      FUZZ_CHECK(type == "hello", "first frame is not hello: " + std::string(text));
      got_hello_ = true;
      if (!resume_) {
        epoch_ = j["epoch"].get<std::string>();
        expected_ = j["seq"].get<uint64_t>();
      }
      return;
    }
    FUZZ_CHECK(type != "hello", "a second hello");
    if (type == "resync_required") {
      epoch_ = j["epoch"].get<std::string>();
      expected_ = j["seq"].get<uint64_t>();
      ++resyncs;
      return;
    }
    if (type == "ping" || type == "pong" || type == "error" || type == "watcher_down" ||
        type == "watcher_up")
      return;
    FUZZ_CHECK(j.contains("seq") && j.contains("epoch"), "event without seq/epoch: " + std::string(text));
    uint64_t seq = j["seq"].get<uint64_t>();
    std::string epoch = j["epoch"].get<std::string>();
    FUZZ_CHECK(epoch == epoch_, "event of epoch " + epoch + " on a stream at epoch " + epoch_);
    if (allow_gaps) {  // a topic filter skips events, but never reorders or repeats
      FUZZ_CHECK(seq > expected_, "event seq " + std::to_string(seq) + " after " +
                                      std::to_string(expected_) + ": repeated or out of order");
    } else {
      FUZZ_CHECK(seq == expected_ + 1, "event seq " + std::to_string(seq) + " after " +
                                           std::to_string(expected_) + " without resync_required");
    }
    expected_ = seq;
    ++events;
  }
  bool resume_;
  std::string epoch_;
  uint64_t expected_;
  bool got_hello_ = false;
};

// The production frame type, as the gateway builds it.
inline gateway::FrameFactory WireFrames() {
  return [](std::string s) { return gateway::WireFrame::Text(s); };
}

}  // namespace coderef::fuzz
