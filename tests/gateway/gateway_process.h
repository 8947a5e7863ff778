// Test helpers around the real gateway-svc binary: start it on a free port
// (read back from --port-file), query it, read its metrics; plus JSON
// helpers for WebSocket clients. Header-only, for integration and e2e tests.
#pragma once

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/process.h"
#include "tests/support/ws_client.h"

namespace coderef::gateway::testing {

using nlohmann::json;
using testsupport::HttpResult;
using testsupport::Subprocess;
using testsupport::WaitFor;
using testsupport::WsClient;

inline std::string GatewayBinary() { return std::string(CODEREF_BINARY_DIR) + "/gateway-svc/gateway-svc"; }

class GatewayProcess {
 public:
  // Starts gateway-svc with --feed/--snapshot, --listen 127.0.0.1:0 and the
  // extra flags; waits for the port file. `dir` holds the log and port file.
  bool Start(const std::string& feed, const std::string& snapshot, const std::string& dir,
             const std::string& name, std::vector<std::string> extra = {},
             std::vector<std::string> env = {}) {
    port_file_ = dir + "/" + name + ".port";
    std::vector<std::string> argv = {GatewayBinary(),
                                     "--feed", feed,
                                     "--snapshot", snapshot,
                                     "--listen", "127.0.0.1:0",
                                     "--port-file", port_file_,
                                     "--gateway-id", name};
    argv.insert(argv.end(), extra.begin(), extra.end());
    if (!proc_.Start(argv, env, dir + "/" + name + ".log")) return false;
    bool ok = WaitFor([&] { return !testsupport::ReadFile(port_file_).empty() || !proc_.Running(); },
                      20000);
    if (!ok || !proc_.Running()) return false;
    port_ = std::stoi(testsupport::ReadFile(port_file_));
    return port_ > 0;
  }

  int port() const { return port_; }
  Subprocess& proc() { return proc_; }
  std::string Log() const { return proc_.Log(); }

  HttpResult Get(const std::string& target, testsupport::Headers headers = {}) const {
    if (!token_.empty()) headers.emplace_back("Authorization", "Bearer " + token_);
    return testsupport::HttpGet(port_, target, headers);
  }
  // Sent with every Get() (for a gateway started with --token).
  void set_token(std::string token) { token_ = std::move(token); }
  json GetJson(const std::string& target, int* status = nullptr) const {
    HttpResult r = Get(target);
    if (status) *status = r.status;
    json j = json::parse(r.body, nullptr, false);
    return j;
  }
  bool WaitReady(int timeout_ms = 10000) const {
    return WaitFor([&] { return Get("/readyz").status == 200; }, timeout_ms);
  }
  // The value of an unlabeled (or exactly labeled) metric line; -1 if absent.
  double Metric(const std::string& name) const {
    std::string body = Get("/metrics").body;
    size_t pos = 0;
    while ((pos = body.find(name + " ", pos)) != std::string::npos) {
      if (pos == 0 || body[pos - 1] == '\n') return std::stod(body.substr(pos + name.size() + 1));
      pos += name.size();
    }
    return -1;
  }

  WsClient::Options WsOptions(const std::string& target = "/orchestrator/ws") const {
    WsClient::Options o;
    o.port = port_;
    o.target = target;
    return o;
  }

 private:
  Subprocess proc_;
  std::string port_file_;
  std::string token_;
  int port_ = 0;
};

// The next message as JSON (null on timeout or close).
inline json NextJson(WsClient& c, int timeout_ms = 5000) {
  std::string msg;
  if (c.Next(&msg, timeout_ms) != WsClient::Result::kMessage) return json();
  json j = json::parse(msg, nullptr, false);
  return j.is_discarded() ? json() : j;
}

// Skips pings; the next other message.
inline json NextNonPing(WsClient& c, int timeout_ms = 5000) {
  for (;;) {
    json j = NextJson(c, timeout_ms);
    if (j.is_null() || j.value("type", "") != "ping") return j;
  }
}

inline bool IsEvent(const json& j) {
  if (!j.is_object() || !j.contains("seq") || !j.contains("type")) return false;
  std::string t = j["type"];
  return t != "hello" && t != "resync_required";
}

// Reads events until one with seq >= `seq` (or timeout); returns all event
// seqs seen, in order. Control messages are returned in *others.
inline std::vector<uint64_t> ReadEventsUntil(WsClient& c, uint64_t seq, int timeout_ms = 10000,
                                             std::vector<json>* others = nullptr) {
  std::vector<uint64_t> seqs;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    deadline - std::chrono::steady_clock::now())
                                    .count());
    json j = NextJson(c, std::max(left, 1));
    if (j.is_null()) break;
    if (IsEvent(j)) {
      seqs.push_back(j["seq"].get<uint64_t>());
      if (seqs.back() >= seq) break;
    } else if (others && j.value("type", "") != "ping") {
      others->push_back(j);
    }
  }
  return seqs;
}

// Reads until a message of `type` arrives (null on timeout); events seen on
// the way are appended to *events.
inline json WaitForType(WsClient& c, const std::string& type, int timeout_ms = 5000,
                        std::vector<uint64_t>* events = nullptr) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    deadline - std::chrono::steady_clock::now())
                                    .count());
    json j = NextJson(c, std::max(left, 1));
    if (j.is_null()) break;
    if (j.value("type", "") == type) return j;
    if (events && IsEvent(j)) events->push_back(j["seq"].get<uint64_t>());
  }
  return json();
}

inline std::vector<uint64_t> Range(uint64_t from, uint64_t to) {
  std::vector<uint64_t> v;
  for (uint64_t s = from; s <= to; ++s) v.push_back(s);
  return v;
}

}  // namespace coderef::gateway::testing
