// Names shared by the feed and JSON: event-type strings ("plan_added"), kind
// strings ("plan") and topics ("plan/<project>"). Pure, thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "coderef/v1/feed.pb.h"

namespace coderef {

// "plan_added" etc.; "" for UNSPECIFIED.
std::string_view EventTypeName(v1::EventType t);
// Inverse of EventTypeName; false when unknown.
bool ParseEventType(std::string_view name, v1::EventType* out);
// "plan", "stub", "workorder", "project"; "" for UNSPECIFIED.
std::string_view KindName(v1::Kind k);
bool ParseKind(std::string_view name, v1::Kind* out);

enum class Change { kAdded, kUpdated, kDeleted };
// The event type for a change to an item of kind `k` (project deletions are
// "project_removed").
v1::EventType EventTypeFor(v1::Kind k, Change c);
// Kind of an event type.
v1::Kind KindOf(v1::EventType t);
bool IsDeletion(v1::EventType t);

// "<kind>/<project>" for events.
std::string Topic(v1::Kind k, std::string_view project);
inline constexpr std::string_view kHeartbeatTopic = "hb";

}  // namespace coderef
