// Access checks for HTTP and WebSocket requests (PROTOCOL §3-4): the
// Origin policy and the shared token. Pure, thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace coderef::gateway {

// A WebSocket upgrade may come from: no Origin at all (not a browser), the
// gateway's own host (Origin authority == Host header), a loopback host
// (localhost, 127.0.0.0/8, [::1]) on any port, or an entry of `allowed`.
// An entry is a full origin ("https://dash.example.com:8443"), a bare host
// ("dash.example.com": any scheme and port), or "*" (anyone). Comparison is
// case-insensitive; default ports (80/443) are ignored.
bool OriginAllowed(std::string_view origin, std::string_view host_header,
                   const std::vector<std::string>& allowed);

// True when no token is configured, or the request presents it as
// "Authorization: Bearer <token>", an "X-Coderef-Token" header, a "token"
// query parameter, or the cookie kTokenCookie (set by the gateway when the
// dashboard page is opened with ?token=, so the page's own assets, REST
// calls and WebSocket carry it). Constant-time comparison.
bool TokenAllowed(std::string_view expected, std::string_view authorization_header,
                  std::string_view token_header, std::string_view query_token,
                  std::string_view cookie_header = {});

inline constexpr std::string_view kTokenCookie = "coderef_token";

// The value of cookie `name` in a Cookie header ("a=1; b=2"), or "".
std::string_view CookieValue(std::string_view cookie_header, std::string_view name);

// True when `token` can be stored in a cookie as is (RFC 6265 cookie-octets
// without quotes, commas, semicolons, backslashes or spaces).
bool CookieSafe(std::string_view token);

// Splits "a,b, c" (and repeated flag values) into trimmed non-empty entries.
std::vector<std::string> SplitList(const std::vector<std::string>& values);

}  // namespace coderef::gateway
