#include "services/account_service.hpp"

#include <algorithm>

#include "observability/log.hpp"
#include "services/vault_service.hpp"
#include "util/clock.hpp"
#include "util/error.hpp"
#include "util/random.hpp"
#include "util/utf8.hpp"

namespace sr::services {

using storage::Access;
using storage::Repository;

AccountService::AccountService(storage::Storage& db, Passwords& passwords, Tokens& tokens,
                               obs::Metrics& metrics, AccountOptions opts,
                               SecondFactorCheck* second)
    : db_(db),
      passwords_(passwords),
      tokens_(tokens),
      metrics_(metrics),
      opts_(opts),
      second_(second) {}

int64_t AccountService::session_expiry(int64_t created_at, int64_t now) const {
  return std::min(now + opts_.refresh_ttl, created_at + opts_.session_max_ttl);
}

Task<int64_t> AccountService::signup(Caller& who, const NewAccount& in) {
  passwords_.check_new("password", in.password.view(), in.username);
  co_await who.limit(LimitKey::ip);
  const std::string hash = co_await passwords_.hash(in.password);
  const std::string norm = lower_ascii(in.username), email = lower_ascii(in.email);
  int64_t id = 0;
  bool taken = false;
  try {
    co_await db_.run(Access::write, [&](Repository& r) {
      id = r.create_user(in.username, norm, email, hash, now_unix());
    });
  } catch (const ConflictError&) {
    taken = true;  // thrown below, not inside the handler (g++ 12 coroutines)
  }
  if (taken) throw ApiError(ErrorCode::conflict, "Username or email is already taken");
  obs::log(obs::Level::info, "auth.signup", {{"request_id", who.request_id}, {"user_id", id}});
  co_return id;
}

Task<SigninResult> AccountService::signin(Caller& who, const SigninRequest& in) {
  const PasswordChecked checked = co_await check_signin_password(who, in.login, in.password);
  SigninResult out;
  if (second_) out.mfa_token = co_await second_->challenge(who, checked);
  if (out.mfa_token.empty()) out.session = co_await start_session(who, checked, in.user_agent);
  co_return out;
}

Task<PasswordChecked> AccountService::check_signin_password(Caller& who,
                                                            const std::string& login_as_typed,
                                                            const SecretString& pw) {
  const std::string login = lower_ascii(login_as_typed);
  co_await who.limit(LimitKey::ip);
  std::optional<storage::User> user;
  co_await db_.run(Access::read, [&](Repository& r) { user = r.find_user_by_login(login); });
  // The per-account limit is keyed on the account, so its username and its email share one
  // bucket; unknown logins get a bucket of their own (the IP limit was checked first, so an
  // attacker already limited by IP cannot spend a victim's quota).
  const std::string account = user ? "id:" + std::to_string(user->id) : "login:" + login;
  co_await who.limit(LimitKey::account, account);
  // An unknown user still costs one hash, against a dummy made at start: timing does not tell.
  const std::string& stored = user ? user->password_hash : passwords_.dummy_hash();
  const auth::VerifyResult vr = co_await passwords_.verify(pw, stored);
  if (!user || !vr.ok) {
    metrics_.inc("auth_failures_total", "reason=\"invalid_credentials\"");
    obs::security_event("auth.signin.failure", who.request_id, who.ip,
                        {{"user_id", user ? user->id : int64_t{0}},
                         {"reason", user ? "bad_password" : "unknown_user"}});
    throw ApiError(ErrorCode::invalid_credentials, "Invalid username or password");
  }
  // The hash the password was checked against: the session is created only while it is still
  // the user's (Repository::create_session), so a signin racing a password change (or an account
  // deletion) gets no session, and a re-hash never undoes a change that committed meanwhile.
  PasswordChecked checked{user->id, user->password_hash};
  if (vr.needs_rehash) {
    std::string h = co_await passwords_.hash(pw);
    const int64_t uid = user->id;
    bool current = false;
    co_await db_.run(Access::write, [&](Repository& r) {
      current = r.update_password_hash(uid, checked.verified_hash, h);
    });
    if (!current) changed_during_signin(who, uid);
    checked.verified_hash = std::move(h);
    obs::log(obs::Level::info, "auth.password.rehashed",
             {{"request_id", who.request_id}, {"user_id", uid}});
  }
  co_return checked;
}

Task<NewSession> AccountService::start_session(Caller& who, const PasswordChecked& checked,
                                               const std::string& user_agent) {
  const int64_t now = now_unix();
  storage::Session s;
  s.id = random_token(24);
  s.user_id = checked.user_id;
  s.refresh_jti = random_token(16);
  s.created_at = s.last_used_at = now;
  s.expires_at = session_expiry(now, now);
  s.user_agent = user_agent;
  s.ip = std::string(who.ip);
  bool created = false;
  co_await db_.run(Access::write,
                   [&](Repository& r) { created = r.create_session(s, &checked.verified_hash); });
  if (!created) changed_during_signin(who, checked.user_id);
  NewSession out{checked.user_id, s.id,
                 tokens_.issue(checked.user_id, s.id, s.refresh_jti, now, s.expires_at)};
  obs::security_event("auth.signin.success", who.request_id, who.ip, {{"user_id", checked.user_id}},
                      obs::Level::info);
  co_return out;
}

void AccountService::changed_during_signin(const Caller& who, int64_t user_id) const {
  // The password was changed, or the account deleted, while this one was being checked.
  obs::security_event("auth.signin.failure", who.request_id, who.ip,
                      {{"user_id", user_id}, {"reason", "changed_during_signin"}});
  throw ApiError(ErrorCode::invalid_credentials, "Invalid username or password");
}

auth::Claims AccountService::verify_refresh(std::string_view token, int64_t now) {
  auto v = tokens_.verify_refresh(token, now);
  if (!v.ok()) {
    metrics_.inc("auth_failures_total", "reason=\"refresh_invalid\"");
    if (v.error == auth::JwtError::expired)
      throw ApiError(ErrorCode::token_expired, "Refresh token has expired");
    throw ApiError(ErrorCode::unauthorized, "Invalid refresh token");
  }
  return std::move(v.claims);
}

Task<NewSession> AccountService::refresh(Caller& who, const auth::Claims& claims) {
  const int64_t uid = subject_id(claims);
  if (uid == 0) throw ApiError(ErrorCode::unauthorized, "Invalid refresh token");
  const std::string sid = claims.sid;
  co_await who.limit(LimitKey::session, sid);

  const int64_t now = now_unix();
  const std::string new_jti = random_token(16);
  enum class Outcome { rotated, reused, revoked } outcome = Outcome::revoked;
  std::optional<ApiError> refused;
  int64_t new_expires = 0;
  co_await db_.run(Access::write, [&](Repository& r) {
    auto s = r.find_session(sid);
    refused = refresh_refusal(s, uid, now);
    if (refused) return;
    new_expires = session_expiry(s->created_at, now);
    if (r.rotate_refresh(sid, claims.jti, new_jti, new_expires, now)) {
      r.block_token(claims.jti, sid, uid, claims.exp);
      outcome = Outcome::rotated;
    } else if (r.revoke_session(sid, now)) {
      // A signed refresh token of a live session that is not its current one was already spent:
      // someone holds a copy. Revoke the whole session (OAuth 2.0 Security BCP, refresh
      // rotation). When the session was revoked meanwhile (logout), it is simply revoked.
      outcome = Outcome::reused;
    }
  });
  if (refused) throw *refused;
  if (outcome == Outcome::reused) reuse_detected(who, uid, sid);
  if (outcome == Outcome::revoked)
    throw ApiError(ErrorCode::token_revoked, "Session has been revoked");
  co_return NewSession{uid, sid, tokens_.issue(uid, sid, new_jti, now, new_expires)};
}

Task<std::string> AccountService::refresh_csrf(Caller& who, std::string_view token, int64_t now) {
  const auth::Claims claims = verify_refresh(token, now);
  const int64_t uid = subject_id(claims);
  if (uid == 0) throw ApiError(ErrorCode::unauthorized, "Invalid refresh token");
  // The session too, so that a browser holding the cookies of a session that ended (they stay
  // until they expire: logout elsewhere clears none) hears so here, at once.
  const std::string sid = claims.sid;
  std::optional<storage::Session> s;
  co_await db_.run(Access::read, [&](Repository& r) { s = r.find_session(sid); });
  if (auto refused = refresh_refusal(s, uid, now)) throw *refused;
  if (s->refresh_jti != claims.jti) {
    // A spent token is theft here as at refresh: answering it would let whoever holds a copy
    // find out, without a trace, whether the copy is still good (docs/SECURITY.md).
    bool revoked = false;
    co_await db_.run(Access::write, [&](Repository& r) { revoked = r.revoke_session(sid, now); });
    if (!revoked) throw ApiError(ErrorCode::token_revoked, "Session has been revoked");
    reuse_detected(who, uid, sid);
  }
  co_return claims.csrf;
}

void AccountService::reuse_detected(const Caller& who, int64_t uid, const std::string& sid) {
  metrics_.inc("auth_failures_total", "reason=\"token_reused\"");
  obs::security_event("auth.token.reuse", who.request_id, who.ip,
                      {{"user_id", uid}, {"session", sid}}, obs::Level::error);
  throw ApiError(ErrorCode::token_reused, "Refresh token reuse detected; the session was revoked");
}

std::optional<ApiError> AccountService::refresh_refusal(const std::optional<storage::Session>& s,
                                                        int64_t uid, int64_t now) const {
  // Only a live, unexpired session of this very user may be refreshed. (rotate_refresh checks
  // neither the owner nor the expiry; a deleted user's sessions are gone with the user.)
  if (!s || s->revoked_at || s->user_id != uid)
    return ApiError(ErrorCode::token_revoked, "Session has been revoked");
  if (s->expires_at <= now || session_expiry(s->created_at, now) <= now)
    return ApiError(ErrorCode::token_expired, "Session has expired");
  return std::nullopt;
}

Task<void> AccountService::logout(Caller& who) {
  const std::string sid = who.session().id;
  co_await db_.run(Access::write, [&](Repository& r) { r.revoke_session(sid, now_unix()); });
}

Task<int64_t> AccountService::logout_all(Caller& who) {
  const int64_t uid = who.user_id;
  int64_t n = 0;
  co_await db_.run(Access::write,
                   [&](Repository& r) { n = r.revoke_user_sessions(uid, "", now_unix()); });
  co_return n;
}

Task<std::vector<storage::Session>> AccountService::sessions(Caller& who) {
  const int64_t uid = who.user_id;
  std::vector<storage::Session> v;
  co_await db_.run(Access::read,
                   [&](Repository& r) { v = r.list_active_sessions(uid, now_unix()); });
  co_return v;
}

Task<void> AccountService::revoke_session(Caller& who, const std::string& id) {
  const int64_t uid = who.user_id;
  bool done = false;
  co_await db_.run(Access::write, [&](Repository& r) {
    auto s = r.find_session(id);
    if (s && s->user_id == uid && !s->revoked_at && s->expires_at > now_unix())
      done = r.revoke_session(id, now_unix());
  });
  if (!done) throw ApiError(ErrorCode::not_found, "Session not found");
}

Task<int64_t> AccountService::change_password(Caller& who, const PasswordChange& in) {
  const storage::User user = co_await caller_user(db_, who);
  passwords_.check_new("new_password", in.new_password.view(), user.username);
  co_await who.limit(LimitKey::user);
  const auth::VerifyResult vr = co_await passwords_.verify(in.current_password, user.password_hash);
  if (!vr.ok) {
    obs::security_event("auth.password_change.failure", who.request_id, who.ip,
                        {{"user_id", user.id}});
    throw ApiError(ErrorCode::invalid_credentials, "Current password is incorrect");
  }
  // As vault setup refuses the reverse (SPEC 14): one stolen password must not open both. Only
  // once the current password was right, so that this is no oracle of the vault password.
  if (co_await opens_vault(db_, passwords_, user.id, in.new_password))
    fail_field("new_password", "must differ from the vault password");
  const std::string h = co_await passwords_.hash(in.new_password);
  const std::string sid = who.session().id;
  const int64_t uid = user.id;
  int64_t revoked = 0;
  // One transaction: never the new password with the other sessions -- perhaps the attacker's --
  // still alive, nor the sessions ended with the password unchanged.
  co_await db_.run(Access::write,
                   [&](Repository& r) { revoked = r.change_password(uid, h, sid, now_unix()); });
  obs::security_event("auth.password_change.success", who.request_id, who.ip,
                      {{"user_id", uid}, {"sessions_revoked", revoked}}, obs::Level::info);
  co_return revoked;
}

Task<void> AccountService::delete_account(Caller& who, const AccountDeletion& in) {
  co_await who.limit(LimitKey::user);
  const storage::User user = co_await caller_user(db_, who);
  const auth::VerifyResult vr = co_await passwords_.verify(in.password, user.password_hash);
  const int64_t uid = user.id;
  if (!vr.ok) {
    obs::security_event("auth.delete_account.failure", who.request_id, who.ip, {{"user_id", uid}});
    throw ApiError(ErrorCode::invalid_credentials, "Password is incorrect");
  }
  if (second_) co_await second_->require(who, uid, in.code);
  co_await db_.run(Access::write, [&](Repository& r) {
    r.revoke_user_sessions(uid, "", now_unix());
    r.delete_user(uid);
  });
  obs::security_event("auth.account.deleted", who.request_id, who.ip, {{"user_id", uid}},
                      obs::Level::info);
}

}  // namespace sr::services
