// RestApi: every plain HTTP request of the gateway (PROTOCOL §3-4,
// PROTOCOL section 4): the /orchestrator read API served from the replica
// (original API shapes and filters, stamped with epoch and seq), /healthz,
// /readyz, /metrics and the dashboard's static files. Returns status and
// body; the transport writes them.
// Thread-safety: none; runs on the io thread (reads the hub's replica).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "gateway-svc/gateway_metrics.h"
#include "gateway-svc/http_types.h"
#include "gateway-svc/hub.h"
#include "gateway-svc/query.h"
#include "gateway-svc/static_files.h"

namespace coderef::gateway {

class RestApi {
 public:
  // All pointers must outlive the RestApi. `token` "" = no token required.
  RestApi(const Hub* hub, const GatewayMetrics* metrics, const StaticFiles* static_files,
          const Clock* clock, std::string token);

  HttpResponse Handle(const HttpRequest& request) const;

 private:
  HttpResponse Projects(const QueryParams& q) const;
  // Which items of a list endpoint to show, from its parameters.
  using ItemFilter = std::function<bool(const v1::Item&)>;
  // plans, stubs and workorders: the items of `kind` under `key`.
  HttpResponse List(v1::Kind kind, std::string_view key, const QueryParams& q) const;
  // The kind's own filter (plans: location, status, stale; stubs: priority,
  // category, status, location; workorders: source, status); false with a
  // 400 in *error for a bad parameter.
  bool ListFilter(v1::Kind kind, const QueryParams& q, ItemFilter* keep,
                  HttpResponse* error) const;
  HttpResponse WorkorderLog(const QueryParams& q) const;
  HttpResponse Stats() const;
  HttpResponse File(const QueryParams& q) const;
  HttpResponse Readyz() const;
  HttpResponse Error(int status, std::string_view error) const;
  // Resolves a `project` parameter (id or name) to an id; false (with a 404
  // response in *error) when nothing by that name exists at all.
  bool ResolveProject(const QueryParams& q, std::string* id, bool* given,
                      HttpResponse* error) const;
  // Appends ,"epoch":…,"seq":…} to an open object.
  void Stamp(std::string* body) const;

  const Hub* hub_;
  const GatewayMetrics* metrics_;
  const StaticFiles* static_files_;
  const Clock* clock_;
  std::string token_;
};

}  // namespace coderef::gateway
