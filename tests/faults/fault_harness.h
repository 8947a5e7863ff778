// Harness for the fault tests of the whole system: the real watcher-svc
// (on chosen or free ports, restartable on the same ones), real gateway-svc
// processes, and WebSocket clients that check, message by message, what the
// protocol promises a client (PROTOCOL section 3): hello first; events in
// seq order, without duplicates, of the epoch the stream is at; any gap
// announced by resync_required. Also "what does the disk say" and "what does
// a gateway's REST say" for the final-state checks. Header-only; one test
// thread (the helpers are not thread-safe).
#pragma once

#include <gtest/gtest.h>
#include <poll.h>

#include <nlohmann/json.hpp>
#include <set>

#include "tests/gateway/gateway_process.h"
#include "tests/watcher/watcher_harness.h"

namespace coderef::faults {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using gateway::testing::GatewayProcess;
using nlohmann::json;
using testing::Clock;
using testing::FeedProbe;
using testing::Process;
using testing::ReadFileText;
using testing::TempDir;
using testing::WaitFor;
using testing::WatcherBinary;
using testing::WriteFileText;
using testsupport::WsClient;

// A watcher-svc process. `pub`/`snapshot` may be "tcp://127.0.0.1:*" (free
// ports, read back from the start log) or fixed (a restart on the same ports).
class Watcher {
 public:
  Watcher(const std::string& projects_json, const std::string& pub = "tcp://127.0.0.1:*",
          const std::string& snapshot = "tcp://127.0.0.1:*", std::vector<std::string> extra = {},
          std::vector<std::string> env = {}) {
    std::vector<std::string> args{"--projects", projects_json, "--pub", pub, "--snapshot", snapshot,
                                  "--http", "127.0.0.1:0", "--heartbeat-ms", "100"};
    args.insert(args.end(), extra.begin(), extra.end());
    proc_ = std::make_unique<Process>(WatcherBinary(), args, env);
    if (!proc_->WaitForLog("watcher.started", 20000ms)) return;
    std::string log = proc_->Log();
    std::smatch m;
    if (std::regex_search(log, m, std::regex("pub=(tcp://[0-9.]+:[0-9]+)"))) pub_ = m[1];
    if (std::regex_search(log, m, std::regex("snapshot=(tcp://[0-9.]+:[0-9]+)"))) snapshot_ = m[1];
    if (std::regex_search(log, m, std::regex("epoch=([0-9a-f]+)"))) epoch_ = m[1];
    if (std::regex_search(log, m, std::regex("http_port=([0-9]+)"))) http_port_ = std::stoi(m[1]);
  }
  bool started() const { return !pub_.empty() && !snapshot_.empty() && !epoch_.empty(); }
  const std::string& pub() const { return pub_; }
  const std::string& snapshot() const { return snapshot_; }
  const std::string& epoch() const { return epoch_; }
  int http_port() const { return http_port_; }
  Process& proc() { return *proc_; }

 private:
  std::unique_ptr<Process> proc_;
  std::string pub_, snapshot_, epoch_;
  int http_port_ = 0;
};

// A WebSocket client that checks its stream as it reads.
class StreamClient {
 public:
  // A resuming client knows where it is; a fresh one learns it from hello.
  explicit StreamClient(std::string label = "") : label_(std::move(label)) {}

  bool Connect(int port, const std::string& target = "/orchestrator/ws", testsupport::Headers headers = {},
               int rcvbuf = 0) {
    WsClient::Options o;
    o.port = port;
    o.target = target;
    o.headers = std::move(headers);
    o.rcvbuf = rcvbuf;
    o.timeout_ms = 10000;
    ws_ = std::make_unique<WsClient>();
    got_hello_ = false;
    if (!ws_->Connect(o)) return false;
    Pump(1);  // the handshake's read may already hold the first frames
    return true;
  }
  // Connects resuming from the position this client reached (same or
  // another gateway).
  bool Resume(int port) {
    resuming_ = true;
    return Connect(port, "/orchestrator/ws?epoch=" + epoch_ + "&since=" + std::to_string(pos_));
  }

  // Reads every message available now (or within `timeout_ms` for the
  // first); returns how many were read. (WsClient::Next with a timeout of 0
  // never reads the socket, hence at least 1 ms.)
  int Pump(int timeout_ms = 0) {
    int n = 0;
    std::string msg;
    while (ws_ && !ws_->closed()) {
      auto r = ws_->Next(&msg, n == 0 ? std::max(timeout_ms, 1) : 1);
      if (r != WsClient::Result::kMessage) break;
      Check(msg);
      ++n;
    }
    return n;
  }
  // Reads until `pred` holds or the timeout passes.
  bool ReadUntil(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
    auto end = Clock::now() + timeout;
    while (!pred()) {
      if (Clock::now() >= end || !ws_ || ws_->closed()) return pred();
      Pump(20);
    }
    return true;
  }

  void Check(const std::string& text) {
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("type")) {
      Violation("not a JSON object with a type: " + text.substr(0, 200));
      return;
    }
    std::string type = j["type"];
    types_.push_back(type);
    if (!got_hello_) {
      if (type != "hello") Violation("first message is " + type);
      got_hello_ = true;
      hello_ = j;
      if (!resuming_) {
        epoch_ = j.value("epoch", "");
        pos_ = j.value("seq", uint64_t{0});
      }
      return;
    }
    if (type == "hello") return Violation("a second hello");
    if (type == "resync_required") {
      resyncs_.push_back(j.value("reason", ""));
      epoch_ = j.value("epoch", "");
      pos_ = j.value("seq", uint64_t{0});
      return;
    }
    if (type == "ping" || type == "pong" || type == "error") return;
    if (type == "watcher_down" || type == "watcher_up") {
      control_.push_back(type);
      return;
    }
    if (!j.contains("seq") || !j.contains("epoch")) return Violation("event without seq: " + text);
    uint64_t seq = j["seq"];
    std::string epoch = j["epoch"];
    if (epoch != epoch_) return Violation("event of epoch " + epoch + " on a stream at " + epoch_);
    if (seq != pos_ + 1)
      return Violation("event " + std::to_string(seq) + " after " + std::to_string(pos_) +
                       " without resync_required");
    pos_ = seq;
    seqs_.push_back(seq);
  }

  WsClient& ws() { return *ws_; }
  bool connected() const { return ws_ && !ws_->closed(); }
  const json& hello() const { return hello_; }
  const std::string& epoch() const { return epoch_; }
  uint64_t position() const { return pos_; }
  const std::vector<uint64_t>& seqs() const { return seqs_; }
  const std::vector<std::string>& types() const { return types_; }
  const std::vector<std::string>& resyncs() const { return resyncs_; }
  const std::vector<std::string>& control() const { return control_; }
  const std::string& violations() const { return violations_; }
  bool Saw(const std::string& type) const {
    return std::find(types_.begin(), types_.end(), type) != types_.end();
  }
  void ClearSeen() {
    seqs_.clear();
    types_.clear();
    resyncs_.clear();
    control_.clear();
  }

 private:
  void Violation(const std::string& what) {
    if (violations_.size() < 2000) violations_ += label_ + ": " + what + "\n";
  }
  std::string label_;
  std::unique_ptr<WsClient> ws_;
  bool resuming_ = false;
  bool got_hello_ = false;
  json hello_;
  std::string epoch_;
  uint64_t pos_ = 0;
  std::vector<uint64_t> seqs_;
  std::vector<std::string> types_, resyncs_, control_;
  std::string violations_;
};

// Waits until some client has data (poll), then pumps them all; until
// `pred` holds or the timeout passes.
inline bool PumpAllUntil(std::vector<std::unique_ptr<StreamClient>>& clients,
                         const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  auto end = Clock::now() + timeout;
  std::vector<pollfd> fds;
  for (auto& c : clients)
    if (c->connected()) c->Pump(1);
  while (!pred()) {
    if (Clock::now() >= end) return pred();
    fds.clear();
    std::vector<StreamClient*> polled;
    for (auto& c : clients) {
      if (!c->connected()) continue;
      fds.push_back(pollfd{c->ws().fd(), POLLIN, 0});
      polled.push_back(c.get());
    }
    if (fds.empty()) return pred();
    if (::poll(fds.data(), fds.size(), 20) <= 0) continue;
    // Pump drains a client completely, so one whose socket is not readable
    // holds no complete message.
    for (size_t i = 0; i < fds.size(); ++i)
      if (fds[i].revents) polled[i]->Pump(1);
  }
  return true;
}

inline std::string Plan(const std::string& feature, const std::string& status, size_t pad = 0) {
  return "{\"META_DOCUMENTATION\":{\"feature_name\":\"" + feature + "\",\"status\":\"" + status +
         "\"}" + (pad ? ",\"pad\":\"" + std::string(pad, 'p') + "\"" : "") + "}";
}

// file_path -> status of every plan.json under <root>/coderef/{working,archived}.
inline std::map<std::string, std::string> DiskPlans(const std::string& root) {
  std::map<std::string, std::string> out;
  for (const char* loc : {"working", "archived"}) {
    fs::path dir = fs::path(root) / "coderef" / loc;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) continue;
    for (const auto& f : fs::directory_iterator(dir, ec)) {
      fs::path p = f.path() / "plan.json";
      if (!fs::is_regular_file(p, ec)) continue;
      json j = json::parse(ReadFileText(p.string()), nullptr, false);
      std::string status = "unknown";
      if (j.is_object() && j.contains("META_DOCUMENTATION") && j["META_DOCUMENTATION"].is_object())
        status = j["META_DOCUMENTATION"].value("status", "unknown");
      out[std::string("coderef/") + loc + "/" + f.path().filename().string() + "/plan.json"] = status;
    }
  }
  return out;
}

// The same from a gateway's REST API (empty map with "<error>" on failure).
inline std::map<std::string, std::string> RestPlans(const GatewayProcess& g, const std::string& project) {
  std::map<std::string, std::string> out;
  int status = 0;
  json j = g.GetJson("/orchestrator/plans?project=" + project, &status);
  if (status != 200 || !j.is_object() || !j["plans"].is_array()) return {{"<error>", std::to_string(status)}};
  for (const auto& p : j["plans"]) out[p.value("file_path", "")] = p.value("status", "");
  return out;
}

inline std::string Describe(const std::map<std::string, std::string>& m) {
  std::string s = std::to_string(m.size()) + " plans";
  int n = 0;
  for (const auto& [k, v] : m) {
    if (++n > 5) break;
    s += "\n  " + k + " = " + v;
  }
  return s;
}

// Resident set size of a process in KiB (0 when gone).
inline long RssKb(pid_t pid) {
  std::string s = ReadFileText("/proc/" + std::to_string(pid) + "/status");
  auto p = s.find("VmRSS:");
  return p == std::string::npos ? 0 : std::stol(s.substr(p + 6));
}

inline int OpenFds(pid_t pid) {
  std::error_code ec;
  int n = 0;
  for (auto it = fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != fs::directory_iterator(); it.increment(ec))
    ++n;
  return n;
}

// The services' logs hold no sanitizer report (the children of a test are
// built with the same sanitizers; a report there must fail the test even
// when the child was killed afterwards).
inline void ExpectSanitizerClean(const std::string& log, const std::string& who) {
  for (const char* marker : {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                             "WARNING: ThreadSanitizer"}) {
    auto p = log.find(marker);
    EXPECT_EQ(p, std::string::npos) << who << ": " << log.substr(p == std::string::npos ? 0 : p, 3000);
  }
}

// A workspace with one project "alpha" and a registry.
class Workspace {
 public:
  Workspace() {
    fs::create_directories(dir_ / "alpha/coderef/working");
    WriteFileText(dir_ / "projects.json", R"({"projects":[{"name":"alpha","path":"alpha"}]})");
  }
  std::string projects() const { return dir_ / "projects.json"; }
  std::string root() const { return dir_ / "alpha"; }
  std::string path() const { return dir_.path(); }
  void WritePlan(const std::string& feature, const std::string& status, size_t pad = 0) {
    WriteFileText(dir_ / ("alpha/coderef/working/" + feature + "/plan.json"), Plan(feature, status, pad));
  }

 private:
  TempDir dir_;
};

}  // namespace coderef::faults
