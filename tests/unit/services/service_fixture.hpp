// The services' tests run against real storage -- SQLite and PostgreSQL, through the storage
// conformance fixture -- with a real hash pool and a real (memory) rate limiter. TestCaller is the
// services::Caller a test plays: who asks, their session, and the route's own limit rows.
#pragma once
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "auth/hash_pool.hpp"
#include "http/run_task.hpp"
#include "observability/metrics.hpp"
#include "ratelimit/limiter.hpp"
#include "services/caller.hpp"
#include "services/passwords.hpp"
#include "services/tokens.hpp"
#include "storage/fixture.hpp"
#include "util/clock.hpp"
#include "util/error.hpp"

namespace sr::services::test {

using storage::test::Backend;

// Cheap Argon2id for tests (the cost itself is tested in tests/unit/auth).
inline constexpr auth::Argon2Params kArgon{64, 1};

class TestCaller final : public Caller {
 public:
  explicit TestCaller(ratelimit::Limiter& limiter, std::string address = "203.0.113.5")
      : limiter_(limiter), address_(std::move(address)) {
    request_id = "test-request";
    ip = address_;
  }

  std::optional<storage::Session> auth_session;
  const storage::Session& session() const override { return auth_session.value(); }

  // The rows the route declares: each checked with the memory limiter under the key api::Call
  // builds.
  struct Row {
    LimitKey key;
    std::string rule;
    ratelimit::Limit limit;
  };
  std::vector<Row> rows;
  std::vector<std::string> checked;  // every key checked, in order

  Task<void> limit(LimitKey key, std::string_view subject) override {
    for (const Row& r : rows) {
      if (r.key != key) continue;
      std::string k = r.rule + ":";
      switch (key) {
        case LimitKey::ip:
          k += "ip:" + address_;
          break;
        case LimitKey::user:
          k += "user:" + std::to_string(user_id);
          break;
        case LimitKey::session:
          k += "session:" + std::string(subject);
          break;
        case LimitKey::account:
          k += subject;
          break;
      }
      checked.push_back(k);
      if (!limiter_.check_now(k, r.limit).allowed)
        throw ApiError(ErrorCode::rate_limited, "Too many requests, retry later");
    }
    co_return;
  }

 private:
  ratelimit::Limiter& limiter_;
  std::string address_;
};

template <class T>
T run(Task<T> t) {
  return sr::test::run_task(std::move(t));
}
inline void run(Task<void> t) {
  sr::test::run_task([](Task<void> inner) -> Task<bool> {
    co_await std::move(inner);
    co_return true;
  }(std::move(t)));
}

// The error code a call throws, or nullopt when it throws nothing.
template <class F>
std::optional<ErrorCode> code_of(F&& f) {
  try {
    f();
  } catch (const ApiError& e) {
    return e.code();
  }
  return std::nullopt;
}

// The field errors of a validation failure.
template <class F>
FieldErrors fields_of(F&& f) {
  try {
    f();
  } catch (const ApiError& e) {
    return e.fields();
  }
  return {};
}

class ServiceTest : public storage::test::StorageTest {
 protected:
  void SetUp() override {
    StorageTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    pool_ = std::make_unique<auth::HashPool>(2, 64);
    passwords_ = std::make_unique<Passwords>(*pool_, kArgon, auth::PolicyOptions{});
    auth::JwtKeys keys;
    keys.current = SecretBytes::random(32);
    tokens_ = std::make_unique<Tokens>(std::move(keys), 900);
    limiter_ = ratelimit::make_memory_limiter();
  }
  void TearDown() override {
    pool_.reset();
    StorageTest::TearDown();
  }

  // A caller signed in as user uid with a live session sid (created here).
  std::unique_ptr<TestCaller> caller_for(int64_t uid, const std::string& sid) {
    auto c = std::make_unique<TestCaller>(*limiter_);
    c->user_id = uid;
    c->auth_session = make_session(uid, sid, now_unix() - 10, now_unix() + 3600);
    return c;
  }
  std::unique_ptr<TestCaller> anonymous() { return std::make_unique<TestCaller>(*limiter_); }

  // A user whose password is pw (hashed with the test cost).
  int64_t make_user_with(const std::string& name, const std::string& pw) {
    const std::string h = auth::hash_password(SecretString::from_view(pw), kArgon);
    return w([&](storage::Repository& r) {
      return r.create_user(name, lower(name), lower(name) + "@example.com", h, 1000);
    });
  }
  static std::string lower(std::string s) {
    for (auto& c : s)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return s;
  }
  // The services' own clock: glibc's time() reads a coarse clock that can still show the
  // previous second when system_clock has passed it, which made "expires_at <= now + ttl" fail
  // once in a while at a second's boundary.
  static int64_t now_unix() { return ::sr::now_unix(); }

  obs::Metrics metrics_;
  std::unique_ptr<auth::HashPool> pool_;
  std::unique_ptr<Passwords> passwords_;
  std::unique_ptr<Tokens> tokens_;
  std::unique_ptr<ratelimit::Limiter> limiter_;
};

}  // namespace sr::services::test
