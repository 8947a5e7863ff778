// End-to-end test parts: the real watcher-svc, with its endpoints read back
// from the "watcher.started" log line (it binds tcp://127.0.0.1:* unless told
// which endpoints to reuse, e.g. when it is restarted), and ServicesE2E, a
// fixture with a temp workspace (project "noted"), one watcher and any
// number of gateways, whose logs are printed when a test fails.
// Header-only.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "tests/gateway/gateway_process.h"
#include "tests/support/process.h"

namespace coderef::gateway::testing {

inline std::string WatcherBinary() { return std::string(CODEREF_BINARY_DIR) + "/watcher-svc/watcher-svc"; }

class WatcherProcess {
 public:
  // `extra`: more flags (e.g. --state-dir).
  bool Start(const std::string& projects, const std::string& log, const std::string& pub = "tcp://127.0.0.1:*",
             const std::string& snapshot = "tcp://127.0.0.1:*", std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {WatcherBinary(), "--projects", projects, "--pub", pub,
                                     "--snapshot", snapshot, "--http", "127.0.0.1:0",
                                     "--settle-ms", "30", "--debounce-ms", "200",
                                     "--heartbeat-ms", "100"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    pub_.clear();
    snapshot_.clear();
    if (!proc_.Start(argv, {}, log)) return false;
    std::smatch m;
    static const std::regex kStarted(R"(watcher\.started.*pub=(tcp://[0-9.]+:[0-9]+).*snapshot=(tcp://[0-9.]+:[0-9]+))");
    bool ok = testsupport::WaitFor([&] {
      std::string text = proc_.Log();
      if (std::regex_search(text, m, kStarted)) {
        pub_ = m[1];
        snapshot_ = m[2];
        return true;
      }
      return !proc_.Running();
    }, 20000);
    return ok && proc_.Running() && !pub_.empty();
  }
  const std::string& pub() const { return pub_; }
  const std::string& snapshot() const { return snapshot_; }
  testsupport::Subprocess& proc() { return proc_; }

 private:
  testsupport::Subprocess proc_;
  std::string pub_, snapshot_;
};

class ServicesE2E : public ::testing::Test {
 protected:
  // Files to create before the watcher starts (the project folder exists).
  virtual void Prepare() {}
  // Extra watcher flags.
  virtual std::vector<std::string> WatcherArgs() { return {}; }

  void SetUp() override {
    namespace fs = std::filesystem;
    if (!fs::exists(WatcherBinary())) GTEST_SKIP() << "watcher-svc not built: " << WatcherBinary();
    dir_ = testsupport::MakeTempDir("gateway_e2e_");
    ASSERT_FALSE(dir_.empty());
    project_ = dir_ + "/noted";
    fs::create_directories(project_ + "/coderef/working");
    testsupport::WriteFile(dir_ + "/projects.json",
                           R"({"projects":[{"name":"Noted","path":"noted","id":"noted"}]})");
    Prepare();
    ASSERT_TRUE(watcher_.Start(dir_ + "/projects.json", dir_ + "/watcher.log", "tcp://127.0.0.1:*",
                               "tcp://127.0.0.1:*", WatcherArgs()))
        << testsupport::ReadFile(dir_ + "/watcher.log");
  }
  void TearDown() override {
    for (auto& g : gateways_) g->proc().Kill();
    watcher_.proc().Kill();
    if (HasFailure()) {
      std::fprintf(stderr, "---- watcher log ----\n%s\n", watcher_.proc().Log().c_str());
      for (auto& g : gateways_) std::fprintf(stderr, "---- gateway log ----\n%s\n", g->Log().c_str());
    }
    testsupport::RemoveTree(dir_);
  }

  GatewayProcess& StartGateway(std::vector<std::string> extra = {}) {
    auto g = std::make_unique<GatewayProcess>();
    std::string name = "gw" + std::to_string(gateways_.size() + 1);
    extra.insert(extra.begin(), {"--watcher-timeout-ms", "1000"});
    EXPECT_TRUE(g->Start(watcher_.pub(), watcher_.snapshot(), dir_, name, extra)) << g->Log();
    EXPECT_TRUE(g->WaitReady(10000)) << g->Log();
    gateways_.push_back(std::move(g));
    return *gateways_.back();
  }

  // Creates (or rewrites) coderef/<location>/<feature>/plan.json.
  void WritePlan(const std::string& feature, const std::string& status,
                 const std::string& location = "working") {
    std::string folder = project_ + "/coderef/" + location + "/" + feature;
    std::filesystem::create_directories(folder);
    std::string path = folder + "/plan.json";
    std::string tmp = path + ".tmp";
    testsupport::WriteFile(tmp, R"({"META_DOCUMENTATION":{"feature_name":")" + feature + R"(","status":")" +
                                    status + R"("}})");
    std::filesystem::rename(tmp, path);  // an editor's atomic save
  }

  std::string dir_, project_;
  WatcherProcess watcher_;
  std::vector<std::unique_ptr<GatewayProcess>> gateways_;
};

}  // namespace coderef::gateway::testing
