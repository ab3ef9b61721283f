// Two-step sign-in (SPEC 13): TOTP set-up, confirmation, turning it off, new recovery codes, the
// signin's pending second step (mfa_token) and its completion. Plain structs in and out; failures
// are ApiError with the SPEC code; security events and metrics are emitted here.
//
// The mechanisms are in auth/ (totp, recovery_codes, totp_keys, totp_qr) and the single-use rules
// are atomic in storage (Repository::use_second_factor, claim_mfa_attempt, finish_mfa); this file
// decides the order of the checks and what each failure answers.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/totp_keys.hpp"
#include "observability/metrics.hpp"
#include "services/account_service.hpp"
#include "services/caller.hpp"
#include "services/passwords.hpp"
#include "storage/repository.hpp"
#include "util/secret.hpp"

namespace sr::services {

struct TwoFactorOptions {
  int64_t challenge_ttl = 300;     // an mfa_token's lifetime, seconds
  int64_t challenge_attempts = 5;  // code attempts per mfa_token
};

struct TwoFactorStatus {
  bool totp_enabled = false;
  int64_t recovery_codes_left = 0;
};

// What a set-up shows once: the secret for typing, the URI and its QR code for scanning. All
// three carry the secret (never log them).
struct TotpSetup {
  std::string secret;  // base32, no padding
  std::string otpauth_uri;
  std::string qr_svg;
};

// A fresh set of recovery codes as shown to the user, once.
using RecoveryCodes = std::vector<std::string>;

// A second step: the mfa_token of the signin, and the code.
struct SecondStep {
  std::string mfa_token;
  SecretString code;
  std::string user_agent;  // already made safe to store
};

// What a code field may hold: a 6-digit TOTP code or a recovery code (any case, with or without
// its hyphens); a description of the problem otherwise (for the field's validation).
std::optional<std::string> code_problem(std::string_view code);
// A TOTP code only (confirming a set-up).
std::optional<std::string> totp_code_problem(std::string_view code);

class TwoFactorService final : public SecondFactorCheck {
 public:
  // totp_key: 32 bytes (std::invalid_argument otherwise). accounts creates the session of a
  // completed second step.
  TwoFactorService(storage::Storage& db, Passwords& passwords, AccountService& accounts,
                   obs::Metrics& metrics, const SecretBytes& totp_key, TwoFactorOptions opts = {});

  Task<TwoFactorStatus> status(Caller& who);
  // The route's limit, the password (invalid_credentials), then 2FA already on: conflict. A new
  // secret is stored sealed as the pending one (replacing a pending one).
  Task<TotpSetup> setup(Caller& who, const SecretString& password);
  // The route's limit; nothing pending (or 2FA on): conflict; a code of the pending secret
  // (invalid_code otherwise). Then 2FA is on, with a new set of recovery codes, and every other
  // session of the user is revoked.
  Task<RecoveryCodes> confirm(Caller& who, const SecretString& code);
  // The route's limit, the password, 2FA on (conflict otherwise), the code (spent); then the
  // secret, the recovery codes and the pending second steps are deleted.
  Task<void> disable(Caller& who, const SecretString& password, const SecretString& code);
  // As disable, but a new set of recovery codes replaces the old one.
  Task<RecoveryCodes> regenerate(Caller& who, const SecretString& password,
                                 const SecretString& code);

  // The second step of a signin: the route's limit per IP; the mfa_token (unauthorized when it
  // is forged, expired, spent, exhausted, or issued under another password); the limit per user;
  // the code (invalid_code). Success spends the token and the code together and creates the
  // session, exactly as a signin without 2FA.
  Task<NewSession> finish_signin(Caller& who, const SecondStep& in);

  // SecondFactorCheck
  Task<std::string> challenge(Caller& who, const PasswordChecked& checked) override;
  Task<void> require(Caller& who, int64_t user_id, const SecretString& code) override;

 private:
  // The factor that `code` is for this user's state -- a TOTP step of the secret in use, or a
  // recovery code's keyed hash -- or invalid_code (counted, with a security event).
  storage::SecondFactor check_code(const Caller& who, int64_t user_id, const storage::TotpState& st,
                                   const SecretString& code);
  // check_code, then the factor spent (invalid_code when a concurrent use won).
  Task<void> spend(Caller& who, int64_t user_id, const storage::TotpState& st,
                   const SecretString& code);
  // The limit, the user's password, and the state with 2FA on (conflict otherwise).
  Task<storage::TotpState> password_and_enabled(Caller& who, const SecretString& password);
  Task<std::optional<storage::TotpState>> state(int64_t user_id);
  // A new set: the codes to show, and their keyed hashes to store.
  RecoveryCodes new_codes(int64_t user_id, std::vector<std::string>& hashes) const;
  [[noreturn]] void refuse_code(const Caller& who, int64_t user_id, std::string_view reason);
  void used(const Caller& who, int64_t user_id, const storage::SecondFactor& f);

  storage::Storage& db_;
  Passwords& passwords_;
  AccountService& accounts_;
  obs::Metrics& metrics_;
  auth::TotpKeys keys_;
  TwoFactorOptions opts_;
};

}  // namespace sr::services
