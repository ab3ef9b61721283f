// GCRA arithmetic shared by the memory and Redis backends (internal header).
//
// A limit of `count` per `period` has emission interval T = period / count and burst
// B = T * count. State is one number, the theoretical arrival time (TAT). A request at `now`
// is allowed when max(TAT, now) + T - now <= B; it then sets TAT = max(TAT, now) + T. From idle
// this allows exactly `count` requests at once and afterwards one per T; in any interval of
// length L at most count + floor(L / T) requests pass, so there is no fixed-window double burst.
// A TAT at or before `now` is the same as no state at all, which is what makes idle keys
// forgettable. Denied requests leave TAT unchanged (they do not consume): a client that keeps
// hammering is still denied, but its retries do not push its own recovery further out.
#pragma once
#include <algorithm>
#include <cstdint>

#include "ratelimit/limiter.hpp"

namespace sr::ratelimit::detail {

// Periods are clamped to one year so that the arithmetic cannot overflow in nanoseconds.
inline constexpr int64_t kMaxPeriodSeconds = 366LL * 24 * 3600;

inline bool unlimited(const Limit& l) {
  return l.count <= 0 || l.period <= 0;
}

inline Decision unlimited_decision() {
  return Decision{true, 0, 0, 0, 0};
}

inline int64_t ceil_div(int64_t a, int64_t b) {
  return a <= 0 ? 0 : (a + b - 1) / b;
}

struct Gcra {
  int64_t interval;  // T, in units
  int64_t burst;     // B = T * count, in units
};

// units_per_second: 1e9 for the memory backend (ns), 1e6 for Redis (us).
inline Gcra gcra_params(const Limit& l, int64_t units_per_second) {
  const int64_t period = std::min(l.period, kMaxPeriodSeconds) * units_per_second;
  const int64_t interval = std::max<int64_t>(1, period / l.count);
  return {interval, interval * l.count};
}

struct Step {
  Decision decision;
  int64_t tat;  // the TAT to store (unchanged when denied)
};

// `tat` is the stored TAT, or anything <= now when the key has no state.
inline Step gcra_step(const Limit& l, int64_t now, int64_t tat, int64_t units_per_second) {
  const Gcra g = gcra_params(l, units_per_second);
  tat = std::max(tat, now);
  const int64_t new_tat = tat + g.interval;
  Decision d;
  d.limit = l.count;
  if (new_tat - now <= g.burst) {
    d.allowed = true;
    d.remaining = (g.burst - (new_tat - now)) / g.interval;
    d.reset = ceil_div(new_tat - now, units_per_second);
    return {d, new_tat};
  }
  d.allowed = false;
  d.remaining = 0;
  d.reset = ceil_div(tat - now, units_per_second);
  d.retry_after = std::max<int64_t>(1, ceil_div(new_tat - g.burst - now, units_per_second));
  return {d, tat};
}

}  // namespace sr::ratelimit::detail
