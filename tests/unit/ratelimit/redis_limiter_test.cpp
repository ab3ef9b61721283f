// The Redis backend against a real redis-server: one limit shared by instances, what Redis stores,
// and the fallback while Redis is down.
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "ratelimit/key.hpp"
#include "ratelimit/limiter.hpp"
#include "ratelimit/redis_server.hpp"

namespace sr::ratelimit {
namespace {

using namespace std::chrono_literals;

const Limit kFivePerMinute{5, 60};

// Drives one check() through an io_context, as a network thread would.
Decision run_check(Limiter& l, std::string key, Limit limit) {
  boost::asio::io_context io;
  std::optional<Decision> out;
  boost::asio::co_spawn(io, l.check(std::move(key), limit), [&](std::exception_ptr e, Decision d) {
    if (e) std::rethrow_exception(e);
    out = d;
  });
  io.run();
  if (!out) throw std::runtime_error("check did not complete");
  return *out;
}

struct Warnings {
  std::mutex mu;
  std::vector<std::string> messages;
  std::function<void(std::string_view)> hook() {
    return [this](std::string_view m) {
      std::lock_guard lock(mu);
      messages.emplace_back(m);
    };
  }
  std::size_t count() {
    std::lock_guard lock(mu);
    return messages.size();
  }
  std::string last() {
    std::lock_guard lock(mu);
    return messages.empty() ? "" : messages.back();
  }
};

class RedisLimiterTest : public ::testing::Test {
 protected:
  test::RedisServer server;
};

TEST_F(RedisLimiterTest, TwoInstancesShareOneLimit) {
  auto a = make_redis_limiter(server.url(), make_memory_limiter());
  auto b = make_redis_limiter(server.url(), make_memory_limiter());
  int allowed = 0;
  for (int i = 0; i < 20; ++i) {
    Decision d = run_check(i % 2 ? *a : *b, "signin:ip:10.0.0.1", kFivePerMinute);
    EXPECT_EQ(d.limit, 5);
    if (d.allowed) {
      ++allowed;
      EXPECT_EQ(d.remaining, 5 - allowed);
      EXPECT_EQ(d.reset, 12 * allowed);
    } else {
      EXPECT_EQ(d.remaining, 0);
      EXPECT_GE(d.retry_after, 11);
      EXPECT_LE(d.retry_after, 12);
      EXPECT_GE(d.reset, 59);
      EXPECT_LE(d.reset, 60);
    }
  }
  EXPECT_EQ(allowed, 5);
  EXPECT_EQ(a->size(), 0u);  // nothing went to the fallbacks
  EXPECT_EQ(b->size(), 0u);
}

TEST_F(RedisLimiterTest, OnePerIntervalAfterTheBurst) {
  using Clock = std::chrono::steady_clock;
  auto l = make_redis_limiter(server.url(), make_memory_limiter());
  const Limit lim{5, 1};  // T = 200 ms
  const auto burst = Clock::now();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(l->check_now("k", lim).allowed);
  Decision d = l->check_now("k", lim);
  ASSERT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, 1);
  // Waits for the slot that frees T after the burst (a refused check changes nothing), then the
  // very next check is refused: one slot, not a new burst. That only means something when it
  // comes within T of the slot, so a check delayed longer (a loaded machine) is tried again.
  for (int round = 0;; ++round) {
    ASSERT_LT(round, 10) << "never two checks within 100 ms";
    while (!l->check_now("k", lim).allowed) {
      ASSERT_LT(Clock::now() - burst, 5s) << "no slot freed";
      std::this_thread::sleep_for(5ms);
    }
    const auto slot = Clock::now();
    if (round == 0) {
      EXPECT_GE(slot - burst, 190ms) << "a slot freed before T had passed";
    }
    const bool again = l->check_now("k", lim).allowed;
    if (Clock::now() - slot < 100ms) {
      EXPECT_FALSE(again);
      break;
    }
  }
}

TEST_F(RedisLimiterTest, ResumesOnTheCallersExecutorAndNeverOverAdmits) {
  auto l = make_redis_limiter(server.url(), make_memory_limiter());
  boost::asio::io_context io;
  const auto io_thread = std::this_thread::get_id();
  int allowed = 0, done = 0, wrong_thread = 0;
  for (int i = 0; i < 200; ++i) {
    boost::asio::co_spawn(
        io,
        [&]() -> Task<void> {
          Decision d = co_await l->check("hot", Limit{50, 60});
          if (std::this_thread::get_id() != io_thread) ++wrong_thread;
          allowed += d.allowed;
          ++done;
        },
        boost::asio::detached);
  }
  io.run();  // returns only when every check has resumed: the limiter holds work meanwhile
  EXPECT_EQ(done, 200);
  EXPECT_EQ(wrong_thread, 0);
  EXPECT_EQ(allowed, 50);
}

TEST_F(RedisLimiterTest, StoresPrefixedKeysWithATtl) {
  auto l = make_redis_limiter(server.url(), make_memory_limiter());
  ASSERT_TRUE(run_check(*l, "signin:user:alice", kFivePerMinute).allowed);
  test::RedisClient c(server.port());
  EXPECT_EQ(c.integer("EXISTS", "sr:rl:signin:user:alice"), 1);
  const long long ttl = c.integer("PTTL", "sr:rl:signin:user:alice");
  EXPECT_GT(ttl, 11'000);
  EXPECT_LE(ttl, 12'001);
  // A denied check writes nothing.
  for (int i = 0; i < 10; ++i) run_check(*l, "signin:user:alice", kFivePerMinute);
  EXPECT_LE(c.integer("PTTL", "sr:rl:signin:user:alice"), 60'001);
}

TEST_F(RedisLimiterTest, BinaryAndHugeKeysAreSafe) {
  auto l = make_redis_limiter(server.url(), make_memory_limiter());
  const Limit one{1, 3600};
  constexpr char kBinary[] = "u:\0\r\nSET x y\r\n\xff\xfe";
  constexpr char kBinary2[] = "u:\0\r\nSET x z\r\n\xff\xfe";
  const std::string binary(kBinary, sizeof kBinary - 1);
  std::string huge(1 << 20, 'h');
  EXPECT_TRUE(run_check(*l, binary, one).allowed);
  EXPECT_FALSE(run_check(*l, binary, one).allowed);
  EXPECT_TRUE(run_check(*l, std::string(kBinary2, sizeof kBinary2 - 1), one).allowed);
  EXPECT_TRUE(run_check(*l, huge, one).allowed);
  EXPECT_FALSE(run_check(*l, huge, one).allowed);
  test::RedisClient c(server.port());
  EXPECT_EQ(c.integer("EXISTS", "sr:rl:" + binary), 1);
  std::string buf;
  EXPECT_EQ(c.integer("EXISTS", "sr:rl:" + std::string(detail::storage_key(huge, buf))), 1);
  for (const auto& k : c.keys()) {
    EXPECT_EQ(k.rfind("sr:rl:", 0), 0u);
    EXPECT_LE(k.size(), 6u + 256u);
  }
  EXPECT_EQ(c.integer("EXISTS", "x"), 0);  // nothing was injected
}

TEST_F(RedisLimiterTest, ReloadsTheScriptAfterAFlush) {
  Warnings w;
  auto l = make_redis_limiter(server.url(), make_memory_limiter(), w.hook());
  ASSERT_TRUE(run_check(*l, "a", kFivePerMinute).allowed);
  test::RedisClient c(server.port());
  c.run("SCRIPT FLUSH");
  ASSERT_TRUE(run_check(*l, "b", kFivePerMinute).allowed);
  EXPECT_EQ(c.integer("EXISTS", "sr:rl:b"), 1);  // answered by Redis, not the fallback
  EXPECT_EQ(l->size(), 0u);
  EXPECT_EQ(w.count(), 0u);
}

TEST_F(RedisLimiterTest, RedisDownFallsBackLocallyAndComesBack) {
  Warnings w;
  auto fallback = std::shared_ptr<Limiter>(make_memory_limiter());
  auto l = make_redis_limiter(server.url(), fallback, w.hook());
  auto other = make_redis_limiter(server.url(), make_memory_limiter());
  ASSERT_TRUE(run_check(*l, "before", kFivePerMinute).allowed);
  ASSERT_EQ(w.count(), 0u);

  server.kill();
  // Still enforced (by the fallback), never fail-open.
  int allowed = 0;
  for (int i = 0; i < 20; ++i) {
    Decision d = run_check(*l, "during", kFivePerMinute);
    allowed += d.allowed;
    if (!d.allowed) {
      EXPECT_GE(d.retry_after, 1);
    }
  }
  EXPECT_EQ(allowed, 5);
  EXPECT_GT(fallback->size(), 0u);
  EXPECT_EQ(w.count(), 1u);  // reported once, not per check
  EXPECT_NE(w.last().find("fallback"), std::string::npos) << w.last();
  // While down, checks do not wait for Redis.
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 100; ++i) run_check(*l, "fast", Limit{1000, 60});
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 500ms);

  server.start();
  ASSERT_TRUE(server.ping());
  test::RedisClient c(server.port());
  // Reconnection is retried once per second: within a few seconds checks land in Redis again.
  bool back = false;
  for (int i = 0; i < 50 && !back; ++i) {
    run_check(*l, "probe", Limit{1000, 60});
    back = c.integer("EXISTS", "sr:rl:probe") == 1;
    if (!back) std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(back);
  bool other_back = false;
  for (int i = 0; i < 50 && !other_back; ++i) {
    run_check(*other, "probe2", Limit{1000, 60});
    other_back = c.integer("EXISTS", "sr:rl:probe2") == 1;
    if (!other_back) std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(other_back);
  // Shared again: two instances, one limit.
  allowed = 0;
  for (int i = 0; i < 10; ++i)
    allowed += run_check(i % 2 ? *l : *other, "after", kFivePerMinute).allowed;
  EXPECT_EQ(allowed, 5);
}

TEST(RedisLimiter, UnreachableAtStartUsesTheFallback) {
  Warnings w;
  int port;
  {
    test::RedisServer s;  // a port that was free, and is free again
    port = s.port();
  }
  const auto t0 = std::chrono::steady_clock::now();
  auto l = make_redis_limiter("redis://127.0.0.1:" + std::to_string(port), nullptr, w.hook());
  int allowed = 0;
  for (int i = 0; i < 10; ++i) allowed += run_check(*l, "k", kFivePerMinute).allowed;
  EXPECT_EQ(allowed, 5);
  EXPECT_EQ(l->check_now("k", kFivePerMinute).allowed, false);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  EXPECT_EQ(w.count(), 1u);
}

TEST(RedisLimiter, RejectsBadUrls) {
  for (const char* url : {"http://x", "redis://", "redis://host:", "redis://host:99999",
                          "redis://host:12/x", "redis://:%zz@host", "rediss://host"}) {
    EXPECT_THROW(make_redis_limiter(url, nullptr), std::invalid_argument) << url;
  }
}

}  // namespace
}  // namespace sr::ratelimit
