// Fuzz target: the gateway's reader of client WebSocket frames
// (gateway-svc/ws_wire.h WsReader), which parses every byte a connected
// client sends.
// Input: byte 0 picks the split (the stream is fed whole, a byte at a time,
// or in pieces of 1-64 bytes); the rest is the byte stream (frames are
// masked only if the input masks them).
// Invariants: the split makes no difference (the same messages in the same
// order, the same error); messages are at most 64 KiB, text and close
// reasons are UTF-8, control payloads at most 125 bytes, close codes valid;
// an error names a code (1002, 1007 or 1009) and a reason; the reader holds
// at most one frame's header and 64 KiB between calls.
#include <string>
#include <vector>

#include "common/text.h"
#include "fuzz/fuzz_util.h"
#include "gateway-svc/ws_wire.h"

namespace cg = coderef::gateway;

namespace {

struct Run {
  std::vector<std::pair<int, std::string>> messages;
  uint16_t error = 0;
};

Run Feed(const std::string& stream, size_t step) {
  Run run;
  cg::WsReader r;
  std::string copy = stream;
  bool stop = false;
  for (size_t p = 0; p < copy.size() && !stop; p += step) {
    size_t n = std::min(step, copy.size() - p);
    bool ok = r.Feed(copy.data() + p, n, [&](const cg::WsReader::Message& m) {
      FUZZ_CHECK(m.payload.size() <= cg::WsReader::kMaxMessage, "message over 64 KiB");
      const bool control = m.kind == cg::WsReader::Kind::kPing || m.kind == cg::WsReader::Kind::kPong ||
                           m.kind == cg::WsReader::Kind::kClose;
      FUZZ_CHECK(!control || m.payload.size() <= 125, "control payload over 125 bytes");
      if (m.kind == cg::WsReader::Kind::kText || m.kind == cg::WsReader::Kind::kClose)
        FUZZ_CHECK(coderef::IsValidUtf8(m.payload), "text or close reason not UTF-8");
      if (m.kind == cg::WsReader::Kind::kClose)
        FUZZ_CHECK(m.close_code == 0 || cg::WsValidCloseCode(m.close_code), "invalid close code handed on");
      run.messages.emplace_back(static_cast<int>(m.kind) * 65536 + m.close_code, std::string(m.payload));
      if (m.kind == cg::WsReader::Kind::kClose) stop = true;
      return !stop;
    });
    FUZZ_CHECK(r.held_bytes() <= 2 * (cg::WsReader::kMaxMessage + 14), "reader holds too much");
    if (!ok) {
      run.error = r.error_code();
      FUZZ_CHECK(run.error == 1002 || run.error == 1007 || run.error == 1009, "unexpected error code");
      FUZZ_CHECK(std::string(r.error_reason()).size() > 0, "error without a reason");
      break;
    }
  }
  return run;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  coderef::fuzz::QuietLogs();
  if (size < 1) return 0;
  const uint8_t mode = data[0];
  std::string stream(reinterpret_cast<const char*>(data + 1), size - 1);
  size_t step = mode < 64 ? mode + 1 : (mode < 128 ? 1 : stream.size() + 1);
  Run whole = Feed(stream, stream.size() + 1);
  Run split = Feed(stream, step);
  FUZZ_CHECK(whole.error == split.error, "the split changed the error");
  // With an error too: the messages before it are the same.
  FUZZ_CHECK(whole.messages == split.messages, "the split changed the messages");
  return 0;
}
