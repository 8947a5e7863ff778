// Translation of feed messages to the JSON the gateway serves (PROTOCOL
// sections 2 and 3): items, events, and the control messages of the
// WebSocket stream. Hand-written serialization (this runs once per event on
// the hot path); always valid JSON and UTF-8, whatever bytes the names hold.
// Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "coderef/v1/feed.pb.h"
#include "gateway-svc/feed_update.h"

namespace coderef::gateway {

class JsonWriter;

// Writes the item's members (no braces) into an open object: the REST item
// of PROTOCOL section 2. `project_name` is the project's display name
// (the registry's "name"; the id when unknown). Never includes the raw text.
void WriteItemMembers(JsonWriter& w, const v1::Item& item, std::string_view project_name);

// The REST item as a JSON object.
std::string ItemJson(const v1::Item& item, std::string_view project_name);

// The WebSocket event message: {"type":"plan_added","epoch":…,"seq":…,
// "project":…,"project_name":…,"feature_name":…,"location":…,"file_path":…,
// "key":…,"timestamp":…,"published":…,"item":{…}}. `item` is the state to
// show (normally ev.item()); nullptr (or a deletion) leaves "item" out.
std::string EventJson(const v1::ChangeEvent& ev, const v1::Item* item,
                      std::string_view project_name);

// ISO-8601 (ms) for Unix microseconds; "" -> null handled by callers.
std::string IsoFromMicros(int64_t us);

// Control messages.
std::string HelloJson(std::string_view epoch, uint64_t seq, int ping_ms, uint64_t replayed,
                      std::string_view gateway_id, std::string_view watcher_state);
std::string ResyncJson(std::string_view reason, std::string_view epoch, uint64_t seq);
std::string PingJson(int64_t ts_ms);
std::string PongJson(int64_t ts_ms);
std::string WatcherDownJson();
// {"type":"watcher_up","epoch":E}; with `restart` (a watcher that resumed
// epoch E) also "restarted":true, "changes":N, "caught_up_seq":S.
std::string WatcherUpJson(std::string_view epoch, const WatcherRestart* restart = nullptr);
std::string ErrorJson(std::string_view error);

}  // namespace coderef::gateway
