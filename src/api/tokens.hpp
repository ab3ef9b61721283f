// Issuing the token pair of a session and the cookies that carry it (SPEC 4, 12).
#pragma once
#include <string>
#include <vector>

#include "api/context.hpp"
#include "auth/jwt.hpp"

namespace sr::api {

struct TokenPair {
  std::string access, refresh;
  std::string access_csrf, refresh_csrf;
  int64_t refresh_max_age = 0;  // seconds until the refresh token (and its session) expire
};

// Signs a fresh access token (new jti, new csrf) and a refresh token with refresh_jti.
// refresh_expires_at: the session's expiry (never past created_at + session_max_ttl).
TokenPair issue_tokens(const Context& ctx, int64_t user_id, const std::string& sid,
                       const std::string& refresh_jti, int64_t now, int64_t refresh_expires_at);
// The expiry of a session's refresh token issued now: refresh_ttl, capped by session_max_ttl.
int64_t session_expiry(const Context& ctx, int64_t created_at, int64_t now);
// The four Set-Cookie values for a token pair.
std::vector<std::string> token_cookies(const Context& ctx, const TokenPair& t);
// Set-Cookie values that expire every cookie of ours (auth and vault).
std::vector<std::string> clearing_cookies(const Context& ctx);
std::string vault_cookie(const Context& ctx, const std::string& token, int64_t max_age);

}  // namespace sr::api
