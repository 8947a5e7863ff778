#include "gateway-svc/event_json.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/names.h"
#include "common/text.h"
#include "tests/gateway/test_items.h"

namespace coderef::gateway {
namespace {

using nlohmann::json;
using testing::EventFor;

json Parse(const std::string& s) {
  json j = json::parse(s, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << s;
  return j;
}

v1::Item ItemForKind(v1::Kind kind) {
  switch (kind) {
    case v1::KIND_PLAN: return testing::PlanItem("noted", "auth");
    case v1::KIND_STUB: return testing::StubItem("noted", "idea");
    case v1::KIND_WORKORDER: return testing::HandoffItem("noted", "auth");
    default: return testing::ProjectItem("noted", "Noted");
  }
}

TEST(EventJson, EveryEventTypeIsValidJsonWithTheOriginalFields) {
  int count = 0;
  for (int t = v1::EVENT_TYPE_PLAN_ADDED; t <= v1::EVENT_TYPE_PROJECT_REMOVED; ++t) {
    auto type = static_cast<v1::EventType>(t);
    v1::Item item = ItemForKind(KindOf(type));
    Change change = IsDeletion(type) ? Change::kDeleted
                    : (t - 1) % 3 == 0 ? Change::kAdded
                                       : Change::kUpdated;
    v1::ChangeEvent ev = EventFor("9f2c4e1a7b3d5c60", 41 + t, change, item);
    ASSERT_EQ(ev.type(), type);
    json j = Parse(EventJson(ev, IsDeletion(type) ? nullptr : &ev.item(), "Noted"));
    SCOPED_TRACE(std::string(EventTypeName(type)));
    // The original dashboard's fields.
    EXPECT_EQ(j["type"], std::string(EventTypeName(type)));
    EXPECT_EQ(j["project"], "noted");
    EXPECT_TRUE(j.contains("feature_name"));
    EXPECT_EQ(j["file_path"], item.file_path());
    EXPECT_EQ(j["timestamp"], "2026-11-18T11:06:40.123Z");
    // The contract's additions.
    EXPECT_EQ(j["epoch"], "9f2c4e1a7b3d5c60");
    EXPECT_EQ(j["seq"], 41 + t);
    EXPECT_EQ(j["project_name"], "Noted");
    EXPECT_EQ(j["location"], item.location());
    EXPECT_EQ(j["key"], item.key());
    EXPECT_EQ(j["published"], "2026-11-18T11:06:40.224Z");
    if (IsDeletion(type)) {
      EXPECT_FALSE(j.contains("item"));
    } else {
      ASSERT_TRUE(j["item"].is_object());
      EXPECT_EQ(j["item"]["kind"], std::string(KindName(item.kind())));
      EXPECT_EQ(j["item"]["key"], item.key());
      EXPECT_FALSE(j["item"].contains("text")) << "raw text stays out of events";
    }
    ++count;
  }
  EXPECT_EQ(count, 12);
}

TEST(EventJson, PlanItemShape) {
  json j = Parse(ItemJson(testing::PlanItem("noted", "auth"), "noted"));
  EXPECT_EQ(j["kind"], "plan");
  EXPECT_EQ(j["project"], "noted");
  EXPECT_EQ(j["project_name"], "noted");
  EXPECT_EQ(j["file_path"], "coderef/working/auth/plan.json");
  EXPECT_EQ(j["feature_name"], "auth");
  EXPECT_EQ(j["location"], "working");
  EXPECT_EQ(j["status"], "in_progress");
  EXPECT_EQ(j["workorder_id"], "WO-auth-001");
  EXPECT_EQ(j["last_modified"], "2026-11-18T11:06:40.123Z");
  EXPECT_EQ(j["valid"], true);
  EXPECT_TRUE(j["parse_error"].is_null());
  EXPECT_EQ(j["size_bytes"], 812);
  EXPECT_EQ(j["text_omitted"], false);
}

TEST(EventJson, StubWorkorderAndProjectShapes) {
  json s = Parse(ItemJson(testing::StubItem("noted", "idea"), "noted"));
  for (const char* k : {"description", "category", "priority", "created", "status", "stub_id"})
    EXPECT_TRUE(s[k].is_string()) << k;
  json h = Parse(ItemJson(testing::HandoffItem("noted", "auth"), "noted"));
  EXPECT_EQ(h["source"], "handoff");
  EXPECT_EQ(h["type"], "implementation");
  EXPECT_EQ(h["from"], "lead");
  EXPECT_EQ(h["to"], "agent");
  EXPECT_EQ(h["initiated_at"], "2026-11-20T10:00:00Z");
  json l = Parse(ItemJson(testing::LogItem("noted", "WO-1", 3, nullptr), "noted"));
  EXPECT_EQ(l["source"], "log");
  EXPECT_TRUE(l["timestamp"].is_null()) << "3-part line";
  EXPECT_EQ(l["line_number"], 3);
  json l2 = Parse(ItemJson(testing::LogItem("noted", "WO-2", 4, "2026-11-20"), "noted"));
  EXPECT_EQ(l2["timestamp"], "2026-11-20");
  json p = Parse(ItemJson(testing::ProjectItem("noted", "Noted App"), "Noted App"));
  EXPECT_EQ(p["id"], "noted");
  EXPECT_EQ(p["name"], "Noted App");
  EXPECT_EQ(p["path"], "/srv/projects/noted");
  EXPECT_EQ(p["exists"], true);
  EXPECT_EQ(p["has_coderef"], true);
}

TEST(EventJson, InvalidFileCarriesParseError) {
  v1::Item item = testing::PlanItem("noted", "auth");
  item.set_valid(false);
  item.set_parse_error("line 3: expected '}'");
  json j = Parse(ItemJson(item, "noted"));
  EXPECT_EQ(j["valid"], false);
  EXPECT_EQ(j["parse_error"], "line 3: expected '}'");
}

TEST(EventJson, NonAsciiAndEscapedNamesStayValidJson) {
  const std::string names[] = {
      "caf\xC3\xA9-\xE6\x97\xA5\xE6\x9C\xAC-\xF0\x9F\x9A\x80",  // café-日本-🚀
      "quote\"back\\slash",
      "new\nline\ttab\r\x01\x1f\x7f",
      "bad\xFF\xFEutf8\xC3",
      "</script><b>",
  };
  for (const auto& name : names) {
    v1::Item item = testing::PlanItem("noted", name);
    item.mutable_plan()->set_status(name);
    v1::ChangeEvent ev = EventFor("e", 1, Change::kAdded, item);
    std::string text = EventJson(ev, &ev.item(), name);
    json j = json::parse(text, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << text;
    if (IsValidUtf8(name)) {
      EXPECT_EQ(j["feature_name"], name);
      EXPECT_EQ(j["item"]["status"], name);
      EXPECT_EQ(j["project_name"], name);
    } else {
      // Invalid bytes become U+FFFD; the frame is still valid UTF-8.
      EXPECT_TRUE(IsValidUtf8(text));
      EXPECT_NE(j["feature_name"].get<std::string>().find("\xEF\xBF\xBD"), std::string::npos);
    }
  }
}

TEST(EventJson, ControlMessages) {
  json h = Parse(HelloJson("9f2c", 41, 30000, 3, "gw-1", "up"));
  EXPECT_EQ(h["type"], "hello");
  EXPECT_EQ(h["epoch"], "9f2c");
  EXPECT_EQ(h["seq"], 41);
  EXPECT_EQ(h["ping_ms"], 30000);
  EXPECT_EQ(h["replayed"], 3);
  EXPECT_EQ(h["gateway"], "gw-1");
  json r = Parse(ResyncJson("history_gap", "9f2c", 57));
  EXPECT_EQ(r["type"], "resync_required");
  EXPECT_EQ(r["reason"], "history_gap");
  EXPECT_EQ(r["seq"], 57);
  EXPECT_EQ(Parse(PingJson(1795000000123))["ts"], 1795000000123);
  EXPECT_EQ(Parse(WatcherDownJson())["type"], "watcher_down");
  EXPECT_EQ(Parse(WatcherUpJson("9f2c")), json::parse(R"({"type":"watcher_up","epoch":"9f2c"})"))
      << "a plain watcher_up keeps its shape";
  WatcherRestart restart;
  restart.changes = 3;
  restart.caught_up_seq = 44;
  EXPECT_EQ(Parse(WatcherUpJson("9f2c", &restart)),
            json::parse(R"({"type":"watcher_up","epoch":"9f2c","restarted":true,"changes":3,"caught_up_seq":44})"));
  EXPECT_EQ(Parse(ErrorJson("unknown op"))["error"], "unknown op");
}

}  // namespace
}  // namespace coderef::gateway
