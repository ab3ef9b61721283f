// services::TwoFactorService with AccountService against real SQLite and PostgreSQL (SPEC 13):
// set-up and confirmation (other sessions revoked), the signin's second step (single success,
// attempts, expiry, a password change voiding it, replay), recovery codes (single use, a new set),
// turning it off, account deletion needing the code -- with the limits checked where SPEC 12
// puts them. Codes come from auth::totp::hotp, itself checked against RFC 6238's vectors.
#include "services/twofa_service.hpp"

#include <algorithm>
#include <set>

#include "auth/totp.hpp"
#include "service_fixture.hpp"

namespace sr::services::test {
namespace {

constexpr const char* kPw = "correct horse battery staple";

// AccountService and TwoFactorService wired to each other as api::Context does.
struct Both {
  Both(storage::Storage& db, Passwords& pw, Tokens& tokens, obs::Metrics& m, const SecretBytes& key,
       TwoFactorOptions opts)
      : accounts(db, pw, tokens, m, AccountOptions{3600, 7200}, &twofa),
        twofa(db, pw, accounts, m, key, opts) {}
  AccountService accounts;
  TwoFactorService twofa;
};

class TwoFactorServiceTest : public ServiceTest {
 protected:
  void SetUp() override {
    ServiceTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    make({});
  }
  void make(TwoFactorOptions opts) {
    svc_ = std::make_unique<Both>(*st_, *passwords_, *tokens_, metrics_, key_, opts);
  }
  AccountService& accounts() { return svc_->accounts; }
  TwoFactorService& twofa() { return svc_->twofa; }

  static SecretString s(std::string_view v) { return SecretString::from_view(v); }

  SigninResult signin(const std::string& login, const std::string& pw = kPw) {
    auto who = anonymous();
    SigninRequest in{login, s(pw), "test-agent/1.0"};
    return run(accounts().signin(*who, in));
  }
  NewSession session_of(const std::string& login) {
    auto r = signin(login);
    EXPECT_TRUE(r.mfa_token.empty());
    return r.session.value();
  }
  std::unique_ptr<TestCaller> caller_on(const NewSession& ns) {
    return caller_for_session(ns.user_id, ns.session_id);
  }
  std::unique_ptr<TestCaller> caller_for_session(int64_t uid, const std::string& sid) {
    auto c = anonymous();
    c->user_id = uid;
    c->auth_session = session(sid);
    return c;
  }
  std::optional<storage::Session> session(const std::string& id) {
    return r([&](storage::Repository& repo) { return repo.find_session(id); });
  }
  int64_t sessions_of(int64_t uid) {
    return static_cast<int64_t>(r([&](storage::Repository& repo) {
                                  return repo.list_active_sessions(uid, now_unix());
                                }).size());
  }

  // The code of the step `offset` steps from now.
  static std::string code(const SecretBytes& secret, int64_t offset = 0) {
    return auth::totp::hotp(secret,
                            static_cast<uint64_t>(auth::totp::step_at(now_unix()) + offset));
  }
  // Whether c is a code of one of the steps the server accepts now.
  static bool accepted(const SecretBytes& secret, const std::string& c) {
    for (int64_t d = -1; d <= 1; ++d)
      if (code(secret, d) == c) return true;
    return false;
  }
  // A six-digit code that none of the accepted steps has.
  static std::string wrong_code(const SecretBytes& secret) {
    for (const char* c : {"000000", "111111", "222222", "333333"}) {
      bool used = false;
      for (int64_t d = -2; d <= 2; ++d) used = used || code(secret, d) == c;
      if (!used) return c;
    }
    return "444444";
  }

  // 2FA turned on for the user of `ns`: its secret and recovery codes.
  struct Enrolled {
    SecretBytes secret;
    RecoveryCodes codes;
    std::string confirmed_with;  // the TOTP code the confirmation spent
  };
  Enrolled enroll(const NewSession& ns) {
    auto who = caller_on(ns);
    const TotpSetup setup = run(twofa().setup(*who, s(kPw)));
    Enrolled e;
    e.secret = SecretBytes::from_view(auth::totp::base32_decode(setup.secret).value());
    e.confirmed_with = code(e.secret);
    e.codes = run(twofa().confirm(*who, s(e.confirmed_with)));
    return e;
  }

  SecretBytes key_ = SecretBytes::random(32);
  std::unique_ptr<Both> svc_;
};

TEST_P(TwoFactorServiceTest, SetupNeedsThePasswordAndConfirmTurnsItOnEndingOtherSessions) {
  const int64_t uid = make_user_with("ada", kPw);
  const NewSession here = session_of("ada"), there = session_of("ada");
  auto who = caller_on(here);
  who->rows = {{LimitKey::user, "sensitive", {20, 3600}}};

  EXPECT_FALSE(run(twofa().status(*who)).totp_enabled);
  EXPECT_EQ(code_of([&] { run(twofa().setup(*who, s("not the password"))); }),
            ErrorCode::invalid_credentials);
  EXPECT_EQ(code_of([&] { run(twofa().confirm(*who, s("123456"))); }), ErrorCode::conflict)
      << "nothing pending";

  const TotpSetup first = run(twofa().setup(*who, s(kPw)));
  const TotpSetup setup = run(twofa().setup(*who, s(kPw)));  // replaces the pending one
  EXPECT_NE(first.secret, setup.secret);
  const auto raw = auth::totp::base32_decode(setup.secret);
  ASSERT_TRUE(raw);
  EXPECT_EQ(raw->size(), 20u);
  EXPECT_EQ(setup.otpauth_uri, "otpauth://totp/strongroom:ada?secret=" + setup.secret +
                                   "&issuer=strongroom&algorithm=SHA1&digits=6&period=30");
  EXPECT_EQ(setup.qr_svg.rfind("<svg", 0), 0u);
  const SecretBytes secret = SecretBytes::from_view(*raw);
  const SecretBytes replaced =
      SecretBytes::from_view(auth::totp::base32_decode(first.secret).value());

  // The stored secret is sealed: neither the raw bytes nor the base32 text are in the row.
  auto st = r([&](storage::Repository& repo) { return repo.get_totp(uid); });
  ASSERT_TRUE(st && st->pending);
  EXPECT_EQ(st->pending->find(raw->data(), 0, raw->size()), std::string::npos);
  EXPECT_EQ(st->pending->find(setup.secret), std::string::npos);

  EXPECT_EQ(code_of([&] { run(twofa().confirm(*who, s(wrong_code(secret)))); }),
            ErrorCode::invalid_code);
  const bool check_replaced = !accepted(secret, code(replaced));
  if (check_replaced) {
    EXPECT_EQ(code_of([&] { run(twofa().confirm(*who, s(code(replaced)))); }),
              ErrorCode::invalid_code)
        << "the replaced secret's code";
  }
  EXPECT_FALSE(run(twofa().status(*who)).totp_enabled);

  const RecoveryCodes codes = run(twofa().confirm(*who, s(code(secret))));
  ASSERT_EQ(codes.size(), 10u);
  EXPECT_EQ(std::set<std::string>(codes.begin(), codes.end()).size(), 10u);
  const TwoFactorStatus on = run(twofa().status(*who));
  EXPECT_TRUE(on.totp_enabled);
  EXPECT_EQ(on.recovery_codes_left, 10);
  EXPECT_FALSE(session(here.session_id)->revoked_at);
  EXPECT_TRUE(session(there.session_id)->revoked_at);

  EXPECT_EQ(code_of([&] { run(twofa().setup(*who, s(kPw))); }), ErrorCode::conflict);
  EXPECT_EQ(code_of([&] { run(twofa().confirm(*who, s(code(secret, 1)))); }), ErrorCode::conflict);
  // Every one of them checked the route's limit first.
  EXPECT_EQ(who->checked.size(), check_replaced ? 9u : 8u);
}

TEST_P(TwoFactorServiceTest, SigninAsksForTheSecondStepWhichCreatesTheSessionOnce) {
  const int64_t uid = make_user_with("ada", kPw);
  const NewSession first = session_of("ada");
  const Enrolled e = enroll(first);
  const int64_t before = sessions_of(uid);

  // A wrong password answers as without 2FA.
  EXPECT_EQ(code_of([&] { signin("ada", "not the password"); }), ErrorCode::invalid_credentials);
  const SigninResult pending = signin("ADA");
  EXPECT_FALSE(pending.session);
  ASSERT_TRUE(auth::is_mfa_token(pending.mfa_token));
  EXPECT_EQ(sessions_of(uid), before) << "no session before the second step";

  auto who = anonymous();
  who->rows = {{LimitKey::ip, "signin", {50, 60}}, {LimitKey::account, "signin_2fa", {50, 300}}};
  SecondStep wrong{pending.mfa_token, s(wrong_code(e.secret)), "agent"};
  EXPECT_EQ(code_of([&] { run(twofa().finish_signin(*who, wrong)); }), ErrorCode::invalid_code);
  // The code used to confirm may not be replayed.
  SecondStep replay{pending.mfa_token, s(e.confirmed_with), "agent"};
  EXPECT_EQ(code_of([&] { run(twofa().finish_signin(*who, replay)); }), ErrorCode::invalid_code);
  EXPECT_EQ(who->checked, (std::vector<std::string>{
                              "signin:ip:203.0.113.5", "signin_2fa:id:" + std::to_string(uid),
                              "signin:ip:203.0.113.5", "signin_2fa:id:" + std::to_string(uid)}));

  const std::string next = code(e.secret, 1);
  SecondStep right{pending.mfa_token, s(next), "agent"};
  const NewSession ns = run(twofa().finish_signin(*who, right));
  EXPECT_EQ(ns.user_id, uid);
  ASSERT_TRUE(session(ns.session_id));
  EXPECT_EQ(sessions_of(uid), before + 1);
  // Spent by its first success.
  EXPECT_EQ(code_of([&] { run(twofa().finish_signin(*who, right)); }), ErrorCode::unauthorized);

  // The same step again, with a fresh token: refused (replay guard per user).
  const SigninResult again = signin("ada");
  SecondStep same_step{again.mfa_token, s(next), "agent"};
  EXPECT_EQ(code_of([&] { run(twofa().finish_signin(*who, same_step)); }), ErrorCode::invalid_code);
}

TEST_P(TwoFactorServiceTest, ATokenIsRefusedWhenForgedExhaustedExpiredOrOfAnotherPassword) {
  const int64_t uid = make_user_with("ada", kPw);
  const Enrolled e = enroll(session_of("ada"));
  auto who = anonymous();

  for (std::string forged : {std::string("x"), std::string(43, 'A'), std::string(200, '-')}) {
    SecondStep f{forged, s(code(e.secret, 1)), ""};
    EXPECT_EQ(code_of([&] { run(twofa().finish_signin(*who, f)); }), ErrorCode::unauthorized);
  }

  // Five attempts, then even the right code is refused.
  const SigninResult p = signin("ada");
  for (int i = 0; i < 5; ++i) {
    SecondStep w{p.mfa_token, s(wrong_code(e.secret)), ""};
    EXPECT_EQ(code_of([&] { run(twofa().finish_signin(*who, w)); }), ErrorCode::invalid_code);
  }
  SecondStep late{p.mfa_token, s(code(e.secret, 1)), ""};
  EXPECT_EQ(code_of([&] { run(twofa().finish_signin(*who, late)); }), ErrorCode::unauthorized);

  // A password change voids a pending token.
  const SigninResult q = signin("ada");
  const std::string h = auth::hash_password(s("another long passphrase"), kArgon);
  w([&](storage::Repository& repo) {
    auto u = repo.find_user(uid);
    return repo.update_password_hash(uid, u->password_hash, h);
  });
  SecondStep voided{q.mfa_token, s(code(e.secret, 1)), ""};
  EXPECT_EQ(code_of([&] { run(twofa().finish_signin(*who, voided)); }), ErrorCode::unauthorized);

  // An expired token (a lifetime of 0 s).
  make({.challenge_ttl = 0});
  const SigninResult x = signin("ada", "another long passphrase");
  ASSERT_FALSE(x.mfa_token.empty());
  SecondStep expired{x.mfa_token, s(code(e.secret, 1)), ""};
  EXPECT_EQ(code_of([&] { run(twofa().finish_signin(*who, expired)); }), ErrorCode::unauthorized);
}

TEST_P(TwoFactorServiceTest, ATokenOfOneUserTakesOnlyThatUsersCodes) {
  make_user_with("ada", kPw);
  make_user_with("grace", kPw);
  const Enrolled ada = enroll(session_of("ada"));
  const Enrolled grace = enroll(session_of("grace"));
  auto who = anonymous();
  const SigninResult p = signin("ada");
  if (!accepted(ada.secret, code(grace.secret, 1))) {
    SecondStep other{p.mfa_token, s(code(grace.secret, 1)), ""};
    EXPECT_EQ(code_of([&] { run(twofa().finish_signin(*who, other)); }), ErrorCode::invalid_code);
  }
  SecondStep other_recovery{p.mfa_token, s(grace.codes[0]), ""};
  EXPECT_EQ(code_of([&] { run(twofa().finish_signin(*who, other_recovery)); }),
            ErrorCode::invalid_code);
  // grace's recovery code still works for grace.
  const SigninResult g = signin("grace");
  SecondStep mine{g.mfa_token, s(grace.codes[0]), ""};
  EXPECT_NO_THROW(run(twofa().finish_signin(*who, mine)));
}

TEST_P(TwoFactorServiceTest, RecoveryCodesAreSingleUseAndANewSetReplacesTheOld) {
  make_user_with("ada", kPw);
  const NewSession ns = session_of("ada");
  const Enrolled e = enroll(ns);
  auto anon = anonymous();

  // Typed in lower case without hyphens, it still counts -- once.
  std::string typed = e.codes[0];
  typed.erase(std::remove(typed.begin(), typed.end(), '-'), typed.end());
  std::transform(typed.begin(), typed.end(), typed.begin(),
                 [](char c) { return static_cast<char>(std::tolower(c)); });
  SecondStep first{signin("ada").mfa_token, s(typed), ""};
  const NewSession signed_in = run(twofa().finish_signin(*anon, first));
  auto who = caller_on(signed_in);
  EXPECT_EQ(run(twofa().status(*who)).recovery_codes_left, 9);
  SecondStep reuse{signin("ada").mfa_token, s(e.codes[0]), ""};
  EXPECT_EQ(code_of([&] { run(twofa().finish_signin(*anon, reuse)); }), ErrorCode::invalid_code);

  EXPECT_EQ(code_of([&] { run(twofa().regenerate(*who, s("not the password"), s(e.codes[1]))); }),
            ErrorCode::invalid_credentials);
  EXPECT_EQ(code_of([&] { run(twofa().regenerate(*who, s(kPw), s(e.codes[0]))); }),
            ErrorCode::invalid_code);
  const RecoveryCodes fresh = run(twofa().regenerate(*who, s(kPw), s(e.codes[1])));
  ASSERT_EQ(fresh.size(), 10u);
  for (const auto& c : fresh) EXPECT_EQ(std::count(e.codes.begin(), e.codes.end(), c), 0);
  EXPECT_EQ(run(twofa().status(*who)).recovery_codes_left, 10);
  SecondStep old{signin("ada").mfa_token, s(e.codes[2]), ""};
  EXPECT_EQ(code_of([&] { run(twofa().finish_signin(*anon, old)); }), ErrorCode::invalid_code);
  SecondStep now{signin("ada").mfa_token, s(fresh[0]), ""};
  EXPECT_NO_THROW(run(twofa().finish_signin(*anon, now)));
}

TEST_P(TwoFactorServiceTest, DisableNeedsThePasswordAndACodeThenSigninIsOneStep) {
  const int64_t uid = make_user_with("ada", kPw);
  const NewSession ns = session_of("ada");
  const Enrolled e = enroll(ns);
  auto who = caller_on(ns);
  const SigninResult pending = signin("ada");

  EXPECT_EQ(code_of([&] { run(twofa().disable(*who, s(kPw), s(wrong_code(e.secret)))); }),
            ErrorCode::invalid_code);
  EXPECT_EQ(
      code_of([&] { run(twofa().disable(*who, s("not the password"), s(code(e.secret, 1)))); }),
      ErrorCode::invalid_credentials);
  run(twofa().disable(*who, s(kPw), s(code(e.secret, 1))));
  EXPECT_FALSE(run(twofa().status(*who)).totp_enabled);
  EXPECT_FALSE(r([&](storage::Repository& repo) { return repo.get_totp(uid); }));
  EXPECT_EQ(code_of([&] { run(twofa().disable(*who, s(kPw), s(e.codes[0]))); }),
            ErrorCode::conflict);
  // A second step pending from before is void; the password alone signs in again.
  auto anon = anonymous();
  SecondStep stale{pending.mfa_token, s(e.codes[0]), ""};
  EXPECT_EQ(code_of([&] { run(twofa().finish_signin(*anon, stale)); }), ErrorCode::unauthorized);
  EXPECT_TRUE(signin("ada").session);
}

TEST_P(TwoFactorServiceTest, DeleteAccountNeedsTheCodeWhileTwoStepIsOn) {
  const int64_t uid = make_user_with("ada", kPw);
  const NewSession ns = session_of("ada");
  const Enrolled e = enroll(ns);
  auto who = caller_on(ns);
  const auto exists = [&] {
    return r([&](storage::Repository& repo) { return repo.find_user(uid); });
  };

  AccountDeletion none{s(kPw), {}};
  auto f = fields_of([&] { run(accounts().delete_account(*who, none)); });
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].first, "code");
  AccountDeletion wrong{s(kPw), s(wrong_code(e.secret))};
  EXPECT_EQ(code_of([&] { run(accounts().delete_account(*who, wrong)); }), ErrorCode::invalid_code);
  AccountDeletion bad_password{s("not the password"), s(e.codes[0])};
  EXPECT_EQ(code_of([&] { run(accounts().delete_account(*who, bad_password)); }),
            ErrorCode::invalid_credentials);
  EXPECT_TRUE(exists());
  EXPECT_EQ(run(twofa().status(*who)).recovery_codes_left, 10)
      << "no code spent on a wrong password";
  AccountDeletion right{s(kPw), s(e.codes[0])};
  run(accounts().delete_account(*who, right));
  EXPECT_FALSE(exists());
}

TEST(TwoFactorCodes, TheCodeFieldTakesSixDigitsOrARecoveryCode) {
  EXPECT_FALSE(code_problem("123456"));
  EXPECT_FALSE(code_problem("7KQM-V2XA-9HTD-C4NE"));
  EXPECT_FALSE(code_problem("7kqmv2xa9htdc4ne"));
  for (const char* bad : {"12345", "1234567", " 123456", "12345a", "7KQM-V2XA-9HTD-C4N",
                          "7KQM-V2XA-9HTD-C4NO", "", "１２３４５６"})
    EXPECT_TRUE(code_problem(bad)) << bad;
  EXPECT_FALSE(totp_code_problem("000000"));
  EXPECT_TRUE(totp_code_problem("7KQM-V2XA-9HTD-C4NE"));
}

INSTANTIATE_TEST_SUITE_P(Backends, TwoFactorServiceTest,
                         ::testing::Values(Backend::sqlite, Backend::postgresql),
                         storage::test::backend_name);

}  // namespace
}  // namespace sr::services::test
