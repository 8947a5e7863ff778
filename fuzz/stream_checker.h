// What a WebSocket client may rely on (PROTOCOL section 3), as a checker the
// gateway fuzz targets run over every frame a client is sent: valid JSON
// objects with a "type"; the first is hello; events in seq order with no
// duplicate and no gap that resync_required does not announce; nothing after
// the gateway closed the connection. Header-only; single thread.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "gateway-svc/hub.h"

namespace coderef::fuzz {

// A connection that checks each frame as it is queued. `reading` false
// simulates a client that never reads (bytes pile up).
class CheckedSink : public gateway::ClientSink {
 public:
  // A resuming client knows its position; a fresh one learns it from hello.
  CheckedSink(bool resume, std::string epoch, uint64_t since)
      : resume_(resume), epoch_(std::move(epoch)), expected_(since) {}

  size_t BufferedBytes() const override { return buffered_; }
  void Send(const gateway::FramePtr& frame) override {
    std::string_view text = frame->payload();
    FUZZ_CHECK(!closed_, "a frame after Close: " + std::string(text));
    if (!reading) buffered_ += text.size();
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
  void Ping() override {}
  void Close(uint16_t code, std::string_view reason) override {
    closed_ = true;
    close_code = code;
  }
  std::string Describe() const override { return "fuzz"; }

  void Drain() { buffered_ = 0; }
  bool closed() const { return closed_; }
  const std::string& epoch() const { return epoch_; }
  uint64_t position() const { return expected_; }
  bool got_hello() const { return got_hello_; }

  bool reading = true;
  bool allow_gaps = false;  // the client has (or may have) a topic filter
  int close_code = 0;
  uint64_t events = 0;
  uint64_t resyncs = 0;

 private:
  bool resume_;
  std::string epoch_;
  uint64_t expected_;
  bool got_hello_ = false;
  bool closed_ = false;
  size_t buffered_ = 0;
};

inline gateway::FrameFactory StringFrames() {
  return [](std::string s) { return std::make_shared<gateway::StringFrame>(std::move(s)); };
}

}  // namespace coderef::fuzz
