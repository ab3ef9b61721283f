// Password hashing: Argon2id (libsodium crypto_pwhash, PHC string
// "$argon2id$v=19$m=..,t=..,p=1$..") for every new hash; legacy hashes of the original app verify
// and report needs_rehash:
//   Werkzeug "pbkdf2:sha256[:iterations]$salt$hex"  (OpenSSL PKCS5_PBKDF2_HMAC)
//   Werkzeug "scrypt[:n:r:p]$salt$hex"                (OpenSSL EVP_PBE_scrypt)
//   bcrypt "$2a$" / "$2b$" / "$2y$"                     (libxcrypt crypt_r)
// All comparisons are constant time. These functions are slow by design: call them on the HashPool.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "util/secret.hpp"

namespace sr::auth {

struct Argon2Params {
  uint64_t memory_kib = 19456;
  uint64_t passes = 2;
};

std::string hash_password(const SecretString& password, const Argon2Params& p);

struct VerifyResult {
  bool ok = false;
  bool needs_rehash = false;  // legacy format, or Argon2id weaker than p
};
// Unknown or malformed stored formats verify false (never throw).
VerifyResult verify_password(const SecretString& password, std::string_view stored,
                             const Argon2Params& p);

}  // namespace sr::auth
