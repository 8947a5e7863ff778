#include "gateway-svc/event_json.h"

#include "common/names.h"
#include "common/text.h"
#include "gateway-svc/json_writer.h"

namespace coderef::gateway {

std::string IsoFromMicros(int64_t us) { return FormatIsoMillis(us); }

namespace {

// FormatIsoMillis without snprintf and gmtime_r (which takes glibc's tz
// lock): "2026-11-25T10:00:00.123Z" for us > 0. Same output; two of these
// per event were a tenth of the gateway's ingest time.
void AppendIsoMillis(std::string* out, int64_t us) {
  int64_t ms_total = us / 1000;
  int64_t secs = ms_total / 1000;
  int ms = static_cast<int>(ms_total % 1000);
  int64_t days = secs / 86400;
  int sod = static_cast<int>(secs % 86400);
  // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
  int64_t z = days + 719468;
  int64_t era = z / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = yoe + era * 400;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  int m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  if (m <= 2) ++y;
  char buf[24];
  auto put = [&](int at, int64_t v, int width) {
    for (int i = width - 1; i >= 0; --i) {
      buf[at + i] = static_cast<char>('0' + v % 10);
      v /= 10;
    }
  };
  put(0, y, 4);
  buf[4] = '-';
  put(5, m, 2);
  buf[7] = '-';
  put(8, d, 2);
  buf[10] = 'T';
  put(11, sod / 3600, 2);
  buf[13] = ':';
  put(14, sod / 60 % 60, 2);
  buf[16] = ':';
  put(17, sod % 60, 2);
  buf[19] = '.';
  put(20, ms, 3);
  buf[23] = 'Z';
  out->append(buf, sizeof buf);
}

void WriteTime(JsonWriter& w, std::string_view key, int64_t us) {
  if (us <= 0) {
    w.Null(key);
  } else if (us >= 253402300800000000LL) {  // past year 9999: the general path
    w.Str(key, FormatIsoMillis(us));
  } else {
    std::string iso;
    iso.reserve(24);
    AppendIsoMillis(&iso, us);
    w.Str(key, iso);
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
  out.reserve(1024);  // an event with its item is ~750 bytes
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

std::string WatcherUpJson(std::string_view epoch, const WatcherRestart* restart) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject();
  w.Str("type", "watcher_up");
  w.Str("epoch", epoch);
  if (restart) {
    w.Bool("restarted", true);
    w.UInt("changes", restart->changes);
    w.UInt("caught_up_seq", restart->caught_up_seq);
  }
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
