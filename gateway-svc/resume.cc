#include "gateway-svc/resume.h"

namespace coderef::gateway {

std::string_view ResyncReasonName(ResyncReason r) {
  switch (r) {
    case ResyncReason::kEpochChanged: return "epoch_changed";
    case ResyncReason::kHistoryGap: return "history_gap";
    case ResyncReason::kOverflow: return "overflow";
  }
  return "epoch_changed";
}

ResumeDecision DecideResume(const ResumeRequest& req, const GatewayPosition& gw) {
  ResumeDecision d;
  if (!gw.has_state) {
    if (req.has_since && !req.epoch.empty()) {
      d.action = ResumeAction::kPending;
      d.epoch = req.epoch;
      d.position = req.since;
    } else {
      // Fresh client before any snapshot: it holds nothing, so the first
      // snapshot will tell it to load (epoch "" never matches).
      d.action = ResumeAction::kPending;
      d.epoch = "";
      d.position = 0;
    }
    return d;
  }
  d.epoch = std::string(gw.epoch);
  if (!req.has_since) {
    d.action = ResumeAction::kLive;
    d.position = gw.seq;
    return d;
  }
  if (req.epoch != gw.epoch) {
    d.action = ResumeAction::kResync;
    d.reason = ResyncReason::kEpochChanged;
    d.position = gw.seq;
    return d;
  }
  if (req.since > gw.seq) {
    d.action = ResumeAction::kAhead;
    d.position = req.since;
    return d;
  }
  if (req.since < gw.history_base) {
    d.action = ResumeAction::kResync;
    d.reason = ResyncReason::kHistoryGap;
    d.position = gw.seq;
    return d;
  }
  d.action = req.since == gw.seq ? ResumeAction::kLive : ResumeAction::kReplay;
  d.position = req.since;
  return d;
}

}  // namespace coderef::gateway
