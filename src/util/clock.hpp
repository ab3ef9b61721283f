#pragma once
#include <cstdint>
#include <string>

namespace sr {
// Seconds since the Unix epoch (system clock).
int64_t now_unix();
// RFC 3339 UTC, second precision: "2026-11-23T04:05:06Z".
std::string rfc3339(int64_t unix_seconds);
// Monotonic nanoseconds, for latency measurement.
int64_t mono_ns();
}  // namespace sr
