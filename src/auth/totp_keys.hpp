// The server-side keys of the two-step sign-in, all derived from the `totp_key` secret (32 bytes)
// with libsodium's crypto_kdf (BLAKE2b), one subkey per purpose, each with its own context, so
// that no key serves two purposes:
//   - "srTOTPsk" seals each user's TOTP secret: XChaCha20-Poly1305, associated data =
//     "strongroom-totp-secret" || version || user id, so a sealed secret copied to another user's
//     row does not open;
//   - "srRCODEk" keys the HMAC-SHA256 of recovery codes (user id bound in): a stolen database
//     holds no code, and without the key not even a way to test a guess;
//   - "srMFAtok" keys the HMAC-SHA256 of mfa_tokens (the database holds only the hash of a
//     pending second step) and of the password hash a token was issued under.
// Formats are in docs/crypto.md. Changing totp_key makes every enrolled secret, recovery code and
// pending mfa_token unusable.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "util/secret.hpp"

namespace sr::auth {

class TotpKeys {
 public:
  // totp_key must be 32 bytes (std::invalid_argument otherwise).
  explicit TotpKeys(const SecretBytes& totp_key);

  // version(1) || nonce(24) || XChaCha20-Poly1305(secret), bound to user_id.
  std::string seal_secret(int64_t user_id, const SecretBytes& secret) const;
  // nullopt when the blob is malformed, tampered with, sealed for another user or another key.
  std::optional<SecretBytes> open_secret(int64_t user_id, std::string_view blob) const;

  // 32 bytes: HMAC-SHA256 over a label, the user id and the normalized code
  // (recovery::normalize).
  std::string recovery_code_hash(int64_t user_id, std::string_view normalized_code) const;
  // 32 bytes: HMAC-SHA256 over a label and the token text.
  std::string mfa_token_hash(std::string_view token) const;
  // 32 bytes: HMAC-SHA256 over a label, the user id and the stored password hash: a pending
  // mfa_token remembers this, and a password change (a new hash) voids it.
  std::string password_binding(int64_t user_id, std::string_view password_hash) const;

 private:
  SecretBytes seal_key_, code_key_, token_key_;
};

// 160 random bits (totp::kSecretBytes).
SecretBytes new_totp_secret();
// An mfa_token: 256 random bits, base64url without padding (43 characters).
std::string new_mfa_token();
// Exactly the shape new_mfa_token() makes: anything else is refused before any lookup.
bool is_mfa_token(std::string_view token);

}  // namespace sr::auth
