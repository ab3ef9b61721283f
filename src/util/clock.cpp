#include "util/clock.hpp"

#include <chrono>
#include <ctime>

namespace sr {
int64_t now_unix() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
// Arithmetic, not gmtime_r + strftime: those take glibc's time-zone lock and showed up at 5% of a
// vault list in a profile. Days to civil date: H. Hinnant's algorithm (proleptic Gregorian,
// exact for every int64 day count a timestamp can reach). Years outside 0..9999 are clamped to
// them: RFC 3339 has four-digit years, and no timestamp we store comes near either end.
std::string rfc3339(int64_t t) {
  constexpr int64_t kMin = -62167219200;  // 0000-01-01T00:00:00Z
  constexpr int64_t kMax = 253402300799;  // 9999-12-31T23:59:59Z
  t = t < kMin ? kMin : (t > kMax ? kMax : t);
  int64_t days = t / 86400, secs = t % 86400;
  if (secs < 0) secs += 86400, --days;
  const int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const int64_t m = mp < 10 ? mp + 3 : mp - 9;
  const int64_t y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  char buf[20];
  auto put = [&buf](int at, int64_t v, int width) {
    for (int i = width - 1; i >= 0; --i, v /= 10) buf[at + i] = static_cast<char>('0' + v % 10);
  };
  put(0, y, 4);
  buf[4] = '-';
  put(5, m, 2);
  buf[7] = '-';
  put(8, d, 2);
  buf[10] = 'T';
  put(11, secs / 3600, 2);
  buf[13] = ':';
  put(14, secs / 60 % 60, 2);
  buf[16] = ':';
  put(17, secs % 60, 2);
  buf[19] = 'Z';
  return std::string(buf, 20);
}
int64_t mono_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace sr
