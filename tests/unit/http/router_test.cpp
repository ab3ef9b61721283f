#include "http/router.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

namespace sr::http {
namespace {

Handler ok(int tag) {
  return [tag](Request&) -> Task<Response> { co_return Response::json(200, std::to_string(tag)); };
}

TEST(Router, ExactAndParams) {
  Router r;
  r.add(Method::GET, "/healthz", ok(1));
  r.add(Method::GET, "/social/links/{id}", ok(2));
  r.add(Method::PUT, "/social/links/{id}", ok(3));

  auto m = r.match(Method::GET, "/healthz");
  ASSERT_TRUE(m);
  ASSERT_NE(m->handler, nullptr);
  EXPECT_EQ(m->pattern, "/healthz");
  EXPECT_TRUE(m->params.empty());

  m = r.match(Method::PUT, "/social/links/42");
  ASSERT_TRUE(m);
  ASSERT_NE(m->handler, nullptr);
  EXPECT_EQ(m->pattern, "/social/links/{id}");
  ASSERT_EQ(m->params.size(), 1u);
  EXPECT_EQ(m->params[0].first, "id");
  EXPECT_EQ(m->params[0].second, "42");
}

TEST(Router, UnknownPathIs404) {
  Router r;
  r.add(Method::GET, "/social/links/{id}", ok(1));
  EXPECT_FALSE(r.match(Method::GET, "/social/links"));
  EXPECT_FALSE(r.match(Method::GET, "/social/links/"));     // empty parameter
  EXPECT_FALSE(r.match(Method::GET, "/social/links/1/x"));  // too deep
  EXPECT_FALSE(r.match(Method::GET, "/social//links/1"));
  EXPECT_FALSE(r.match(Method::GET, "social/links/1"));
  EXPECT_FALSE(r.match(Method::GET, ""));
  EXPECT_FALSE(r.match(Method::GET, "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r"));
}

TEST(Router, WrongMethodGives405WithAllow) {
  Router r;
  r.add(Method::GET, "/personal/handbook", ok(1));
  r.add(Method::PUT, "/personal/handbook", ok(2));
  auto m = r.match(Method::DELETE_, "/personal/handbook");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->handler, nullptr);
  EXPECT_EQ(m->pattern, "/personal/handbook");
  EXPECT_EQ(m->allow, "GET, HEAD, PUT, OPTIONS");

  r.add(Method::POST, "/auth/signin", ok(3));
  m = r.match(Method::GET, "/auth/signin");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->handler, nullptr);
  EXPECT_EQ(m->allow, "POST, OPTIONS");
  m = r.match(Method::OTHER, "/auth/signin");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->handler, nullptr);
  m = r.match(Method::POST, "/auth/signin");  // a handler: no Allow to send, none built
  ASSERT_TRUE(m);
  EXPECT_NE(m->handler, nullptr);
  EXPECT_EQ(m->allow, "");
}

TEST(Router, HeadMatchesGet) {
  Router r;
  r.add(Method::GET, "/healthz", ok(1));
  auto m = r.match(Method::HEAD, "/healthz");
  ASSERT_TRUE(m);
  EXPECT_NE(m->handler, nullptr);
  r.add(Method::POST, "/only-post", ok(2));
  m = r.match(Method::HEAD, "/only-post");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->handler, nullptr);
}

TEST(Router, LiteralBeatsParameter) {
  Router r;
  r.add(Method::GET, "/auth/sessions/{id}", ok(1));
  r.add(Method::GET, "/auth/sessions/current", ok(2));
  auto m = r.match(Method::GET, "/auth/sessions/current");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->pattern, "/auth/sessions/current");
  m = r.match(Method::GET, "/auth/sessions/abc");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->pattern, "/auth/sessions/{id}");
  EXPECT_EQ(m->params.at(0).second, "abc");
}

TEST(Router, ALiteralRouteWithoutTheMethodLeavesItToAParameterRoute) {
  Router r;
  r.add(Method::GET, "/auth/sessions/current", ok(1));
  r.add(Method::DELETE_, "/auth/sessions/{id}", ok(2));
  auto m = r.match(Method::DELETE_, "/auth/sessions/current");
  ASSERT_TRUE(m);
  ASSERT_NE(m->handler, nullptr);
  EXPECT_EQ(m->pattern, "/auth/sessions/{id}");
  EXPECT_EQ(m->params.at(0).second, "current");
  m = r.match(Method::HEAD, "/auth/sessions/current");  // HEAD takes the literal GET
  ASSERT_TRUE(m);
  EXPECT_EQ(m->pattern, "/auth/sessions/current");
  m = r.match(Method::PUT, "/auth/sessions/current");  // neither: 405 with both routes' methods
  ASSERT_TRUE(m);
  EXPECT_EQ(m->handler, nullptr);
  EXPECT_EQ(m->allow, "GET, HEAD, DELETE, OPTIONS");
}

TEST(Router, RootAndQueryFreePaths) {
  Router r;
  r.add(Method::GET, "/", ok(1));
  EXPECT_TRUE(r.match(Method::GET, "/"));
  EXPECT_FALSE(r.match(Method::GET, "/x"));
}

TEST(Router, RejectsBadRegistrations) {
  Router r;
  r.add(Method::GET, "/a", ok(1));
  EXPECT_THROW(r.add(Method::GET, "/a", ok(2)), std::invalid_argument);
  EXPECT_THROW(r.add(Method::HEAD, "/b", ok(2)), std::invalid_argument);
  EXPECT_THROW(r.add(Method::GET, "no-slash", ok(2)), std::invalid_argument);
  EXPECT_THROW(r.add(Method::GET, "/a//b", ok(2)), std::invalid_argument);
  EXPECT_THROW(r.add(Method::GET, "/c", Handler{}), std::invalid_argument);
}

TEST(Router, PrefixTakesWhatNoRouteTakes) {
  Router r;
  r.add(Method::GET, "/ui/exact", ok(1));
  r.add(Method::GET, "/social/links/{id}", ok(2));
  r.add_prefix(Method::GET, "/ui/", ok(3));
  r.add_prefix(Method::GET, "/ui/assets/", ok(4));

  auto m = r.match(Method::GET, "/ui/exact");  // an exact route wins
  ASSERT_TRUE(m);
  EXPECT_EQ(m->pattern, "/ui/exact");
  for (std::string_view p : {"/ui/", "/ui/vault", "/ui/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s",
                             "/ui/../auth/signin", "/ui//x"}) {
    m = r.match(Method::GET, p);
    ASSERT_TRUE(m) << p;
    ASSERT_NE(m->handler, nullptr) << p;
    EXPECT_EQ(m->pattern, "/ui/*") << p;  // bounded, whatever the path
    EXPECT_TRUE(m->params.empty());
  }
  m = r.match(Method::GET, "/ui/assets/app.css");  // the longest prefix
  ASSERT_TRUE(m);
  EXPECT_EQ(m->pattern, "/ui/assets/*");
  m = r.match(Method::HEAD, "/ui/vault");
  ASSERT_TRUE(m);
  EXPECT_NE(m->handler, nullptr);

  m = r.match(Method::POST, "/ui/vault");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->handler, nullptr);
  EXPECT_EQ(m->allow, "GET, HEAD, OPTIONS");

  EXPECT_FALSE(r.match(Method::GET, "/ui"));  // not under the prefix
  EXPECT_FALSE(r.match(Method::GET, "/uix/a"));
  EXPECT_FALSE(r.match(Method::GET, "/social/links/1/x"));
  EXPECT_FALSE(r.match(Method::GET, "/nope"));
}

TEST(Router, PrefixRejectsBadRegistrations) {
  Router r;
  r.add_prefix(Method::GET, "/ui/", ok(1));
  EXPECT_THROW(r.add_prefix(Method::GET, "/ui/", ok(2)), std::invalid_argument);
  EXPECT_THROW(r.add_prefix(Method::GET, "/ui", ok(2)), std::invalid_argument);
  EXPECT_THROW(r.add_prefix(Method::GET, "ui/", ok(2)), std::invalid_argument);
  EXPECT_THROW(r.add_prefix(Method::GET, "/", ok(2)), std::invalid_argument);
  EXPECT_THROW(r.add_prefix(Method::HEAD, "/x/", ok(2)), std::invalid_argument);
  EXPECT_THROW(r.add_prefix(Method::GET, "/y/", Handler{}), std::invalid_argument);
}

}  // namespace
}  // namespace sr::http
