#include "gateway-svc/static_files.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "common/text.h"

namespace coderef::gateway {
namespace {

constexpr size_t kMaxStaticFileBytes = 64u << 20;

const char kBuiltinIndex[] =
    "<!doctype html><html><head><meta charset=\"utf-8\"><title>coderef-live gateway</title>"
    "</head><body><h1>coderef-live gateway</h1><p>No dashboard installed (--static-dir). "
    "API: <a href=\"/orchestrator/projects\">/orchestrator/projects</a>, "
    "<a href=\"/orchestrator/stats\">/orchestrator/stats</a>, "
    "WebSocket at /orchestrator/ws.</p></body></html>\n";

std::string RealPath(const std::string& p) {
  char buf[PATH_MAX];
  if (!::realpath(p.c_str(), buf)) return "";
  return buf;
}

}  // namespace

StaticFiles::StaticFiles(std::string dir) : dir_(std::move(dir)) {
  if (!dir_.empty()) real_dir_ = RealPath(dir_);
}

std::string_view StaticFiles::ContentType(std::string_view path) {
  struct Ext {
    std::string_view ext, type;
  };
  static constexpr Ext kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".htm", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},
      {".gif", "image/gif"},
      {".webp", "image/webp"},
      {".ico", "image/x-icon"},
      {".woff", "font/woff"},
      {".woff2", "font/woff2"},
      {".ttf", "font/ttf"},
      {".txt", "text/plain; charset=utf-8"},
      {".md", "text/markdown; charset=utf-8"},
      {".wasm", "application/wasm"},
      {".webmanifest", "application/manifest+json"},
  };
  for (const auto& t : kTypes)
    if (EndsWith(path, t.ext)) return t.type;
  return "application/octet-stream";
}

HttpResponse StaticFiles::Serve(std::string_view path, bool* found) const {
  *found = false;
  HttpResponse resp;
  if (dir_.empty()) {
    if (path == "/" || path == "/index.html") {
      *found = true;
      resp.content_type = "text/html; charset=utf-8";
      resp.body = kBuiltinIndex;
    }
    return resp;
  }
  if (real_dir_.empty() || path.empty() || path.front() != '/') return resp;
  // Refuse anything that could step outside: "..", NUL, backslashes.
  if (path.find('\0') != std::string_view::npos || path.find('\\') != std::string_view::npos)
    return resp;
  for (std::string_view seg : Split(path.substr(1), '/'))
    if (seg == "..") return resp;
  std::string candidate = real_dir_ + std::string(path);
  std::string real = RealPath(candidate);
  if (real.empty()) return resp;
  if (real != real_dir_ && !StartsWith(real, real_dir_ + "/")) return resp;  // symlink escape
  struct stat st;
  if (::stat(real.c_str(), &st) != 0) return resp;
  if (S_ISDIR(st.st_mode)) {
    real += "/index.html";
    std::string again = RealPath(real);
    if (again.empty() || !StartsWith(again, real_dir_ + "/")) return resp;
    real = again;
    if (::stat(real.c_str(), &st) != 0) return resp;
  }
  if (!S_ISREG(st.st_mode) || static_cast<size_t>(st.st_size) > kMaxStaticFileBytes) return resp;
  std::ifstream in(real, std::ios::binary);
  if (!in) return resp;
  std::ostringstream ss;
  ss << in.rdbuf();
  *found = true;
  resp.content_type = std::string(ContentType(real));
  resp.body = ss.str();
  resp.headers.emplace_back("Cache-Control", EndsWith(real, ".html") ? "no-cache" : "max-age=300");
  resp.headers.emplace_back("X-Content-Type-Options", "nosniff");
  return resp;
}

}  // namespace coderef::gateway
