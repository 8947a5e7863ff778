// JsonWriter: a minimal append-only JSON object writer for the hot path
// (event translation, REST lists). Keys are trusted literals; string values
// go through common/text.h JsonEscape, so the output is valid JSON (and
// valid UTF-8) for any input bytes. Not thread-safe; one writer per string.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/text.h"

namespace coderef::gateway {

class JsonWriter {
 public:
  explicit JsonWriter(std::string* out) : out_(out) {}

  void BeginObject() { Sep(); out_->push_back('{'); first_ = true; }
  void EndObject() { out_->push_back('}'); first_ = false; }
  void BeginArray() { Sep(); out_->push_back('['); first_ = true; }
  void EndArray() { out_->push_back(']'); first_ = false; }
  // Starts a member whose value follows (object, array or Value*).
  void Key(std::string_view k) {
    Sep();
    out_->push_back('"');
    out_->append(k);
    out_->append("\":", 2);
    first_ = true;  // the value itself needs no separator
  }

  void ValueStr(std::string_view v) {
    Sep();
    out_->push_back('"');
    if (NeedsEscape(v)) {
      out_->append(JsonEscape(v));
    } else {
      out_->append(v);  // the common case: plain printable ASCII, no copy
    }
    out_->push_back('"');
  }
  void ValueInt(int64_t v) { Sep(); out_->append(std::to_string(v)); }
  void ValueUInt(uint64_t v) { Sep(); out_->append(std::to_string(v)); }
  void ValueBool(bool v) { Sep(); out_->append(v ? "true" : "false"); }
  void ValueNull() { Sep(); out_->append("null"); }
  // Inserts already-serialized JSON.
  void ValueRaw(std::string_view json) { Sep(); out_->append(json); }

  void Str(std::string_view k, std::string_view v) { Key(k); ValueStr(v); }
  void Int(std::string_view k, int64_t v) { Key(k); ValueInt(v); }
  void UInt(std::string_view k, uint64_t v) { Key(k); ValueUInt(v); }
  void Bool(std::string_view k, bool v) { Key(k); ValueBool(v); }
  void Null(std::string_view k) { Key(k); ValueNull(); }
  void Raw(std::string_view k, std::string_view json) { Key(k); ValueRaw(json); }

 private:
  // True unless every byte is printable ASCII other than '"' and '\\'
  // (what JsonEscape would return unchanged).
  static bool NeedsEscape(std::string_view v) {
    for (char ch : v) {
      auto c = static_cast<unsigned char>(ch);
      if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') return true;
    }
    return false;
  }
  void Sep() {
    if (!first_) out_->push_back(',');
    first_ = false;
  }
  std::string* out_;
  bool first_ = true;
};

}  // namespace coderef::gateway
