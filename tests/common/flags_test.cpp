#include "common/flags.h"

#include <gtest/gtest.h>
#include <stdlib.h>

namespace coderef {
namespace {

TEST(Flags, EnvNameIsPrefixedUpperSnake) {
  FlagSet flags("t", "WATCHER_");
  EXPECT_EQ(flags.EnvName("debounce-ms"), "WATCHER_DEBOUNCE_MS");
}

TEST(Flags, EnvironmentFallbackAndCommandLineWins) {
  int debounce = 500;
  FlagSet flags("t", "CRTEST_");
  flags.Add("debounce-ms", debounce, "d");
  ::setenv("CRTEST_DEBOUNCE_MS", "250", 1);
  std::string err;
  const char* argv1[] = {"prog"};
  ASSERT_EQ(flags.Parse(1, argv1, &err), 0) << err;
  EXPECT_EQ(debounce, 250);

  int d2 = 500;
  FlagSet flags2("t", "CRTEST_");
  flags2.Add("debounce-ms", d2, "d");
  const char* argv2[] = {"prog", "--debounce-ms", "75"};
  ASSERT_EQ(flags2.Parse(3, argv2, &err), 0) << err;
  EXPECT_EQ(d2, 75);
  ::unsetenv("CRTEST_DEBOUNCE_MS");
}

TEST(Flags, BadValueIsStatus2NamingTheFlag) {
  int debounce = 500;
  FlagSet flags("t", "CRTEST_");
  flags.Add("debounce-ms", debounce, "d");
  std::string err;
  const char* argv[] = {"prog", "--debounce-ms", "soon"};
  EXPECT_EQ(flags.Parse(3, argv, &err), 2);
  EXPECT_NE(err.find("debounce-ms"), std::string::npos) << err;
}

TEST(Flags, BadEnvValueIsStatus2) {
  int debounce = 500;
  FlagSet flags("t", "CRTEST_");
  flags.Add("debounce-ms", debounce, "d");
  ::setenv("CRTEST_DEBOUNCE_MS", "x", 1);
  std::string err;
  const char* argv[] = {"prog"};
  EXPECT_EQ(flags.Parse(1, argv, &err), 2);
  EXPECT_NE(err.find("debounce-ms"), std::string::npos) << err;
  ::unsetenv("CRTEST_DEBOUNCE_MS");
}

TEST(Flags, HostPort) {
  std::string h;
  int p = 0;
  EXPECT_TRUE(ParseHostPort("127.0.0.1:9100", &h, &p));
  EXPECT_EQ(h, "127.0.0.1");
  EXPECT_EQ(p, 9100);
  EXPECT_TRUE(ParseHostPort("[::1]:80", &h, &p));
  EXPECT_EQ(h, "::1");
  EXPECT_FALSE(ParseHostPort("nohost", &h, &p));
  EXPECT_FALSE(ParseHostPort("h:99999", &h, &p));
  EXPECT_FALSE(ParseHostPort("h:12a", &h, &p));
}

}  // namespace
}  // namespace coderef
