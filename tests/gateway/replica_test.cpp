#include "gateway-svc/replica.h"

#include <gtest/gtest.h>

#include "tests/gateway/test_items.h"

namespace coderef::gateway {
namespace {

using testing::EventFor;

TEST(Replica, SnapshotThenEventsInSeqOrder) {
  Replica r;
  EXPECT_FALSE(r.has_snapshot());
  r.Reset("E", 10,
          {testing::ProjectItem("noted", "Noted"), testing::PlanItem("noted", "auth"),
           testing::StubItem("noted", "idea")});
  EXPECT_TRUE(r.has_snapshot());
  EXPECT_EQ(r.epoch(), "E");
  EXPECT_EQ(r.seq(), 10u);
  EXPECT_EQ(r.size(), 3u);

  // Added.
  v1::ChangeEvent add = EventFor("E", 11, Change::kAdded, testing::PlanItem("noted", "billing"));
  const v1::Item* stored = nullptr;
  ASSERT_TRUE(r.Apply(add, &stored));
  ASSERT_NE(stored, nullptr);
  EXPECT_EQ(stored->feature_name(), "billing");
  EXPECT_EQ(r.seq(), 11u);
  EXPECT_EQ(r.items(v1::KIND_PLAN).size(), 2u);

  // Updated.
  v1::ChangeEvent upd =
      EventFor("E", 12, Change::kUpdated, testing::PlanItem("noted", "auth", "complete"));
  ASSERT_TRUE(r.Apply(upd, &stored));
  EXPECT_EQ(r.Find(v1::KIND_PLAN, "noted", "coderef/working/auth/plan.json")->plan().status(),
            "complete");

  // Deleted.
  v1::ChangeEvent del = EventFor("E", 13, Change::kDeleted, testing::StubItem("noted", "idea"));
  ASSERT_TRUE(r.Apply(del, &stored));
  EXPECT_EQ(stored, nullptr);
  EXPECT_TRUE(r.items(v1::KIND_STUB).empty());
  EXPECT_EQ(r.seq(), 13u);
}

TEST(Replica, RefusesEventsOutOfOrderOrFromAnotherEpoch) {
  Replica r;
  const v1::Item* stored = nullptr;
  v1::ChangeEvent early = EventFor("E", 1, Change::kAdded, testing::PlanItem("p", "a"));
  EXPECT_FALSE(r.Apply(early, &stored)) << "no snapshot yet";
  r.Reset("E", 5, {});
  v1::ChangeEvent old = EventFor("E", 5, Change::kAdded, testing::PlanItem("p", "a"));
  EXPECT_FALSE(r.Apply(old, &stored));
  v1::ChangeEvent gap = EventFor("E", 7, Change::kAdded, testing::PlanItem("p", "a"));
  EXPECT_FALSE(r.Apply(gap, &stored));
  v1::ChangeEvent other = EventFor("F", 6, Change::kAdded, testing::PlanItem("p", "a"));
  EXPECT_FALSE(r.Apply(other, &stored));
  EXPECT_EQ(r.seq(), 5u);
  EXPECT_EQ(r.size(), 0u);
}

TEST(Replica, ResetReplacesEverything) {
  Replica r;
  r.Reset("E", 5, {testing::PlanItem("p", "a"), testing::PlanItem("p", "b")});
  r.Reset("F", 2, {testing::StubItem("p", "s")});
  EXPECT_EQ(r.epoch(), "F");
  EXPECT_EQ(r.seq(), 2u);
  EXPECT_TRUE(r.items(v1::KIND_PLAN).empty());
  EXPECT_EQ(r.items(v1::KIND_STUB).size(), 1u);
}

TEST(Replica, ProjectNamesAndFiles) {
  Replica r;
  r.Reset("E", 1, {testing::ProjectItem("noted", "Noted App"), testing::PlanItem("noted", "auth")});
  EXPECT_EQ(r.ProjectName("noted"), "Noted App");
  EXPECT_EQ(r.ProjectName("ghost"), "ghost");
  const v1::Item* f = r.FindFile("noted", "coderef/working/auth/plan.json");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->kind(), v1::KIND_PLAN);
  EXPECT_EQ(r.FindFile("noted", "coderef/working/nope/plan.json"), nullptr);
}

TEST(Replica, ProjectRemovedDropsTheProjectItem) {
  Replica r;
  r.Reset("E", 1, {testing::ProjectItem("noted", "Noted")});
  v1::ChangeEvent rm = EventFor("E", 2, Change::kDeleted, testing::ProjectItem("noted", "Noted"));
  ASSERT_EQ(rm.type(), v1::EVENT_TYPE_PROJECT_REMOVED);
  const v1::Item* stored = nullptr;
  ASSERT_TRUE(r.Apply(rm, &stored));
  EXPECT_TRUE(r.items(v1::KIND_PROJECT).empty());
}

}  // namespace
}  // namespace coderef::gateway
