// The hub's small parts, each on its own: client messages, the flood window
// and the pong watch.
#include <gtest/gtest.h>

#include "gateway-svc/client_messages.h"
#include "gateway-svc/flood_control.h"
#include "gateway-svc/pong_watch.h"

namespace coderef::gateway {
namespace {

using Action = ClientMessage::Action;

TEST(ClientMessages, PingPongAndSubscribe) {
  EXPECT_EQ(ParseClientMessage(false, R"({"type":"pong"})").action, Action::kNone);
  EXPECT_EQ(ParseClientMessage(false, R"({"type":"ping","x":1})").action, Action::kPong);
  ClientMessage all = ParseClientMessage(false, R"({"type":"subscribe"})");
  EXPECT_EQ(all.action, Action::kSubscribe);
  EXPECT_TRUE(all.topics.all());
  ClientMessage one = ParseClientMessage(false, R"({"type":"subscribe","topics":"stub"})");
  EXPECT_EQ(one.action, Action::kSubscribe);
  EXPECT_TRUE(one.topics.Matches(v1::KIND_STUB, "p"));
  EXPECT_FALSE(one.topics.Matches(v1::KIND_PLAN, "p"));
  ClientMessage list =
      ParseClientMessage(false, R"({"type":"subscribe","topics":["plan/noted","workorder"]})");
  EXPECT_TRUE(list.topics.Matches(v1::KIND_PLAN, "noted"));
  EXPECT_FALSE(list.topics.Matches(v1::KIND_PLAN, "other"));
  EXPECT_TRUE(list.topics.Matches(v1::KIND_WORKORDER, "other"));
}

TEST(ClientMessages, ErrorsAnswerAndGarbageCloses) {
  ClientMessage unknown = ParseClientMessage(false, R"({"type":"dance"})");
  EXPECT_EQ(unknown.action, Action::kError);
  EXPECT_EQ(unknown.error, "unknown op");
  ClientMessage bad_topic = ParseClientMessage(false, R"({"type":"subscribe","topics":["bogus"]})");
  EXPECT_EQ(bad_topic.action, Action::kError);
  EXPECT_NE(bad_topic.error.find("bogus"), std::string::npos) << bad_topic.error;
  EXPECT_EQ(ParseClientMessage(false, R"({"type":"subscribe","topics":[1]})").error,
            "topics must be a list of strings");
  EXPECT_EQ(ParseClientMessage(false, R"({"type":"subscribe","topics":42})").error,
            "topics must be a list of strings");
  for (std::string_view bad : {"not json", "[1,2]", "\"str\"", ""}) {
    ClientMessage m = ParseClientMessage(false, bad);
    EXPECT_EQ(m.action, Action::kClose) << bad;
    EXPECT_EQ(m.close_code, 1003) << bad;
    EXPECT_EQ(m.error, "invalid json");
  }
  ClientMessage binary = ParseClientMessage(true, R"({"type":"ping"})");
  EXPECT_EQ(binary.action, Action::kClose);
  EXPECT_EQ(binary.close_code, 1003);
  EXPECT_EQ(binary.error, "binary frames are not supported");
}

TEST(FloodWindow, AllowsTheLimitPerSecondThenRefusesUntilTheNextSecond) {
  SteadyTime t{std::chrono::hours(1)};
  FloodWindow w;
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(w.Count(t, 5)) << i;
  EXPECT_FALSE(w.Count(t + Millis(999), 5));
  EXPECT_EQ(w.frames(), 6);
  EXPECT_TRUE(w.Count(t + Millis(1000), 5)) << "a new window";
  EXPECT_EQ(w.frames(), 1);
}

TEST(PongWatch, DeadWhenThePeerHasThePingOrAcknowledgedNothingSince) {
  const SteadyTime t{std::chrono::hours(1)};
  const Millis timeout(100);
  std::optional<SteadyTime> due;
  PongWatch idle;
  EXPECT_EQ(idle.Check(t, timeout, 0, true, &due), PongWatch::Verdict::kFine);
  EXPECT_FALSE(due.has_value()) << "no ping out: nothing to check";

  PongWatch w;
  w.Sent(t, 1000);
  EXPECT_TRUE(w.awaiting());
  EXPECT_EQ(w.Check(t + Millis(50), timeout, 1000, false, &due), PongWatch::Verdict::kFine);
  EXPECT_EQ(due, t + timeout);
  EXPECT_EQ(w.Check(t + timeout, timeout, 1000, false, &due), PongWatch::Verdict::kDead)
      << "acknowledged nothing since the ping";

  PongWatch ignoring;
  ignoring.Sent(t, 1000);
  EXPECT_EQ(ignoring.Check(t + timeout, timeout, 1002, true, &due), PongWatch::Verdict::kDead)
      << "it has the ping (all acknowledged, nothing waiting) and did not answer";

  PongWatch slow;
  slow.Sent(t, 1000);
  due.reset();
  EXPECT_EQ(slow.Check(t + timeout, timeout, 40000, false, &due), PongWatch::Verdict::kFine)
      << "acknowledging the backlog before the ping: a slow reader, alive";
  EXPECT_EQ(due, t + timeout + timeout) << "asked again one timeout later";
  EXPECT_EQ(slow.Check(t + 2 * timeout, timeout, 40000, false, &due), PongWatch::Verdict::kDead)
      << "and nothing since then";

  PongWatch answered;
  answered.Sent(t, 0);
  answered.Answered();
  EXPECT_EQ(answered.Check(t + 5 * timeout, timeout, 0, true, &due), PongWatch::Verdict::kFine);
}

}  // namespace
}  // namespace coderef::gateway
