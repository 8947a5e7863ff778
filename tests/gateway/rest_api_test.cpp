#include "gateway-svc/rest_api.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/gateway/test_items.h"

namespace coderef::gateway {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

class RestApiTest : public ::testing::Test {
 protected:
  RestApiTest()
      : hub_(HubOptions{}, [](std::string s) { return WireFrame::Text(s); },
             &metrics_, &clock_),
        static_files_(""),
        api_(&hub_, &metrics_, &static_files_, &clock_, "") {
    v1::Item old_plan = testing::PlanItem("noted", "legacy", "complete", "archived");
    old_plan.set_last_modified_ms(clock_.UnixMicros() / 1000 - 40LL * 86'400'000);
    v1::Item fresh_plan = testing::PlanItem("noted", "auth", "in_progress", "working");
    fresh_plan.set_last_modified_ms(clock_.UnixMicros() / 1000 - 1LL * 86'400'000);
    hub_.OnSnapshot(
        "E", 57,
        {testing::ProjectItem("noted", "Noted App"), testing::ProjectItem("next", "next"),
         fresh_plan, old_plan, testing::PlanItem("next", "ws", "planning"),
         testing::StubItem("noted", "idea", "high", "feature"),
         testing::StubItem("next", "idea2", "low", "bug"), testing::HandoffItem("noted", "auth"),
         testing::LogItem("noted", "WO-A", 1, "2026-11-20T10:00:00Z"),
         testing::LogItem("noted", "WO-B", 2, "2026-11-21T10:00:00Z"),
         testing::LogItem("noted", "WO-C", 3, nullptr)},
        SnapshotCause::kInitial);
  }

  json Get(const std::string& target, int want_status = 200) {
    HttpRequest req;
    req.target = target;
    HttpResponse resp = api_.Handle(req);
    EXPECT_EQ(resp.status, want_status) << target << ": " << resp.body;
    json j = json::parse(resp.body, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << resp.body;
    if (resp.content_type == "application/json") {
      EXPECT_EQ(j["epoch"], "E") << target;
      EXPECT_EQ(j["seq"], 57) << target;
    }
    return j;
  }

  FakeClock clock_;
  GatewayMetrics metrics_;
  Hub hub_;
  StaticFiles static_files_;
  RestApi api_;
};

TEST_F(RestApiTest, ProjectsWithCounts) {
  json j = Get("/orchestrator/projects");
  ASSERT_EQ(j["projects"].size(), 2u);
  json noted;
  for (const auto& p : j["projects"])
    if (p["id"] == "noted") noted = p;
  EXPECT_EQ(noted["name"], "Noted App");
  EXPECT_EQ(noted["path"], "/srv/projects/noted");
  EXPECT_EQ(noted["exists"], true);
  EXPECT_EQ(noted["plans"], 2);
  EXPECT_EQ(noted["stubs"], 1);
  EXPECT_EQ(noted["workorders"], 1);
  EXPECT_EQ(noted["workorder_log_entries"], 3);
}

TEST_F(RestApiTest, PlansAndFilters) {
  EXPECT_EQ(Get("/orchestrator/plans")["plans"].size(), 3u);
  json noted = Get("/orchestrator/plans?project=noted");
  ASSERT_EQ(noted["plans"].size(), 2u);
  for (const auto& p : noted["plans"]) {
    EXPECT_EQ(p["project"], "noted");
    EXPECT_EQ(p["project_name"], "Noted App");
    for (const char* k : {"feature_name", "project", "location", "status", "last_modified",
                          "workorder_id", "file_path"})
      EXPECT_TRUE(p.contains(k)) << k;
  }
  EXPECT_EQ(Get("/orchestrator/plans?project=Noted%20App")["plans"].size(), 2u)
      << "a project's name works too";
  EXPECT_EQ(Get("/orchestrator/plans?location=archived")["plans"].size(), 1u);
  EXPECT_EQ(Get("/orchestrator/plans?status=planning")["plans"][0]["feature_name"], "ws");
  json stale = Get("/orchestrator/plans?project=noted&stale=30");
  ASSERT_EQ(stale["plans"].size(), 1u);
  EXPECT_EQ(stale["plans"][0]["feature_name"], "legacy");
  Get("/orchestrator/plans?stale=soon", 400);
  json unknown = Get("/orchestrator/plans?project=ghost", 404);
  EXPECT_EQ(unknown["error"], "unknown project");
}

TEST_F(RestApiTest, StubsAndFilters) {
  EXPECT_EQ(Get("/orchestrator/stubs")["stubs"].size(), 2u);
  EXPECT_EQ(Get("/orchestrator/stubs?priority=high")["stubs"].size(), 1u);
  EXPECT_EQ(Get("/orchestrator/stubs?category=bug")["stubs"][0]["feature_name"], "idea2");
  EXPECT_EQ(Get("/orchestrator/stubs?project=next&priority=high")["stubs"].size(), 0u);
}

TEST_F(RestApiTest, WorkordersBySource) {
  json h = Get("/orchestrator/workorders");
  ASSERT_EQ(h["workorders"].size(), 1u);
  EXPECT_EQ(h["workorders"][0]["source"], "handoff");
  EXPECT_EQ(Get("/orchestrator/workorders?source=log")["workorders"].size(), 3u);
  EXPECT_EQ(Get("/orchestrator/workorders?source=all")["workorders"].size(), 4u);
  EXPECT_EQ(Get("/orchestrator/workorders?status=done")["workorders"].size(), 0u);
  Get("/orchestrator/workorders?source=nope", 400);
}

TEST_F(RestApiTest, WorkorderLogNewestFirstWithLimit) {
  json j = Get("/orchestrator/workorder-log");
  EXPECT_EQ(j["total"], 3);
  ASSERT_EQ(j["entries"].size(), 3u);
  EXPECT_EQ(j["entries"][0]["workorder_id"], "WO-B");
  EXPECT_EQ(j["entries"][1]["workorder_id"], "WO-A");
  EXPECT_EQ(j["entries"][2]["workorder_id"], "WO-C");
  EXPECT_TRUE(j["entries"][2]["timestamp"].is_null());
  json l = Get("/orchestrator/workorder-log?project=noted&limit=1");
  EXPECT_EQ(l["total"], 3);
  EXPECT_EQ(l["entries"].size(), 1u);
  Get("/orchestrator/workorder-log?limit=-1", 400);
}

TEST_F(RestApiTest, Stats) {
  json j = Get("/orchestrator/stats");
  EXPECT_EQ(j["projects"], 2);
  EXPECT_EQ(j["plans"], 3);
  EXPECT_EQ(j["stubs"], 2);
  EXPECT_EQ(j["workorders"], 1);
  EXPECT_EQ(j["workorder_log_entries"], 3);
  EXPECT_EQ(j["total_plans"], 3);
  EXPECT_EQ(j["plans_by_location"]["working"], 2);
  EXPECT_EQ(j["plans_by_location"]["archived"], 1);
  EXPECT_EQ(j["plans_by_status"]["in_progress"], 1);
  EXPECT_EQ(j["stubs_by_priority"]["high"], 1);
}

TEST_F(RestApiTest, FileText) {
  json j = Get("/orchestrator/file?project=noted&path=coderef/working/auth/plan.json");
  EXPECT_EQ(j["project"], "noted");
  EXPECT_EQ(j["text"], "{\"META_DOCUMENTATION\":{\"status\":\"in_progress\"}}");
  Get("/orchestrator/file?project=noted&path=coderef/working/nope/plan.json", 404);
  Get("/orchestrator/file?project=noted", 400);
}

TEST_F(RestApiTest, HealthReadyMetricsAndErrors) {
  EXPECT_EQ(Get("/healthz")["status"], "ok");
  json not_ready = Get("/readyz", 503);
  EXPECT_EQ(not_ready["ready"], false);
  hub_.OnWatcherUp("E");
  EXPECT_EQ(Get("/readyz")["ready"], true);
  HttpRequest m;
  m.target = "/metrics";
  HttpResponse metrics = api_.Handle(m);
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.content_type.find("text/plain"), std::string::npos);
  for (const char* name :
       {"coderef_gateway_clients", "coderef_gateway_events_in_total",
        "coderef_gateway_events_out_total", "coderef_gateway_resyncs_total{reason=\"overflow\"}",
        "coderef_gateway_feed_gaps_total", "coderef_gateway_stuck_client_disconnects_total",
        "coderef_gateway_dropped_clients_total", "coderef_gateway_feed_lag_ms",
        "coderef_gateway_replica_items 11", "coderef_gateway_watcher_up 1"})
    EXPECT_NE(metrics.body.find(name), std::string::npos) << name;
  EXPECT_EQ(Get("/orchestrator/nope", 404)["error"], "not found");
  Get("/nope.html", 404);
  HttpRequest post;
  post.method = "POST";
  post.target = "/orchestrator/plans";
  EXPECT_EQ(api_.Handle(post).status, 405);
}

TEST_F(RestApiTest, TokenRequiredOnEveryRequest) {
  RestApi guarded(&hub_, &metrics_, &static_files_, &clock_, "s3cret");
  HttpRequest req;
  req.target = "/orchestrator/projects";
  HttpResponse r = guarded.Handle(req);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(json::parse(r.body)["error"], "unauthorized");
  req.target = "/healthz";
  EXPECT_EQ(guarded.Handle(req).status, 401);
  req.authorization = "Bearer s3cret";
  EXPECT_EQ(guarded.Handle(req).status, 200);
  req.authorization = "";
  req.target = "/orchestrator/projects?token=s3cret";
  EXPECT_EQ(guarded.Handle(req).status, 200);
}

TEST_F(RestApiTest, DashboardOpenedWithTokenSetsACookieTheAssetsUse) {
  fs::path root = fs::temp_directory_path() / ("gw_cookie_" + std::to_string(::getpid()));
  fs::create_directories(root / "assets");
  std::ofstream(root / "index.html") << "<h1>dash</h1>";
  std::ofstream(root / "assets" / "app.js") << "1";
  StaticFiles files(root.string());
  RestApi guarded(&hub_, &metrics_, &files, &clock_, "s3cret");
  HttpRequest req;
  req.target = "/assets/app.js";
  EXPECT_EQ(guarded.Handle(req).status, 401);
  req.target = "/?token=s3cret";
  HttpResponse page = guarded.Handle(req);
  ASSERT_EQ(page.status, 200);
  std::string cookie;
  for (const auto& [k, v] : page.headers)
    if (k == "Set-Cookie") cookie = v;
  EXPECT_EQ(cookie.rfind("coderef_token=s3cret;", 0), 0u) << cookie;
  EXPECT_NE(cookie.find("HttpOnly"), std::string::npos);
  req.target = "/assets/app.js";
  req.cookie = "coderef_token=s3cret";
  EXPECT_EQ(guarded.Handle(req).status, 200);
  req.target = "/orchestrator/plans";
  EXPECT_EQ(guarded.Handle(req).status, 200);
  req.cookie = "coderef_token=wrong";
  EXPECT_EQ(guarded.Handle(req).status, 401);
  fs::remove_all(root);
}

class StaticFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("gw_static_" + std::to_string(::getpid()));
    fs::create_directories(root_ / "site" / "assets");
    Write(root_ / "site" / "index.html", "<h1>dash</h1>");
    Write(root_ / "site" / "assets" / "app.js", "console.log(1)");
    Write(root_ / "site" / "assets" / "style.css", "body{}");
    Write(root_ / "secret.txt", "top secret");
    fs::create_symlink(root_ / "secret.txt", root_ / "site" / "link.txt");
  }
  void TearDown() override { fs::remove_all(root_); }
  static void Write(const fs::path& p, const std::string& s) { std::ofstream(p) << s; }
  fs::path root_;
};

TEST_F(StaticFilesTest, ServesFilesWithContentTypes) {
  StaticFiles files((root_ / "site").string());
  bool found = false;
  HttpResponse r = files.Serve("/", &found);
  ASSERT_TRUE(found);
  EXPECT_EQ(r.body, "<h1>dash</h1>");
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  r = files.Serve("/assets/app.js", &found);
  ASSERT_TRUE(found);
  EXPECT_EQ(r.content_type, "text/javascript; charset=utf-8");
  r = files.Serve("/assets/style.css", &found);
  EXPECT_EQ(r.content_type, "text/css; charset=utf-8");
  files.Serve("/assets/missing.js", &found);
  EXPECT_FALSE(found);
}

TEST_F(StaticFilesTest, NoPathTraversal) {
  StaticFiles files((root_ / "site").string());
  bool found = true;
  for (const char* p : {"/../secret.txt", "/assets/../../secret.txt", "/link.txt",
                        "/..%2fsecret.txt", "/assets\\..\\..\\secret.txt"}) {
    files.Serve(p, &found);
    EXPECT_FALSE(found) << p;
  }
}

}  // namespace
}  // namespace coderef::gateway
