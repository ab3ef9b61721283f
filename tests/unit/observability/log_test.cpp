#include "observability/log.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>

#include <filesystem>
#include <fstream>
#include <regex>
#include <vector>

namespace sr::obs {
namespace {

TEST(LogFormat, OneValidJsonLineWhateverTheInput) {
  std::string hostile = "alice\n{\"level\":\"error\",\"event\":\"forged\"}\r\t\"\\ \x01\x7f";
  std::string line = format_line(Level::info, "auth.signin.failure",
                                 {{"username", hostile},
                                  {"attempts", 3},
                                  {"ratio", 0.5},
                                  {"locked", false},
                                  {"big", int64_t{-9007199254740993}}});
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_EQ(line.find('\r'), std::string::npos);
  EXPECT_EQ(line.find('\x01'), std::string::npos);
  auto v = boost::json::parse(line).as_object();
  EXPECT_EQ(v.at("level").as_string(), "info");
  EXPECT_EQ(v.at("event").as_string(), "auth.signin.failure");
  EXPECT_EQ(v.at("username").as_string(), hostile);  // round-trips exactly
  EXPECT_EQ(v.at("attempts").as_int64(), 3);
  EXPECT_DOUBLE_EQ(v.at("ratio").as_double(), 0.5);
  EXPECT_EQ(v.at("locked").as_bool(), false);
  EXPECT_EQ(v.at("big").as_int64(), -9007199254740993);
  // RFC 3339 UTC with milliseconds.
  std::string ts(v.at("ts").as_string());
  EXPECT_TRUE(std::regex_match(ts, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)"))) << ts;
  // ts, level, event come first.
  EXPECT_EQ(line.rfind("{\"ts\":\"", 0), 0u);
}

TEST(LogFormat, EventAndKeysEscapedToo) {
  std::string line = format_line(Level::warn, "ev\"il\n", {{"k\"ey\n", "v"}});
  EXPECT_EQ(line.find('\n'), std::string::npos);
  auto v = boost::json::parse(line).as_object();
  EXPECT_EQ(v.at("event").as_string(), "ev\"il\n");
  EXPECT_EQ(v.at("k\"ey\n").as_string(), "v");
}

TEST(LogFormat, NonFiniteDoublesAreNull) {
  auto v = boost::json::parse(format_line(Level::info, "x", {{"d", 1.0 / 0.0}})).as_object();
  EXPECT_TRUE(v.at("d").is_null());
}

std::vector<std::string> read_lines(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

TEST(Logging, FileSinkSecurityEventsAndLevels) {
  auto dir = std::filesystem::temp_directory_path() / ("sr-log-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto file = dir / "strongroom.log";
  init_logging({.to_stdout = false, .file = file.string(), .min_level = Level::info});
  log(Level::debug, "hidden", {{"x", 1}});
  log(Level::info, "access", {{"route", "/a\n/b"}, {"status", 200}});
  security_event("auth.signin.failure", "rid-1", "203.0.113.9", {{"user", "bob\"\n"}});
  security_event("auth.signin.success", "rid-2", "::1", {}, Level::info);
  shutdown_logging();

  auto lines = read_lines(file);
  ASSERT_EQ(lines.size(), 3u);
  for (auto& l : lines) EXPECT_NO_THROW(boost::json::parse(l)) << l;
  auto a = boost::json::parse(lines[0]).as_object();
  EXPECT_EQ(a.at("event").as_string(), "access");
  EXPECT_EQ(a.at("route").as_string(), "/a\n/b");
  auto s = boost::json::parse(lines[1]).as_object();
  EXPECT_EQ(s.at("event").as_string(), "auth.signin.failure");
  EXPECT_EQ(s.at("level").as_string(), "warn");
  EXPECT_EQ(s.at("security").as_bool(), true);
  EXPECT_EQ(s.at("request_id").as_string(), "rid-1");
  EXPECT_EQ(s.at("ip").as_string(), "203.0.113.9");
  EXPECT_EQ(s.at("user").as_string(), "bob\"\n");
  auto ok = boost::json::parse(lines[2]).as_object();
  EXPECT_EQ(ok.at("level").as_string(), "info");
  EXPECT_EQ(ok.at("security").as_bool(), true);
  std::filesystem::remove_all(dir);
}

TEST(Logging, ManyThreadsNoInterleaving) {
  auto dir = std::filesystem::temp_directory_path() / ("sr-log-mt-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto file = dir / "strongroom.log";
  init_logging({.to_stdout = false, .file = file.string()});
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([t] {
      for (int i = 0; i < 2000; ++i)
        log(Level::info, "access", {{"t", t}, {"i", i}, {"pad", std::string(100, 'p')}});
    });
  for (auto& t : ts) t.join();
  shutdown_logging();
  auto lines = read_lines(file);
  EXPECT_EQ(lines.size(), 8000u);
  for (auto& l : lines) ASSERT_NO_THROW(boost::json::parse(l)) << l;
  std::filesystem::remove_all(dir);
}

TEST(Logging, AccessLineIsTheGenericLineAndKeepsEveryLineInOrderPerThread) {
  auto dir = std::filesystem::temp_directory_path() / ("sr-log-acc-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto file = dir / "strongroom.log";
  init_logging({.to_stdout = false, .file = file.string()});
  constexpr int kThreads = 3, kLines = 5000;
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([t] {
      const std::string ip = "192.0.2." + std::to_string(t);
      for (int i = 0; i < kLines; ++i)
        access_log({.request_id = "rid-" + std::to_string(i),
                    .method = "GET",
                    .route = "/a\"b\n{id}",
                    .status = 200 + t,
                    .latency_ns = int64_t{i} * 9973,  // 0 ms, then every few us up to ~50 ms
                    .user_id = i % 2 ? i : 0,
                    .ip = ip});
    });
  for (auto& t : ts) t.join();
  shutdown_logging();  // flushes every thread's batch
  auto lines = read_lines(file);
  ASSERT_EQ(lines.size(), static_cast<std::size_t>(kThreads * kLines));
  std::vector<int> next(kThreads, 0);
  for (const auto& l : lines) {
    auto o = boost::json::parse(l).as_object();
    const int t = static_cast<int>(o.at("status").as_int64()) - 200;
    ASSERT_TRUE(t >= 0 && t < kThreads) << l;
    const int i = next[t]++;
    EXPECT_EQ(o.at("request_id").as_string(), "rid-" + std::to_string(i))
        << "order of thread " << t;
    // Byte for byte the line the generic logger writes for the same fields (SPEC 9 unchanged).
    const std::string rid = "rid-" + std::to_string(i), ip = "192.0.2." + std::to_string(t);
    // The access line has microseconds: i * 9973 ns rounded to the microsecond.
    const double ms = static_cast<double>((int64_t{i} * 9973 + 500) / 1000) / 1e3;
    std::string generic = i % 2 ? format_line(Level::info, "access",
                                              {{"request_id", rid},
                                               {"method", "GET"},
                                               {"route", "/a\"b\n{id}"},
                                               {"status", 200 + t},
                                               {"latency_ms", ms},
                                               {"user_id", int64_t{i}},
                                               {"ip", ip}})
                                : format_line(Level::info, "access",
                                              {{"request_id", rid},
                                               {"method", "GET"},
                                               {"route", "/a\"b\n{id}"},
                                               {"status", 200 + t},
                                               {"latency_ms", ms},
                                               {"ip", ip}});
    // The timestamps differ; everything after them must not.
    EXPECT_EQ(l.substr(l.find("\"level\"")), generic.substr(generic.find("\"level\"")));
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sr::obs
