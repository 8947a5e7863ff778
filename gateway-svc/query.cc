#include "gateway-svc/query.h"

#include "common/text.h"

namespace coderef::gateway {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool UrlDecode(std::string_view in, bool plus_is_space, std::string* out) {
  out->clear();
  out->reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      int hi = HexValue(in[i + 1]);
      int lo = HexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out->push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out->push_back(' ');
    } else {
      out->push_back(c);
    }
  }
  return true;
}

std::optional<std::string> QueryParams::Get(std::string_view name) const {
  for (const auto& [k, v] : params_)
    if (k == name) return v;
  return std::nullopt;
}

bool ParseTarget(std::string_view target, RequestTarget* out) {
  auto hash = target.find('#');
  if (hash != std::string_view::npos) target = target.substr(0, hash);
  auto q = target.find('?');
  std::string_view path = target.substr(0, q);
  if (!UrlDecode(path, false, &out->path)) return false;
  out->query = QueryParams();
  if (q == std::string_view::npos) return true;
  for (std::string_view part : Split(target.substr(q + 1), '&')) {
    if (part.empty()) continue;
    auto eq = part.find('=');
    std::string name, value;
    if (!UrlDecode(part.substr(0, eq), true, &name)) return false;
    if (eq != std::string_view::npos && !UrlDecode(part.substr(eq + 1), true, &value)) return false;
    out->query.Add(std::move(name), std::move(value));
  }
  return true;
}

}  // namespace coderef::gateway
