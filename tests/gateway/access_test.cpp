#include "gateway-svc/access.h"

#include <gtest/gtest.h>

#include "gateway-svc/query.h"
#include "gateway-svc/topic_filter.h"

namespace coderef::gateway {
namespace {

TEST(Origin, NoOriginIsNotABrowserAndAllowed) {
  EXPECT_TRUE(OriginAllowed("", "127.0.0.1:8000", {}));
}

TEST(Origin, OwnHostIsAllowed) {
  EXPECT_TRUE(OriginAllowed("http://dash.example.com:8000", "dash.example.com:8000", {}));
  EXPECT_TRUE(OriginAllowed("https://Dash.Example.com", "dash.example.com", {}));
  EXPECT_TRUE(OriginAllowed("http://dash.example.com", "dash.example.com:80", {}));
  EXPECT_FALSE(OriginAllowed("http://dash.example.com:9000", "dash.example.com:8000", {}));
}

TEST(Origin, LoopbackIsAllowedOnAnyPort) {
  for (const char* o : {"http://localhost:5173", "http://127.0.0.1:3000", "http://[::1]:8080",
                        "https://localhost", "http://app.localhost:1234"})
    EXPECT_TRUE(OriginAllowed(o, "gateway.internal:8000", {})) << o;
  EXPECT_FALSE(OriginAllowed("http://127.0.0.1.evil.com", "gateway.internal:8000", {}));
  EXPECT_FALSE(OriginAllowed("http://localhost.evil.com", "gateway.internal:8000", {}));
}

TEST(Origin, ForeignOriginIsRefusedUnlessListed) {
  EXPECT_FALSE(OriginAllowed("https://evil.example", "127.0.0.1:8000", {}));
  EXPECT_FALSE(OriginAllowed("null", "127.0.0.1:8000", {}));
  EXPECT_TRUE(OriginAllowed("https://dash.corp:8443", "127.0.0.1:8000", {"https://dash.corp:8443"}));
  EXPECT_FALSE(OriginAllowed("http://dash.corp:8443", "127.0.0.1:8000", {"https://dash.corp:8443"}))
      << "scheme must match";
  EXPECT_TRUE(OriginAllowed("https://dash.corp:1", "127.0.0.1:8000", {"dash.corp"}))
      << "bare host: any scheme and port";
  EXPECT_TRUE(OriginAllowed("https://evil.example", "127.0.0.1:8000", {"*"}));
  EXPECT_TRUE(OriginAllowed("null", "127.0.0.1:8000", {"null"}));
}

TEST(Token, NoTokenConfiguredAllowsAll) { EXPECT_TRUE(TokenAllowed("", "", "", "")); }

TEST(Token, AcceptedFromHeaderOrQuery) {
  EXPECT_TRUE(TokenAllowed("s3cret", "Bearer s3cret", "", ""));
  EXPECT_TRUE(TokenAllowed("s3cret", "bearer  s3cret ", "", ""));
  EXPECT_TRUE(TokenAllowed("s3cret", "", "s3cret", ""));
  EXPECT_TRUE(TokenAllowed("s3cret", "", "", "s3cret"));
  EXPECT_FALSE(TokenAllowed("s3cret", "", "", ""));
  EXPECT_FALSE(TokenAllowed("s3cret", "Bearer s3cre", "", ""));
  EXPECT_FALSE(TokenAllowed("s3cret", "Basic s3cret", "", ""));
  EXPECT_FALSE(TokenAllowed("s3cret", "", "", "s3cret2"));
  EXPECT_TRUE(TokenAllowed("s3cret", "", "", "", "a=1; coderef_token=s3cret; b=2"));
  EXPECT_FALSE(TokenAllowed("s3cret", "", "", "", "coderef_token=nope"));
  EXPECT_FALSE(TokenAllowed("s3cret", "", "", "", "other_token=s3cret"));
}

TEST(Query, DecodesPathAndParameters) {
  RequestTarget t;
  ASSERT_TRUE(ParseTarget("/orchestrator/plans?project=no%74ed&location=working&x=a+b&flag", &t));
  EXPECT_EQ(t.path, "/orchestrator/plans");
  EXPECT_EQ(t.query.Get("project"), "noted");
  EXPECT_EQ(t.query.Get("location"), "working");
  EXPECT_EQ(t.query.Get("x"), "a b");
  EXPECT_EQ(t.query.Get("flag"), "");
  EXPECT_FALSE(t.query.Get("missing").has_value());
  ASSERT_TRUE(ParseTarget("/a%20b/%2e%2e/c", &t));
  EXPECT_EQ(t.path, "/a b/../c");
  EXPECT_FALSE(ParseTarget("/x?y=%zz", &t));
  EXPECT_FALSE(ParseTarget("/x%2", &t));
}

TEST(Topics, KindsAndProjects) {
  TopicFilter all;
  EXPECT_TRUE(all.all());
  EXPECT_TRUE(all.Matches(v1::KIND_STUB, "p"));

  TopicFilter f;
  std::string error;
  ASSERT_TRUE(TopicFilter::Parse("plan, stub/noted", &f, &error)) << error;
  EXPECT_TRUE(f.Matches(v1::KIND_PLAN, "anything"));
  EXPECT_TRUE(f.Matches(v1::KIND_STUB, "noted"));
  EXPECT_FALSE(f.Matches(v1::KIND_STUB, "noted2")) << "exact project, not a prefix";
  EXPECT_FALSE(f.Matches(v1::KIND_WORKORDER, "noted"));
  EXPECT_FALSE(f.Matches(v1::KIND_PROJECT, "noted"));

  EXPECT_FALSE(TopicFilter::Parse("plan,nonsense", &f, &error));
  EXPECT_NE(error.find("nonsense"), std::string::npos);
  ASSERT_TRUE(TopicFilter::Parse("", &f, &error));
  EXPECT_TRUE(f.all());
}

TEST(SplitList, CommaSeparatedAndRepeated) {
  auto v = SplitList({"a, b", "", "c,,"});
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[0], "a");
  EXPECT_EQ(v[1], "b");
  EXPECT_EQ(v[2], "c");
}

}  // namespace
}  // namespace coderef::gateway
