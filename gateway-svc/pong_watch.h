// PongWatch: one client's transport ping and its answer. A ping goes out
// every --ping-ms unless one is still unanswered (a later round does not
// restart its deadline); anything the client sends answers it. Unanswered
// after --pong-timeout-ms, the client is dead only if its socket has not
// drained since the ping was sent (FanOut::last_drain: a full socket took
// bytes again, so the peer reads): a slow reader may not have reached the
// ping yet, and a socket that keeps taking data is alive (the wait then
// restarts). Pure value type.
#pragma once

#include <optional>

#include "common/clock.h"

namespace coderef::gateway {

class PongWatch {
 public:
  enum class Verdict { kFine, kDead };

  // A transport ping went out (was queued) at `now`.
  void Sent(SteadyTime now) {
    awaiting_ = true;
    sent_ = now;
  }
  // The client sent something.
  void Answered() { awaiting_ = false; }
  // A ping is out and unanswered: no new one (it would restart the wait).
  bool awaiting() const { return awaiting_; }

  // At `now`, with the time the client's socket last drained: kDead when
  // the ping has gone unanswered for `timeout` and the socket has not
  // drained since it was sent; otherwise kFine, and *due is when to ask
  // again (if a ping is awaiting an answer).
  Verdict Check(SteadyTime now, Millis timeout, SteadyTime last_drain,
                std::optional<SteadyTime>* due) {
    if (!awaiting_) return Verdict::kFine;
    if (sent_ + timeout > now) {
      *due = sent_ + timeout;
      return Verdict::kFine;
    }
    if (last_drain <= sent_) return Verdict::kDead;
    sent_ = now;  // alive (reading), just slow: wait again
    *due = sent_ + timeout;
    return Verdict::kFine;
  }

 private:
  bool awaiting_ = false;
  SteadyTime sent_{};
};

}  // namespace coderef::gateway
