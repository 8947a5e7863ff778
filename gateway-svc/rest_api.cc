#include "gateway-svc/rest_api.h"

#include <algorithm>
#include <cstdlib>
#include <map>

#include "common/text.h"
#include "gateway-svc/access.h"
#include "gateway-svc/event_json.h"
#include "gateway-svc/http_codec.h"
#include "gateway-svc/json_writer.h"

namespace coderef::gateway {
namespace {

// Non-negative integer parameter; false when present but malformed.
bool ParseCount(const std::optional<std::string>& v, int64_t* out) {
  if (!v || v->empty()) return true;
  int64_t n = 0;
  for (char c : *v) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + (c - '0');
    if (n > (int64_t{1} << 40)) return false;
  }
  *out = n;
  return true;
}

bool ParseDays(const std::optional<std::string>& v, double* out) {
  if (!v || v->empty()) return true;
  char* end = nullptr;
  double d = std::strtod(v->c_str(), &end);
  if (end == v->c_str() || *end != '\0' || !(d >= 0)) return false;
  *out = d;
  return true;
}

bool Matches(const std::optional<std::string>& filter, std::string_view value) {
  return !filter || filter->empty() || *filter == value;
}

void CountInto(std::map<std::string, uint64_t>* m, const std::string& key) { ++(*m)[key]; }

}  // namespace

RestApi::RestApi(const Hub* hub, const GatewayMetrics* metrics, const StaticFiles* static_files,
                 const Clock* clock, std::string token)
    : hub_(hub),
      metrics_(metrics),
      static_files_(static_files),
      clock_(clock),
      token_(std::move(token)) {}

void RestApi::Stamp(std::string* body) const {
  // body ends with '}' of the top-level object.
  body->pop_back();
  const Replica& r = hub_->replica();
  if (body->back() != '{') body->push_back(',');
  body->append("\"epoch\":\"");
  body->append(JsonEscape(r.epoch()));
  body->append("\",\"seq\":");
  body->append(std::to_string(r.seq()));
  body->push_back('}');
}

HttpResponse RestApi::Error(int status, std::string_view error) const {
  HttpResponse resp = HttpErrorResponse(status, error);
  Stamp(&resp.body);
  return resp;
}

HttpResponse RestApi::Handle(const HttpRequest& request) const {
  RequestTarget target;
  if (!ParseTarget(request.target, &target)) return Error(400, "malformed request target");
  auto query_token = target.query.Get("token");
  if (!TokenAllowed(token_, request.authorization, request.token_header,
                    query_token ? *query_token : std::string(), request.cookie)) {
    HttpResponse resp = Error(401, "unauthorized");
    resp.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"coderef-live\"");
    return resp;
  }
  if (request.method != "GET" && request.method != "HEAD") {
    HttpResponse resp = Error(405, "method not allowed");
    resp.headers.emplace_back("Allow", "GET, HEAD");
    return resp;
  }
  const std::string& p = target.path;
  const QueryParams& q = target.query;
  HttpResponse resp;
  if (p == "/orchestrator/projects") resp = Projects(q);
  else if (p == "/orchestrator/plans") resp = List(v1::KIND_PLAN, "plans", q);
  else if (p == "/orchestrator/stubs") resp = List(v1::KIND_STUB, "stubs", q);
  else if (p == "/orchestrator/workorders") resp = List(v1::KIND_WORKORDER, "workorders", q);
  else if (p == "/orchestrator/workorder-log") resp = WorkorderLog(q);
  else if (p == "/orchestrator/stats") resp = Stats();
  else if (p == "/orchestrator/file") resp = File(q);
  else if (p == "/healthz") {
    resp.body = "{\"status\":\"ok\"}";
    Stamp(&resp.body);
  } else if (p == "/readyz") {
    resp = Readyz();
  } else if (p == "/metrics") {
    resp.content_type = "text/plain; version=0.0.4; charset=utf-8";
    resp.body = metrics_->Render();
  } else if (p == "/orchestrator/ws") {
    resp = Error(426, "WebSocket upgrade required");
    resp.headers.emplace_back("Upgrade", "websocket");
  } else if (StartsWith(p, "/orchestrator/")) {
    resp = Error(404, "not found");
  } else {
    bool found = false;
    resp = static_files_->Serve(p, &found);
    if (!found) resp = Error(404, "not found");
    // The dashboard opened as /?token=T: remember the token in a cookie so
    // the page's assets, REST calls and WebSocket (same origin) carry it.
    if (found && !token_.empty() && query_token && CookieSafe(*query_token))
      resp.headers.emplace_back("Set-Cookie", std::string(kTokenCookie) + "=" + *query_token +
                                                  "; Path=/; HttpOnly; SameSite=Strict");
  }
  if (resp.content_type == "application/json")
    resp.headers.emplace_back("Cache-Control", "no-store");
  return resp;  // for HEAD too: the transport sends its headers, not its body
}

bool RestApi::ResolveProject(const QueryParams& q, std::string* id, bool* given,
                             HttpResponse* error) const {
  auto v = q.Get("project");
  *given = v && !v->empty();
  if (!*given) return true;
  const Replica& r = hub_->replica();
  const auto& projects = r.items(v1::KIND_PROJECT);
  for (const auto& [key, item] : projects) {
    if (item.project() == *v) {
      *id = *v;
      return true;
    }
  }
  for (const auto& [key, item] : projects) {
    if (item.has_project_info() && item.project_info().name() == *v) {
      *id = item.project();
      return true;
    }
  }
  // Not in the registry; items may still name it (e.g. a central workorder
  // log's project column).
  for (v1::Kind kind : {v1::KIND_PLAN, v1::KIND_STUB, v1::KIND_WORKORDER}) {
    const auto& items = r.items(kind);
    auto it = items.lower_bound(Replica::Key(*v, ""));
    if (it != items.end() && it->first.first == *v) {
      *id = *v;
      return true;
    }
  }
  *error = Error(404, "unknown project");
  return false;
}

HttpResponse RestApi::Projects(const QueryParams& q) const {
  const Replica& r = hub_->replica();
  struct Counts {
    uint64_t plans = 0, stubs = 0, workorders = 0, log = 0;
  };
  std::map<std::string, Counts> counts;
  for (const auto& [key, item] : r.items(v1::KIND_PLAN)) ++counts[item.project()].plans;
  for (const auto& [key, item] : r.items(v1::KIND_STUB)) ++counts[item.project()].stubs;
  for (const auto& [key, item] : r.items(v1::KIND_WORKORDER)) {
    if (item.has_workorder() && item.workorder().source() == "log") ++counts[item.project()].log;
    else ++counts[item.project()].workorders;
  }
  HttpResponse resp;
  JsonWriter w(&resp.body);
  w.BeginObject();
  w.Key("projects");
  w.BeginArray();
  uint64_t n = 0;
  for (const auto& [key, item] : r.items(v1::KIND_PROJECT)) {
    const Counts& c = counts[item.project()];
    w.BeginObject();
    WriteItemMembers(w, item, r.ProjectName(item.project()));
    w.UInt("plans", c.plans);
    w.UInt("stubs", c.stubs);
    w.UInt("workorders", c.workorders);
    w.UInt("workorder_log_entries", c.log);
    w.EndObject();
    ++n;
  }
  w.EndArray();
  w.UInt("total", n);
  w.EndObject();
  Stamp(&resp.body);
  return resp;
}

bool RestApi::ListFilter(v1::Kind kind, const QueryParams& q, ItemFilter* keep,
                         HttpResponse* error) const {
  auto status = q.Get("status");
  auto location = q.Get("location");
  switch (kind) {
    case v1::KIND_PLAN: {
      double stale_days = -1;
      if (!ParseDays(q.Get("stale"), &stale_days)) {
        *error = Error(400, "stale must be a number of days");
        return false;
      }
      const int64_t now_ms = clock_->UnixMicros() / 1000;
      *keep = [=](const v1::Item& item) {
        std::string_view st = item.plan().status().empty()
                                  ? std::string_view("unknown")
                                  : std::string_view(item.plan().status());
        if (!Matches(location, item.location()) || !Matches(status, st)) return false;
        if (stale_days < 0) return true;
        return static_cast<double>(now_ms - item.last_modified_ms()) / 86'400'000.0 >= stale_days;
      };
      return true;
    }
    case v1::KIND_STUB: {
      auto priority = q.Get("priority");
      auto category = q.Get("category");
      *keep = [=](const v1::Item& item) {
        const auto& d = item.stub();
        return Matches(priority, d.priority()) && Matches(category, d.category()) &&
               Matches(status, d.status()) && Matches(location, item.location());
      };
      return true;
    }
    case v1::KIND_WORKORDER: {
      std::string source = q.Get("source").value_or("handoff");
      if (source.empty()) source = "handoff";
      if (source != "handoff" && source != "log" && source != "all") {
        *error = Error(400, "source must be handoff, log or all");
        return false;
      }
      *keep = [=](const v1::Item& item) {
        return (source == "all" || item.workorder().source() == source) &&
               Matches(status, item.workorder().status());
      };
      return true;
    }
    default:
      *error = Error(404, "not found");
      return false;
  }
}

// The three list endpoints (plans, stubs, workorders): one loop over the
// replica's items of `kind`, filtered by project and the kind's parameters.
HttpResponse RestApi::List(v1::Kind kind, std::string_view key, const QueryParams& q) const {
  std::string project;
  bool has_project = false;
  HttpResponse error;
  if (!ResolveProject(q, &project, &has_project, &error)) return error;
  ItemFilter keep;
  if (!ListFilter(kind, q, &keep, &error)) return error;
  const Replica& r = hub_->replica();
  HttpResponse resp;
  JsonWriter w(&resp.body);
  w.BeginObject();
  w.Key(key);
  w.BeginArray();
  uint64_t n = 0;
  for (const auto& [k, item] : r.items(kind)) {
    if (has_project && item.project() != project) continue;
    if (!keep(item)) continue;
    w.BeginObject();
    WriteItemMembers(w, item, r.ProjectName(item.project()));
    w.EndObject();
    ++n;
  }
  w.EndArray();
  w.UInt("total", n);
  w.EndObject();
  Stamp(&resp.body);
  return resp;
}

HttpResponse RestApi::WorkorderLog(const QueryParams& q) const {
  std::string project;
  bool has_project = false;
  HttpResponse error;
  if (!ResolveProject(q, &project, &has_project, &error)) return error;
  int64_t limit = 100;
  if (!ParseCount(q.Get("limit"), &limit)) return Error(400, "limit must be a non-negative integer");
  const Replica& r = hub_->replica();
  std::vector<const v1::Item*> entries;
  for (const auto& [key, item] : r.items(v1::KIND_WORKORDER)) {
    if (!item.has_workorder() || item.workorder().source() != "log") continue;
    if (has_project && item.project() != project) continue;
    entries.push_back(&item);
  }
  // Newest first: by timestamp (ISO-like strings sort), lines without one
  // last; ties keep file order.
  std::stable_sort(entries.begin(), entries.end(), [](const v1::Item* a, const v1::Item* b) {
    const auto& wa = a->workorder();
    const auto& wb = b->workorder();
    if (wa.has_timestamp() != wb.has_timestamp()) return wa.has_timestamp();
    if (wa.has_timestamp() && wa.timestamp() != wb.timestamp()) return wa.timestamp() > wb.timestamp();
    if (a->file_path() != b->file_path()) return a->file_path() < b->file_path();
    return wa.line_number() < wb.line_number();
  });
  HttpResponse resp;
  JsonWriter w(&resp.body);
  w.BeginObject();
  w.Key("entries");
  w.BeginArray();
  for (size_t i = 0; i < entries.size() && static_cast<int64_t>(i) < limit; ++i) {
    w.BeginObject();
    WriteItemMembers(w, *entries[i], r.ProjectName(entries[i]->project()));
    w.EndObject();
  }
  w.EndArray();
  w.UInt("total", entries.size());
  w.EndObject();
  Stamp(&resp.body);
  return resp;
}

HttpResponse RestApi::Stats() const {
  const Replica& r = hub_->replica();
  std::map<std::string, uint64_t> plans_by_location, plans_by_status, stubs_by_priority,
      stubs_by_status, workorders_by_status;
  for (const auto& [key, item] : r.items(v1::KIND_PLAN)) {
    CountInto(&plans_by_location, item.location());
    CountInto(&plans_by_status, item.plan().status().empty() ? "unknown" : item.plan().status());
  }
  for (const auto& [key, item] : r.items(v1::KIND_STUB)) {
    CountInto(&stubs_by_priority, item.stub().priority());
    CountInto(&stubs_by_status, item.stub().status());
  }
  uint64_t workorders = 0, log_entries = 0;
  for (const auto& [key, item] : r.items(v1::KIND_WORKORDER)) {
    if (item.workorder().source() == "log") {
      ++log_entries;
    } else {
      ++workorders;
      CountInto(&workorders_by_status, item.workorder().status());
    }
  }
  uint64_t projects = r.items(v1::KIND_PROJECT).size();
  uint64_t plans = r.items(v1::KIND_PLAN).size();
  uint64_t stubs = r.items(v1::KIND_STUB).size();
  HttpResponse resp;
  JsonWriter w(&resp.body);
  w.BeginObject();
  w.UInt("projects", projects);
  w.UInt("plans", plans);
  w.UInt("stubs", stubs);
  w.UInt("workorders", workorders);
  w.UInt("workorder_log_entries", log_entries);
  w.UInt("total_projects", projects);
  w.UInt("total_plans", plans);
  w.UInt("total_stubs", stubs);
  w.UInt("total_workorders", workorders);
  auto counts = [&w](std::string_view key, const std::map<std::string, uint64_t>& m) {
    w.Key(key);
    w.BeginObject();
    for (const auto& [k, n] : m) {
      w.Key(JsonEscape(k));
      w.ValueUInt(n);
    }
    w.EndObject();
  };
  counts("plans_by_location", plans_by_location);
  counts("plans_by_status", plans_by_status);
  counts("stubs_by_priority", stubs_by_priority);
  counts("stubs_by_status", stubs_by_status);
  counts("workorders_by_status", workorders_by_status);
  w.Str("watcher", WatcherStateName(hub_->watcher_state()));
  w.UInt("clients", hub_->client_count());
  w.EndObject();
  Stamp(&resp.body);
  return resp;
}

HttpResponse RestApi::File(const QueryParams& q) const {
  auto project = q.Get("project");
  auto path = q.Get("path");
  if (!project || project->empty() || !path || path->empty())
    return Error(400, "project and path are required");
  std::string id;
  bool given = false;
  HttpResponse error;
  if (!ResolveProject(q, &id, &given, &error)) return error;
  const v1::Item* item = hub_->replica().FindFile(id, *path);
  if (!item) return Error(404, "file not found");
  HttpResponse resp;
  JsonWriter w(&resp.body);
  w.BeginObject();
  w.Str("project", id);
  w.Str("file_path", item->file_path());
  if (item->text_omitted()) {
    w.Null("text");
  } else {
    w.Str("text", item->text());
  }
  w.Bool("text_omitted", item->text_omitted());
  w.UInt("size_bytes", item->size_bytes());
  w.Bool("valid", item->valid());
  w.EndObject();
  Stamp(&resp.body);
  return resp;
}

HttpResponse RestApi::Readyz() const {
  HttpResponse resp;
  bool ready = hub_->ready();
  resp.status = ready ? 200 : 503;
  JsonWriter w(&resp.body);
  w.BeginObject();
  w.Bool("ready", ready);
  w.Bool("snapshot", hub_->replica().has_snapshot());
  w.Str("watcher", WatcherStateName(hub_->watcher_state()));
  if (!ready) {
    w.Str("reason", !hub_->replica().has_snapshot() ? "no snapshot yet"
                                                     : "watcher heartbeat not live");
  }
  w.UInt("clients", hub_->client_count());
  w.EndObject();
  Stamp(&resp.body);
  return resp;
}

}  // namespace coderef::gateway
