#include "watcher-svc/durable_publish.h"

namespace coderef::watcher {

void ResumeFeed(Publisher& publisher, DurableState& durable, DurableState::Resume* resume,
                int64_t now_us) {
  publisher.SetEpoch(resume->epoch, resume->seq,
                     resume->resend.empty() ? resume->seq : resume->resend.front().seq() - 1);
  if (!resume->resend.empty()) {
    // Receivers drop the seqs they already have.
    durable.Published(resume->resend);
    publisher.Send(&resume->resend);
  }
  if (!resume->missed.empty()) PublishDurably(publisher, durable, &resume->missed, now_us);
}

void PublishDurably(Publisher& publisher, DurableState& durable,
                    std::vector<v1::ChangeEvent>* events, int64_t first_change_us) {
  if (events->empty()) return;
  publisher.Stamp(events, first_change_us);
  if (!durable.Commit(*events, publisher.sent_seq())) {
    publisher.SetEpoch(durable.NewMemoryEpoch(), 0);
    publisher.Stamp(events, first_change_us);
  }
  durable.Published(*events);
  publisher.Send(events);
}

}  // namespace coderef::watcher
