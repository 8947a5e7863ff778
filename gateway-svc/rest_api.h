// RestApi: every plain HTTP request of the gateway (contract section 4,
// PROTOCOL section 4): the /orchestrator read API served from the replica
// (original API shapes and filters, stamped with epoch and seq), /healthz,
// /readyz, /metrics and the dashboard's static files. Returns status and
// body; the transport writes them.
// Thread-safety: none; runs on the io thread (reads the hub's replica).
#pragma once

#include <cstdint>
#include <string>

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
  HttpResponse Plans(const QueryParams& q) const;
  HttpResponse Stubs(const QueryParams& q) const;
  HttpResponse Workorders(const QueryParams& q) const;
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
