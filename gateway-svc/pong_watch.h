// PongWatch: one client's transport ping and its answer. A ping goes out
// every --ping-ms unless one is still unanswered (a later round does not
// restart its deadline); anything the client sends answers it. Unanswered
// after --pong-timeout-ms, the client is dead if its peer has acknowledged
// no byte since the ping was sent (ClientSink::Acknowledged), or if the
// ping itself has reached it (nothing waits for it and everything written
// is acknowledged) and it still did not answer. A peer that keeps
// acknowledging data queued before the ping is a slow reader that has not
// reached the ping yet: alive, and the wait starts again. Pure value type.
#pragma once

#include <cstdint>
#include <optional>

#include "common/clock.h"

namespace coderef::gateway {

class PongWatch {
 public:
  enum class Verdict { kFine, kDead };

  // A transport ping was queued at `now`, when the peer had acknowledged
  // `acked` bytes.
  void Sent(SteadyTime now, uint64_t acked) {
    awaiting_ = true;
    sent_ = now;
    acked_ = acked;
  }
  // The client sent something.
  void Answered() { awaiting_ = false; }
  // A ping is out and unanswered: no new one (it would restart the wait).
  bool awaiting() const { return awaiting_; }

  // At `now`: `acked` bytes acknowledged by the peer so far; `reached` when
  // nothing waits to be written to it and all written is acknowledged (so
  // the peer has the ping). kDead as above; otherwise kFine, and *due is
  // when to ask again (if a ping is awaiting an answer).
  Verdict Check(SteadyTime now, Millis timeout, uint64_t acked, bool reached,
                std::optional<SteadyTime>* due) {
    if (!awaiting_) return Verdict::kFine;
    if (sent_ + timeout > now) {
      *due = sent_ + timeout;
      return Verdict::kFine;
    }
    if (reached || acked <= acked_) return Verdict::kDead;
    sent_ = now;  // reading, just behind: wait again
    acked_ = acked;
    *due = sent_ + timeout;
    return Verdict::kFine;
  }

 private:
  bool awaiting_ = false;
  SteadyTime sent_{};
  uint64_t acked_ = 0;
};

}  // namespace coderef::gateway
