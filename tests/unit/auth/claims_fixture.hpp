// The claims of a well-formed access token at kNow, shared by the JWT tests.
#pragma once
#include <cstdint>
#include <string>

#include "auth/jwt.hpp"

namespace sr::auth::test {

constexpr int64_t kNow = 1'900'000'000;

inline Claims sample_claims(std::string type = "access", std::string sid = "sess-1") {
  Claims c;
  c.sub = "42";
  c.sid = std::move(sid);
  c.jti = "AAAAAAAAAAAAAAAAAAAAAA";
  c.type = std::move(type);
  c.csrf = "csrf-token";
  c.iat = kNow - 10;
  c.nbf = kNow - 10;
  c.exp = kNow + 900;
  c.iss = "strongroom";
  c.aud = "strongroom";
  return c;
}

}  // namespace sr::auth::test
