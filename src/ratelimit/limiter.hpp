// Rate limiting with GCRA (generic cell rate algorithm): a limit of `count` per `period` allows a
// burst of `count` and then one request every period/count, with no fixed-window double burst.
// Memory backend (default): sharded maps with bounded size. Redis backend: one atomic Lua script
// per check (EVALSHA), shared by every instance; when Redis is down it falls back to the local
// memory limiter and logs a warning (never fails open).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "util/task.hpp"

namespace sr::ratelimit {

struct Limit {
  int64_t count = 0;   // requests per period; 0 = unlimited
  int64_t period = 0;  // seconds
};

struct Decision {
  bool allowed = true;
  int64_t limit = 0;        // RateLimit-Limit
  int64_t remaining = 0;    // RateLimit-Remaining
  int64_t reset = 0;        // RateLimit-Reset: seconds until the full quota is back
  int64_t retry_after = 0;  // seconds, when !allowed (>= 1)
};

// Time source in nanoseconds (monotonic for memory; tests pass a fake clock).
using Clock = std::function<int64_t()>;

class Limiter {
 public:
  virtual ~Limiter() = default;
  // key: a namespaced key such as "signin:ip:127.0.0.1". Every call counts one attempt.
  virtual Task<Decision> check(std::string key, Limit limit) = 0;
  // Synchronous form for the memory backend and tests.
  virtual Decision check_now(std::string_view key, Limit limit) = 0;
  virtual std::size_t size() const = 0;  // keys held (memory backend)
};

// max_keys bounds memory: beyond it the stalest keys are evicted (documented trade-off).
std::unique_ptr<Limiter> make_memory_limiter(std::size_t max_keys = 1'000'000, Clock clock = {});
// Redis at url (redis://[[user]:password@]host[:port][/db]); fallback used when Redis is
// unreachable or errs (a null fallback gets an internal memory limiter). Throws
// std::invalid_argument on a bad url; an unreachable Redis at start is not an error (fallback,
// reconnect at most once per second). on_warning: called (from the limiter's worker thread) at most
// once per 10 s when Redis fails. Destroy the limiter before the io_contexts whose coroutines await
// its check().
std::unique_ptr<Limiter> make_redis_limiter(const std::string& url,
                                            std::shared_ptr<Limiter> fallback,
                                            std::function<void(std::string_view)> on_warning = {});

}  // namespace sr::ratelimit
