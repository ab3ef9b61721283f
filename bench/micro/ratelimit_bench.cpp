// The memory limiter's cost per check, to compare with the cost of a whole request (issue 5:
// limits on must cost <= 5% of an authenticated GET).
#include <benchmark/benchmark.h>

#include <string>

#include "ratelimit/limiter.hpp"

static void BM_MemoryLimiterCheck(benchmark::State& st) {
  auto lim = sr::ratelimit::make_memory_limiter();
  sr::ratelimit::Limit l{600000000, 60};
  const std::string key = "authenticated:user:123456";
  for (auto _ : st) benchmark::DoNotOptimize(lim->check_now(key, l));
}
BENCHMARK(BM_MemoryLimiterCheck)->ThreadRange(1, 2);

static void BM_MemoryLimiterManyKeys(benchmark::State& st) {
  auto lim = sr::ratelimit::make_memory_limiter();
  sr::ratelimit::Limit l{5, 60};
  uint64_t i = 0;
  std::string key;
  for (auto _ : st) {
    key = "signin:ip:10." + std::to_string(i++ % 100000);
    benchmark::DoNotOptimize(lim->check_now(key, l));
  }
}
BENCHMARK(BM_MemoryLimiterManyKeys);

BENCHMARK_MAIN();
