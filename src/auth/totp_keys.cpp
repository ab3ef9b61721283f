#include "auth/totp_keys.hpp"

#include <sodium.h>

#include <array>
#include <initializer_list>
#include <stdexcept>

#include "auth/totp.hpp"
#include "util/random.hpp"

namespace sr::auth {
namespace {

constexpr unsigned char kSecretV1 = 0x01;
constexpr std::string_view kSecretContext = "strongroom-totp-secret";
constexpr std::string_view kRecoveryLabel = "strongroom-recovery-code-v1";
constexpr std::string_view kTokenLabel = "strongroom-mfa-token-v1";
constexpr std::string_view kBindingLabel = "strongroom-mfa-password-v1";
constexpr std::size_t kTokenBytes = 32;

constexpr std::size_t kKeyBytes = crypto_aead_xchacha20poly1305_ietf_KEYBYTES;
constexpr std::size_t kNonceBytes = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr std::size_t kTagBytes = crypto_aead_xchacha20poly1305_ietf_ABYTES;
constexpr std::size_t kHeader = 1 + kNonceBytes;
static_assert(crypto_kdf_KEYBYTES == 32 && kKeyBytes == 32 && crypto_kdf_CONTEXTBYTES == 8);

SecretBytes subkey(const SecretBytes& master, const char (&context)[crypto_kdf_CONTEXTBYTES + 1]) {
  SecretBytes k(32);
  crypto_kdf_derive_from_key(k.data(), k.size(), 1, context, master.data());
  return k;
}

void put_be64(std::string& out, int64_t v) {
  const auto u = static_cast<uint64_t>(v);
  for (int s = 56; s >= 0; s -= 8) out += static_cast<char>((u >> s) & 0xFF);
}

std::string secret_ad(int64_t user_id) {
  std::string ad(kSecretContext);
  ad += static_cast<char>(kSecretV1);
  put_be64(ad, user_id);
  return ad;
}

const unsigned char* uc(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// HMAC-SHA256(key, the parts one after the other). Each caller's parts start with its own label
// and have fixed lengths but for the last, so two purposes never hash the same input.
std::string hmac(const SecretBytes& key, std::initializer_list<std::string_view> parts) {
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, key.data(), key.size());
  for (auto p : parts) crypto_auth_hmacsha256_update(&st, uc(p), p.size());
  std::string out(crypto_auth_hmacsha256_BYTES, '\0');
  crypto_auth_hmacsha256_final(&st, reinterpret_cast<unsigned char*>(out.data()));
  sodium_memzero(&st, sizeof st);
  return out;
}

std::string be64(int64_t v) {
  std::string s;
  put_be64(s, v);
  return s;
}

}  // namespace

TotpKeys::TotpKeys(const SecretBytes& totp_key) {
  crypto_init();
  if (totp_key.size() != crypto_kdf_KEYBYTES)
    throw std::invalid_argument("totp_key must be 32 bytes");
  seal_key_ = subkey(totp_key, "srTOTPsk");
  code_key_ = subkey(totp_key, "srRCODEk");
  token_key_ = subkey(totp_key, "srMFAtok");
}

std::string TotpKeys::seal_secret(int64_t user_id, const SecretBytes& secret) const {
  const std::string ad = secret_ad(user_id);
  std::string out(kHeader + secret.size() + kTagBytes, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  o[0] = kSecretV1;
  random_fill(o + 1, kNonceBytes);
  unsigned long long clen = 0;
  static const unsigned char kEmpty = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      o + kHeader, &clen, secret.empty() ? &kEmpty : secret.data(), secret.size(), uc(ad),
      ad.size(), nullptr, o + 1, seal_key_.data());
  out.resize(kHeader + static_cast<std::size_t>(clen));
  return out;
}

std::optional<SecretBytes> TotpKeys::open_secret(int64_t user_id, std::string_view blob) const {
  if (blob.size() != kHeader + totp::kSecretBytes + kTagBytes ||
      static_cast<unsigned char>(blob[0]) != kSecretV1) {
    return std::nullopt;
  }
  const std::string ad = secret_ad(user_id);
  SecretBytes plain(totp::kSecretBytes);
  unsigned long long mlen = 0;
  const auto* b = uc(blob);
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain.data(), &mlen, nullptr, b + kHeader,
                                                 blob.size() - kHeader, uc(ad), ad.size(), b + 1,
                                                 seal_key_.data()) != 0 ||
      mlen != totp::kSecretBytes) {
    return std::nullopt;
  }
  return plain;
}

std::string TotpKeys::recovery_code_hash(int64_t user_id, std::string_view normalized_code) const {
  return hmac(code_key_, {kRecoveryLabel, be64(user_id), normalized_code});
}

std::string TotpKeys::mfa_token_hash(std::string_view token) const {
  return hmac(token_key_, {kTokenLabel, token});
}

std::string TotpKeys::password_binding(int64_t user_id, std::string_view password_hash) const {
  return hmac(token_key_, {kBindingLabel, be64(user_id), password_hash});
}

SecretBytes new_totp_secret() {
  return SecretBytes::random(totp::kSecretBytes);
}

std::string new_mfa_token() {
  return random_token(kTokenBytes);
}

bool is_mfa_token(std::string_view token) {
  if (token.size() != (kTokenBytes * 4 + 2) / 3) return false;  // 43
  for (char c : token) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

}  // namespace sr::auth
