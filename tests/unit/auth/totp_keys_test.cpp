// The sealing of TOTP secrets and the keyed hashes of recovery codes and mfa_tokens
// (auth/totp_keys.hpp). The subkeys are re-derived here from libsodium's documented crypto_kdf
// construction (BLAKE2b with the subkey id as salt and the context as personalization), so a
// change of derivation or format fails these tests.
#include "auth/totp_keys.hpp"

#include <gtest/gtest.h>
#include <sodium.h>

#include <cstring>
#include <set>

#include "auth/recovery_codes.hpp"
#include "auth/totp.hpp"

namespace sr::auth {
namespace {

SecretBytes key_a() {
  return SecretBytes::from_view("0123456789abcdef0123456789abcdef");
}
SecretBytes key_b() {
  return SecretBytes::from_view("fedcba9876543210fedcba9876543210");
}

// crypto_kdf_derive_from_key(subkey id 1, context) written out as BLAKE2b: salt = id (LE64) || 0^8,
// personal = context || 0^8, key = the master key.
std::string derive(const SecretBytes& master, const char* context) {
  unsigned char salt[16] = {1};
  unsigned char personal[16] = {};
  std::memcpy(personal, context, 8);
  unsigned char out[32];
  crypto_generichash_blake2b_salt_personal(out, 32, nullptr, 0, master.data(), master.size(), salt,
                                           personal);
  return std::string(reinterpret_cast<char*>(out), 32);
}

std::string hmac(const std::string& key, const std::string& msg) {
  unsigned char out[32];
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(key.data()), key.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(msg.data()),
                                msg.size());
  crypto_auth_hmacsha256_final(&st, out);
  return std::string(reinterpret_cast<char*>(out), 32);
}

std::string be64(int64_t v) {
  std::string s;
  for (int i = 56; i >= 0; i -= 8) s += static_cast<char>((static_cast<uint64_t>(v) >> i) & 0xFF);
  return s;
}

TEST(TotpKeys, KeyMustBe32Bytes) {
  EXPECT_THROW(TotpKeys(SecretBytes::from_view("short")), std::invalid_argument);
  EXPECT_THROW(TotpKeys(SecretBytes(33)), std::invalid_argument);
  EXPECT_NO_THROW(TotpKeys(SecretBytes(32)));
}

TEST(TotpKeys, SecretRoundTripsForItsUserOnly) {
  TotpKeys k(key_a());
  const auto secret = new_totp_secret();
  ASSERT_EQ(secret.size(), 20u);
  const auto blob = k.seal_secret(42, secret);
  EXPECT_EQ(blob.size(), 1u + 24 + 20 + 16);
  EXPECT_EQ(static_cast<unsigned char>(blob[0]), 0x01);
  EXPECT_EQ(blob.find(std::string(secret.view())), std::string::npos);
  const auto opened = k.open_secret(42, blob);
  ASSERT_TRUE(opened);
  EXPECT_TRUE(opened->equals(secret));
  // Another user id, another key: refused.
  EXPECT_EQ(k.open_secret(43, blob), std::nullopt);
  EXPECT_EQ(k.open_secret(-42, blob), std::nullopt);
  EXPECT_EQ(TotpKeys(key_b()).open_secret(42, blob), std::nullopt);
  // Two seals of one secret differ (random nonce).
  EXPECT_NE(k.seal_secret(42, secret), blob);
}

TEST(TotpKeys, SealedSecretOpensWithTheDocumentedConstruction) {
  // docs/crypto.md: XChaCha20-Poly1305 under subkey "srTOTPsk" of totp_key, AD =
  // "strongroom-totp-secret" || 0x01 || user id (8, big-endian), blob = 0x01 || nonce || ct.
  TotpKeys k(key_a());
  const auto secret = new_totp_secret();
  const auto blob = k.seal_secret(7, secret);
  const std::string sk = derive(key_a(), "srTOTPsk");
  const std::string ad = std::string("strongroom-totp-secret") + '\x01' + be64(7);
  unsigned char plain[20];
  unsigned long long n = 0;
  ASSERT_EQ(crypto_aead_xchacha20poly1305_ietf_decrypt(
                plain, &n, nullptr, reinterpret_cast<const unsigned char*>(blob.data()) + 25,
                blob.size() - 25, reinterpret_cast<const unsigned char*>(ad.data()), ad.size(),
                reinterpret_cast<const unsigned char*>(blob.data()) + 1,
                reinterpret_cast<const unsigned char*>(sk.data())),
            0);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(plain), n), std::string(secret.view()));
}

TEST(TotpKeys, EveryByteOfTheSealedSecretIsChecked) {
  TotpKeys k(key_a());
  const auto blob = k.seal_secret(1, new_totp_secret());
  for (std::size_t i = 0; i < blob.size(); ++i) {
    auto bad = blob;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    EXPECT_EQ(k.open_secret(1, bad), std::nullopt) << "byte " << i;
  }
  EXPECT_EQ(k.open_secret(1, blob.substr(0, blob.size() - 1)), std::nullopt);
  EXPECT_EQ(k.open_secret(1, blob + "x"), std::nullopt);
  EXPECT_EQ(k.open_secret(1, ""), std::nullopt);
  EXPECT_EQ(k.open_secret(1, std::string(1 << 16, '\x01')), std::nullopt);
}

TEST(TotpKeys, RecoveryCodeHashIsKeyedAndBindsTheUser) {
  TotpKeys k(key_a());
  const auto code = *recovery::normalize(recovery::generate());
  const auto h = k.recovery_code_hash(5, code);
  EXPECT_EQ(h.size(), 32u);
  EXPECT_EQ(h, hmac(derive(key_a(), "srRCODEk"), "strongroom-recovery-code-v1" + be64(5) + code));
  EXPECT_EQ(h, k.recovery_code_hash(5, code));
  EXPECT_NE(h, k.recovery_code_hash(6, code));
  EXPECT_NE(h, TotpKeys(key_b()).recovery_code_hash(5, code));
  EXPECT_EQ(h.find(code), std::string::npos);
}

TEST(TotpKeys, TokenHashAndPasswordBinding) {
  TotpKeys k(key_a());
  const auto t = new_mfa_token();
  EXPECT_TRUE(is_mfa_token(t));
  const std::string tk = derive(key_a(), "srMFAtok");
  EXPECT_EQ(k.mfa_token_hash(t), hmac(tk, "strongroom-mfa-token-v1" + t));
  EXPECT_NE(k.mfa_token_hash(t), TotpKeys(key_b()).mfa_token_hash(t));
  const std::string ph = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA";
  EXPECT_EQ(k.password_binding(3, ph), hmac(tk, "strongroom-mfa-password-v1" + be64(3) + ph));
  EXPECT_NE(k.password_binding(3, ph), k.password_binding(3, ph + "x"));
  EXPECT_NE(k.password_binding(3, ph), k.password_binding(4, ph));
}

TEST(TotpKeys, SubkeysAreDistinct) {
  std::set<std::string> keys = {derive(key_a(), "srTOTPsk"), derive(key_a(), "srRCODEk"),
                                derive(key_a(), "srMFAtok"), std::string(key_a().view())};
  EXPECT_EQ(keys.size(), 4u);
}

TEST(MfaToken, ShapeAndRandomness) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const auto t = new_mfa_token();
    EXPECT_EQ(t.size(), 43u);
    EXPECT_TRUE(is_mfa_token(t));
    seen.insert(t);
  }
  EXPECT_EQ(seen.size(), 100u);
  const auto t = new_mfa_token();
  for (const std::string& bad :
       {std::string(), t.substr(1), t + "A", t.substr(1) + "=", t.substr(1) + "+",
        t.substr(1) + "/", t.substr(1) + " ", t.substr(1) + '\0', std::string(1 << 16, 'A')}) {
    EXPECT_FALSE(is_mfa_token(bad)) << bad.size();
  }
}

}  // namespace
}  // namespace sr::auth
