#include "services/twofa_service.hpp"

#include "auth/recovery_codes.hpp"
#include "auth/totp.hpp"
#include "auth/totp_qr.hpp"
#include "observability/log.hpp"
#include "util/clock.hpp"
#include "util/error.hpp"

namespace sr::services {

using storage::Access;
using storage::Repository;

namespace {

constexpr std::string_view kIssuer = "strongroom";

bool enabled(const std::optional<storage::TotpState>& st) {
  return st && st->secret;
}

}  // namespace

std::optional<std::string> code_problem(std::string_view code) {
  if (auth::totp::is_code(code)) return std::nullopt;
  auto norm = auth::recovery::normalize(code);
  if (!norm) return "a 6-digit code from the authenticator app, or a recovery code";
  wipe(*norm);
  return std::nullopt;
}

std::optional<std::string> totp_code_problem(std::string_view code) {
  if (auth::totp::is_code(code)) return std::nullopt;
  return "the 6-digit code the authenticator app shows";
}

TwoFactorService::TwoFactorService(storage::Storage& db, Passwords& passwords,
                                   AccountService& accounts, obs::Metrics& metrics,
                                   const SecretBytes& totp_key, TwoFactorOptions opts)
    : db_(db),
      passwords_(passwords),
      accounts_(accounts),
      metrics_(metrics),
      keys_(totp_key),
      opts_(opts) {}

Task<std::optional<storage::TotpState>> TwoFactorService::state(int64_t user_id) {
  std::optional<storage::TotpState> st;
  co_await db_.run(Access::read, [&](Repository& r) { st = r.get_totp(user_id); });
  co_return st;
}

Task<TwoFactorStatus> TwoFactorService::status(Caller& who) {
  const auto st = co_await state(who.user_id);
  TwoFactorStatus out;
  out.totp_enabled = enabled(st);
  out.recovery_codes_left = out.totp_enabled ? st->recovery_codes_left : 0;
  co_return out;
}

Task<TotpSetup> TwoFactorService::setup(Caller& who, const SecretString& password) {
  co_await who.limit(LimitKey::user);
  const storage::User user = co_await caller_user(db_, who);
  const auth::VerifyResult vr = co_await passwords_.verify(password, user.password_hash);
  const int64_t uid = user.id;
  if (!vr.ok) {
    obs::security_event("auth.2fa.failure", who.request_id, who.ip,
                        {{"user_id", uid}, {"action", "setup"}, {"reason", "bad_password"}});
    throw ApiError(ErrorCode::invalid_credentials, "Password is incorrect");
  }
  if (enabled(co_await state(uid)))
    throw ApiError(ErrorCode::conflict, "Two-step sign-in is already on");
  const SecretBytes secret = auth::new_totp_secret();
  const std::string sealed = keys_.seal_secret(uid, secret);
  bool stored = false;
  co_await db_.run(Access::write,
                   [&](Repository& r) { stored = r.set_totp_pending(uid, sealed, now_unix()); });
  if (!stored) throw ApiError(ErrorCode::conflict, "Two-step sign-in is already on");
  TotpSetup out;
  out.secret = auth::totp::base32_encode(secret.view());
  out.otpauth_uri = auth::totp::otpauth_uri(kIssuer, user.username, out.secret);
  out.qr_svg = auth::totp::qr_svg(out.otpauth_uri);
  obs::log(obs::Level::info, "auth.2fa.setup", {{"request_id", who.request_id}, {"user_id", uid}});
  co_return out;
}

Task<RecoveryCodes> TwoFactorService::confirm(Caller& who, const SecretString& code) {
  co_await who.limit(LimitKey::user);
  const int64_t uid = who.user_id;
  const auto st = co_await state(uid);
  if (enabled(st)) throw ApiError(ErrorCode::conflict, "Two-step sign-in is already on");
  if (!st || !st->pending)
    throw ApiError(ErrorCode::conflict, "Nothing to confirm: start the set-up first");
  // A pending secret sealed under a totp_key that was changed since cannot be confirmed: the
  // user starts the set-up again.
  const auto key = keys_.open_secret(uid, *st->pending);
  if (!key) throw ApiError(ErrorCode::conflict, "The set-up has expired: start it again");
  const auto step = auth::totp::verify(*key, code.view(), now_unix(), st->last_step);
  if (!step) refuse_code(who, uid, "wrong_code");
  std::vector<std::string> hashes;
  RecoveryCodes codes = new_codes(uid, hashes);
  const std::string pending = *st->pending, keep = who.session().id;
  std::optional<int64_t> revoked;
  co_await db_.run(Access::write, [&](Repository& r) {
    revoked = r.enable_totp(uid, pending, *step, hashes, keep, now_unix());
  });
  if (!revoked) {
    wipe(codes);
    throw ApiError(ErrorCode::conflict, "The set-up was replaced meanwhile: start it again");
  }
  metrics_.inc("auth_2fa_total", "result=\"enabled\"");
  obs::security_event("auth.2fa.enabled", who.request_id, who.ip,
                      {{"user_id", uid}, {"sessions_revoked", *revoked}}, obs::Level::info);
  co_return codes;
}

Task<storage::TotpState> TwoFactorService::password_and_enabled(Caller& who,
                                                                const SecretString& password) {
  co_await who.limit(LimitKey::user);
  const storage::User user = co_await caller_user(db_, who);
  const auth::VerifyResult vr = co_await passwords_.verify(password, user.password_hash);
  if (!vr.ok) {
    obs::security_event("auth.2fa.failure", who.request_id, who.ip,
                        {{"user_id", user.id}, {"reason", "bad_password"}});
    throw ApiError(ErrorCode::invalid_credentials, "Password is incorrect");
  }
  auto st = co_await state(user.id);
  if (!enabled(st)) throw ApiError(ErrorCode::conflict, "Two-step sign-in is off");
  co_return std::move(*st);
}

Task<void> TwoFactorService::disable(Caller& who, const SecretString& password,
                                     const SecretString& code) {
  const storage::TotpState st = co_await password_and_enabled(who, password);
  const int64_t uid = who.user_id;
  co_await spend(who, uid, st, code);
  bool done = false;
  co_await db_.run(Access::write, [&](Repository& r) { done = r.disable_totp(uid); });
  if (!done) throw ApiError(ErrorCode::conflict, "Two-step sign-in is off");
  metrics_.inc("auth_2fa_total", "result=\"disabled\"");
  obs::security_event("auth.2fa.disabled", who.request_id, who.ip, {{"user_id", uid}},
                      obs::Level::info);
}

Task<RecoveryCodes> TwoFactorService::regenerate(Caller& who, const SecretString& password,
                                                 const SecretString& code) {
  const storage::TotpState st = co_await password_and_enabled(who, password);
  const int64_t uid = who.user_id;
  co_await spend(who, uid, st, code);
  std::vector<std::string> hashes;
  RecoveryCodes codes = new_codes(uid, hashes);
  bool done = false;
  co_await db_.run(Access::write, [&](Repository& r) {
    done = r.replace_recovery_codes(uid, hashes, now_unix());
  });
  if (!done) {
    wipe(codes);
    throw ApiError(ErrorCode::conflict, "Two-step sign-in is off");
  }
  obs::security_event("auth.2fa.recovery_regenerated", who.request_id, who.ip, {{"user_id", uid}},
                      obs::Level::info);
  co_return codes;
}

Task<std::string> TwoFactorService::challenge(Caller& who, const PasswordChecked& checked) {
  const int64_t uid = checked.user_id;
  if (!enabled(co_await state(uid))) co_return std::string();
  std::string token = auth::new_mfa_token();
  const int64_t now = now_unix();
  storage::MfaChallenge c;
  c.token_hash = keys_.mfa_token_hash(token);
  c.user_id = uid;
  c.password_binding = keys_.password_binding(uid, checked.verified_hash);
  c.created_at = now;
  c.expires_at = now + opts_.challenge_ttl;
  co_await db_.run(Access::write, [&](Repository& r) { r.create_mfa_challenge(c); });
  obs::log(obs::Level::info, "auth.2fa.challenge",
           {{"request_id", who.request_id}, {"user_id", uid}});
  co_return token;
}

Task<void> TwoFactorService::require(Caller& who, int64_t user_id, const SecretString& code) {
  const auto st = co_await state(user_id);
  if (!enabled(st)) co_return;
  if (code.empty()) fail_field("code", "is required while two-step sign-in is on");
  co_await spend(who, user_id, *st, code);
}

Task<NewSession> TwoFactorService::finish_signin(Caller& who, const SecondStep& in) {
  co_await who.limit(LimitKey::ip);
  const auto gone = [&](int64_t uid, std::string_view reason) {
    metrics_.inc("auth_failures_total", "reason=\"mfa_token\"");
    obs::security_event("auth.2fa.failure", who.request_id, who.ip,
                        {{"user_id", uid}, {"reason", reason}});
    return ApiError(ErrorCode::unauthorized,
                    "This sign-in attempt is not valid any more: sign in again");
  };
  // A token of any other shape was never issued: refused before any lookup.
  if (!auth::is_mfa_token(in.mfa_token)) throw gone(0, "malformed_token");
  const std::string hash = keys_.mfa_token_hash(in.mfa_token);
  const int64_t max_attempts = opts_.challenge_attempts;
  std::optional<storage::MfaChallenge> c;
  co_await db_.run(Access::write,
                   [&](Repository& r) { c = r.claim_mfa_attempt(hash, now_unix(), max_attempts); });
  if (!c) throw gone(0, "token_expired_spent_or_unknown");
  const int64_t uid = c->user_id;
  const std::string account = "id:" + std::to_string(uid);
  co_await who.limit(LimitKey::account, account);

  std::optional<storage::User> user;
  std::optional<storage::TotpState> st;
  co_await db_.run(Access::read, [&](Repository& r) {
    user = r.find_user(uid);
    st = r.get_totp(uid);
  });
  // Issued under another password (changed since), or 2FA turned off meanwhile: the signin
  // starts again from the password.
  if (!user || !enabled(st) ||
      !ct_equal(c->password_binding, keys_.password_binding(uid, user->password_hash)))
    throw gone(uid, "password_or_2fa_changed");

  const storage::SecondFactor f = check_code(who, uid, *st, in.code);
  storage::MfaFinish done = storage::MfaFinish::challenge_gone;
  co_await db_.run(Access::write,
                   [&](Repository& r) { done = r.finish_mfa(hash, uid, f, now_unix()); });
  if (done == storage::MfaFinish::challenge_gone) throw gone(uid, "token_spent_meanwhile");
  if (done == storage::MfaFinish::code_rejected) refuse_code(who, uid, "code_used");
  used(who, uid, f);
  // The session is created only while the password is still the one the token was issued
  // under (start_session's compare-and-swap on the hash).
  const PasswordChecked checked{uid, user->password_hash};
  co_return co_await accounts_.start_session(who, checked, in.user_agent);
}

storage::SecondFactor TwoFactorService::check_code(const Caller& who, int64_t user_id,
                                                   const storage::TotpState& st,
                                                   const SecretString& code) {
  storage::SecondFactor f;
  if (auth::totp::is_code(code.view())) {
    const auto key = keys_.open_secret(user_id, *st.secret);
    if (!key) refuse_code(who, user_id, "secret_unreadable");
    f.totp_step = auth::totp::verify(*key, code.view(), now_unix(), st.last_step);
    if (!f.totp_step) refuse_code(who, user_id, "wrong_or_replayed_code");
    f.sealed_secret = *st.secret;
    return f;
  }
  auto norm = auth::recovery::normalize(code.view());
  if (!norm) refuse_code(who, user_id, "malformed_code");
  f.recovery_hash = keys_.recovery_code_hash(user_id, *norm);
  wipe(*norm);
  return f;
}

Task<void> TwoFactorService::spend(Caller& who, int64_t user_id, const storage::TotpState& st,
                                   const SecretString& code) {
  const storage::SecondFactor f = check_code(who, user_id, st, code);
  bool ok = false;
  co_await db_.run(Access::write,
                   [&](Repository& r) { ok = r.use_second_factor(user_id, f, now_unix()); });
  if (!ok) refuse_code(who, user_id, f.totp_step ? "code_used" : "recovery_code_unknown_or_used");
  used(who, user_id, f);
}

RecoveryCodes TwoFactorService::new_codes(int64_t user_id, std::vector<std::string>& hashes) const {
  RecoveryCodes codes = auth::recovery::generate_set();
  hashes.clear();
  for (const auto& c : codes) {
    auto norm = auth::recovery::normalize(c);
    hashes.push_back(keys_.recovery_code_hash(user_id, norm.value()));
    wipe(*norm);
  }
  return codes;
}

void TwoFactorService::refuse_code(const Caller& who, int64_t user_id, std::string_view reason) {
  metrics_.inc("auth_2fa_total", "result=\"failure\"");
  metrics_.inc("auth_failures_total", "reason=\"invalid_code\"");
  obs::security_event("auth.2fa.failure", who.request_id, who.ip,
                      {{"user_id", user_id}, {"reason", reason}});
  throw ApiError(ErrorCode::invalid_code, "The code is not valid");
}

void TwoFactorService::used(const Caller& who, int64_t user_id, const storage::SecondFactor& f) {
  metrics_.inc("auth_2fa_total",
               f.totp_step ? "result=\"success_totp\"" : "result=\"success_recovery\"");
  if (!f.totp_step)
    obs::security_event("auth.2fa.recovery_used", who.request_id, who.ip, {{"user_id", user_id}},
                        obs::Level::warn);
}

}  // namespace sr::services
