// The two-step sign-in's storage (SPEC 13, migration 4) on both backends: the TOTP state and its
// setup/confirm/disable, the replay guard, single-use recovery codes, the mfa challenges (attempt
// cap, single success, expiry, the success's atomicity), the races several instances can run,
// cascades and the purge. The blobs here are arbitrary bytes: sealing is auth::TotpKeys' job.
#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <thread>
#include <vector>

#include "fixture.hpp"
#include "util/error.hpp"

namespace sr::storage::test {
namespace {

class TwoFactorTest : public StorageTest {
 protected:
  // Binary on purpose: NUL, 0xFF, bytes that are not UTF-8.
  static std::string blob(char tag) { return std::string("\x01\x00\xff", 3) + tag + "\xc3\x28"; }

  std::vector<std::string> codes(char set) {
    std::vector<std::string> out;
    for (int i = 0; i < 10; ++i) out.push_back(std::string(31, set) + static_cast<char>('0' + i));
    return out;
  }

  // A user with 2FA on: secret blob('S'), last_step `step`, recovery codes codes('a').
  int64_t enrolled(const std::string& name, int64_t step = 100) {
    const int64_t uid = make_user(name);
    w([&](Repository& r) { EXPECT_TRUE(r.set_totp_pending(uid, blob('S'), 1000)); });
    auto revoked =
        w([&](Repository& r) { return r.enable_totp(uid, blob('S'), step, codes('a'), "", 1000); });
    EXPECT_EQ(revoked, 0);
    return uid;
  }

  static SecondFactor step(int64_t s, const std::string& sealed = blob('S')) {
    return SecondFactor{s, sealed, {}};
  }
  static SecondFactor code(const std::string& hash) { return SecondFactor{std::nullopt, {}, hash}; }

  MfaChallenge challenge(int64_t uid, const std::string& token_hash, int64_t expires = 2000) {
    MfaChallenge c{token_hash, uid, "binding-" + token_hash, 1000, expires, 0, std::nullopt};
    w([&](Repository& r) { r.create_mfa_challenge(c); });
    return c;
  }

  std::optional<TotpState> state(int64_t uid) {
    return r([&](Repository& r) { return r.get_totp(uid); });
  }

  // n threads released together, each running f(thread index).
  template <class F>
  void race(int n, F f) {
    std::barrier start(n);
    std::vector<std::jthread> ts;
    for (int i = 0; i < n; ++i) {
      ts.emplace_back([&, i] {
        start.arrive_and_wait();
        f(i);
      });
    }
  }
};

TEST_P(TwoFactorTest, NothingUntilASetupStarts) {
  const int64_t uid = make_user("u");
  EXPECT_EQ(state(uid), std::nullopt);
  EXPECT_FALSE(w([&](Repository& r) { return r.use_second_factor(uid, step(5), 1000); }));
  EXPECT_FALSE(w([&](Repository& r) { return r.use_second_factor(uid, code(codes('a')[0]), 1); }));
  EXPECT_FALSE(w([&](Repository& r) { return r.disable_totp(uid); }));
  EXPECT_FALSE(w([&](Repository& r) { return r.replace_recovery_codes(uid, codes('b'), 1000); }));
}

TEST_P(TwoFactorTest, SetupReplacesAPendingSecretAndConfirmTakesOnlyTheCurrentOne) {
  const int64_t uid = make_user("u");
  ASSERT_TRUE(w([&](Repository& r) { return r.set_totp_pending(uid, blob('1'), 1000); }));
  auto s = state(uid);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->pending, blob('1'));
  EXPECT_EQ(s->secret, std::nullopt);
  EXPECT_EQ(s->enabled_at, std::nullopt);
  EXPECT_EQ(s->recovery_codes_left, 0);
  ASSERT_TRUE(w([&](Repository& r) { return r.set_totp_pending(uid, blob('2'), 1001); }));
  EXPECT_EQ(state(uid)->pending, blob('2'));
  // A confirm checked against the replaced secret: refused, nothing written.
  EXPECT_EQ(
      w([&](Repository& r) { return r.enable_totp(uid, blob('1'), 7, codes('a'), "", 1002); }),
      std::nullopt);
  EXPECT_EQ(state(uid)->secret, std::nullopt);
  EXPECT_EQ(state(uid)->recovery_codes_left, 0);
  // The current one.
  EXPECT_EQ(
      w([&](Repository& r) { return r.enable_totp(uid, blob('2'), 7, codes('a'), "", 1003); }), 0);
  s = state(uid);
  EXPECT_EQ(s->secret, blob('2'));
  EXPECT_EQ(s->pending, std::nullopt);
  EXPECT_EQ(s->last_step, 7);
  EXPECT_EQ(s->enabled_at, 1003);
  EXPECT_EQ(s->recovery_codes_left, 10);
  // 2FA on: no new setup, no second confirm.
  EXPECT_FALSE(w([&](Repository& r) { return r.set_totp_pending(uid, blob('3'), 1004); }));
  EXPECT_EQ(state(uid)->pending, std::nullopt);
  EXPECT_EQ(
      w([&](Repository& r) { return r.enable_totp(uid, blob('2'), 9, codes('b'), "", 1005); }),
      std::nullopt);
  EXPECT_EQ(state(uid)->last_step, 7);
}

TEST_P(TwoFactorTest, ConfirmRevokesEveryOtherSession) {
  const int64_t uid = make_user("u");
  const int64_t other = make_user("other");
  make_session(uid, "keep");
  make_session(uid, "s2");
  make_session(uid, "s3");
  make_session(other, "o1");
  w([&](Repository& r) { r.set_totp_pending(uid, blob('S'), 1000); });
  EXPECT_EQ(
      w([&](Repository& r) { return r.enable_totp(uid, blob('S'), 1, codes('a'), "keep", 1500); }),
      2);
  auto active = r([&](Repository& r) { return r.list_active_sessions(uid, 1500); });
  ASSERT_EQ(active.size(), 1u);
  EXPECT_EQ(active[0].id, "keep");
  EXPECT_EQ(r([&](Repository& r) { return r.find_session("s2"); })->revoked_at, 1500);
  EXPECT_FALSE(r([&](Repository& r) { return r.find_session("o1"); })->revoked_at);
}

TEST_P(TwoFactorTest, ConfirmIsAllOrNothing) {
  // A recovery code set with a repeated hash violates the unique key: the whole confirm is
  // undone -- 2FA stays off with its pending secret, and no session is revoked.
  const int64_t uid = make_user("u");
  make_session(uid, "keep");
  make_session(uid, "other");
  w([&](Repository& r) { r.set_totp_pending(uid, blob('S'), 1000); });
  auto dup = codes('a');
  dup[9] = dup[0];
  EXPECT_THROW(w([&](Repository& r) { r.enable_totp(uid, blob('S'), 1, dup, "keep", 1500); }),
               ConflictError);
  auto s = state(uid);
  EXPECT_EQ(s->secret, std::nullopt);
  EXPECT_EQ(s->pending, blob('S'));
  EXPECT_EQ(s->recovery_codes_left, 0);
  EXPECT_FALSE(r([&](Repository& r) { return r.find_session("other"); })->revoked_at);
}

TEST_P(TwoFactorTest, ReplayGuardTakesOnlyLaterStepsOfTheCurrentSecret) {
  const int64_t uid = enrolled("u", 100);
  auto use = [&](const SecondFactor& f) {
    return w([&](Repository& r) { return r.use_second_factor(uid, f, 2000); });
  };
  EXPECT_FALSE(use(step(100)));  // the confirm's step
  EXPECT_FALSE(use(step(99)));
  EXPECT_TRUE(use(step(101)));
  EXPECT_FALSE(use(step(101)));             // replayed
  EXPECT_FALSE(use(step(100)));             // older than the last
  EXPECT_FALSE(use(step(105, blob('X'))));  // not the user's secret (a re-enrollment raced)
  EXPECT_TRUE(use(step(103)));
  EXPECT_EQ(state(uid)->last_step, 103);
  // Another user's guard is their own.
  const int64_t other = enrolled("other", 50);
  EXPECT_TRUE(w([&](Repository& r) { return r.use_second_factor(other, step(60), 2000); }));
  EXPECT_EQ(state(uid)->last_step, 103);
}

TEST_P(TwoFactorTest, RecoveryCodesAreSingleUseAndPerUser) {
  const int64_t uid = enrolled("u");
  const int64_t other = enrolled("other");
  const auto set = codes('a');
  auto use = [&](int64_t who, const std::string& h) {
    return w([&](Repository& r) { return r.use_second_factor(who, code(h), 3000); });
  };
  EXPECT_TRUE(use(uid, set[3]));
  EXPECT_FALSE(use(uid, set[3]));  // reused
  EXPECT_EQ(state(uid)->recovery_codes_left, 9);
  EXPECT_TRUE(use(other, set[3]));  // the other user's set happens to hold the same hash
  EXPECT_FALSE(use(uid, std::string(32, 'z')));
  EXPECT_FALSE(use(uid, ""));
  for (int i = 0; i < 10; ++i)
    if (i != 3) {
      EXPECT_TRUE(use(uid, set[static_cast<std::size_t>(i)])) << i;
    }
  EXPECT_EQ(state(uid)->recovery_codes_left, 0);
  EXPECT_EQ(state(other)->recovery_codes_left, 9);
}

TEST_P(TwoFactorTest, ANewSetReplacesTheOld) {
  const int64_t uid = enrolled("u");
  ASSERT_TRUE(w([&](Repository& r) { return r.use_second_factor(uid, code(codes('a')[0]), 1); }));
  ASSERT_TRUE(w([&](Repository& r) { return r.replace_recovery_codes(uid, codes('b'), 2000); }));
  EXPECT_EQ(state(uid)->recovery_codes_left, 10);
  EXPECT_FALSE(w([&](Repository& r) { return r.use_second_factor(uid, code(codes('a')[1]), 1); }));
  EXPECT_TRUE(w([&](Repository& r) { return r.use_second_factor(uid, code(codes('b')[1]), 1); }));
  EXPECT_EQ(state(uid)->recovery_codes_left, 9);
}

TEST_P(TwoFactorTest, DisableRemovesSecretCodesAndChallenges) {
  const int64_t uid = enrolled("u");
  const int64_t other = enrolled("other");
  challenge(uid, "t-u");
  challenge(other, "t-o");
  ASSERT_TRUE(w([&](Repository& r) { return r.disable_totp(uid); }));
  EXPECT_EQ(state(uid), std::nullopt);
  EXPECT_FALSE(w([&](Repository& r) { return r.use_second_factor(uid, code(codes('a')[0]), 1); }));
  EXPECT_FALSE(w([&](Repository& r) { return r.use_second_factor(uid, step(500), 1); }));
  EXPECT_EQ(w([&](Repository& r) { return r.claim_mfa_attempt("t-u", 1500, 5); }), std::nullopt);
  EXPECT_FALSE(w([&](Repository& r) { return r.disable_totp(uid); }));
  // The other user is untouched.
  EXPECT_EQ(state(other)->recovery_codes_left, 10);
  EXPECT_TRUE(w([&](Repository& r) { return r.claim_mfa_attempt("t-o", 1500, 5); }));
  // A pending setup alone is not "on": disable refuses and keeps it.
  const int64_t p = make_user("pending");
  w([&](Repository& r) { r.set_totp_pending(p, blob('P'), 1000); });
  EXPECT_FALSE(w([&](Repository& r) { return r.disable_totp(p); }));
  EXPECT_EQ(state(p)->pending, blob('P'));
  // And after a disable, a new setup starts from nothing.
  ASSERT_TRUE(w([&](Repository& r) { return r.set_totp_pending(uid, blob('N'), 3000); }));
  EXPECT_EQ(state(uid)->secret, std::nullopt);
}

TEST_P(TwoFactorTest, ChallengeAllowsMaxAttemptsThenNothing) {
  const int64_t uid = enrolled("u");
  const auto c = challenge(uid, std::string("\x00\xfftoken", 7));
  for (int i = 1; i <= 5; ++i) {
    auto got = w([&](Repository& r) { return r.claim_mfa_attempt(c.token_hash, 1500, 5); });
    ASSERT_TRUE(got) << i;
    EXPECT_EQ(got->attempts, i);
    EXPECT_EQ(got->user_id, uid);
    EXPECT_EQ(got->token_hash, c.token_hash);
    EXPECT_EQ(got->password_binding, c.password_binding);
    EXPECT_EQ(got->expires_at, 2000);
    EXPECT_EQ(got->spent_at, std::nullopt);
  }
  EXPECT_EQ(w([&](Repository& r) { return r.claim_mfa_attempt(c.token_hash, 1500, 5); }),
            std::nullopt);
  // A prefix of the hash, or another hash, is nothing.
  EXPECT_EQ(w([&](Repository& r) { return r.claim_mfa_attempt(std::string("\x00", 1), 1500, 5); }),
            std::nullopt);
}

TEST_P(TwoFactorTest, ExpiredChallengeIsRefusedAtItsExpiry) {
  const int64_t uid = enrolled("u");
  challenge(uid, "t", 2000);
  EXPECT_EQ(w([&](Repository& r) { return r.claim_mfa_attempt("t", 2000, 5); }), std::nullopt);
  EXPECT_TRUE(w([&](Repository& r) { return r.claim_mfa_attempt("t", 1999, 5); }));
  EXPECT_EQ(w([&](Repository& r) { return r.finish_mfa("t", uid, step(101), 2000); }),
            MfaFinish::challenge_gone);
  EXPECT_EQ(state(uid)->last_step, 100);  // the factor was not spent
}

TEST_P(TwoFactorTest, FinishSpendsChallengeAndFactorTogether) {
  const int64_t uid = enrolled("u", 100);
  challenge(uid, "t");
  ASSERT_TRUE(w([&](Repository& r) { return r.claim_mfa_attempt("t", 1500, 5); }));
  // A refused factor: nothing changes, the challenge stays usable.
  EXPECT_EQ(w([&](Repository& r) { return r.finish_mfa("t", uid, step(100), 1500); }),
            MfaFinish::code_rejected);
  EXPECT_EQ(w([&](Repository& r) { return r.finish_mfa("t", uid, code("nope"), 1500); }),
            MfaFinish::code_rejected);
  EXPECT_EQ(w([&](Repository& r) { return r.finish_mfa("t", uid, SecondFactor{}, 1500); }),
            MfaFinish::code_rejected);
  // Not this user's challenge: nothing changes.
  const int64_t other = enrolled("other", 100);
  EXPECT_EQ(w([&](Repository& r) { return r.finish_mfa("t", other, step(101), 1500); }),
            MfaFinish::challenge_gone);
  EXPECT_EQ(state(other)->last_step, 100);
  // Success.
  EXPECT_EQ(w([&](Repository& r) { return r.finish_mfa("t", uid, step(101), 1500); }),
            MfaFinish::ok);
  EXPECT_EQ(state(uid)->last_step, 101);
  // Spent: no more attempts, no second success (and the factor is not spent by trying).
  EXPECT_EQ(w([&](Repository& r) { return r.claim_mfa_attempt("t", 1500, 5); }), std::nullopt);
  EXPECT_EQ(w([&](Repository& r) { return r.finish_mfa("t", uid, step(102), 1500); }),
            MfaFinish::challenge_gone);
  EXPECT_EQ(state(uid)->last_step, 101);
}

TEST_P(TwoFactorTest, FinishWithARecoveryCode) {
  const int64_t uid = enrolled("u");
  challenge(uid, "t1");
  challenge(uid, "t2");
  EXPECT_EQ(w([&](Repository& r) { return r.finish_mfa("t1", uid, code(codes('a')[4]), 1500); }),
            MfaFinish::ok);
  EXPECT_EQ(state(uid)->recovery_codes_left, 9);
  // The same code on another challenge: refused, and that challenge stays unspent.
  EXPECT_EQ(w([&](Repository& r) { return r.finish_mfa("t2", uid, code(codes('a')[4]), 1500); }),
            MfaFinish::code_rejected);
  EXPECT_EQ(w([&](Repository& r) { return r.finish_mfa("t2", uid, code(codes('a')[5]), 1500); }),
            MfaFinish::ok);
}

TEST_P(TwoFactorTest, AttemptCapHoldsUnderConcurrency) {
  const int64_t uid = enrolled("u");
  challenge(uid, "t");
  std::atomic<int> granted{0};
  race(12, [&](int) {
    for (int i = 0; i < 3; ++i) {
      bool ok = false;
      st_->run_sync(Access::write,
                    [&](Repository& r) { ok = r.claim_mfa_attempt("t", 1500, 5).has_value(); });
      if (ok) ++granted;
    }
  });
  EXPECT_EQ(granted.load(), 5);
}

TEST_P(TwoFactorTest, OneSuccessUnderConcurrency) {
  // Twelve racing second steps on one challenge, each with a valid and different factor: one
  // succeeds; the losers spend nothing.
  const int64_t uid = enrolled("u", 100);
  for (int round = 0; round < 5; ++round) {
    const std::string t = "t" + std::to_string(round);
    challenge(uid, t);
    const int64_t base = state(uid)->last_step;
    std::atomic<int> ok{0}, gone{0};
    race(12, [&](int i) {
      MfaFinish f{};
      st_->run_sync(Access::write,
                    [&](Repository& r) { f = r.finish_mfa(t, uid, step(base + 1 + i), 1500); });
      if (f == MfaFinish::ok) ++ok;
      if (f == MfaFinish::challenge_gone) ++gone;
    });
    EXPECT_EQ(ok.load(), 1) << round;
    EXPECT_EQ(gone.load(), 11) << round;
    const int64_t last = state(uid)->last_step;
    EXPECT_GT(last, base);
    EXPECT_LE(last, base + 12);
  }
}

TEST_P(TwoFactorTest, OneUseOfACodeUnderConcurrency) {
  const int64_t uid = enrolled("u", 100);
  std::atomic<int> steps{0}, recovery{0};
  race(12, [&](int i) {
    bool a = false, b = false;
    st_->run_sync(Access::write, [&](Repository& r) {
      a = r.use_second_factor(uid, step(101), 1500);
      b = r.use_second_factor(uid, code(codes('a')[static_cast<std::size_t>(i % 2)]), 1500);
    });
    steps += a;
    recovery += b;
  });
  EXPECT_EQ(steps.load(), 1);
  EXPECT_EQ(recovery.load(), 2);
}

TEST_P(TwoFactorTest, CascadesWithTheUser) {
  const int64_t uid = enrolled("u");
  challenge(uid, "t");
  ASSERT_TRUE(w([&](Repository& r) { return r.delete_user(uid); }));
  EXPECT_EQ(state(uid), std::nullopt);
  EXPECT_EQ(w([&](Repository& r) { return r.claim_mfa_attempt("t", 1500, 5); }), std::nullopt);
  // Rows of a user that does not exist cannot be made.
  EXPECT_THROW(w([&](Repository& r) { r.set_totp_pending(uid, blob('S'), 1); }), ConflictError);
  EXPECT_THROW(challenge(uid, "t2"), ConflictError);
  // The hash of a pending challenge is unique.
  const int64_t v = make_user("v");
  challenge(v, "dup");
  EXPECT_THROW(challenge(v, "dup"), ConflictError);
}

TEST_P(TwoFactorTest, PurgeRemovesExpiredChallenges) {
  const int64_t uid = enrolled("u");
  challenge(uid, "old", 1200);
  challenge(uid, "edge", 1300);
  challenge(uid, "new", 5000);
  ASSERT_EQ(w([&](Repository& r) { return r.finish_mfa("edge", uid, step(101), 1250); }),
            MfaFinish::ok);
  EXPECT_EQ(w([&](Repository& r) { return r.purge_expired(1300); }), 1);  // "old" only
  EXPECT_EQ(w([&](Repository& r) { return r.purge_expired(1301); }), 1);  // the spent "edge"
  EXPECT_TRUE(w([&](Repository& r) { return r.claim_mfa_attempt("new", 1301, 5); }));
  EXPECT_EQ(w([&](Repository& r) { return r.purge_expired(5001); }), 1);
  EXPECT_EQ(w([&](Repository& r) { return r.claim_mfa_attempt("new", 1301, 5); }), std::nullopt);
  EXPECT_EQ(state(uid)->recovery_codes_left, 10);  // purge touches challenges only
}

INSTANTIATE_TEST_SUITE_P(Backends, TwoFactorTest,
                         ::testing::Values(Backend::sqlite, Backend::postgresql), backend_name);

}  // namespace
}  // namespace sr::storage::test
