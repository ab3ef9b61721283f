// The JWTs of a session (SPEC 4): issuing the access/refresh pair, verifying either kind, and the
// subject they name. Holds the keys, and the memo of verified access tokens that spares the HMAC
// on repeated requests (auth/verify_cache.hpp says why it cannot change an answer).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "auth/jwt.hpp"
#include "auth/verify_cache.hpp"

namespace sr::services {

struct TokenPair {
  std::string access, refresh;
  std::string access_csrf, refresh_csrf;
  int64_t refresh_max_age = 0;  // seconds until the refresh token (and its session) expire
};

class Tokens {
 public:
  Tokens(auth::JwtKeys keys, int64_t access_ttl);
  Tokens(const Tokens&) = delete;
  Tokens& operator=(const Tokens&) = delete;

  // A fresh access token (new jti, new csrf) and a refresh token with refresh_jti, for session
  // sid of user_id. refresh_expires_at: the session's expiry.
  TokenPair issue(int64_t user_id, const std::string& sid, const std::string& refresh_jti,
                  int64_t now, int64_t refresh_expires_at) const;
  // auth::verify with the memo (same answer for every input; see auth/verify_cache.hpp).
  auth::Verified verify_access(std::string_view token, int64_t now) {
    return access_.verify(token, now);
  }
  auth::Verified verify_refresh(std::string_view token, int64_t now) const;
  int64_t access_ttl() const noexcept { return access_ttl_; }

 private:
  auth::JwtKeys keys_;
  int64_t access_ttl_;
  auth::VerifyCache access_{keys_, "access"};  // refers to keys_, declared before it
};

// The user id that verified claims name: `sub` as a positive decimal without sign or junk; 0 when
// it is anything else (then the token is refused, never partly read).
int64_t subject_id(const auth::Claims& c) noexcept;

}  // namespace sr::services
