// Our own HS256 JWT (RFC 7519) on libsodium's HMAC-SHA256. The algorithm is pinned: the header
// must be exactly {"alg":"HS256","typ":"JWT"} in meaning (alg HS256, typ JWT if present, no other
// members such as kid/jku/crit); "none" and every other alg are refused. Every claim is checked.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/secret.hpp"

namespace sr::auth {

struct Claims {
  std::string sub;   // user id, decimal
  std::string sid;   // session id
  std::string jti;   // >= 128 random bits, base64url
  std::string type;  // "access" | "refresh"
  std::string csrf;  // double-submit token
  int64_t iat = 0, nbf = 0, exp = 0;
  std::string iss, aud;
};

struct JwtKeys {
  SecretBytes current;                // signs and verifies
  std::vector<SecretBytes> previous;  // verify only
  std::string issuer = "strongroom";  // expected iss and aud
  int64_t leeway = 30;                // seconds, for exp/nbf/iat
};

enum class JwtError {
  none,
  malformed,   // not three base64url parts, bad JSON, oversize (> 4096 bytes), wrong types
  bad_header,  // alg not HS256, typ not JWT, extra header members
  bad_signature,
  expired,        // exp + leeway <= now
  not_yet_valid,  // nbf - leeway > now, or iat - leeway > now
  wrong_issuer,
  wrong_audience,
  wrong_type,
  missing_claim,
};

struct Verified {
  JwtError error = JwtError::none;
  Claims claims;  // valid only when error == none
  bool ok() const noexcept { return error == JwtError::none; }
};

std::string sign(const Claims& c, const JwtKeys& keys);
// HMAC-SHA256 of data under key (any length): what HS256 signs with. Public for its
// known-answer tests (RFC 4231).
void hmac_sha256(const SecretBytes& key, std::string_view data, unsigned char out[32]);
Verified verify(std::string_view token, const JwtKeys& keys, std::string_view expected_type,
                int64_t now);

}  // namespace sr::auth
