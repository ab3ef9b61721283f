#include "services/tokens.hpp"

#include <charconv>

#include "util/random.hpp"

namespace sr::services {

Tokens::Tokens(auth::JwtKeys keys, int64_t access_ttl)
    : keys_(std::move(keys)), access_ttl_(access_ttl) {}

TokenPair Tokens::issue(int64_t user_id, const std::string& sid, const std::string& refresh_jti,
                        int64_t now, int64_t refresh_expires_at) const {
  TokenPair t;
  auth::Claims c;
  c.sub = std::to_string(user_id);
  c.sid = sid;
  c.iat = c.nbf = now;
  c.iss = c.aud = keys_.issuer;

  c.jti = random_token(16);
  c.type = "access";
  c.csrf = t.access_csrf = random_token(16);
  c.exp = now + access_ttl_;
  t.access = auth::sign(c, keys_);

  c.jti = refresh_jti;
  c.type = "refresh";
  c.csrf = t.refresh_csrf = random_token(16);
  c.exp = refresh_expires_at;
  t.refresh_max_age = refresh_expires_at - now;
  t.refresh = auth::sign(c, keys_);
  return t;
}

auth::Verified Tokens::verify_refresh(std::string_view token, int64_t now) const {
  return auth::verify(token, keys_, "refresh", now);
}

int64_t subject_id(const auth::Claims& c) noexcept {
  int64_t uid = 0;
  const std::string& sub = c.sub;
  auto [end, ec] = std::from_chars(sub.data(), sub.data() + sub.size(), uid);
  if (ec != std::errc() || end != sub.data() + sub.size() || uid <= 0) return 0;
  return uid;
}

}  // namespace sr::services
