// Builders for feed items and events in gateway tests.
#pragma once

#include <cstdint>
#include <string>

#include "coderef/v1/feed.pb.h"
#include "common/names.h"

namespace coderef::gateway::testing {

inline v1::Item PlanItem(const std::string& project, const std::string& feature,
                         const std::string& status = "in_progress",
                         const std::string& location = "working") {
  v1::Item item;
  item.set_kind(v1::KIND_PLAN);
  item.set_project(project);
  std::string path = "coderef/" + location + "/" + feature + "/plan.json";
  item.set_key(path);
  item.set_file_path(path);
  item.set_feature_name(feature);
  item.set_location(location);
  item.set_last_modified_ms(1'795'000'000'123);
  item.set_valid(true);
  item.set_size_bytes(812);
  item.set_text("{\"META_DOCUMENTATION\":{\"status\":\"" + status + "\"}}");
  item.mutable_plan()->set_status(status);
  item.mutable_plan()->set_workorder_id("WO-" + feature + "-001");
  return item;
}

inline v1::Item StubItem(const std::string& project, const std::string& feature,
                         const std::string& priority = "high",
                         const std::string& category = "feature") {
  v1::Item item;
  item.set_kind(v1::KIND_STUB);
  item.set_project(project);
  std::string path = "coderef/stubs/" + feature + "/stub.json";
  item.set_key(path);
  item.set_file_path(path);
  item.set_feature_name(feature);
  item.set_location("stubs");
  item.set_last_modified_ms(1'795'000'000'000);
  item.set_valid(true);
  auto* d = item.mutable_stub();
  d->set_description("desc of " + feature);
  d->set_category(category);
  d->set_priority(priority);
  d->set_created("2026-11-01");
  d->set_status("open");
  d->set_stub_id("STUB-" + feature);
  return item;
}

inline v1::Item HandoffItem(const std::string& project, const std::string& feature,
                            const std::string& status = "pending") {
  v1::Item item;
  item.set_kind(v1::KIND_WORKORDER);
  item.set_project(project);
  std::string path = "coderef/working/" + feature + "/communication.json";
  item.set_key(path);
  item.set_file_path(path);
  item.set_feature_name(feature);
  item.set_location("working");
  item.set_valid(true);
  auto* d = item.mutable_workorder();
  d->set_source("handoff");
  d->set_workorder_id("WO-" + feature);
  d->set_status(status);
  d->set_handoff_type("implementation");
  d->set_handoff_from("lead");
  d->set_handoff_to("agent");
  d->set_initiated_at("2026-11-20T10:00:00Z");
  return item;
}

inline v1::Item LogItem(const std::string& project, const std::string& wo, int line,
                        const char* timestamp) {
  v1::Item item;
  item.set_kind(v1::KIND_WORKORDER);
  item.set_project(project);
  item.set_key("coderef/workorder-log.txt#" + wo + "#0000000" + std::to_string(line));
  item.set_file_path("coderef/workorder-log.txt");
  item.set_valid(true);
  auto* d = item.mutable_workorder();
  d->set_source("log");
  d->set_workorder_id(wo);
  d->set_description("did " + wo);
  if (timestamp) d->set_timestamp(timestamp);
  d->set_line(wo + " | " + project + " | did " + wo + (timestamp ? std::string(" | ") + timestamp : ""));
  d->set_line_number(static_cast<uint32_t>(line));
  return item;
}

inline v1::Item ProjectItem(const std::string& id, const std::string& name) {
  v1::Item item;
  item.set_kind(v1::KIND_PROJECT);
  item.set_project(id);
  item.set_key(id);
  item.set_valid(true);
  auto* d = item.mutable_project_info();
  d->set_name(name);
  d->set_path("/srv/projects/" + id);
  d->set_exists(true);
  d->set_has_coderef(true);
  return item;
}

// An event carrying `item` (or, for a deletion, only its identity).
inline v1::ChangeEvent EventFor(const std::string& epoch, uint64_t seq, Change change,
                                const v1::Item& item) {
  v1::ChangeEvent ev;
  ev.set_epoch(epoch);
  ev.set_seq(seq);
  ev.set_type(EventTypeFor(item.kind(), change));
  ev.set_kind(item.kind());
  ev.set_project(item.project());
  ev.set_file_path(item.file_path());
  ev.set_feature_name(item.feature_name());
  ev.set_location(item.location());
  ev.set_first_change_us(1'795'000'000'123'000);
  ev.set_published_us(1'795'000'000'224'000);
  ev.set_key(item.key());
  if (change != Change::kDeleted) *ev.mutable_item() = item;
  return ev;
}

}  // namespace coderef::gateway::testing
