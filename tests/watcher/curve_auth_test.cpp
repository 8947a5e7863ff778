// The --curve-allowed-clients list format (watcher-svc/curve_auth.h). The
// ZAP handler itself is tested with real processes in
// tests/faults/curve_test.cpp.
#include "watcher-svc/curve_auth.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace coderef::watcher {
namespace {

const std::string kA = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
const std::string kB = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID";

TEST(CurveAllowList, KeysCommentsLabelsBlankLinesAndCrlf) {
  std::set<std::string> keys;
  std::string err;
  ASSERT_TRUE(ParseCurveAllowList("# clients\n\n  " + kA + "  # gw-1\r\n" + kB + "\r\n\t\n# end", "f", &keys,
                                  &err))
      << err;
  EXPECT_EQ(keys, (std::set<std::string>{kA, kB}));
}

TEST(CurveAllowList, EmptyListIsValid) {
  std::set<std::string> keys;
  std::string err;
  EXPECT_TRUE(ParseCurveAllowList("# nobody yet\n", "f", &keys, &err)) << err;
  EXPECT_TRUE(keys.empty());
}

TEST(CurveAllowList, BadLinesNameTheFileAndLine) {
  struct Case {
    std::string text;
    std::string where;
  } cases[] = {
      {kA + "\nshort\n", "list:2:"},
      {"\n\n" + kA.substr(0, 39) + "~\n", "list:3:"},          // '~' is not Z85
      {kA + " gw-1\n", "list:1: unexpected text after the key"},  // a label needs '#'
      {kA + kB + "\n", "list:1:"},                             // two keys glued
      {"#" + kA.substr(1) + "\n" + "%" + kA.substr(1) + "\n", "list:2:"},  // overflowing group
  };
  for (const auto& c : cases) {
    std::set<std::string> keys;
    std::string err;
    EXPECT_FALSE(ParseCurveAllowList(c.text, "list", &keys, &err)) << c.text;
    EXPECT_EQ(err.rfind(c.where, 0), 0u) << err;
  }
}

}  // namespace
}  // namespace coderef::watcher
