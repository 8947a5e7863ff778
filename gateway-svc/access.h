// Access checks for HTTP and WebSocket requests (contract section 4): the
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
// "Authorization: Bearer <token>", an "X-Coderef-Token" header or a
// "token" query parameter. Constant-time comparison.
bool TokenAllowed(std::string_view expected, std::string_view authorization_header,
                  std::string_view token_header, std::string_view query_token);

// Splits "a,b, c" (and repeated flag values) into trimmed non-empty entries.
std::vector<std::string> SplitList(const std::vector<std::string>& values);

}  // namespace coderef::gateway
