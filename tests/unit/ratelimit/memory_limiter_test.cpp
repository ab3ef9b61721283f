// The memory backend as the specification of GCRA: exact decisions on a fake clock, thread
// safety, the key cap, expiry and hostile keys.
#include <malloc.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "ratelimit/key.hpp"
#include "ratelimit/limiter.hpp"

namespace sr::ratelimit {
namespace {

constexpr int64_t kSec = 1'000'000'000;

struct FakeClock {
  std::shared_ptr<std::atomic<int64_t>> now = std::make_shared<std::atomic<int64_t>>(1000 * kSec);
  Clock clock() const {
    return [n = now] { return n->load(); };
  }
  void set(int64_t t) { now->store(t); }
  void advance(int64_t d) { now->fetch_add(d); }
  int64_t get() const { return now->load(); }
};

const Limit kFivePerMinute{5, 60};  // T = 12 s

// prefix + decimal n (spelled out: `"k" + std::to_string(n)` trips a g++ 12 -Wrestrict false
// alarm).
std::string numbered(std::string_view prefix, long n) {
  std::string s(prefix);
  s += std::to_string(n);
  return s;
}

TEST(MemoryLimiter, BurstOfCountThenOnePerInterval) {
  FakeClock fc;
  auto l = make_memory_limiter(1000, fc.clock());
  const int64_t t0 = fc.get();
  for (int i = 1; i <= 5; ++i) {
    Decision d = l->check_now("k", kFivePerMinute);
    EXPECT_TRUE(d.allowed) << i;
    EXPECT_EQ(d.limit, 5);
    EXPECT_EQ(d.remaining, 5 - i);
    EXPECT_EQ(d.reset, 12 * i);  // the full quota is back when every used slot has drained
    EXPECT_EQ(d.retry_after, 0);
  }
  Decision d = l->check_now("k", kFivePerMinute);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.limit, 5);
  EXPECT_EQ(d.remaining, 0);
  EXPECT_EQ(d.reset, 60);
  EXPECT_EQ(d.retry_after, 12);

  fc.set(t0 + 12 * kSec - 1);  // one nanosecond early
  d = l->check_now("k", kFivePerMinute);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, 1);  // rounded up, never 0 when denied

  fc.set(t0 + 12 * kSec);
  d = l->check_now("k", kFivePerMinute);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.remaining, 0);
  EXPECT_EQ(d.reset, 60);
  EXPECT_FALSE(l->check_now("k", kFivePerMinute).allowed);

  fc.set(t0 + 30 * kSec);  // 18 s later: one more slot (12 s), not two
  EXPECT_TRUE(l->check_now("k", kFivePerMinute).allowed);
  d = l->check_now("k", kFivePerMinute);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, 6);  // next slot at t0 + 36 s
}

TEST(MemoryLimiter, IdleRestoresFullQuota) {
  FakeClock fc;
  auto l = make_memory_limiter(1000, fc.clock());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(l->check_now("k", kFivePerMinute).allowed);
  fc.advance(60 * kSec - 1);
  Decision d = l->check_now("k", kFivePerMinute);
  ASSERT_TRUE(d.allowed);
  EXPECT_EQ(d.remaining, 3);  // not yet the full quota
  fc.advance(2 * 60 * kSec);
  for (int i = 1; i <= 5; ++i) {
    d = l->check_now("k", kFivePerMinute);
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.remaining, 5 - i);
  }
  EXPECT_FALSE(l->check_now("k", kFivePerMinute).allowed);
}

TEST(MemoryLimiter, NoDoubleBurstAcrossAWindowBoundary) {
  FakeClock fc;
  auto l = make_memory_limiter(1000, fc.clock());
  fc.set(59 * kSec + 900'000'000);  // the end of a fixed window
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(l->check_now("k", kFivePerMinute).allowed);
  fc.set(60 * kSec + 100'000'000);  // the start of the next one
  EXPECT_FALSE(l->check_now("k", kFivePerMinute).allowed);
}

// In any interval of length L, GCRA lets through at most count + floor(L / T); and a client that
// waits its retry_after is allowed.
TEST(MemoryLimiter, WindowBoundHoldsForRandomTraffic) {
  FakeClock fc;
  auto l = make_memory_limiter(1000, fc.clock());
  const Limit lim{7, 10};  // T = 10/7 s
  const int64_t T = 10 * kSec / 7;
  std::mt19937_64 rng(42);
  std::vector<int64_t> allowed;
  for (int i = 0; i < 20000; ++i) {
    fc.advance(static_cast<int64_t>(rng() % (kSec / 2)));
    if (l->check_now("k", lim).allowed) allowed.push_back(fc.get());
  }
  ASSERT_GT(allowed.size(), 100u);
  for (int64_t L : {int64_t{0}, kSec, 10 * kSec, 37 * kSec}) {
    std::size_t j = 0;
    for (std::size_t i = 0; i < allowed.size(); ++i) {
      while (j < allowed.size() && allowed[j] <= allowed[i] + L) ++j;
      ASSERT_LE(static_cast<int64_t>(j - i), 7 + L / T) << "L=" << L;
    }
  }
  // retry_after is a promise: waiting that long is enough.
  Decision d;
  while ((d = l->check_now("k", lim)).allowed) {
  }
  fc.advance(d.retry_after * kSec);
  EXPECT_TRUE(l->check_now("k", lim).allowed);
}

TEST(MemoryLimiter, DeniedRequestsDoNotConsume) {
  FakeClock fc;
  auto l = make_memory_limiter(1000, fc.clock());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(l->check_now("k", kFivePerMinute).allowed);
  for (int i = 0; i < 1000; ++i) ASSERT_FALSE(l->check_now("k", kFivePerMinute).allowed);
  fc.advance(12 * kSec);
  EXPECT_TRUE(l->check_now("k", kFivePerMinute).allowed);
  EXPECT_FALSE(l->check_now("k", kFivePerMinute).allowed);
}

TEST(MemoryLimiter, KeysAndLimitsAreIndependent) {
  FakeClock fc;
  auto l = make_memory_limiter(1000, fc.clock());
  const Limit one{1, 3600};
  EXPECT_TRUE(l->check_now("signin:ip:1.2.3.4", one).allowed);
  EXPECT_FALSE(l->check_now("signin:ip:1.2.3.4", one).allowed);
  EXPECT_TRUE(l->check_now("signin:ip:1.2.3.5", one).allowed);
  EXPECT_TRUE(l->check_now("signin:user:alice", one).allowed);
  EXPECT_EQ(l->size(), 3u);
}

TEST(MemoryLimiter, ZeroCountIsUnlimitedAndStoresNothing) {
  FakeClock fc;
  auto l = make_memory_limiter(1000, fc.clock());
  for (int i = 0; i < 100; ++i) {
    Decision d = l->check_now("k", Limit{0, 60});
    ASSERT_TRUE(d.allowed);
    EXPECT_EQ(d.limit, 0);
  }
  EXPECT_EQ(l->size(), 0u);
}

TEST(MemoryLimiter, ManyThreadsOnOneKeyNeverExceedTheLimit) {
  FakeClock fc;  // frozen: exactly `count` may pass, whatever the interleaving
  auto l = make_memory_limiter(1000, fc.clock());
  const Limit lim{100, 60};
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        if (l->check_now("hot", lim).allowed) allowed.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(allowed.load(), 100);
}

TEST(MemoryLimiter, ManyThreadsWithAMovingClock) {
  FakeClock fc;
  auto l = make_memory_limiter(1000, fc.clock());
  const Limit lim{10, 1};  // T = 100 ms
  const int64_t start = fc.get();
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        fc.advance(1000);  // 1 us per call
        if (l->check_now("hot", lim).allowed) allowed.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  const int64_t elapsed = fc.get() - start;  // 160 ms
  EXPECT_LE(allowed.load(), 10 + elapsed / (kSec / 10));
  EXPECT_GE(allowed.load(), 10);
}

TEST(MemoryLimiter, IdleKeysExpire) {
  FakeClock fc;
  auto l = make_memory_limiter(1'000'000, fc.clock());
  for (int i = 0; i < 10000; ++i) l->check_now(numbered("k", i), kFivePerMinute);
  EXPECT_EQ(l->size(), 10000u);
  fc.advance(12 * kSec);  // every TAT (then + 12 s) is now in the past
  // Expiry is lazy and per shard: traffic reaching every shard sweeps the stale entries away.
  for (int i = 0; i < 20000; ++i) l->check_now(numbered("active", i % 2000), kFivePerMinute);
  EXPECT_LE(l->size(), 2000u + 100u);
}

std::size_t heap_in_use() {
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

TEST(MemoryLimiter, CapHoldsWithOneMillionDistinctKeys) {
  FakeClock fc;  // frozen: nothing expires, so the cap alone bounds memory
  auto l = make_memory_limiter(10000, fc.clock());
  l->check_now("warm-up", kFivePerMinute);
  const std::size_t before = heap_in_use();
  std::size_t peak = 0;
  std::string key;
  for (int i = 0; i < 1'000'000; ++i) {
    key = numbered("signin:ip:attacker-", i);
    ASSERT_TRUE(l->check_now(key, kFivePerMinute).allowed);
    if (i % 1000 == 0) {
      ASSERT_LE(l->size(), 10000u);
      peak = std::max(peak, heap_in_use());
    }
  }
  EXPECT_LE(l->size(), 10000u);
  EXPECT_GE(l->size(), 9000u);  // the cap is a bound, not a leak the other way
  // ~100 bytes a key; allow 4x for buckets and allocator slack.
  EXPECT_LT(peak - before, 10000u * 400u);
}

// At the cap, the victim is an expired entry if the sample has one, else the smallest TAT: keys
// with long-lived state (an attacker's exhausted quota) outlive keys that were used lightly.
TEST(MemoryLimiter, AtTheCapTheStalestKeysGoFirst) {
  FakeClock fc;
  auto l = make_memory_limiter(64 * 200, fc.clock());
  const Limit hour{1, 3600};
  for (int i = 0; i < 3000; ++i) l->check_now(numbered("long", i), hour);
  // Fills the shards to ~94% on average: the fuller ones evict, and must pick short entries.
  for (int i = 0; i < 9000; ++i) l->check_now(numbered("short", i), Limit{100, 1});
  fc.advance(kSec);  // the short entries (TAT = then + 10 ms) expire
  // Long + new stay well under the cap: any long key lost was evicted while expired ones existed.
  for (int i = 0; i < 6000; ++i) l->check_now(numbered("new", i), hour);
  EXPECT_LE(l->size(), 64u * 200u);
  int kept = 0;
  for (int i = 0; i < 3000; ++i) kept += !l->check_now(numbered("long", i), hour).allowed;
  EXPECT_GE(kept, 2995);
}

TEST(MemoryLimiter, LongAndBinaryKeys) {
  FakeClock fc;
  auto l = make_memory_limiter(1000, fc.clock());
  const Limit one{1, 3600};
  std::string big(1 << 20, 'x');
  std::string big2 = big;
  big2.back() = 'y';
  EXPECT_TRUE(l->check_now(big, one).allowed);
  EXPECT_FALSE(l->check_now(big, one).allowed);
  EXPECT_TRUE(l->check_now(big2, one).allowed);  // same 256-byte prefix, different key
  std::string k256(256, 'a'), k257(257, 'a');
  EXPECT_TRUE(l->check_now(k256, one).allowed);
  EXPECT_TRUE(l->check_now(k257, one).allowed);
  EXPECT_FALSE(l->check_now(k257, one).allowed);
  std::string binary("a\0b\xff\xfe\r\n", 7);
  std::string binary2("a\0c\xff\xfe\r\n", 7);
  EXPECT_TRUE(l->check_now(binary, one).allowed);
  EXPECT_FALSE(l->check_now(binary, one).allowed);
  EXPECT_TRUE(l->check_now(binary2, one).allowed);
  EXPECT_TRUE(l->check_now("", one).allowed);
  EXPECT_FALSE(l->check_now("", one).allowed);
  // A raw key spelled like the digest of a long key does not share its state.
  EXPECT_TRUE(l->check_now(detail::hashed_key(big), one).allowed);
}

TEST(RateLimitKey, LongKeysAreHashedToABoundedSize) {
  std::string buf;
  EXPECT_EQ(detail::storage_key("abc", buf), "abc");
  std::string big(100000, 'z');
  const std::string_view s = detail::storage_key(big, buf);
  EXPECT_EQ(s.size(), 33u);
  EXPECT_EQ(s[0], '\0');
  std::string buf2;
  EXPECT_EQ(detail::storage_key(big, buf2), s);  // deterministic: every instance agrees
  std::string nul("\0abc", 4);
  EXPECT_EQ(detail::storage_key(nul, buf).size(), 33u);  // NUL-led keys are hashed too
}

TEST(MemoryLimiter, AwaitableCheck) {
  FakeClock fc;
  auto l = make_memory_limiter(1000, fc.clock());
  boost::asio::io_context io;
  int allowed = 0, done = 0;
  for (int i = 0; i < 10; ++i) {
    boost::asio::co_spawn(io, l->check("k", kFivePerMinute), [&](std::exception_ptr e, Decision d) {
      ASSERT_FALSE(e);
      allowed += d.allowed;
      ++done;
    });
  }
  io.run();
  EXPECT_EQ(done, 10);
  EXPECT_EQ(allowed, 5);
}

// The number written into docs/ratelimit.md.
TEST(MemoryLimiterCost, OneMillionDistinctKeys) {
  auto l = make_memory_limiter(1'000'000);
  const std::size_t before = heap_in_use();
  for (int i = 0; i < 1'000'000; ++i) {
    std::string key = "signin:ip:10." + std::to_string(i >> 16) + "." +
                      std::to_string((i >> 8) & 255) + "." + std::to_string(i & 255);
    l->check_now(key, Limit{5, 3600});
  }
  const std::size_t after = heap_in_use();
  const std::size_t keys = l->size();
  std::printf("[cost] 1M keys like 'signin:ip:10.x.y.z': %zu keys held, %.1f MiB, %.0f bytes/key\n",
              keys, (after - before) / 1048576.0, double(after - before) / double(keys));
  EXPECT_GT(keys, 990'000u);
  EXPECT_LT(after - before, 1'000'000u * 200u);
  l.reset();

  auto w = make_memory_limiter(100'000);
  const std::size_t before2 = heap_in_use();
  std::string key(256, 'u');
  for (int i = 0; i < 100'000; ++i) {
    std::snprintf(key.data(), 16, "%015d", i);
    w->check_now(key, Limit{5, 3600});
  }
  const std::size_t after2 = heap_in_use();
  std::printf("[cost] worst case, 256-byte keys: %.0f bytes/key (%.0f MiB per million)\n",
              double(after2 - before2) / double(w->size()),
              double(after2 - before2) / double(w->size()) * 1e6 / 1048576.0);
  EXPECT_LT(after2 - before2, 100'000u * 512u);
}

}  // namespace
}  // namespace sr::ratelimit
