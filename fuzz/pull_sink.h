// PullSink: a ClientSink for tests and fuzz targets that behaves as
// WsSession does towards the fan-out core (pulls with FanOut::Take, reports
// with FanOut::Written) over a simulated socket whose reader takes a chosen
// number of bytes at a time. What the socket took is decoded as RFC 6455
// server frames: text messages go to on_text, pings and close frames are
// counted. Header-only; single thread.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <string_view>

#include "gateway-svc/fan_out.h"
#include "gateway-svc/frame.h"
#include "gateway-svc/ws_wire.h"

namespace coderef::fuzz {

class PullSink : public gateway::ClientSink {
 public:
  static constexpr size_t kAll = std::numeric_limits<size_t>::max();

  explicit PullSink(gateway::FanOut* core) : core_(core) {}

  // The hub's id for this client (after Connect); then what Connect queued
  // is taken as a reading socket would.
  void Attach(gateway::ClientId id) {
    id_ = id;
    Drain(reading ? kAll : 0);
  }

  // The socket takes at most `budget` bytes now (pulling from the core as
  // long as it has frames). Returns the bytes taken.
  size_t Drain(size_t budget) {
    if (id_ == 0 || gone || draining_) return 0;
    draining_ = true;
    size_t taken = 0;
    for (;;) {  // at least one write attempt, as a woken WsSession makes
      gateway::FanOut::Pull pull;
      core_->Take(id_, &pull);
      if (pull.count == 0) break;
      size_t n = std::min(pull.bytes, budget - taken);
      for (size_t i = 0, left = n; i < pull.count && left > 0; ++i) {
        size_t k = std::min(left, pull.data[i].size());
        stream_.append(pull.data[i].data(), k);
        left -= k;
      }
      core_->Written(id_, pull, n);
      taken += n;
      taken_ += n;
      if (n < pull.bytes || taken == budget) break;
    }
    draining_ = false;
    Decode();
    return taken;
  }

  // ClientSink: woken, WsSession writes at once; a reading socket takes
  // everything, a stalled one nothing (until Drain).
  void Wake() override {
    ++wakes;
    Drain(reading ? kAll : 0);
  }
  void Ping() override {
    ++pings_sent;
    core_->Push(id_, gateway::WireFrame::Raw(std::string("\x89\x00", 2)));
  }
  void Close(uint16_t code, std::string_view reason) override {
    close_code = code;
    close_reason = std::string(reason);
    core_->Finish(id_, gateway::WireFrame::Raw(gateway::WsCloseFrame(code, reason)));
  }
  // What the simulated socket took, the peer has (and acknowledged).
  Acks Acknowledged() const override { return Acks{taken_, true}; }
  std::string Describe() const override { return "pull-sink"; }

  gateway::ClientId id() const { return id_; }
  bool closed() const { return close_code != 0; }

  bool reading = true;  // take everything whenever woken
  bool gone = false;    // the transport ended (no more pulls)
  std::function<void(std::string_view)> on_text;
  int close_code = 0;          // from Close()
  std::string close_reason;
  int close_frames = 0;        // close frames the socket took
  int ping_frames = 0;         // transport pings the socket took
  int pings_sent = 0;
  int wakes = 0;
  uint64_t frames_after_close = 0;

 private:
  // Splits the bytes taken into whole frames.
  void Decode() {
    size_t p = 0;
    while (stream_.size() - p >= 2) {
      const auto* b = reinterpret_cast<const unsigned char*>(stream_.data() + p);
      uint64_t len = b[1] & 0x7f;
      size_t header = 2;
      if (len == 126) {
        if (stream_.size() - p < 4) break;
        len = (uint64_t{b[2]} << 8) | b[3];
        header = 4;
      } else if (len == 127) {
        if (stream_.size() - p < 10) break;
        len = 0;
        for (int i = 0; i < 8; ++i) len = (len << 8) | b[2 + i];
        header = 10;
      }
      if (stream_.size() - p - header < len) break;
      std::string_view payload(stream_.data() + p + header, static_cast<size_t>(len));
      if (close_frames > 0) ++frames_after_close;
      switch (b[0] & 0x0f) {
        case 0x1:
          if (on_text) on_text(payload);
          break;
        case 0x8:
          ++close_frames;
          break;
        case 0x9:
          ++ping_frames;
          break;
        default:
          break;
      }
      p += header + static_cast<size_t>(len);
    }
    stream_.erase(0, p);
  }

  gateway::FanOut* core_;
  gateway::ClientId id_ = 0;
  bool draining_ = false;
  uint64_t taken_ = 0;  // bytes the socket took, in all
  std::string stream_;  // bytes taken, not yet a whole frame
};

}  // namespace coderef::fuzz
