#include "common/names.h"

namespace coderef {

namespace {
struct TypeName {
  v1::EventType type;
  std::string_view name;
};
constexpr TypeName kTypeNames[] = {
    {v1::EVENT_TYPE_PLAN_ADDED, "plan_added"},
    {v1::EVENT_TYPE_PLAN_UPDATED, "plan_updated"},
    {v1::EVENT_TYPE_PLAN_DELETED, "plan_deleted"},
    {v1::EVENT_TYPE_STUB_ADDED, "stub_added"},
    {v1::EVENT_TYPE_STUB_UPDATED, "stub_updated"},
    {v1::EVENT_TYPE_STUB_DELETED, "stub_deleted"},
    {v1::EVENT_TYPE_WORKORDER_ADDED, "workorder_added"},
    {v1::EVENT_TYPE_WORKORDER_UPDATED, "workorder_updated"},
    {v1::EVENT_TYPE_WORKORDER_DELETED, "workorder_deleted"},
    {v1::EVENT_TYPE_PROJECT_ADDED, "project_added"},
    {v1::EVENT_TYPE_PROJECT_UPDATED, "project_updated"},
    {v1::EVENT_TYPE_PROJECT_REMOVED, "project_removed"},
};
}  // namespace

std::string_view EventTypeName(v1::EventType t) {
  for (const auto& tn : kTypeNames)
    if (tn.type == t) return tn.name;
  return "";
}

bool ParseEventType(std::string_view name, v1::EventType* out) {
  for (const auto& tn : kTypeNames) {
    if (tn.name == name) {
      *out = tn.type;
      return true;
    }
  }
  return false;
}

std::string_view KindName(v1::Kind k) {
  switch (k) {
    case v1::KIND_PLAN: return "plan";
    case v1::KIND_STUB: return "stub";
    case v1::KIND_WORKORDER: return "workorder";
    case v1::KIND_PROJECT: return "project";
    default: return "";
  }
}

bool ParseKind(std::string_view name, v1::Kind* out) {
  for (v1::Kind k : {v1::KIND_PLAN, v1::KIND_STUB, v1::KIND_WORKORDER, v1::KIND_PROJECT}) {
    if (KindName(k) == name) {
      *out = k;
      return true;
    }
  }
  return false;
}

v1::EventType EventTypeFor(v1::Kind k, Change c) {
  int base = 0;
  switch (k) {
    case v1::KIND_PLAN: base = v1::EVENT_TYPE_PLAN_ADDED; break;
    case v1::KIND_STUB: base = v1::EVENT_TYPE_STUB_ADDED; break;
    case v1::KIND_WORKORDER: base = v1::EVENT_TYPE_WORKORDER_ADDED; break;
    case v1::KIND_PROJECT: base = v1::EVENT_TYPE_PROJECT_ADDED; break;
    default: return v1::EVENT_TYPE_UNSPECIFIED;
  }
  return static_cast<v1::EventType>(base + static_cast<int>(c));
}

v1::Kind KindOf(v1::EventType t) {
  if (t >= v1::EVENT_TYPE_PLAN_ADDED && t <= v1::EVENT_TYPE_PLAN_DELETED) return v1::KIND_PLAN;
  if (t >= v1::EVENT_TYPE_STUB_ADDED && t <= v1::EVENT_TYPE_STUB_DELETED) return v1::KIND_STUB;
  if (t >= v1::EVENT_TYPE_WORKORDER_ADDED && t <= v1::EVENT_TYPE_WORKORDER_DELETED)
    return v1::KIND_WORKORDER;
  if (t >= v1::EVENT_TYPE_PROJECT_ADDED && t <= v1::EVENT_TYPE_PROJECT_REMOVED)
    return v1::KIND_PROJECT;
  return v1::KIND_UNSPECIFIED;
}

bool IsDeletion(v1::EventType t) {
  return t == v1::EVENT_TYPE_PLAN_DELETED || t == v1::EVENT_TYPE_STUB_DELETED ||
         t == v1::EVENT_TYPE_WORKORDER_DELETED || t == v1::EVENT_TYPE_PROJECT_REMOVED;
}

std::string Topic(v1::Kind k, std::string_view project) {
  std::string t(KindName(k));
  t += '/';
  t += project;
  return t;
}

}  // namespace coderef
