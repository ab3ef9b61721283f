// services::AccountService against real SQLite and PostgreSQL: signup, signin (timing dummy,
// re-hash compare-and-swap, the two-step shape), refresh rotation and reuse, sessions, password
// change, account deletion -- with the limits checked where SPEC 12 puts them.
#include "services/account_service.hpp"
#include "services/vault_service.hpp"

#include "service_fixture.hpp"

namespace sr::services::test {
namespace {

constexpr const char* kPw = "correct horse battery staple";

class AccountServiceTest : public ServiceTest {
 protected:
  void SetUp() override {
    ServiceTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    svc_ = std::make_unique<AccountService>(*st_, *passwords_, *tokens_, metrics_,
                                            AccountOptions{3600, 7200});
  }

  SigninRequest credentials(const std::string& login, const std::string& pw) {
    return {login, SecretString::from_view(pw), "test-agent/1.0"};
  }
  NewSession sign_in(const std::string& login, const std::string& pw = kPw) {
    auto who = anonymous();
    auto in = credentials(login, pw);
    return run(svc_->signin(*who, in)).session.value();
  }
  std::optional<storage::Session> session(const std::string& id) {
    return r([&](storage::Repository& repo) { return repo.find_session(id); });
  }
  // A caller on the session s of a signin.
  std::unique_ptr<TestCaller> caller_on(const NewSession& s) {
    auto c = anonymous();
    c->user_id = s.user_id;
    c->auth_session = session(s.session_id);
    return c;
  }

  std::unique_ptr<AccountService> svc_;
};

TEST_P(AccountServiceTest, SignupStoresTheAccountAndRefusesATakenName) {
  auto who = anonymous();
  NewAccount a{"Ada_L", "Ada@Example.COM", SecretString::from_view(kPw)};
  const int64_t id = run(svc_->signup(*who, a));
  auto u = r([&](storage::Repository& repo) { return repo.find_user(id); });
  ASSERT_TRUE(u);
  EXPECT_EQ(u->username, "Ada_L");
  EXPECT_EQ(u->email, "ada@example.com");
  EXPECT_TRUE(auth::verify_password(SecretString::from_view(kPw), u->password_hash, kArgon).ok);

  NewAccount same_name{"ada_l", "other@example.com", SecretString::from_view(kPw)};
  EXPECT_EQ(code_of([&] { run(svc_->signup(*who, same_name)); }), ErrorCode::conflict);
  NewAccount same_email{"someone", "ADA@example.com", SecretString::from_view(kPw)};
  EXPECT_EQ(code_of([&] { run(svc_->signup(*who, same_email)); }), ErrorCode::conflict);
}

TEST_P(AccountServiceTest, SignupValidatesBeforeItsLimitAndLimitsBeforeHashing) {
  auto who = anonymous();
  who->rows = {{LimitKey::ip, "signup", {1, 3600}}};
  NewAccount contains{"adalovelace", "a@example.com",
                      SecretString::from_view("my name is adalovelace!")};
  auto f = fields_of([&] { run(svc_->signup(*who, contains)); });
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].first, "password");
  EXPECT_TRUE(who->checked.empty()) << "the limit is checked after validation";

  NewAccount ok{"ada", "a@example.com", SecretString::from_view(kPw)};
  run(svc_->signup(*who, ok));
  EXPECT_EQ(who->checked, std::vector<std::string>{"signup:ip:203.0.113.5"});
  NewAccount next{"grace", "g@example.com", SecretString::from_view(kPw)};
  EXPECT_EQ(code_of([&] { run(svc_->signup(*who, next)); }), ErrorCode::rate_limited);
  EXPECT_FALSE(r([&](storage::Repository& repo) { return repo.find_user_by_login("grace"); }));
}

TEST_P(AccountServiceTest, SigninCreatesASessionWhoseTokensNameIt) {
  const int64_t uid = make_user_with("ada", kPw);
  for (const char* login : {"ada", "ADA", "ada@example.com", "Ada@Example.com"}) {
    const NewSession s = sign_in(login);
    EXPECT_EQ(s.user_id, uid);
    auto row = session(s.session_id);
    ASSERT_TRUE(row) << login;
    EXPECT_EQ(row->user_id, uid);
    EXPECT_EQ(row->user_agent, "test-agent/1.0");
    EXPECT_EQ(row->ip, "203.0.113.5");
    auto v = tokens_->verify_access(s.tokens.access, now_unix());
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(subject_id(v.claims), uid);
    EXPECT_EQ(v.claims.sid, s.session_id);
    EXPECT_EQ(v.claims.csrf, s.tokens.access_csrf);
    auto rv = tokens_->verify_refresh(s.tokens.refresh, now_unix());
    ASSERT_TRUE(rv.ok());
    EXPECT_EQ(rv.claims.jti, row->refresh_jti);
  }
}

TEST_P(AccountServiceTest, WrongPasswordAndUnknownUserFailAlikeAndCount) {
  const int64_t uid = make_user_with("ada", kPw);
  auto who = anonymous();
  auto bad = credentials("ada", "not the password at all");
  auto unknown = credentials("nobody", kPw);
  EXPECT_EQ(code_of([&] { run(svc_->signin(*who, bad)); }), ErrorCode::invalid_credentials);
  EXPECT_EQ(code_of([&] { run(svc_->signin(*who, unknown)); }), ErrorCode::invalid_credentials);
  const std::string m = metrics_.render();
  EXPECT_NE(m.find("auth_failures_total{reason=\"invalid_credentials\"} 2"), std::string::npos)
      << m;
  EXPECT_TRUE(
      r([&](storage::Repository& repo) { return repo.list_active_sessions(uid, 0); }).empty());
}

TEST_P(AccountServiceTest, SigninLimitsByIpThenByAccountSharedByUsernameAndEmail) {
  const int64_t uid = make_user_with("ada", kPw);
  auto who = anonymous();
  who->rows = {{LimitKey::ip, "signin", {100, 60}}, {LimitKey::account, "signin_user", {2, 60}}};
  auto by_name = credentials("ada", "wrong password one");
  auto by_email = credentials("ADA@example.com", "wrong password two");
  EXPECT_EQ(code_of([&] { run(svc_->signin(*who, by_name)); }), ErrorCode::invalid_credentials);
  EXPECT_EQ(code_of([&] { run(svc_->signin(*who, by_email)); }), ErrorCode::invalid_credentials);
  auto right = credentials("ada", kPw);
  EXPECT_EQ(code_of([&] { run(svc_->signin(*who, right)); }), ErrorCode::rate_limited);
  const std::string account = "signin_user:id:" + std::to_string(uid);
  EXPECT_EQ(who->checked,
            (std::vector<std::string>{"signin:ip:203.0.113.5", account, "signin:ip:203.0.113.5",
                                      account, "signin:ip:203.0.113.5", account}));
  // An unknown login has a bucket of its own.
  auto unknown = credentials("Nobody", kPw);
  EXPECT_EQ(code_of([&] { run(svc_->signin(*who, unknown)); }), ErrorCode::invalid_credentials);
  EXPECT_EQ(who->checked.back(), "signin_user:login:nobody");
}

TEST_P(AccountServiceTest, WeakerHashIsReplacedAtSignin) {
  const std::string weak = auth::hash_password(SecretString::from_view(kPw), {32, 1});
  const int64_t uid =
      w([&](storage::Repository& r) { return r.create_user("ada", "ada", "a@x.org", weak, 1); });
  sign_in("ada");
  auto u = r([&](storage::Repository& repo) { return repo.find_user(uid); });
  EXPECT_NE(u->password_hash, weak);
  auto vr = auth::verify_password(SecretString::from_view(kPw), u->password_hash, kArgon);
  EXPECT_TRUE(vr.ok);
  EXPECT_FALSE(vr.needs_rehash);
}

// The second step of a signin (start_session) only succeeds while the hash the first step
// checked is still the account's: a password change in between leaves no session behind.
TEST_P(AccountServiceTest, SessionIsNotStartedWhenThePasswordChangedAfterItsCheck) {
  const int64_t uid = make_user_with("ada", kPw);
  auto who = anonymous();
  const SecretString pw = SecretString::from_view(kPw);
  const PasswordChecked checked = run(svc_->check_signin_password(*who, "ada", pw));
  EXPECT_EQ(checked.user_id, uid);
  w([&](storage::Repository& r) { r.change_password(uid, "another-hash", "", 2); });
  const std::string ua = "ua";
  EXPECT_EQ(code_of([&] { run(svc_->start_session(*who, checked, ua)); }),
            ErrorCode::invalid_credentials);
  EXPECT_TRUE(
      r([&](storage::Repository& repo) { return repo.list_active_sessions(uid, 0); }).empty());
}

TEST_P(AccountServiceTest, RefreshRotatesAndASpentTokenRevokesTheSession) {
  make_user_with("ada", kPw);
  const NewSession s = sign_in("ada");
  auto who = anonymous();
  const auth::Claims first = svc_->verify_refresh(s.tokens.refresh, now_unix());
  const NewSession next = run(svc_->refresh(*who, first));
  EXPECT_EQ(next.session_id, s.session_id);
  EXPECT_NE(next.tokens.refresh, s.tokens.refresh);
  const auth::Claims second = svc_->verify_refresh(next.tokens.refresh, now_unix());
  EXPECT_EQ(second.jti, session(s.session_id)->refresh_jti);

  // The first token again: someone holds a copy. The session goes.
  EXPECT_EQ(code_of([&] { run(svc_->refresh(*who, first)); }), ErrorCode::token_reused);
  EXPECT_TRUE(session(s.session_id)->revoked_at);
  EXPECT_EQ(code_of([&] { run(svc_->refresh(*who, second)); }), ErrorCode::token_revoked);
}

TEST_P(AccountServiceTest, RefreshRefusesOtherTokensAndChecksItsLimitOnTheSession) {
  make_user_with("ada", kPw);
  const NewSession s = sign_in("ada");
  EXPECT_EQ(code_of([&] { svc_->verify_refresh(s.tokens.access, now_unix()); }),
            ErrorCode::unauthorized);
  EXPECT_EQ(code_of([&] { svc_->verify_refresh("not.a.token", now_unix()); }),
            ErrorCode::unauthorized);
  auto who = anonymous();
  who->rows = {{LimitKey::session, "refresh", {1, 60}}};
  const auth::Claims c = svc_->verify_refresh(s.tokens.refresh, now_unix());
  const NewSession next = run(svc_->refresh(*who, c));
  EXPECT_EQ(who->checked, std::vector<std::string>{"refresh:session:" + s.session_id});
  const auth::Claims c2 = svc_->verify_refresh(next.tokens.refresh, now_unix());
  EXPECT_EQ(code_of([&] { run(svc_->refresh(*who, c2)); }), ErrorCode::rate_limited);
  EXPECT_EQ(session(s.session_id)->refresh_jti, c2.jti) << "nothing rotated past the limit";
}

TEST_P(AccountServiceTest, RefreshCsrfIsTheRefreshTokensClaimAndChangesNothing) {
  make_user_with("ada", kPw);
  const NewSession s = sign_in("ada");
  const auto before = session(s.session_id);
  auto who = anonymous();
  const int64_t now = now_unix();
  const std::string csrf = run(svc_->refresh_csrf(*who, s.tokens.refresh, now));
  EXPECT_EQ(csrf, s.tokens.refresh_csrf);
  EXPECT_NE(csrf, s.tokens.access_csrf);
  // Asked again and again: the same answer, and the session row as it was (nothing rotated,
  // spent or touched), so the token still refreshes once, normally.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(run(svc_->refresh_csrf(*who, s.tokens.refresh, now)), csrf);
  const auto after = session(s.session_id);
  EXPECT_EQ(after->refresh_jti, before->refresh_jti);
  EXPECT_EQ(after->last_used_at, before->last_used_at);
  EXPECT_EQ(after->expires_at, before->expires_at);
  EXPECT_FALSE(after->revoked_at);
  const NewSession next =
      run(svc_->refresh(*who, svc_->verify_refresh(s.tokens.refresh, now_unix())));
  EXPECT_EQ(run(svc_->refresh_csrf(*who, next.tokens.refresh, now_unix())),
            next.tokens.refresh_csrf);
}

TEST_P(AccountServiceTest, RefreshCsrfOfASpentTokenIsReuseAsAtRefresh) {
  make_user_with("ada", kPw);
  const NewSession s = sign_in("ada");
  auto who = anonymous();
  const NewSession next =
      run(svc_->refresh(*who, svc_->verify_refresh(s.tokens.refresh, now_unix())));
  // The rotated-away token: token_reused, and the whole session ends, as a refresh with it would.
  EXPECT_EQ(code_of([&] { run(svc_->refresh_csrf(*who, s.tokens.refresh, now_unix())); }),
            ErrorCode::token_reused);
  EXPECT_TRUE(session(s.session_id)->revoked_at);
  EXPECT_EQ(code_of([&] { run(svc_->refresh_csrf(*who, next.tokens.refresh, now_unix())); }),
            ErrorCode::token_revoked);
  EXPECT_EQ(code_of([&] {
              run(svc_->refresh(*who, svc_->verify_refresh(next.tokens.refresh, now_unix())));
            }),
            ErrorCode::token_revoked);
}

TEST_P(AccountServiceTest, RefreshCsrfRefusesWhatRefreshRefuses) {
  const int64_t uid = make_user_with("ada", kPw);
  const int64_t other = make_user_with("grace", kPw);
  const NewSession s = sign_in("ada");
  auto who = anonymous();
  const int64_t now = now_unix();
  auto code = [&](const std::string& token, int64_t at) {
    return code_of([&] { run(svc_->refresh_csrf(*who, token, at)); });
  };
  EXPECT_EQ(code(s.tokens.access, now), ErrorCode::unauthorized) << "an access token";
  EXPECT_EQ(code("", now), ErrorCode::unauthorized);
  EXPECT_EQ(code("not.a.token", now), ErrorCode::unauthorized);
  std::string tampered = s.tokens.refresh;
  char& sig = tampered[tampered.rfind('.') + 1];  // a whole 6 bits of the MAC
  sig = sig == 'A' ? 'B' : 'A';
  EXPECT_EQ(code(tampered, now), ErrorCode::unauthorized) << "a bad signature";
  auth::JwtKeys foreign_keys;
  foreign_keys.current = SecretBytes::random(32);
  const Tokens foreign(std::move(foreign_keys), 900);
  const auto forged = foreign.issue(uid, s.session_id, "jti", now, now + 600);
  EXPECT_EQ(code(forged.refresh, now), ErrorCode::unauthorized) << "another server's key";
  // Past its exp (and the 30 s leeway): expired.
  const auto exp = session(s.session_id)->expires_at;
  EXPECT_EQ(code(s.tokens.refresh, exp + 31), ErrorCode::token_expired);
  // Within the leeway the token verifies, but its session is over.
  EXPECT_EQ(code(s.tokens.refresh, exp + 5), ErrorCode::token_expired);
  // Signed by us, but naming another user's session, or no user at all.
  const auto grace_on_ada = tokens_->issue(other, s.session_id, "jti", now, now + 600);
  EXPECT_EQ(code(grace_on_ada.refresh, now), ErrorCode::token_revoked);
  const auto nobody = tokens_->issue(0, s.session_id, "jti", now, now + 600);
  EXPECT_EQ(code(nobody.refresh, now), ErrorCode::unauthorized);
  EXPECT_FALSE(session(s.session_id)->revoked_at) << "none of these ended the session";
  // A session that ended: revoked.
  run(svc_->logout(*caller_on(s)));
  EXPECT_EQ(code(s.tokens.refresh, now), ErrorCode::token_revoked);
}

TEST_P(AccountServiceTest, SessionsLogoutAndRevocation) {
  const int64_t uid = make_user_with("ada", kPw);
  const int64_t other_uid = make_user_with("grace", kPw);
  const NewSession a = sign_in("ada"), b = sign_in("ada"), g = sign_in("grace");
  auto on_a = caller_on(a);
  auto listed = run(svc_->sessions(*on_a));
  ASSERT_EQ(listed.size(), 2u);
  for (auto& s : listed) EXPECT_EQ(s.user_id, uid);

  // Another user's session is not found, and stays alive.
  EXPECT_EQ(code_of([&] { run(svc_->revoke_session(*on_a, g.session_id)); }), ErrorCode::not_found);
  EXPECT_FALSE(session(g.session_id)->revoked_at);
  run(svc_->revoke_session(*on_a, b.session_id));
  EXPECT_TRUE(session(b.session_id)->revoked_at);
  EXPECT_EQ(code_of([&] { run(svc_->revoke_session(*on_a, b.session_id)); }), ErrorCode::not_found);

  run(svc_->logout(*on_a));
  EXPECT_TRUE(session(a.session_id)->revoked_at);
  const NewSession c = sign_in("grace");
  auto on_g = caller_on(g);
  EXPECT_EQ(run(svc_->logout_all(*on_g)), 2);
  EXPECT_TRUE(session(c.session_id)->revoked_at);
  EXPECT_EQ(other_uid, g.user_id);
}

TEST_P(AccountServiceTest, ChangePasswordKeepsTheCurrentSessionOnly) {
  const int64_t uid = make_user_with("ada", kPw);
  const NewSession here = sign_in("ada"), there = sign_in("ada");
  auto who = caller_on(here);
  who->rows = {{LimitKey::user, "sensitive", {2, 3600}}};

  PasswordChange contains{SecretString::from_view(kPw), SecretString::from_view("ada ada ada ada")};
  auto f = fields_of([&] { run(svc_->change_password(*who, contains)); });
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].first, "new_password");
  EXPECT_TRUE(who->checked.empty()) << "the limit is checked after validation";

  PasswordChange wrong{SecretString::from_view("not the password"),
                       SecretString::from_view("a new long passphrase")};
  EXPECT_EQ(code_of([&] { run(svc_->change_password(*who, wrong)); }),
            ErrorCode::invalid_credentials);
  PasswordChange ok{SecretString::from_view(kPw), SecretString::from_view("a new long passphrase")};
  EXPECT_EQ(run(svc_->change_password(*who, ok)), 1);
  EXPECT_FALSE(session(here.session_id)->revoked_at);
  EXPECT_TRUE(session(there.session_id)->revoked_at);
  auto u = r([&](storage::Repository& repo) { return repo.find_user(uid); });
  EXPECT_TRUE(auth::verify_password(SecretString::from_view("a new long passphrase"),
                                    u->password_hash, kArgon)
                  .ok);
  EXPECT_EQ(who->checked.size(), 2u);
  EXPECT_EQ(code_of([&] { run(svc_->change_password(*who, ok)); }), ErrorCode::rate_limited);
}

TEST_P(AccountServiceTest, ChangePasswordRefusesThePasswordThatOpensTheVault) {
  make_user_with("ada", kPw);
  const NewSession here = sign_in("ada"), there = sign_in("ada");
  auto who = caller_on(here);
  const SecretString vault_pw = SecretString::from_view("the vault has its own words");
  VaultService vaults(*st_, *passwords_, metrics_, SecretBytes::random(32),
                      VaultOptions{300, 1800});
  run(vaults.setup(*who, vault_pw));

  // With a wrong current password: 401 first, so this tells nothing about the vault password.
  PasswordChange guess{SecretString::from_view("not the password"), vault_pw};
  EXPECT_EQ(code_of([&] { run(svc_->change_password(*who, guess)); }),
            ErrorCode::invalid_credentials);
  PasswordChange same{SecretString::from_view(kPw), vault_pw};
  auto f = fields_of([&] { run(svc_->change_password(*who, same)); });
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].first, "new_password");
  EXPECT_EQ(f[0].second, "must differ from the vault password");
  EXPECT_FALSE(session(there.session_id)->revoked_at) << "nothing changed";
  EXPECT_TRUE(run(svc_->check_signin_password(*who, "ada", SecretString::from_view(kPw))).user_id);
  PasswordChange other{SecretString::from_view(kPw),
                       SecretString::from_view("the vault has its own wordS")};
  EXPECT_EQ(run(svc_->change_password(*who, other)), 1);
}

TEST_P(AccountServiceTest, DeleteAccountNeedsThePassword) {
  const int64_t uid = make_user_with("ada", kPw);
  const NewSession s = sign_in("ada");
  auto who = caller_on(s);
  AccountDeletion wrong{SecretString::from_view("not the password")};
  EXPECT_EQ(code_of([&] { run(svc_->delete_account(*who, wrong)); }),
            ErrorCode::invalid_credentials);
  EXPECT_TRUE(r([&](storage::Repository& repo) { return repo.find_user(uid); }));
  AccountDeletion right{SecretString::from_view(kPw)};
  run(svc_->delete_account(*who, right));
  EXPECT_FALSE(r([&](storage::Repository& repo) { return repo.find_user(uid); }));
  EXPECT_FALSE(session(s.session_id));
  // The account is gone: a second attempt finds no user behind the caller.
  EXPECT_EQ(code_of([&] { run(svc_->delete_account(*who, right)); }), ErrorCode::token_revoked);
}

INSTANTIATE_TEST_SUITE_P(Backends, AccountServiceTest,
                         ::testing::Values(Backend::sqlite, Backend::postgresql),
                         storage::test::backend_name);

}  // namespace
}  // namespace sr::services::test
