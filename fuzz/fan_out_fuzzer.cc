// Fuzz target: the fan-out core (gateway-svc/fan_out.h) with the production
// frame type. Input: the history size and --max-queue-bytes, then a script
// of events published in runs, clients connecting (filter, resume position,
// reading or not), sockets taking a few bytes or everything, control frames,
// closes and disconnects. Invariants (fan_out_model.h): every client gets
// every event its filter matches once, in order, or a resync_required that
// says where it goes on from; nothing after a close frame; and after all
// sockets drain, every client is at the feed's seq with nothing queued.
#include <cstdint>

#include "fuzz/fan_out_model.h"
#include "fuzz/fuzz_util.h"

using coderef::fuzz::ByteReader;
using coderef::fuzz::FanOutModel;
using coderef::fuzz::PullSink;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  coderef::fuzz::QuietLogs();
  ByteReader in(data, size);
  FanOutModel m(in.Below(40), 64 + in.Below(8) * 512);
  for (int step = 0; step < 400 && !in.empty(); ++step) {
    const uint32_t n = static_cast<uint32_t>(m.clients());
    switch (in.Byte() % 9) {
      case 0:
      case 1: {  // a run of events
        uint32_t k = 1 + in.Below(12);
        for (uint32_t i = 0; i < k; ++i) m.Publish(1 + in.Below(4), in.Bool(), in.Below(4) * 40);
        break;
      }
      case 2:  // a client connects: fresh or resuming from anywhere
        if (n < 48) {
          uint64_t since = in.Bool() ? m.seq() : m.seq() - std::min<uint64_t>(m.seq(), in.Below(60));
          m.Connect(in.Below(FanOutModel::kFilterCount), since, in.Bool());
        }
        break;
      case 3:
      case 4:  // a socket takes a little
        if (n) m.Drain(in.Below(n), in.Below(700));
        break;
      case 5:  // a socket takes everything / starts or stops reading
        if (n) {
          uint32_t i = in.Below(n);
          if (in.Bool()) m.Drain(i, PullSink::kAll);
          else m.SetReading(i, in.Bool());
        }
        break;
      case 6:
        if (n) m.Ping(in.Below(n));
        break;
      case 7:
        if (n && in.Below(4) == 0) m.Close(in.Below(n));
        break;
      case 8:
        if (n && in.Below(4) == 0) m.Remove(in.Below(n));
        break;
    }
  }
  m.DrainAllAndCheck();
  return 0;
}
