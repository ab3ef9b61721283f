#include "api/tokens.hpp"

#include <algorithm>

#include "api/cookies.hpp"
#include "util/random.hpp"

namespace sr::api {

int64_t session_expiry(const Context& ctx, int64_t created_at, int64_t now) {
  return std::min(now + ctx.cfg.refresh_ttl, created_at + ctx.cfg.session_max_ttl);
}

TokenPair issue_tokens(const Context& ctx, int64_t user_id, const std::string& sid,
                       const std::string& refresh_jti, int64_t now, int64_t refresh_expires_at) {
  TokenPair t;
  auth::Claims c;
  c.sub = std::to_string(user_id);
  c.sid = sid;
  c.iat = c.nbf = now;
  c.iss = c.aud = ctx.jwt.issuer;

  c.jti = random_token(16);
  c.type = "access";
  c.csrf = t.access_csrf = random_token(16);
  c.exp = now + ctx.cfg.access_ttl;
  t.access = auth::sign(c, ctx.jwt);

  c.jti = refresh_jti;
  c.type = "refresh";
  c.csrf = t.refresh_csrf = random_token(16);
  c.exp = refresh_expires_at;
  t.refresh_max_age = refresh_expires_at - now;
  t.refresh = auth::sign(c, ctx.jwt);
  return t;
}

// The refresh token's CSRF cookie has Path / (not /auth like the refresh token): the double submit
// needs the page that calls /auth/refresh to read it, and the web interface's pages live under /ui/
// (docs/ui.md). It is no credential by itself; with Secure cookies its name is __Host- prefixed, as
// for every Path / cookie (cookies.cpp).
std::vector<std::string> token_cookies(const Context& ctx, const TokenPair& t) {
  const bool sec = ctx.cfg.cookie_secure;
  const std::string_view ss = ctx.cfg.cookie_samesite;
  const auto& n = ctx.cookies;
  return {
      set_cookie({n.access, t.access, "/", ctx.cfg.access_ttl, true, sec, ss}),
      set_cookie({n.refresh, t.refresh, "/auth", t.refresh_max_age, true, sec, ss}),
      set_cookie({n.csrf_access, t.access_csrf, "/", ctx.cfg.access_ttl, false, sec, ss}),
      set_cookie({n.csrf_refresh, t.refresh_csrf, "/", t.refresh_max_age, false, sec, ss}),
  };
}

std::vector<std::string> clearing_cookies(const Context& ctx) {
  const bool sec = ctx.cfg.cookie_secure;
  const std::string_view ss = ctx.cfg.cookie_samesite;
  const auto& n = ctx.cookies;
  return {
      set_cookie({n.access, "", "/", 0, true, sec, ss}),
      set_cookie({n.refresh, "", "/auth", 0, true, sec, ss}),
      set_cookie({n.csrf_access, "", "/", 0, false, sec, ss}),
      set_cookie({n.csrf_refresh, "", "/", 0, false, sec, ss}),
      set_cookie({n.vault, "", "/vault", 0, true, sec, "Strict"}),
  };
}

std::string vault_cookie(const Context& ctx, const std::string& token, int64_t max_age) {
  return set_cookie(
      {ctx.cookies.vault, token, "/vault", max_age, true, ctx.cfg.cookie_secure, "Strict"});
}

}  // namespace sr::api
