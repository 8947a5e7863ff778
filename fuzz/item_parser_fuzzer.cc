// Fuzz target: plan.json / stub.json / communication.json and tracked paths
// (watcher-svc/item_parser.h ClassifyPath, ParseFileItem).
// Input: byte 0 picks the path (or, with its high bit, the first line is
// the path itself), byte 1 the --max-file-bytes; the rest is the file.
// Invariants: whatever the bytes, the item survives a protobuf round trip
// (every string is UTF-8: a gateway must be able to decode the event), its
// key is its file_path, an invalid file says why, text is only carried when
// it is UTF-8 and within the limit, and only a parsed communication.json
// without a "handoff" object yields no item.
#include <cstdint>
#include <string>

#include "common/text.h"
#include "fuzz/fuzz_util.h"
#include "watcher-svc/item_parser.h"

namespace cw = coderef::watcher;
using coderef::fuzz::ByteReader;

namespace {

const char* const kPaths[] = {
    "coderef/working/auth/plan.json",          "coderef/archived/old/plan.json",
    "coderef/working/auth/stub.json",          "coderef/stubs/idea/stub.json",
    "coderef/archived/x/stub.json",            "coderef/working/auth/communication.json",
    "coderef/archived/auth/communication.json", "coderef/working/caf\xc3\xa9/plan.json",
    "coderef/working/bad\xff\xfe/plan.json",   "coderef/working/new\nline/stub.json",
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  coderef::fuzz::QuietLogs();
  ByteReader in(data, size);
  uint8_t pick = in.Byte();
  uint64_t max_text = static_cast<uint64_t>(in.Byte()) * 64;
  std::string rel;
  if (pick & 0x80) {
    std::string_view rest = in.Rest();
    size_t nl = rest.find('\n');
    rel = std::string(rest.substr(0, nl));
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    std::string content(rest);
    std::optional<cw::PathInfo> info = cw::ClassifyPath(rel);
    if (!info) return 0;
    FUZZ_CHECK(rel.rfind("coderef/", 0) == 0, "tracked path outside coderef/: " + rel);
    FUZZ_CHECK(rel.find("/../") == std::string::npos && rel.find("/./") == std::string::npos,
               "a path with dot components is tracked: " + rel);
    if (info->is_log) return 0;
    cw::FileFacts facts{"noted", rel, 1'795'000'000'000, content.size(), coderef::Hash64(content)};
    auto item = cw::ParseFileItem(*info, facts, content, max_text);
    if (item) {
      std::string wire;
      FUZZ_CHECK(item->SerializeToString(&wire), "serialize");
      coderef::v1::Item back;
      FUZZ_CHECK(back.ParseFromString(wire), "round trip failed for path " + rel);
    }
    return 0;
  }
  rel = kPaths[pick % (sizeof kPaths / sizeof kPaths[0])];
  std::optional<cw::PathInfo> info = cw::ClassifyPath(rel);
  FUZZ_CHECK(info.has_value(), "a documented path is not tracked: " + rel);
  bool too_large = in.left() > 0 && (pick & 0x40);
  std::string content(in.Rest());
  std::optional<std::string> maybe;
  if (!too_large) maybe = content;
  cw::FileFacts facts{"noted", rel, 1'795'000'000'000, content.size(), coderef::Hash64(content)};
  std::optional<coderef::v1::Item> item = cw::ParseFileItem(*info, facts, maybe, max_text);
  if (!item) {
    FUZZ_CHECK(info->kind == coderef::v1::KIND_WORKORDER && !too_large,
               "no item for a plan or stub, or for a file too large to read");
    return 0;
  }
  std::string wire;
  FUZZ_CHECK(item->SerializeToString(&wire), "serialize");
  coderef::v1::Item back;
  FUZZ_CHECK(back.ParseFromString(wire), "round trip failed: a string field is not UTF-8");
  FUZZ_CHECK(item->key() == item->file_path(), "key != file_path");
  FUZZ_CHECK(item->kind() == info->kind, "kind changed");
  FUZZ_CHECK(item->valid() || !item->parse_error().empty(), "invalid without a parse_error");
  FUZZ_CHECK(!item->valid() || item->parse_error().empty(), "valid with a parse_error");
  FUZZ_CHECK(!too_large || !item->valid(), "a file too large to read counts as valid");
  FUZZ_CHECK(!item->feature_name().empty(), "empty feature_name");
  if (!item->text().empty()) {
    FUZZ_CHECK(item->text().size() <= max_text, "text over the limit");
    FUZZ_CHECK(item->text() == content, "text differs from the file");
  }
  FUZZ_CHECK(item->text_omitted() == (too_large || content.size() > max_text ||
                                      !coderef::IsValidUtf8(content)),
             "text_omitted wrong");
  if (item->kind() == coderef::v1::KIND_PLAN)
    FUZZ_CHECK(!item->plan().status().empty(), "plan without a status");
  return 0;
}
