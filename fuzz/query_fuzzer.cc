// Fuzz target: request targets and query strings (gateway-svc/query.h
// ParseTarget, topic_filter.h TopicFilter::Parse, access.h OriginAllowed /
// TokenAllowed, and rest_api.h RestApi::Handle over a populated replica and
// a dashboard folder with a secret file beside it).
// Input: byte 0 picks a path prefix (or none), byte 1 the method and token
// mode; the rest is appended as the request target; the Origin and Host
// headers are cut from the same bytes.
// Invariants: every JSON answer is a JSON object stamped with epoch and
// seq; a gateway with a token answers 401 to anyone without it; no answer
// ever holds the secret file next to the static folder (no traversal);
// decoding never reads past the input.
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "common/clock.h"
#include "common/text.h"
#include "fuzz/fuzz_util.h"
#include "gateway-svc/access.h"
#include "gateway-svc/hub.h"
#include "gateway-svc/query.h"
#include "gateway-svc/rest_api.h"
#include "gateway-svc/static_files.h"
#include "gateway-svc/topic_filter.h"

namespace cg = coderef::gateway;
namespace v1 = coderef::v1;
using coderef::fuzz::ByteReader;

namespace {

constexpr const char* kSecret = "TOPSECRET-7d1e";

v1::Item Item(v1::Kind kind, const std::string& project, const std::string& feature) {
  v1::Item it;
  it.set_kind(kind);
  it.set_project(project);
  std::string path = kind == v1::KIND_STUB ? "coderef/stubs/" + feature + "/stub.json"
                                           : "coderef/working/" + feature + "/plan.json";
  it.set_key(kind == v1::KIND_PROJECT ? project : path);
  it.set_file_path(kind == v1::KIND_PROJECT ? "" : path);
  it.set_feature_name(feature);
  it.set_location(kind == v1::KIND_STUB ? "stubs" : "working");
  it.set_valid(true);
  it.set_last_modified_ms(1'790'000'000'000);
  it.set_text("{\"x\":\"caf\xc3\xa9\"}");
  if (kind == v1::KIND_PLAN) it.mutable_plan()->set_status("in_progress");
  if (kind == v1::KIND_STUB) it.mutable_stub()->set_priority("high");
  if (kind == v1::KIND_PROJECT) it.mutable_project_info()->set_name(project + " name");
  if (kind == v1::KIND_WORKORDER) {
    it.set_key("coderef/workorder-log.txt#WO-1#00000000");
    it.set_file_path("coderef/workorder-log.txt");
    it.mutable_workorder()->set_source(feature == "log" ? "log" : "handoff");
    it.mutable_workorder()->set_workorder_id("WO-1");
  }
  return it;
}

struct World {
  coderef::FakeClock clock;
  cg::GatewayMetrics metrics;
  cg::Hub hub{cg::HubOptions{},
              [](std::string s) { return cg::WireFrame::Text(s); },
              &metrics, &clock};
  std::unique_ptr<cg::StaticFiles> files;
  std::unique_ptr<cg::RestApi> open_api, token_api;

  World() {
    std::string root = "/tmp/coderef-fuzz-static-" + std::to_string(::getpid());
    ::mkdir(root.c_str(), 0755);
    ::mkdir((root + "/www").c_str(), 0755);
    std::ofstream(root + "/www/index.html") << "<html>dashboard</html>";
    std::ofstream(root + "/secret.txt") << kSecret;
    ::symlink("../secret.txt", (root + "/www/link.txt").c_str());
    files = std::make_unique<cg::StaticFiles>(root + "/www");
    hub.OnWatcherUp("e1");
    hub.OnSnapshot("e1", 7,
                   {Item(v1::KIND_PROJECT, "noted", ""), Item(v1::KIND_PROJECT, "next", ""),
                    Item(v1::KIND_PLAN, "noted", "auth"), Item(v1::KIND_PLAN, "next", "ws"),
                    Item(v1::KIND_STUB, "noted", "idea"), Item(v1::KIND_WORKORDER, "noted", "log"),
                    Item(v1::KIND_WORKORDER, "next", "auth")},
                   cg::SnapshotCause::kInitial);
    open_api = std::make_unique<cg::RestApi>(&hub, &metrics, files.get(), &clock, "");
    token_api = std::make_unique<cg::RestApi>(&hub, &metrics, files.get(), &clock, "s3cret");
  }
};

const char* const kPrefixes[] = {
    "/orchestrator/projects?", "/orchestrator/plans?",  "/orchestrator/stubs?",
    "/orchestrator/workorders?", "/orchestrator/workorder-log?", "/orchestrator/stats?",
    "/orchestrator/file?",     "/orchestrator/ws?",     "/healthz?",
    "/readyz?",                "/",                     "/orchestrator/plans?project=noted&",
    "/orchestrator/file?project=noted&path=", "/%2e%2e/", "/metrics?", ""};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  coderef::fuzz::QuietLogs();
  static World* world = new World();
  ByteReader in(data, size);
  uint8_t pick = in.Byte();
  uint8_t mode = in.Byte();
  std::string_view origin = in.Bytes(48);
  std::string_view host = in.Bytes(24);
  std::string target = std::string(kPrefixes[pick % (sizeof kPrefixes / sizeof kPrefixes[0])]);
  target += in.Rest();

  // The pieces on their own.
  cg::RequestTarget parsed;
  if (cg::ParseTarget(target, &parsed)) {
    if (target.find_first_of("%+#") == std::string::npos) {
      FUZZ_CHECK(parsed.path == target.substr(0, target.find('?')), "path mangled: " + target);
    }
    if (auto topics = parsed.query.Get("topics")) {
      cg::TopicFilter f;
      std::string error;
      if (!cg::TopicFilter::Parse(*topics, &f, &error)) FUZZ_CHECK(!error.empty(), "no error text");
    }
  }
  bool allowed = cg::OriginAllowed(origin, host, {});
  if (allowed && !coderef::Trim(origin).empty()) {
    // Whatever it is, an allowed browser origin names a loopback host or the
    // gateway's own.
    std::string o(origin);
    for (char& c : o) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    FUZZ_CHECK(o.find("localhost") != std::string::npos || o.find("127.") != std::string::npos ||
                   o.find("[::1]") != std::string::npos || !coderef::Trim(host).empty(),
               "foreign origin allowed: " + std::string(origin));
  }
  FUZZ_CHECK(!cg::TokenAllowed("s3cret", "", "", std::string(origin)) ||
                 std::string(origin) == "s3cret",
             "a wrong token accepted");

  // The whole request.
  cg::HttpRequest req;
  req.method = (mode & 3) == 0 ? "HEAD" : (mode & 3) == 1 ? "POST" : "GET";
  req.target = target;
  bool with_token = mode & 4;
  if (with_token) req.authorization = "Bearer s3cret";
  const cg::RestApi& api = (mode & 8) ? *world->token_api : *world->open_api;
  cg::HttpResponse resp = api.Handle(req);
  FUZZ_CHECK(resp.status >= 200 && resp.status < 600, "status " + std::to_string(resp.status));
  FUZZ_CHECK(resp.body.find(kSecret) == std::string::npos, "served a file outside --static-dir: " + target);
  if ((mode & 8) && !with_token && parsed.query.Get("token").value_or("") != "s3cret" &&
      target.find("s3cret") == std::string::npos) {
    FUZZ_CHECK(resp.status == 401 || resp.status == 400, "no token, yet " + std::to_string(resp.status));
  }
  if (resp.content_type == "application/json" && req.method != "HEAD") {
    nlohmann::json j = nlohmann::json::parse(resp.body, nullptr, false);
    FUZZ_CHECK(!j.is_discarded() && j.is_object(), "not a JSON object: " + resp.body.substr(0, 200));
    FUZZ_CHECK(j.contains("epoch") && j.contains("seq"), "not stamped: " + resp.body.substr(0, 200));
  }
  return 0;
}
