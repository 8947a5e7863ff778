#include "watcher-svc/item_parser.h"

#include <gtest/gtest.h>

#include "common/text.h"

namespace coderef::watcher {
namespace {

constexpr uint64_t kMax = 1 << 20;

// Parses `content` as the file at `rel_path` of project "noted".
std::optional<v1::Item> Parse(const std::string& rel_path, const std::optional<std::string>& content,
                              uint64_t max_text = kMax) {
  auto info = ClassifyPath(rel_path);
  EXPECT_TRUE(info.has_value()) << rel_path;
  if (!info) return std::nullopt;
  FileFacts facts;
  facts.project_id = "noted";
  facts.rel_path = rel_path;
  facts.mtime_ms = 1'764'064'800'123;
  facts.size = content ? content->size() : 5'000'000;
  facts.content_hash = content ? Hash64(*content) : 42;
  return ParseFileItem(*info, facts, content, max_text);
}

// --- ClassifyPath ----------------------------------------------------------

TEST(ClassifyPath, TrackedFiles) {
  auto plan = ClassifyPath("coderef/working/auth/plan.json");
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->kind, v1::KIND_PLAN);
  EXPECT_EQ(plan->location, "working");
  EXPECT_EQ(plan->feature, "auth");
  EXPECT_FALSE(plan->is_log);

  auto archived = ClassifyPath("coderef/archived/old-thing/plan.json");
  ASSERT_TRUE(archived);
  EXPECT_EQ(archived->kind, v1::KIND_PLAN);
  EXPECT_EQ(archived->location, "archived");
  EXPECT_EQ(archived->feature, "old-thing");

  for (const char* loc : {"working", "archived", "stubs"}) {
    auto stub = ClassifyPath(std::string("coderef/") + loc + "/idea/stub.json");
    ASSERT_TRUE(stub) << loc;
    EXPECT_EQ(stub->kind, v1::KIND_STUB);
    EXPECT_EQ(stub->location, loc);
    EXPECT_EQ(stub->feature, "idea");
  }

  for (const char* loc : {"working", "archived"}) {
    auto comm = ClassifyPath(std::string("coderef/") + loc + "/auth/communication.json");
    ASSERT_TRUE(comm) << loc;
    EXPECT_EQ(comm->kind, v1::KIND_WORKORDER);
    EXPECT_EQ(comm->location, loc);
    EXPECT_EQ(comm->feature, "auth");
    EXPECT_FALSE(comm->is_log);
  }

  auto log = ClassifyPath("coderef/workorder-log.txt");
  ASSERT_TRUE(log);
  EXPECT_EQ(log->kind, v1::KIND_WORKORDER);
  EXPECT_TRUE(log->is_log);
  EXPECT_EQ(log->location, "");
  EXPECT_EQ(log->feature, "");
}

TEST(ClassifyPath, FeatureNamesAreTakenVerbatim) {
  auto info = ClassifyPath("coderef/working/My Feature (v2)/plan.json");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->feature, "My Feature (v2)");
  auto dotted = ClassifyPath("coderef/working/.hidden/plan.json");
  ASSERT_TRUE(dotted);
  EXPECT_EQ(dotted->feature, ".hidden");
}

TEST(ClassifyPath, Rejects) {
  const char* rejects[] = {
      "",
      "coderef",
      "coderef/",
      "coderef/working/plan.json",             // no feature folder
      "coderef/other/x/plan.json",             // unknown location
      "coderef/stubs/x/plan.json",             // plans are not in stubs/
      "coderef/stubs/x/communication.json",    // neither are hand-offs
      "coderef/working/f/sub/plan.json",       // too deep
      "coderef/working/f/plan.json/",          // trailing slash
      "coderef/working/f/notes.md",            // other files
      "coderef/working/f/plan.json.tmp",       // editor temp files
      "coderef/working/f/Plan.json",           // case matters
      "coderef/working/f/stub.json~",
      "coderef/workorder-log.txt.bak",
      "coderef/working/workorder-log.txt",
      "workorder-log.txt",
      "plan.json",
      "other/working/f/plan.json",
      "/coderef/working/f/plan.json",          // absolute
      "./coderef/working/f/plan.json",
      "coderef/./working/f/plan.json",
      "coderef/working/./plan.json",           // "." is not a feature
      "coderef/working/../plan.json",          // ".." is not a feature
      "coderef/working/x/../f/plan.json",
      "coderef/../coderef/working/f/plan.json",
      "../coderef/working/f/plan.json",
      "coderef/working/../../coderef/working/f/plan.json",
      "coderef//working/f/plan.json",          // empty component
      "coderef/working//plan.json",
      "coderef\\working\\f\\plan.json",        // backslashes
      "coderef/working/f\\..\\g/plan.json",
      "CODEREF/working/f/plan.json",
  };
  for (const char* p : rejects) EXPECT_FALSE(ClassifyPath(p).has_value()) << "'" << p << "'";
}

// --- plan.json -------------------------------------------------------------

TEST(ParsePlan, CurrentSchema) {
  std::string text = R"({
    "META_DOCUMENTATION": {"feature_name": "auth-flow", "status": "in_progress",
                           "project": "noted", "workorder_id": "WO-AUTH-001"},
    "UNIVERSAL_PLANNING_STRUCTURE": {"5_task_id_system": {"workorder": {"id": "WO-OTHER"}}}
  })";
  auto item = Parse("coderef/working/auth/plan.json", text);
  ASSERT_TRUE(item);
  EXPECT_EQ(item->kind(), v1::KIND_PLAN);
  EXPECT_EQ(item->project(), "noted");
  EXPECT_EQ(item->key(), "coderef/working/auth/plan.json");
  EXPECT_EQ(item->file_path(), "coderef/working/auth/plan.json");
  EXPECT_EQ(item->feature_name(), "auth-flow");
  EXPECT_EQ(item->location(), "working");
  EXPECT_EQ(item->last_modified_ms(), 1'764'064'800'123);
  EXPECT_TRUE(item->valid());
  EXPECT_EQ(item->parse_error(), "");
  EXPECT_EQ(item->size_bytes(), text.size());
  EXPECT_EQ(item->content_hash(), Hash64(text));
  EXPECT_EQ(item->text(), text);
  EXPECT_FALSE(item->text_omitted());
  ASSERT_TRUE(item->has_plan());
  EXPECT_EQ(item->plan().status(), "in_progress");
  EXPECT_EQ(item->plan().workorder_id(), "WO-AUTH-001");  // META wins over UPSI
  EXPECT_EQ(item->plan().project_field(), "noted");
}

TEST(ParsePlan, WorkorderIdFromUniversalPlanningStructure) {
  auto item = Parse("coderef/working/auth/plan.json", R"({
    "META_DOCUMENTATION": {"feature_name": "auth", "status": "planning"},
    "UNIVERSAL_PLANNING_STRUCTURE": {"5_task_id_system": {"workorder": {"id": "WO-UPSI-7"}}}
  })");
  ASSERT_TRUE(item);
  EXPECT_TRUE(item->valid());
  EXPECT_EQ(item->plan().workorder_id(), "WO-UPSI-7");
  EXPECT_EQ(item->plan().status(), "planning");
}

TEST(ParsePlan, LegacyTopLevelSchema) {
  auto item = Parse("coderef/archived/legacy/plan.json",
                    R"({"feature_name": "Legacy Feature", "status": "complete",
                        "project": "old", "workorder_id": "WO-LEG-2"})");
  ASSERT_TRUE(item);
  EXPECT_TRUE(item->valid());
  EXPECT_EQ(item->feature_name(), "Legacy Feature");
  EXPECT_EQ(item->location(), "archived");
  EXPECT_EQ(item->plan().status(), "complete");
  EXPECT_EQ(item->plan().workorder_id(), "WO-LEG-2");
  EXPECT_EQ(item->plan().project_field(), "old");
}

TEST(ParsePlan, MetaFieldsWinOverTopLevelPerKey) {
  auto item = Parse("coderef/working/f/plan.json",
                    R"({"META_DOCUMENTATION": {"status": "meta-status"},
                        "status": "top-status", "feature_name": "top-name"})");
  ASSERT_TRUE(item);
  EXPECT_EQ(item->plan().status(), "meta-status");
  EXPECT_EQ(item->feature_name(), "top-name");  // absent in META: top level
}

TEST(ParsePlan, MissingValuesFallBack) {
  auto item = Parse("coderef/working/auth/plan.json", R"({"META_DOCUMENTATION": {}})");
  ASSERT_TRUE(item);
  EXPECT_TRUE(item->valid());
  EXPECT_EQ(item->feature_name(), "auth");
  EXPECT_EQ(item->plan().status(), "unknown");
  EXPECT_EQ(item->plan().workorder_id(), "");
  EXPECT_EQ(item->plan().project_field(), "");

  auto empty = Parse("coderef/working/auth/plan.json", "{}");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->valid());
  EXPECT_EQ(empty->feature_name(), "auth");
  EXPECT_EQ(empty->plan().status(), "unknown");
}

TEST(ParsePlan, BlankStringsFallBack) {
  auto item = Parse("coderef/working/auth/plan.json",
                    R"({"META_DOCUMENTATION": {"feature_name": "  ", "status": ""}})");
  ASSERT_TRUE(item);
  EXPECT_EQ(item->feature_name(), "auth");
  EXPECT_EQ(item->plan().status(), "unknown");
}

TEST(ParsePlan, NumbersAndBoolsAreRendered) {
  auto item = Parse("coderef/working/f/plan.json",
                    R"({"META_DOCUMENTATION": {"feature_name": 42, "status": true,
                                               "workorder_id": 7, "project": 1.5}})");
  ASSERT_TRUE(item);
  EXPECT_TRUE(item->valid());
  EXPECT_EQ(item->feature_name(), "42");
  EXPECT_EQ(item->plan().status(), "true");
  EXPECT_EQ(item->plan().workorder_id(), "7");
  EXPECT_EQ(item->plan().project_field(), "1.5");
}

TEST(ParsePlan, NestedValuesWhereAStringWasExpectedAreIgnored) {
  auto item = Parse("coderef/working/auth/plan.json",
                    R"({"META_DOCUMENTATION": {"feature_name": {"x": 1}, "status": ["a"],
                                               "workorder_id": null},
                        "workorder_id": "WO-TOP"})");
  ASSERT_TRUE(item);
  EXPECT_TRUE(item->valid());
  EXPECT_EQ(item->feature_name(), "auth");
  EXPECT_EQ(item->plan().status(), "unknown");
  EXPECT_EQ(item->plan().workorder_id(), "WO-TOP");
}

TEST(ParsePlan, MetaThatIsNotAnObjectIsIgnored) {
  auto item = Parse("coderef/working/auth/plan.json",
                    R"({"META_DOCUMENTATION": "oops", "status": "s",
                        "UNIVERSAL_PLANNING_STRUCTURE": {"5_task_id_system": "no"}})");
  ASSERT_TRUE(item);
  EXPECT_TRUE(item->valid());
  EXPECT_EQ(item->plan().status(), "s");
  EXPECT_EQ(item->plan().workorder_id(), "");
}

TEST(ParsePlan, HalfWrittenJsonIsInvalidWithPosition) {
  std::string full = R"({"META_DOCUMENTATION": {"feature_name": "auth", "status": "done"}})";
  std::string half = full.substr(0, full.size() / 2);
  auto item = Parse("coderef/working/auth/plan.json", half);
  ASSERT_TRUE(item);
  EXPECT_FALSE(item->valid());
  EXPECT_NE(item->parse_error().find("line 1, column"), std::string::npos) << item->parse_error();
  EXPECT_EQ(item->parse_error().find("[json.exception"), std::string::npos);
  // Fields come from the path.
  EXPECT_EQ(item->feature_name(), "auth");
  EXPECT_EQ(item->plan().status(), "unknown");
  EXPECT_EQ(item->kind(), v1::KIND_PLAN);
  EXPECT_EQ(item->key(), "coderef/working/auth/plan.json");
  // The raw text is still there (it is UTF-8 and small).
  EXPECT_EQ(item->text(), half);
  EXPECT_EQ(item->size_bytes(), half.size());
}

TEST(ParsePlan, ErrorOnLaterLineNamesThatLine) {
  auto item = Parse("coderef/working/auth/plan.json", "{\n  \"status\": \"x\",\n  oops\n}");
  ASSERT_TRUE(item);
  EXPECT_FALSE(item->valid());
  EXPECT_NE(item->parse_error().find("line 3"), std::string::npos) << item->parse_error();
}

TEST(ParsePlan, EmptyFileIsInvalid) {
  auto item = Parse("coderef/working/auth/plan.json", "");
  ASSERT_TRUE(item);
  EXPECT_FALSE(item->valid());
  EXPECT_FALSE(item->parse_error().empty());
  EXPECT_EQ(item->feature_name(), "auth");
}

TEST(ParsePlan, NumberOverflowIsAParseErrorNotACrash) {
  auto item = Parse("coderef/working/auth/plan.json", R"({"status": 1e999})");
  ASSERT_TRUE(item);
  EXPECT_FALSE(item->valid());
  EXPECT_NE(item->parse_error().find("overflow"), std::string::npos) << item->parse_error();
}

TEST(ParsePlan, NonObjectJson) {
  for (const char* text : {"[1, 2]", "\"plan\"", "42", "null", "true"}) {
    auto item = Parse("coderef/working/auth/plan.json", std::string(text));
    ASSERT_TRUE(item) << text;
    EXPECT_FALSE(item->valid()) << text;
    EXPECT_EQ(item->parse_error(), "expected a JSON object") << text;
    EXPECT_EQ(item->plan().status(), "unknown");
    EXPECT_EQ(item->feature_name(), "auth");
  }
}

TEST(ParsePlan, NonUtf8BytesAreInvalidAndTextOmitted) {
  std::string text = "{\"feature_name\": \"caf\xe9\"}";  // Latin-1 e-acute
  auto item = Parse("coderef/working/auth/plan.json", text);
  ASSERT_TRUE(item);
  EXPECT_FALSE(item->valid());
  EXPECT_TRUE(item->text_omitted());
  EXPECT_EQ(item->text(), "");
  // Everything that goes into protobuf strings is UTF-8.
  EXPECT_TRUE(IsValidUtf8(item->parse_error())) << item->parse_error();
  EXPECT_FALSE(item->parse_error().empty());
  EXPECT_EQ(item->content_hash(), Hash64(text));
}

TEST(ParsePlan, Utf8TextIsKept) {
  std::string text = "{\"feature_name\": \"caf\xc3\xa9 \xe2\x82\xac\"}";
  auto item = Parse("coderef/working/auth/plan.json", text);
  ASSERT_TRUE(item);
  EXPECT_TRUE(item->valid());
  EXPECT_EQ(item->feature_name(), "caf\xc3\xa9 \xe2\x82\xac");
  EXPECT_EQ(item->text(), text);
  EXPECT_FALSE(item->text_omitted());
}

TEST(ParsePlan, TextOmittedOverMax) {
  std::string text = R"({"status": "in_progress"})";
  auto at_limit = Parse("coderef/working/auth/plan.json", text, text.size());
  ASSERT_TRUE(at_limit);
  EXPECT_EQ(at_limit->text(), text);
  EXPECT_FALSE(at_limit->text_omitted());

  auto over = Parse("coderef/working/auth/plan.json", text, text.size() - 1);
  ASSERT_TRUE(over);
  EXPECT_EQ(over->text(), "");
  EXPECT_TRUE(over->text_omitted());
  EXPECT_TRUE(over->valid());  // still parsed
  EXPECT_EQ(over->plan().status(), "in_progress");
  EXPECT_EQ(over->size_bytes(), text.size());
}

TEST(ParsePlan, TooLargeToReadIsInvalid) {
  auto item = Parse("coderef/working/auth/plan.json", std::nullopt);
  ASSERT_TRUE(item);
  EXPECT_FALSE(item->valid());
  EXPECT_NE(item->parse_error().find("too large"), std::string::npos) << item->parse_error();
  EXPECT_TRUE(item->text_omitted());
  EXPECT_EQ(item->size_bytes(), 5'000'000u);
  EXPECT_EQ(item->content_hash(), 42u);
  EXPECT_EQ(item->feature_name(), "auth");
  EXPECT_EQ(item->plan().status(), "unknown");
}

TEST(ParsePlan, NonUtf8PathIsEscapedForProtobuf) {
  std::string rel = "coderef/working/caf\xe9/plan.json";
  auto info = ClassifyPath(rel);
  ASSERT_TRUE(info);
  FileFacts facts;
  facts.project_id = "noted";
  facts.rel_path = rel;
  auto item = ParseFileItem(*info, facts, std::string("{}"), kMax);
  ASSERT_TRUE(item);
  EXPECT_EQ(item->file_path(), "coderef/working/caf\\xe9/plan.json");
  EXPECT_EQ(item->key(), item->file_path());
  EXPECT_EQ(item->feature_name(), "caf\\xe9");
}

TEST(ParseFileItem, LogPathIsNotAFileItem) {
  auto info = ClassifyPath("coderef/workorder-log.txt");
  ASSERT_TRUE(info);
  FileFacts facts;
  facts.rel_path = "coderef/workorder-log.txt";
  EXPECT_FALSE(ParseFileItem(*info, facts, std::string("{}"), kMax).has_value());
}

// --- stub.json -------------------------------------------------------------

TEST(ParseStub, AllFields) {
  auto item = Parse("coderef/stubs/dark-mode/stub.json", R"({
    "feature_name": "dark-mode", "description": "Dark theme", "category": "ui",
    "priority": "high", "created": "2026-11-20", "status": "stub",
    "project": "noted", "stub_id": "STUB-012"})");
  ASSERT_TRUE(item);
  EXPECT_EQ(item->kind(), v1::KIND_STUB);
  EXPECT_TRUE(item->valid());
  EXPECT_EQ(item->location(), "stubs");
  EXPECT_EQ(item->feature_name(), "dark-mode");
  ASSERT_TRUE(item->has_stub());
  EXPECT_EQ(item->stub().description(), "Dark theme");
  EXPECT_EQ(item->stub().category(), "ui");
  EXPECT_EQ(item->stub().priority(), "high");
  EXPECT_EQ(item->stub().created(), "2026-11-20");
  EXPECT_EQ(item->stub().status(), "stub");
  EXPECT_EQ(item->stub().stub_id(), "STUB-012");
  EXPECT_EQ(item->stub().project_field(), "noted");
}

TEST(ParseStub, OptionalFieldsAbsentAndNumbers) {
  auto item = Parse("coderef/working/idea/stub.json",
                    R"({"description": "d", "priority": 2, "stub_id": 12})");
  ASSERT_TRUE(item);
  EXPECT_TRUE(item->valid());
  EXPECT_EQ(item->feature_name(), "idea");
  EXPECT_EQ(item->location(), "working");
  EXPECT_EQ(item->stub().priority(), "2");
  EXPECT_EQ(item->stub().stub_id(), "12");
  EXPECT_EQ(item->stub().project_field(), "");
  EXPECT_EQ(item->stub().category(), "");
  EXPECT_EQ(item->stub().status(), "unknown");
}

TEST(ParseStub, BrokenJson) {
  auto item = Parse("coderef/stubs/idea/stub.json", R"({"description": "d", )");
  ASSERT_TRUE(item);
  EXPECT_EQ(item->kind(), v1::KIND_STUB);
  EXPECT_FALSE(item->valid());
  EXPECT_NE(item->parse_error().find("column"), std::string::npos) << item->parse_error();
  EXPECT_EQ(item->feature_name(), "idea");
  ASSERT_TRUE(item->has_stub());
  EXPECT_EQ(item->stub().description(), "");
}

// --- communication.json ----------------------------------------------------

TEST(ParseHandoff, WithHandoff) {
  auto item = Parse("coderef/working/auth/communication.json", R"({
    "handoff": {"workorder_id": "WO-AUTH-001", "feature_name": "auth-flow",
                "type": "implementation", "status": "pending",
                "initiated_at": "2026-11-25T10:00:00Z", "from": "planner", "to": "coder"},
    "project": "noted"})");
  ASSERT_TRUE(item);
  EXPECT_EQ(item->kind(), v1::KIND_WORKORDER);
  EXPECT_TRUE(item->valid());
  EXPECT_EQ(item->key(), "coderef/working/auth/communication.json");
  EXPECT_EQ(item->feature_name(), "auth-flow");
  EXPECT_EQ(item->location(), "working");
  ASSERT_TRUE(item->has_workorder());
  const auto& w = item->workorder();
  EXPECT_EQ(w.source(), "handoff");
  EXPECT_EQ(w.workorder_id(), "WO-AUTH-001");
  EXPECT_EQ(w.status(), "pending");
  EXPECT_EQ(w.handoff_type(), "implementation");
  EXPECT_EQ(w.handoff_from(), "planner");
  EXPECT_EQ(w.handoff_to(), "coder");
  EXPECT_EQ(w.initiated_at(), "2026-11-25T10:00:00Z");
  EXPECT_EQ(w.project_field(), "noted");
  EXPECT_FALSE(w.has_timestamp());
}

TEST(ParseHandoff, MinimalHandoffFallsBack) {
  auto item = Parse("coderef/archived/auth/communication.json", R"({"handoff": {}})");
  ASSERT_TRUE(item);
  EXPECT_TRUE(item->valid());
  EXPECT_EQ(item->feature_name(), "auth");
  EXPECT_EQ(item->location(), "archived");
  EXPECT_EQ(item->workorder().source(), "handoff");
  EXPECT_EQ(item->workorder().status(), "unknown");
  EXPECT_EQ(item->workorder().workorder_id(), "");
}

TEST(ParseHandoff, WithoutHandoffIsNotAWorkorder) {
  EXPECT_FALSE(Parse("coderef/working/auth/communication.json", R"({"messages": []})"));
  EXPECT_FALSE(Parse("coderef/working/auth/communication.json", R"({"handoff": null})"));
  EXPECT_FALSE(Parse("coderef/working/auth/communication.json", R"({"handoff": "soon"})"));
  EXPECT_FALSE(Parse("coderef/working/auth/communication.json", "{}"));
}

TEST(ParseHandoff, BrokenJsonIsStillAnItem) {
  auto item = Parse("coderef/working/auth/communication.json", R"({"handoff": {"status": )");
  ASSERT_TRUE(item);
  EXPECT_EQ(item->kind(), v1::KIND_WORKORDER);
  EXPECT_FALSE(item->valid());
  EXPECT_FALSE(item->parse_error().empty());
  EXPECT_EQ(item->feature_name(), "auth");
  EXPECT_EQ(item->workorder().source(), "handoff");
  EXPECT_EQ(item->workorder().status(), "unknown");
}

TEST(ParseHandoff, NonObjectIsReportedNotDropped) {
  auto item = Parse("coderef/working/auth/communication.json", "[]");
  ASSERT_TRUE(item);
  EXPECT_FALSE(item->valid());
  EXPECT_EQ(item->parse_error(), "expected a JSON object");
  EXPECT_EQ(item->workorder().source(), "handoff");
}

TEST(ParseFileItem, ItemsSerializeAsValidProtobuf) {
  // Bad bytes anywhere must not make the protobuf unserialisable.
  auto item = Parse("coderef/working/auth/plan.json", std::string("{\"a\": \"\xff\xfe\"}"));
  ASSERT_TRUE(item);
  std::string wire;
  ASSERT_TRUE(item->SerializeToString(&wire));
  v1::Item back;
  ASSERT_TRUE(back.ParseFromString(wire));
  EXPECT_EQ(back.parse_error(), item->parse_error());
}

}  // namespace
}  // namespace coderef::watcher
