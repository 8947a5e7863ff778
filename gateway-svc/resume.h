// Resume decisions (PROTOCOL section 3): what a connecting client gets given
// the position it asks to resume from and what the gateway holds. Pure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace coderef::gateway {

// Why a client must reload over REST.
enum class ResyncReason {
  kEpochChanged,  // the watcher restarted (or the client's epoch is unknown)
  kHistoryGap,    // the client's position is older than the history
  kOverflow,      // the gateway lost events on the feed (PUB high-water mark)
};
std::string_view ResyncReasonName(ResyncReason r);

struct ResumeRequest {
  bool has_since = false;
  uint64_t since = 0;
  std::string epoch;  // "" when not given
};

struct GatewayPosition {
  bool has_state = false;  // a snapshot has been applied
  std::string_view epoch;
  uint64_t seq = 0;           // the replica's seq
  uint64_t history_base = 0;  // oldest position the history can serve
};

enum class ResumeAction {
  kLive,    // start at `position` (== gateway seq): nothing to replay
  kReplay,  // replay the events after `position` from history, then live
  kAhead,   // the client is ahead of this gateway: wait for the feed, send
            // events after `position` only (no duplicates)
  kResync,  // send resync_required(reason) and continue from the gateway seq
  kPending, // no state yet: hold the client at (epoch, position) until the
            // first snapshot decides
};

struct ResumeDecision {
  ResumeAction action = ResumeAction::kLive;
  std::string epoch;      // the epoch the client's position refers to
  uint64_t position = 0;  // the client's position: events > position follow
  ResyncReason reason = ResyncReason::kEpochChanged;  // for kResync
};

// `since` without an epoch cannot be trusted across watcher restarts: it is
// treated as an unknown epoch (resync).
ResumeDecision DecideResume(const ResumeRequest& req, const GatewayPosition& gw);

}  // namespace coderef::gateway
