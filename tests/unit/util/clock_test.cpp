#include "util/clock.hpp"

#include <gtest/gtest.h>

#include <ctime>
#include <random>

namespace {

std::string via_libc(int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

TEST(Rfc3339, KnownInstants) {
  EXPECT_EQ(sr::rfc3339(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(sr::rfc3339(951782400), "2000-02-29T00:00:00Z");  // leap day of a /400 year
  EXPECT_EQ(sr::rfc3339(1795406706), "2026-11-23T04:05:06Z");
  EXPECT_EQ(sr::rfc3339(-1), "1969-12-31T23:59:59Z");
  EXPECT_EQ(sr::rfc3339(4107542399), "2100-02-28T23:59:59Z");  // 2100 is not a leap year
  EXPECT_EQ(sr::rfc3339(4107542400), "2100-03-01T00:00:00Z");
}

TEST(Rfc3339, AgreesWithGmtimeAcrossTheRange) {
  std::mt19937_64 rng(42);
  // From year 1000: below it strftime's %Y does not pad to four digits.
  std::uniform_int_distribution<int64_t> any(-30610224000, 253402300799);
  for (int i = 0; i < 200000; ++i) {
    int64_t t = any(rng);
    ASSERT_EQ(sr::rfc3339(t), via_libc(t)) << t;
  }
  for (int64_t t = 1700000000; t < 1700000000 + 86400 * 3; t += 599)
    ASSERT_EQ(sr::rfc3339(t), via_libc(t));
}

TEST(Rfc3339, ClampsToFourDigitYears) {
  EXPECT_EQ(sr::rfc3339(INT64_MAX), "9999-12-31T23:59:59Z");
  EXPECT_EQ(sr::rfc3339(INT64_MIN), "0000-01-01T00:00:00Z");
  EXPECT_EQ(sr::rfc3339(-62135596800), "0001-01-01T00:00:00Z");  // zero-padded year
}

}  // namespace
