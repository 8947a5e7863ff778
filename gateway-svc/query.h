// Request-target parsing: "/path?a=1&b=x%20y" into a decoded path and query
// parameters. Pure.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace coderef::gateway {

// Percent-decoding; '+' becomes a space when `plus_is_space` (query strings).
// False on a malformed escape.
bool UrlDecode(std::string_view in, bool plus_is_space, std::string* out);

class QueryParams {
 public:
  // The first value of `name`, if present.
  std::optional<std::string> Get(std::string_view name) const;
  bool Has(std::string_view name) const { return Get(name).has_value(); }
  const std::vector<std::pair<std::string, std::string>>& all() const { return params_; }
  void Add(std::string name, std::string value) {
    params_.emplace_back(std::move(name), std::move(value));
  }

 private:
  std::vector<std::pair<std::string, std::string>> params_;
};

struct RequestTarget {
  std::string path;  // percent-decoded
  QueryParams query;
};

// Splits and decodes a request target. False on malformed escapes.
bool ParseTarget(std::string_view target, RequestTarget* out);

}  // namespace coderef::gateway
