// StaticFiles: serves the dashboard from --static-dir. Only regular files
// inside the directory (after resolving symlinks and "..") are served;
// "/" and directories map to index.html; content types by extension.
// Thread-safety: immutable after construction; reads the file system.
#pragma once

#include <string>
#include <string_view>

#include "gateway-svc/http_types.h"

namespace coderef::gateway {

class StaticFiles {
 public:
  // `dir` may be empty: then only a small built-in page is served at "/".
  explicit StaticFiles(std::string dir);

  // `path` is the percent-decoded request path. Sets *found = false (and
  // returns nothing useful) when no file matches, so the caller can 404.
  HttpResponse Serve(std::string_view path, bool* found) const;

  static std::string_view ContentType(std::string_view path);

 private:
  std::string dir_;       // as given
  std::string real_dir_;  // realpath of dir_, "" when unusable
};

}  // namespace coderef::gateway
