#include "gateway-svc/event_json.h"

#include "common/names.h"
#include "common/text.h"
#include "gateway-svc/json_writer.h"

namespace coderef::gateway {

std::string IsoFromMicros(int64_t us) { return FormatIsoMillis(us); }

namespace {

void WriteTime(JsonWriter& w, std::string_view key, int64_t us) {
  if (us <= 0) {
    w.Null(key);
  } else {
    w.Str(key, FormatIsoMillis(us));
  }
}

}  // namespace

void WriteItemMembers(JsonWriter& w, const v1::Item& item, std::string_view project_name) {
  w.Str("kind", KindName(item.kind()));
  w.Str("key", item.key());
  w.Str("project", item.project());
  w.Str("project_name", project_name);
  w.Str("file_path", item.file_path());
  w.Str("feature_name", item.feature_name());
  w.Str("location", item.location());
  switch (item.detail_case()) {
    case v1::Item::kPlan: {
      const auto& d = item.plan();
      w.Str("status", d.status().empty() ? std::string_view("unknown") : d.status());
      w.Str("workorder_id", d.workorder_id());
      break;
    }
    case v1::Item::kStub: {
      const auto& d = item.stub();
      w.Str("description", d.description());
      w.Str("category", d.category());
      w.Str("priority", d.priority());
      w.Str("created", d.created());
      w.Str("status", d.status());
      w.Str("stub_id", d.stub_id());
      break;
    }
    case v1::Item::kWorkorder: {
      const auto& d = item.workorder();
      w.Str("source", d.source());
      w.Str("workorder_id", d.workorder_id());
      w.Str("status", d.status());
      if (d.source() == "log") {
        w.Str("description", d.description());
        if (d.has_timestamp()) {
          w.Str("timestamp", d.timestamp());
        } else {
          w.Null("timestamp");
        }
        w.Str("line", d.line());
        w.UInt("line_number", d.line_number());
      } else {
        w.Str("type", d.handoff_type());
        w.Str("from", d.handoff_from());
        w.Str("to", d.handoff_to());
        w.Str("initiated_at", d.initiated_at());
      }
      break;
    }
    case v1::Item::kProjectInfo: {
      const auto& d = item.project_info();
      w.Str("id", item.project());
      w.Str("name", d.name());
      w.Str("path", d.path());
      w.Bool("exists", d.exists());
      w.Bool("has_coderef", d.has_coderef());
      break;
    }
    case v1::Item::DETAIL_NOT_SET:
      break;
  }
  WriteTime(w, "last_modified", item.last_modified_ms() * 1000);
  w.Bool("valid", item.valid());
  if (item.valid() || item.parse_error().empty()) {
    w.Null("parse_error");
  } else {
    w.Str("parse_error", item.parse_error());
  }
  w.UInt("size_bytes", item.size_bytes());
  w.Bool("text_omitted", item.text_omitted());
}

std::string ItemJson(const v1::Item& item, std::string_view project_name) {
  std::string out;
  out.reserve(384);
  JsonWriter w(&out);
  w.BeginObject();
  WriteItemMembers(w, item, project_name);
  w.EndObject();
  return out;
}

std::string EventJson(const v1::ChangeEvent& ev, const v1::Item* item,
                      std::string_view project_name) {
  std::string out;
  out.reserve(512);
  JsonWriter w(&out);
  w.BeginObject();
  w.Str("type", EventTypeName(ev.type()));
  w.Str("epoch", ev.epoch());
  w.UInt("seq", ev.seq());
  w.Str("kind", KindName(ev.kind() != v1::KIND_UNSPECIFIED ? ev.kind() : KindOf(ev.type())));
  w.Str("project", ev.project());
  w.Str("project_name", project_name);
  w.Str("feature_name", ev.feature_name());
  w.Str("location", ev.location());
  w.Str("file_path", ev.file_path());
  w.Str("key", !ev.key().empty() ? ev.key() : (item ? item->key() : ev.file_path()));
  WriteTime(w, "timestamp", ev.first_change_us() > 0 ? ev.first_change_us() : ev.published_us());
  WriteTime(w, "published", ev.published_us());
  if (item && !IsDeletion(ev.type())) {
    w.Key("item");
    w.BeginObject();
    WriteItemMembers(w, *item, project_name);
    w.EndObject();
  }
  w.EndObject();
  return out;
}

std::string HelloJson(std::string_view epoch, uint64_t seq, int ping_ms, uint64_t replayed,
                      std::string_view gateway_id, std::string_view watcher_state) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject();
  w.Str("type", "hello");
  w.Str("epoch", epoch);
  w.UInt("seq", seq);
  w.Int("ping_ms", ping_ms);
  w.UInt("replayed", replayed);
  w.Str("gateway", gateway_id);
  w.Str("watcher", watcher_state);
  w.EndObject();
  return out;
}

std::string ResyncJson(std::string_view reason, std::string_view epoch, uint64_t seq) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject();
  w.Str("type", "resync_required");
  w.Str("reason", reason);
  w.Str("epoch", epoch);
  w.UInt("seq", seq);
  w.EndObject();
  return out;
}

std::string PingJson(int64_t ts_ms) {
  return "{\"type\":\"ping\",\"ts\":" + std::to_string(ts_ms) + "}";
}

std::string PongJson(int64_t ts_ms) {
  return "{\"type\":\"pong\",\"ts\":" + std::to_string(ts_ms) + "}";
}

std::string WatcherDownJson() { return "{\"type\":\"watcher_down\"}"; }

std::string WatcherUpJson(std::string_view epoch) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject();
  w.Str("type", "watcher_up");
  w.Str("epoch", epoch);
  w.EndObject();
  return out;
}

std::string ErrorJson(std::string_view error) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject();
  w.Str("type", "error");
  w.Str("error", error);
  w.EndObject();
  return out;
}

}  // namespace coderef::gateway
