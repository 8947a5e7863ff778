// LogTailers: the workorder logs the watcher tails, one LogTailer per log
// source (each project's coderef/workorder-log.txt, each --workorder-log),
// created on first use. A line of a global log names its project in a
// column; LogTailers resolves it against the registry it is given (by id,
// then name, then slug), which is why it is a ProjectResolver. Read failures
// and malformed lines are logged here, with the file named. Not
// thread-safe: the loop thread.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "coderef/v1/feed.pb.h"
#include "watcher-svc/file_system.h"
#include "watcher-svc/registry.h"
#include "watcher-svc/workorder_log.h"

namespace coderef::watcher {

class LogTailers final : public ProjectResolver {
 public:
  // `fs` and `projects` (the registry in force) must outlive this.
  LogTailers(FileSystem& fs, const std::vector<ProjectEntry>& projects) : fs_(fs), projects_(projects) {}
  LogTailers(const LogTailers&) = delete;
  LogTailers& operator=(const LogTailers&) = delete;

  // Brings the log `source` up to date and returns its entries (by key).
  // `file_path`: the path shown in items. `project_id`: the owner project,
  // or "" for a global log (each line's column is resolved).
  const std::map<std::string, v1::Item>& Tail(const std::string& source, const std::string& file_path,
                                              const std::string& project_id);
  // Drops the tailer of a source that is no longer a log of any project.
  void Forget(const std::string& source) { tailers_.erase(source); }

  std::string Resolve(const std::string& column) const override;

 private:
  FileSystem& fs_;
  const std::vector<ProjectEntry>& projects_;
  std::map<std::string, std::unique_ptr<LogTailer>> tailers_;
};

}  // namespace coderef::watcher
