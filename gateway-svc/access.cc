#include "gateway-svc/access.h"

#include <cctype>

#include "common/text.h"

namespace coderef::gateway {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

struct Authority {
  std::string scheme;  // "" when not given
  std::string host;    // lower case, brackets kept for IPv6
  std::string port;    // "" when absent or default
};

// Parses "scheme://host[:port][/]" or "host[:port]".
bool ParseAuthority(std::string_view s, Authority* out) {
  s = Trim(s);
  std::string lower = Lower(s);
  std::string_view v = lower;
  auto sep = v.find("://");
  if (sep != std::string_view::npos) {
    out->scheme = std::string(v.substr(0, sep));
    v = v.substr(sep + 3);
  }
  while (!v.empty() && v.back() == '/') v.remove_suffix(1);
  if (v.empty() || v.find('/') != std::string_view::npos) return false;
  std::string_view host = v, port;
  if (v.front() == '[') {
    auto close = v.find(']');
    if (close == std::string_view::npos) return false;
    host = v.substr(0, close + 1);
    std::string_view rest = v.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      port = rest.substr(1);
    }
  } else {
    auto colon = v.rfind(':');
    if (colon != std::string_view::npos) {
      host = v.substr(0, colon);
      port = v.substr(colon + 1);
    }
  }
  if (host.empty()) return false;
  out->host = std::string(host);
  out->port = std::string(port);
  if ((out->scheme == "http" || out->scheme == "ws") && out->port == "80") out->port.clear();
  if ((out->scheme == "https" || out->scheme == "wss") && out->port == "443") out->port.clear();
  return true;
}

bool IsLoopbackHost(const std::string& host) {
  if (host == "localhost" || host == "[::1]") return true;
  if (EndsWith(host, ".localhost")) return true;
  if (StartsWith(host, "127.")) {
    for (char c : host)
      if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '.')) return false;
    return true;
  }
  return false;
}

}  // namespace

bool OriginAllowed(std::string_view origin, std::string_view host_header,
                   const std::vector<std::string>& allowed) {
  if (Trim(origin).empty()) return true;
  for (const auto& entry : allowed)
    if (Trim(entry) == "*") return true;
  Authority o;
  if (!ParseAuthority(origin, &o) || o.scheme.empty()) {
    // "null" (sandboxed frames, file://) or garbage: only an explicit entry.
    std::string lo = Lower(Trim(origin));
    for (const auto& entry : allowed)
      if (Lower(Trim(entry)) == lo) return true;
    return false;
  }
  if (IsLoopbackHost(o.host)) return true;
  Authority h;
  if (!host_header.empty() && ParseAuthority(host_header, &h)) {
    // Host has no scheme, so its default port is normalised against the
    // Origin's scheme.
    if (h.host == o.host) {
      std::string port = h.port;
      if ((o.scheme == "http" && port == "80") || (o.scheme == "https" && port == "443"))
        port.clear();
      if (port == o.port) return true;
    }
  }
  for (const auto& entry : allowed) {
    Authority a;
    if (!ParseAuthority(entry, &a)) continue;
    if (a.scheme.empty()) {
      if (a.host == o.host && (a.port.empty() || a.port == o.port)) return true;
    } else if (a.scheme == o.scheme && a.host == o.host && a.port == o.port) {
      return true;
    }
  }
  return false;
}

std::string_view CookieValue(std::string_view cookie_header, std::string_view name) {
  for (std::string_view part : Split(cookie_header, ';')) {
    part = Trim(part);
    auto eq = part.find('=');
    if (eq == std::string_view::npos) continue;
    if (Trim(part.substr(0, eq)) == name) return Trim(part.substr(eq + 1));
  }
  return {};
}

bool CookieSafe(std::string_view token) {
  if (token.empty()) return false;
  for (unsigned char c : token) {
    if (c <= 0x20 || c >= 0x7f || c == '"' || c == ',' || c == ';' || c == '\\') return false;
  }
  return true;
}

bool TokenAllowed(std::string_view expected, std::string_view authorization_header,
                  std::string_view token_header, std::string_view query_token,
                  std::string_view cookie_header) {
  if (expected.empty()) return true;
  auto equal = [&](std::string_view got) {
    if (got.size() != expected.size()) return false;
    unsigned char diff = 0;
    for (size_t i = 0; i < got.size(); ++i)
      diff |= static_cast<unsigned char>(got[i] ^ expected[i]);
    return diff == 0;
  };
  std::string_view auth = Trim(authorization_header);
  if (auth.size() > 7) {
    std::string scheme = Lower(auth.substr(0, 7));
    if (scheme == "bearer " && equal(Trim(auth.substr(7)))) return true;
  }
  if (!token_header.empty() && equal(Trim(token_header))) return true;
  if (!query_token.empty() && equal(query_token)) return true;
  if (!cookie_header.empty()) {
    std::string_view c = CookieValue(cookie_header, kTokenCookie);
    if (!c.empty() && equal(c)) return true;
  }
  return false;
}

std::vector<std::string> SplitList(const std::vector<std::string>& values) {
  std::vector<std::string> out;
  for (const auto& v : values)
    for (std::string_view part : Split(v, ','))
      if (!Trim(part).empty()) out.emplace_back(Trim(part));
  return out;
}

}  // namespace coderef::gateway
