#include "observability/metrics.hpp"

#include <gtest/gtest.h>

#include <sstream>
#include <thread>
#include <vector>

namespace sr::obs {
namespace {

bool has_line(const std::string& text, const std::string& line) {
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (l == line) return true;
  return false;
}

TEST(Metrics, RequestsSummedAcrossThreads) {
  Metrics m;
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) m.observe_request("/healthz", "GET", 200, 300'000);  // 0.3 ms
    });
  for (auto& t : ts) t.join();
  m.observe_request("/social/links/{id}", "PUT", 404, 3'000'000);  // 3 ms
  m.observe_request("unmatched", "GET", 404, 10'000'000'000);      // 10 s

  std::string text = m.render();
  EXPECT_TRUE(has_line(text, "# TYPE http_requests_total counter")) << text;
  EXPECT_TRUE(has_line(text, "# TYPE http_request_duration_seconds histogram"));
  EXPECT_TRUE(
      has_line(text, "http_requests_total{route=\"/healthz\",method=\"GET\",status=\"200\"} 4000"))
      << text;
  EXPECT_TRUE(has_line(
      text, "http_requests_total{route=\"/social/links/{id}\",method=\"PUT\",status=\"404\"} 1"));
  // Cumulative buckets.
  EXPECT_TRUE(has_line(text,
                       "http_request_duration_seconds_bucket{route=\"/"
                       "healthz\",method=\"GET\",le=\"0.0005\"} 4000"));
  EXPECT_TRUE(has_line(text,
                       "http_request_duration_seconds_bucket{route=\"/social/links/"
                       "{id}\",method=\"PUT\",le=\"0.0025\"} 0"));
  EXPECT_TRUE(has_line(text,
                       "http_request_duration_seconds_bucket{route=\"/social/links/"
                       "{id}\",method=\"PUT\",le=\"0.005\"} 1"));
  EXPECT_TRUE(has_line(text,
                       "http_request_duration_seconds_bucket{route=\"/social/links/"
                       "{id}\",method=\"PUT\",le=\"2.5\"} 1"));
  EXPECT_TRUE(has_line(
      text,
      "http_request_duration_seconds_bucket{route=\"unmatched\",method=\"GET\",le=\"2.5\"} 0"));
  EXPECT_TRUE(has_line(
      text,
      "http_request_duration_seconds_bucket{route=\"unmatched\",method=\"GET\",le=\"+Inf\"} 1"));
  EXPECT_TRUE(has_line(
      text, "http_request_duration_seconds_count{route=\"/healthz\",method=\"GET\"} 4000"));
  EXPECT_TRUE(
      has_line(text, "http_request_duration_seconds_sum{route=\"/healthz\",method=\"GET\"} 1.2"))
      << text;
}

TEST(Metrics, EveryLineIsHelpTypeOrSample) {
  Metrics m;
  m.observe_request("/a", "GET", 200, 1000);
  m.inc("auth_failures_total");
  m.inc("ratelimit_rejections_total", "route=\"/auth/signin\"", 3);
  m.inc("ratelimit_rejections_total", "route=\"/auth/signin\"");
  m.gauge("hash_queue_depth", "Password hashes waiting.", [] { return 7.0; });
  m.gauge("hash_queue_depth", "Password hashes waiting.", [] { return 8.0; });  // replaces
  std::string text = m.render();
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    if (l.rfind("# HELP ", 0) == 0 || l.rfind("# TYPE ", 0) == 0) continue;
    // name{labels} value  |  name value
    auto sp = l.rfind(' ');
    ASSERT_NE(sp, std::string::npos) << l;
    std::string value = l.substr(sp + 1);
    EXPECT_NO_THROW((void)std::stod(value)) << l;
    EXPECT_TRUE(std::isalpha(static_cast<unsigned char>(l[0])) || l[0] == '_') << l;
  }
  EXPECT_TRUE(has_line(text, "# TYPE auth_failures_total counter"));
  EXPECT_TRUE(has_line(text, "auth_failures_total 1"));
  EXPECT_TRUE(has_line(text, "ratelimit_rejections_total{route=\"/auth/signin\"} 4"));
  EXPECT_TRUE(has_line(text, "# HELP hash_queue_depth Password hashes waiting."));
  EXPECT_TRUE(has_line(text, "# TYPE hash_queue_depth gauge"));
  EXPECT_TRUE(has_line(text, "hash_queue_depth 8"));
  EXPECT_FALSE(has_line(text, "hash_queue_depth 7"));
}

TEST(Metrics, LabelValuesEscaped) {
  Metrics m;
  m.observe_request("/a\"b\\c\nd", "GET", 200, 1);
  std::string text = m.render();
  EXPECT_NE(text.find("route=\"/a\\\"b\\\\c\\nd\""), std::string::npos) << text;
}

TEST(Metrics, InstancesAreIndependent) {
  auto a = std::make_unique<Metrics>();
  a->observe_request("/x", "GET", 200, 1);
  a.reset();
  Metrics b;  // may reuse a's address; must not see a's data
  b.observe_request("/y", "GET", 200, 1);
  std::string text = b.render();
  EXPECT_EQ(text.find("/x"), std::string::npos);
  EXPECT_NE(text.find("/y"), std::string::npos);
}

}  // namespace
}  // namespace sr::obs
