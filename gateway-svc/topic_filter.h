// TopicFilter: which events a WebSocket client receives, from
// `?topics=plan,stub` or a {"type":"subscribe"} message. An entry is a kind
// ("plan", "stub", "workorder", "project") or "<kind>/<project id>" (one
// project's events of that kind, exact id). No entry, or "*"/"all": all.
// Control messages are never filtered. Pure value type.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "coderef/v1/feed.pb.h"

namespace coderef::gateway {

class TopicFilter {
 public:
  TopicFilter() = default;  // everything

  // Parses a comma-separated list. False (with *error) on an unknown kind.
  static bool Parse(std::string_view list, TopicFilter* out, std::string* error);
  // Same, from a list of entries.
  static bool FromList(const std::vector<std::string>& entries, TopicFilter* out,
                       std::string* error);

  bool Matches(v1::Kind kind, std::string_view project) const {
    if (kinds_ & Bit(kind)) return true;
    for (const auto& [k, p] : projects_)
      if (k == kind && p == project) return true;
    return false;
  }
  bool all() const { return kinds_ == kAll && projects_.empty(); }

 private:
  static uint32_t Bit(v1::Kind kind) { return 1u << static_cast<unsigned>(kind); }
  static constexpr uint32_t kAll = (1u << v1::KIND_PLAN) | (1u << v1::KIND_STUB) |
                                   (1u << v1::KIND_WORKORDER) | (1u << v1::KIND_PROJECT);
  bool Add(std::string_view entry, std::string* error);

  uint32_t kinds_ = kAll;
  std::vector<std::pair<v1::Kind, std::string>> projects_;
};

}  // namespace coderef::gateway
