#include "http/conn_limit.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <atomic>
#include <thread>
#include <vector>

namespace sr::http {
namespace {

PerAddressCount::Key key(const char* ip) {
  unsigned char b[16];
  if (inet_pton(AF_INET, ip, b) == 1) return PerAddressCount::key_of(b, 4);
  EXPECT_EQ(inet_pton(AF_INET6, ip, b), 1) << ip;
  return PerAddressCount::key_of(b, 16);
}

TEST(PerAddressCount, KeysByAddressAndIpv6Prefix) {
  EXPECT_EQ(key("192.0.2.1"), key("::ffff:192.0.2.1"));  // IPv4-mapped is the IPv4 address
  EXPECT_NE(key("192.0.2.1"), key("192.0.2.2"));
  EXPECT_EQ(key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff:ffff:ffff:ffff"));  // one /64
  EXPECT_NE(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
  // The families never share a key, whatever the bytes.
  EXPECT_NE(key("0.0.0.0"), key("::"));
  EXPECT_NE(key("4.0.0.0"), key("400::"));
}

TEST(PerAddressCount, RefusesBeyondTheLimitAndGivesSlotsBack) {
  PerAddressCount c(3);
  const auto a = key("192.0.2.1"), b = key("192.0.2.2");
  EXPECT_TRUE(c.acquire(a));
  EXPECT_TRUE(c.acquire(a));
  EXPECT_TRUE(c.acquire(a));
  EXPECT_FALSE(c.acquire(a));
  EXPECT_EQ(c.count(a), 3);
  EXPECT_TRUE(c.acquire(b));  // another address is not affected
  c.release(a);
  EXPECT_TRUE(c.acquire(a));
  for (int i = 0; i < 3; ++i) c.release(a);
  c.release(b);
  EXPECT_EQ(c.count(a), 0);
  EXPECT_EQ(c.count(b), 0);
}

TEST(PerAddressCount, ExactUnderConcurrency) {
  constexpr int kLimit = 50;
  PerAddressCount c(kLimit);
  const auto a = key("198.51.100.7");
  std::atomic<int> held{0}, max_held{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        if (!c.acquire(a)) continue;
        int now = held.fetch_add(1) + 1;
        int prev = max_held.load();
        while (now > prev && !max_held.compare_exchange_weak(prev, now)) {
        }
        held.fetch_sub(1);
        c.release(a);
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_LE(max_held.load(), kLimit);
  EXPECT_EQ(c.count(a), 0);
}

TEST(OpenFileLimit, RaisedToTheHardLimit) {
  rlimit rl{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
  rlimit lower = rl;
  lower.rlim_cur = std::min<rlim_t>(rl.rlim_max, 256);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lower), 0);
  FileLimit f = raise_open_file_limit();
  EXPECT_EQ(f.before, lower.rlim_cur);
  EXPECT_EQ(f.hard, rl.rlim_max);
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
  EXPECT_EQ(f.soft, rl.rlim_cur);
  if (rl.rlim_max != RLIM_INFINITY) {
    EXPECT_EQ(rl.rlim_cur, rl.rlim_max);
  }
}

}  // namespace
}  // namespace sr::http
