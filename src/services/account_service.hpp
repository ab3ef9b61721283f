// Accounts and their sessions (SPEC 4): signup, signin, refresh rotation with reuse detection,
// logout, sessions, password change, account deletion. Plain structs in and out; failures are
// ApiError with the SPEC code (util/error.hpp); security events and metrics are emitted here.
//
// Signin is built from two steps so that a second factor (SPEC 13) fits between them: the
// password step (check_signin_password) and the session step (start_session). signin() runs one
// after the other; a two-step signin answers "second factor required" after the first, keeps
// what it returned (bound to the verified hash), and runs start_session once the code is right.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "auth/jwt.hpp"
#include "observability/metrics.hpp"
#include "services/caller.hpp"
#include "services/passwords.hpp"
#include "services/tokens.hpp"
#include "storage/repository.hpp"
#include "util/error.hpp"
#include "util/secret.hpp"

namespace sr::services {

struct AccountOptions {
  int64_t refresh_ttl = 604800;       // a refresh token's lifetime
  int64_t session_max_ttl = 2592000;  // a session's absolute lifetime from signin
};

struct NewAccount {
  std::string username;  // validated (3-50 of [A-Za-z0-9_-])
  std::string email;     // validated; stored lowercased
  SecretString password;
};

struct SigninRequest {
  std::string login;  // username or email, any case
  SecretString password;
  std::string user_agent;  // already made safe to store
};

// The first factor passed: the account, and the hash its password was checked against (a session
// is created only while that is still the account's hash).
struct PasswordChecked {
  int64_t user_id = 0;
  std::string verified_hash;
};

// A session that was just created, with its tokens.
struct NewSession {
  int64_t user_id = 0;
  std::string session_id;
  TokenPair tokens;
};

// What a signin answers: a session, or -- with 2FA on (SPEC 13) -- the mfa_token of the pending
// second step, and no session.
struct SigninResult {
  std::optional<NewSession> session;
  std::string mfa_token;  // non-empty: a second factor is required
};

struct PasswordChange {
  SecretString current_password, new_password;
};

struct AccountDeletion {
  SecretString password;
  SecretString code;  // the second factor (SPEC 13), needed while 2FA is on; empty: none given
};

// The second factor as the account rules need it (SPEC 13; services::TwoFactorService
// implements it). Separate so that AccountService does not depend on how codes are checked.
class SecondFactorCheck {
 public:
  // After the right password: with 2FA on, a pending second step bound to `checked` is stored
  // and its mfa_token returned; "" when 2FA is off (the signin goes on to a session).
  virtual Task<std::string> challenge(Caller& who, const PasswordChecked& checked) = 0;
  // With 2FA on, spends `code` (a TOTP code or an unused recovery code) or throws:
  // validation_failed on "code" when it is empty, invalid_code when it is wrong. Off: nothing.
  virtual Task<void> require(Caller& who, int64_t user_id, const SecretString& code) = 0;

 protected:
  ~SecondFactorCheck() = default;
};

class AccountService {
 public:
  // second: the second factor of signin and account deletion; nullptr: none (2FA unavailable).
  AccountService(storage::Storage& db, Passwords& passwords, Tokens& tokens, obs::Metrics& metrics,
                 AccountOptions opts, SecondFactorCheck* second = nullptr);

  // A new account (409 conflict when the username or email is taken); its id. The password must
  // not contain the username (validation_failed on "password"); then the route's limit.
  Task<int64_t> signup(Caller& who, const NewAccount& in);

  // check_signin_password, then -- with 2FA on -- the second step's challenge, else start_session.
  Task<SigninResult> signin(Caller& who, const SigninRequest& in);
  // The route's limit per IP, the account lookup, the limit per account, the password check --
  // one hash whether or not the account exists -- and the re-hash of a legacy or weaker hash
  // (compare-and-swap: never over a password changed meanwhile). invalid_credentials otherwise.
  Task<PasswordChecked> check_signin_password(Caller& who, const std::string& login,
                                              const SecretString& pw);
  // A session for an account whose factors all passed, created only while `checked`'s hash is
  // still the account's (a password change or deletion meanwhile: invalid_credentials).
  Task<NewSession> start_session(Caller& who, const PasswordChecked& checked,
                                 const std::string& user_agent);

  // The claims of a refresh token (signature, type, times), or 401 (unauthorized,
  // token_expired), counted. The caller checks CSRF (cookie flow) before refresh().
  auth::Claims verify_refresh(std::string_view token, int64_t now);
  // Rotation (SPEC 4): a new token pair for the session of verified refresh claims. A token of a
  // live session that is not its current one was spent already: the session is revoked and
  // token_reused thrown (a security event). token_expired, token_revoked otherwise.
  Task<NewSession> refresh(Caller& who, const auth::Claims& claims);
  // The csrf claim of a refresh token, refused as refresh() would refuse it: verify_refresh, then
  // its session live (the token's user's, not revoked, not expired): 401 unauthorized,
  // token_expired or token_revoked otherwise; and a token that is no longer the session's current
  // one is reuse, exactly as at refresh (the session is revoked, token_reused). Otherwise a read
  // only: nothing is rotated or touched (GET /auth/csrf, docs/api.md).
  Task<std::string> refresh_csrf(Caller& who, std::string_view token, int64_t now);

  Task<void> logout(Caller& who);
  // Revokes every session of the caller; how many.
  Task<int64_t> logout_all(Caller& who);
  // The caller's live sessions, oldest first.
  Task<std::vector<storage::Session>> sessions(Caller& who);
  // Revokes one of the caller's live sessions; not_found for any other id.
  Task<void> revoke_session(Caller& who, const std::string& id);
  // Replaces the password and revokes every other session, in one transaction; how many it
  // revoked. validation_failed on "new_password" (policy), then the route's limit, then
  // invalid_credentials for a wrong current password, then validation_failed on "new_password"
  // when it opens the user's vault.
  Task<int64_t> change_password(Caller& who, const PasswordChange& in);
  // The route's limit, then the password (invalid_credentials), then with 2FA on the code
  // (SecondFactorCheck::require), then the user and all their rows go.
  Task<void> delete_account(Caller& who, const AccountDeletion& in);

  // The expiry of a session's refresh token issued now: refresh_ttl, never past session_max_ttl
  // from the session's creation.
  int64_t session_expiry(int64_t created_at, int64_t now) const;

 private:
  [[noreturn]] void changed_during_signin(const Caller& who, int64_t user_id) const;
  // A spent refresh token of session sid was presented (the session is revoked already).
  [[noreturn]] void reuse_detected(const Caller& who, int64_t uid, const std::string& sid);
  // Why the session of a refresh token of user uid cannot be refreshed at `now`, or nullopt.
  std::optional<ApiError> refresh_refusal(const std::optional<storage::Session>& s, int64_t uid,
                                          int64_t now) const;

  storage::Storage& db_;
  Passwords& passwords_;
  Tokens& tokens_;
  obs::Metrics& metrics_;
  AccountOptions opts_;
  SecondFactorCheck* second_;
};

}  // namespace sr::services
