// Small text helpers shared by both services: UTF-8 checks and escaping,
// JSON string escaping, ISO-8601 time formatting, slugs, content hashing.
// All functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace coderef {

// True when `s` is well-formed UTF-8 (no overlongs, no surrogates).
bool IsValidUtf8(std::string_view s);

// Returns `s` with every byte that is not part of valid UTF-8 replaced by
// "\xNN" (and a literal backslash doubled only in front of such sequences is
// not attempted: the result is for display and identity, not round-trips).
std::string EscapeInvalidUtf8(std::string_view s);

// Escapes for a JSON string body (quotes, backslash, control characters).
// Invalid UTF-8 bytes become U+FFFD so the output is always valid JSON.
std::string JsonEscape(std::string_view s);

// Control characters and invalid UTF-8 as \n, \xNN: safe for one log line.
std::string EscapeForDisplay(std::string_view s);

// "2026-11-25T10:00:00.123Z" from Unix microseconds.
std::string FormatIsoMillis(int64_t unix_us);

// Lower-case slug: [a-z0-9._-], other runs become '-', trimmed of '-'.
std::string Slugify(std::string_view name);

// 64-bit FNV-1a: stable across runs and hosts (used for content identity).
uint64_t Hash64(std::string_view data);

// `n` random hex characters from the OS entropy source.
std::string RandomHex(size_t n);

std::string_view Trim(std::string_view s);
std::vector<std::string_view> Split(std::string_view s, char sep);
bool StartsWith(std::string_view s, std::string_view prefix);
bool EndsWith(std::string_view s, std::string_view suffix);

}  // namespace coderef
