// Test helpers for black-box tests: start a real binary, wait for a
// condition with a timeout (never a bare sleep), read its logs, kill it by
// PID. Not thread-safe.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

namespace coderef::testsupport {

// Polls `pred` every 10 ms until it is true or `timeout_ms` pass.
bool WaitFor(const std::function<bool()>& pred, int timeout_ms);

std::string ReadFile(const std::string& path);
bool WriteFile(const std::string& path, const std::string& text);
// A fresh directory under $TMPDIR (or /tmp).
std::string MakeTempDir(const std::string& prefix);
void RemoveTree(const std::string& path);

class Subprocess {
 public:
  Subprocess() = default;
  ~Subprocess() { Kill(); }
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  // Starts argv[0] with the given arguments and extra environment
  // ("NAME=value"); stdout and stderr go to `log_path`.
  bool Start(const std::vector<std::string>& argv, const std::vector<std::string>& env,
             const std::string& log_path);
  pid_t pid() const { return pid_; }
  const std::string& log_path() const { return log_path_; }
  std::string Log() const { return ReadFile(log_path_); }
  // True while the process has not exited (reaps it when it has).
  bool Running();
  void Signal(int sig);
  // Waits for exit; true with *status (exit code, or 128+signal) when it
  // exits within the timeout.
  bool WaitExit(int timeout_ms, int* status);
  // SIGKILL and reap (no-op when not running).
  void Kill();
  // User+system CPU time in clock ticks (/proc/<pid>/stat), -1 if gone.
  long CpuTicks() const;

 private:
  pid_t pid_ = -1;
  bool exited_ = false;
  int status_ = 0;
  std::string log_path_;
};

}  // namespace coderef::testsupport
