#include "common/text.h"

#include <gtest/gtest.h>

namespace coderef {
namespace {

TEST(Text, Utf8Validation) {
  EXPECT_TRUE(IsValidUtf8("plain"));
  EXPECT_TRUE(IsValidUtf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("bad\xff"));
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xe2\x82"));          // truncated
}

TEST(Text, EscapeInvalidUtf8KeepsValidParts) {
  EXPECT_EQ(EscapeInvalidUtf8("a\xffz\xc3\xa9"), "a\\xffz\xc3\xa9");
  EXPECT_TRUE(IsValidUtf8(EscapeInvalidUtf8("\x80\x81\xfe")));
}

TEST(Text, JsonEscape) {
  EXPECT_EQ(JsonEscape("a\"b\\c\n\x01"), "a\\\"b\\\\c\\n\\u0001");
  EXPECT_EQ(JsonEscape("\xff"), "\xEF\xBF\xBD");
  EXPECT_EQ(JsonEscape("\xc3\xa9"), "\xc3\xa9");
}

TEST(Text, Slugify) {
  EXPECT_EQ(Slugify("Scriptboard"), "scriptboard");
  EXPECT_EQ(Slugify("My Project (v2)"), "my-project-v2");
  EXPECT_EQ(Slugify("  --a.b_c--  "), "a.b_c");
  EXPECT_EQ(Slugify("!!!"), "");
}

TEST(Text, FormatIsoMillis) {
  EXPECT_EQ(FormatIsoMillis(1'764'064'800'123'456), "2025-11-25T10:00:00.123Z");
  EXPECT_EQ(FormatIsoMillis(0), "1970-01-01T00:00:00.000Z");
}

TEST(Text, HashIsStableAndDiscriminates) {
  EXPECT_EQ(Hash64(""), 1469598103934665603ULL);
  EXPECT_NE(Hash64("a"), Hash64("b"));
  EXPECT_EQ(Hash64("plan"), Hash64(std::string("plan")));
}

TEST(Text, RandomHex) {
  std::string a = RandomHex(16), b = RandomHex(16);
  EXPECT_EQ(a.size(), 16u);
  EXPECT_NE(a, b);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
}

TEST(Text, SplitTrim) {
  auto parts = Split("a | b |c", '|');
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(Trim(parts[1]), "b");
  EXPECT_EQ(Trim(" \t x \r\n"), "x");
}

}  // namespace
}  // namespace coderef
