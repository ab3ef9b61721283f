#include "auth/verify_cache.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "claims_fixture.hpp"

namespace sr::auth {
namespace {

using test::kNow;

JwtKeys keys(std::string_view secret = "current-secret-current-secret-0123456789") {
  JwtKeys k;
  k.current = SecretBytes::from_view(secret);
  return k;
}

Claims claims(std::string type = "access", std::string sid = "sess-1") {
  return test::sample_claims(std::move(type), std::move(sid));
}

void expect_same(const Verified& a, const Verified& b) {
  ASSERT_EQ(a.error, b.error);
  if (!a.ok()) return;
  EXPECT_EQ(a.claims.sub, b.claims.sub);
  EXPECT_EQ(a.claims.sid, b.claims.sid);
  EXPECT_EQ(a.claims.jti, b.claims.jti);
  EXPECT_EQ(a.claims.type, b.claims.type);
  EXPECT_EQ(a.claims.csrf, b.claims.csrf);
  EXPECT_EQ(a.claims.exp, b.claims.exp);
  EXPECT_EQ(a.claims.iss, b.claims.iss);
  EXPECT_EQ(a.claims.aud, b.claims.aud);
}

TEST(VerifyCache, SecondVerificationIsAHitWithTheSameClaims) {
  auto k = keys();
  VerifyCache cache(k, "access");
  const std::string t = sign(claims(), k);
  auto first = cache.verify(t, kNow);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(cache.hits(), 0u);
  auto second = cache.verify(t, kNow + 1);
  expect_same(second, verify(t, k, "access", kNow + 1));
  EXPECT_EQ(cache.hits(), 1u);
}

TEST(VerifyCache, TimeChecksRunOnEveryHit) {
  auto k = keys();
  VerifyCache cache(k, "access");
  const std::string t = sign(claims(), k);
  ASSERT_TRUE(cache.verify(t, kNow).ok());
  // exp = kNow + 900, leeway 30: valid up to kNow + 929, expired from kNow + 930.
  for (int64_t now : {kNow + 929, kNow + 930, kNow + 100000, kNow - 41, kNow - 40, kNow}) {
    auto got = cache.verify(t, now);
    expect_same(got, verify(t, k, "access", now));
  }
  EXPECT_EQ(cache.verify(t, kNow + 930).error, JwtError::expired);
  EXPECT_EQ(cache.verify(t, kNow - 41).error, JwtError::not_yet_valid);
  EXPECT_GE(cache.hits(), 6u);
}

TEST(VerifyCache, AlteredTokensNeverHit) {
  auto k = keys();
  VerifyCache cache(k, "access");
  const std::string t = sign(claims(), k);
  ASSERT_TRUE(cache.verify(t, kNow).ok());
  for (std::size_t i = 0; i < t.size(); i += 7) {
    std::string bad = t;
    bad[i] = bad[i] == 'A' ? 'B' : 'A';
    if (bad == t) continue;
    auto got = cache.verify(bad, kNow);
    EXPECT_FALSE(got.ok()) << "variant at " << i;
    expect_same(got, verify(bad, k, "access", kNow));
  }
  EXPECT_FALSE(cache.verify(t.substr(0, t.size() - 1), kNow).ok());  // a prefix
  EXPECT_FALSE(cache.verify(t + "A", kNow).ok());                    // an extension
  EXPECT_FALSE(cache.verify("", kNow).ok());
  EXPECT_EQ(cache.hits(), 0u);
}

TEST(VerifyCache, OtherTypeAndOtherKeysAreNeverAccepted) {
  auto k = keys();
  VerifyCache cache(k, "access");
  const std::string refresh = sign(claims("refresh"), k);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(cache.verify(refresh, kNow).error, JwtError::wrong_type);
  EXPECT_EQ(cache.hits(), 0u);
  // A token cached by one key set is unknown to a cache of another key set.
  const std::string t = sign(claims(), k);
  ASSERT_TRUE(cache.verify(t, kNow).ok());
  auto other = keys("another-secret-another-secret-0123456789");
  VerifyCache cache2(other, "access");
  EXPECT_EQ(cache2.verify(t, kNow).error, JwtError::bad_signature);
  EXPECT_EQ(cache2.verify(t, kNow).error, JwtError::bad_signature);
}

TEST(VerifyCache, EvictionKeepsAnswersRight) {
  auto k = keys();
  VerifyCache cache(k, "access", 16);  // one slot per shard: constant eviction
  std::vector<std::string> tokens;
  for (int i = 0; i < 200; ++i)
    tokens.push_back(sign(claims("access", "s" + std::to_string(i)), k));
  for (int round = 0; round < 3; ++round)
    for (int i = 0; i < 200; ++i) {
      auto got = cache.verify(tokens[i], kNow);
      ASSERT_TRUE(got.ok());
      ASSERT_EQ(got.claims.sid, "s" + std::to_string(i));
    }
}

TEST(VerifyCache, ConcurrentUseGivesEachTokenItsOwnClaims) {
  auto k = keys();
  VerifyCache cache(k, "access", 64);
  std::vector<std::string> tokens;
  for (int i = 0; i < 64; ++i) tokens.push_back(sign(claims("access", "s" + std::to_string(i)), k));
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int n = 0; n < 5000; ++n) {
        int i = (n * 7 + t) % 64;
        auto got = cache.verify(tokens[i], kNow);
        if (!got.ok() || got.claims.sid != "s" + std::to_string(i)) ++wrong;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_GT(cache.hits(), 0u);
}

}  // namespace
}  // namespace sr::auth
