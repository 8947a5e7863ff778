#include <gtest/gtest.h>

#include "gateway-svc/history_ring.h"
#include "gateway-svc/resume.h"

namespace coderef::gateway {
namespace {

HistoryEntry Entry(uint64_t seq) {
  HistoryEntry e;
  e.seq = seq;
  e.kind = v1::KIND_PLAN;
  e.project = "p";
  e.frame = WireFrame::Text("{\"seq\":" + std::to_string(seq) + "}");
  return e;
}

TEST(HistoryRing, HoldsTheLastNContiguousEvents) {
  HistoryRing ring(3);
  ring.Reset(10);
  EXPECT_EQ(ring.base_seq(), 10u);
  EXPECT_EQ(ring.last_seq(), 10u);
  EXPECT_EQ(ring.At(10), nullptr);
  ring.Append(Entry(11));
  ring.Append(Entry(12));
  EXPECT_EQ(ring.size(), 2u);
  EXPECT_EQ(ring.At(11)->seq, 11u);
  EXPECT_EQ(ring.At(12)->seq, 12u);
  EXPECT_EQ(ring.At(13), nullptr);
  ring.Append(Entry(13));
  ring.Append(Entry(14));  // evicts 11
  ring.Append(Entry(15));  // evicts 12
  EXPECT_EQ(ring.size(), 3u);
  EXPECT_EQ(ring.base_seq(), 12u);
  EXPECT_EQ(ring.last_seq(), 15u);
  EXPECT_EQ(ring.At(12), nullptr);
  for (uint64_t s = 13; s <= 15; ++s) {
    ASSERT_NE(ring.At(s), nullptr);
    EXPECT_EQ(ring.At(s)->seq, s);
    EXPECT_EQ(ring.At(s)->frame->payload(), "{\"seq\":" + std::to_string(s) + "}");
  }
  ring.Reset(100);
  EXPECT_EQ(ring.size(), 0u);
  EXPECT_EQ(ring.base_seq(), 100u);
  EXPECT_EQ(ring.At(15), nullptr);
}

TEST(HistoryRing, ZeroCapacityKeepsNothing) {
  HistoryRing ring(0);
  ring.Reset(0);
  ring.Append(Entry(1));
  ring.Append(Entry(2));
  EXPECT_EQ(ring.size(), 0u);
  EXPECT_EQ(ring.base_seq(), 2u);
  EXPECT_EQ(ring.last_seq(), 2u);
  EXPECT_EQ(ring.At(2), nullptr);
}

GatewayPosition At(std::string_view epoch, uint64_t seq, uint64_t base) {
  GatewayPosition g;
  g.has_state = true;
  g.epoch = epoch;
  g.seq = seq;
  g.history_base = base;
  return g;
}

ResumeRequest Since(std::string epoch, uint64_t since) {
  ResumeRequest r;
  r.epoch = std::move(epoch);
  r.has_since = true;
  r.since = since;
  return r;
}

TEST(Resume, FreshClientStartsLive) {
  ResumeDecision d = DecideResume(ResumeRequest{}, At("E", 50, 40));
  EXPECT_EQ(d.action, ResumeAction::kLive);
  EXPECT_EQ(d.position, 50u);
  EXPECT_EQ(d.epoch, "E");
}

TEST(Resume, InHistoryReplaysFromSince) {
  ResumeDecision d = DecideResume(Since("E", 45), At("E", 50, 40));
  EXPECT_EQ(d.action, ResumeAction::kReplay);
  EXPECT_EQ(d.position, 45u);
  // The oldest servable position is the history base itself.
  EXPECT_EQ(DecideResume(Since("E", 40), At("E", 50, 40)).action, ResumeAction::kReplay);
  // Up to date: nothing to replay.
  EXPECT_EQ(DecideResume(Since("E", 50), At("E", 50, 40)).action, ResumeAction::kLive);
}

TEST(Resume, OlderThanHistoryIsAHistoryGap) {
  ResumeDecision d = DecideResume(Since("E", 39), At("E", 50, 40));
  EXPECT_EQ(d.action, ResumeAction::kResync);
  EXPECT_EQ(d.reason, ResyncReason::kHistoryGap);
  EXPECT_EQ(d.position, 50u);
}

TEST(Resume, UnknownEpochIsEpochChanged) {
  ResumeDecision d = DecideResume(Since("OLD", 45), At("E", 50, 40));
  EXPECT_EQ(d.action, ResumeAction::kResync);
  EXPECT_EQ(d.reason, ResyncReason::kEpochChanged);
  EXPECT_EQ(d.position, 50u);
  // since without an epoch cannot be trusted.
  ResumeRequest no_epoch;
  no_epoch.has_since = true;
  no_epoch.since = 45;
  EXPECT_EQ(DecideResume(no_epoch, At("E", 50, 40)).reason, ResyncReason::kEpochChanged);
}

TEST(Resume, ClientAheadWaits) {
  ResumeDecision d = DecideResume(Since("E", 60), At("E", 50, 40));
  EXPECT_EQ(d.action, ResumeAction::kAhead);
  EXPECT_EQ(d.position, 60u);
}

TEST(Resume, BeforeAnySnapshotTheClientIsHeldPending) {
  GatewayPosition none;
  ResumeDecision d = DecideResume(Since("E", 7), none);
  EXPECT_EQ(d.action, ResumeAction::kPending);
  EXPECT_EQ(d.epoch, "E");
  EXPECT_EQ(d.position, 7u);
  ResumeDecision fresh = DecideResume(ResumeRequest{}, none);
  EXPECT_EQ(fresh.action, ResumeAction::kPending);
  EXPECT_EQ(fresh.epoch, "");
}

TEST(Resume, ReasonNames) {
  EXPECT_EQ(ResyncReasonName(ResyncReason::kEpochChanged), "epoch_changed");
  EXPECT_EQ(ResyncReasonName(ResyncReason::kHistoryGap), "history_gap");
  EXPECT_EQ(ResyncReasonName(ResyncReason::kOverflow), "overflow");
}

}  // namespace
}  // namespace coderef::gateway
