#include "ui/ui.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

namespace sr::ui {
namespace {

http::Request get(std::string_view path, std::string_view if_none_match = {}) {
  http::Request req;
  req.method = http::Method::GET;
  req.target = req.path = path;
  req.header_fn = [if_none_match](std::string_view name) -> std::string_view {
    return name == "If-None-Match" ? if_none_match : std::string_view();
  };
  return req;
}

std::string header(const http::Response& r, std::string_view name) {
  for (auto& [k, v] : r.headers)
    if (k == name) return v;
  return {};
}

const Asset& asset(std::string_view path) {
  for (auto& a : assets())
    if (a.path == path) return a;
  throw std::out_of_range(std::string(path));
}

TEST(UiAssets, TableIsSortedWithTypesAndDistinctEtags) {
  auto all = assets();
  ASSERT_GE(all.size(), 20u);
  EXPECT_TRUE(std::is_sorted(all.begin(), all.end(),
                             [](const Asset& a, const Asset& b) { return a.path < b.path; }));
  std::map<std::string_view, int> tags;
  for (auto& a : all) {
    EXPECT_TRUE(a.path.starts_with("/ui/")) << a.path;
    EXPECT_FALSE(a.body.empty()) << a.path;
    EXPECT_EQ(a.etag.size(), 22u) << a.path;  // "\"" + 20 hex + "\""
    ++tags[a.etag];
    std::string_view want = a.path.ends_with(".js")    ? "text/javascript; charset=utf-8"
                            : a.path.ends_with(".css") ? "text/css; charset=utf-8"
                            : a.path.ends_with(".svg") ? "image/svg+xml"
                                                       : "text/html; charset=utf-8";
    EXPECT_EQ(a.content_type, want) << a.path;
  }
  for (auto& [tag, n] : tags) EXPECT_EQ(n, 1) << tag;
  EXPECT_EQ(asset("/ui/index.html").content_type, "text/html; charset=utf-8");
  EXPECT_TRUE(asset("/ui/index.html").body.starts_with("<!doctype html>"));
}

TEST(UiServe, AssetsShellAnd404) {
  auto r = serve(get("/ui/assets/app.css"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, asset("/ui/assets/app.css").body);
  EXPECT_EQ(r.content_type, "text/css; charset=utf-8");
  EXPECT_EQ(header(r, "ETag"), asset("/ui/assets/app.css").etag);
  EXPECT_EQ(r.csp, kCsp);
  EXPECT_EQ(r.cache_control, "no-cache");

  for (std::string_view page : {"/", "/ui", "/ui/", "/ui/vault", "/ui/x/y/z", "/ui/assets"}) {
    r = serve(get(page));
    EXPECT_EQ(r.status, 200) << page;
    EXPECT_EQ(r.body, asset("/ui/index.html").body) << page;
    EXPECT_EQ(r.csp, kCsp) << page;
  }
  for (std::string_view missing : {"/ui/assets/", "/ui/assets/nope.js", "/ui/assets/app.css/x"}) {
    r = serve(get(missing));
    EXPECT_EQ(r.status, 404) << missing;
    EXPECT_NE(r.body.find("\"not_found\""), std::string::npos);
    EXPECT_TRUE(r.csp.empty()) << "an error keeps the API's CSP";
  }
}

TEST(UiServe, IfNoneMatch) {
  const std::string tag(asset("/ui/assets/js/main.js").etag);
  for (const std::string& inm :
       std::vector<std::string>{tag, "W/" + tag, "\"a\", " + tag, "\"a\"," + tag + " ", "*"}) {
    auto r = serve(get("/ui/assets/js/main.js", inm));
    EXPECT_EQ(r.status, 304) << inm;
    EXPECT_TRUE(r.body.empty());
    EXPECT_EQ(header(r, "ETag"), tag);
  }
  for (const std::string& inm :
       std::vector<std::string>{"\"other\"", tag.substr(1), "W/", ",", tag + "x", ""}) {
    auto r = serve(get("/ui/assets/js/main.js", inm));
    EXPECT_EQ(r.status, 200) << inm;
  }
}

}  // namespace
}  // namespace sr::ui
