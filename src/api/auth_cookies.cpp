#include "api/auth_cookies.hpp"

#include "api/context.hpp"
#include "api/cookies.hpp"

namespace sr::api {

std::vector<std::string> token_cookies(const Context& ctx, const services::TokenPair& t) {
  const bool sec = ctx.cfg.cookie_secure;
  const std::string_view ss = ctx.cfg.cookie_samesite;
  const auto& n = ctx.cookies;
  return {
      set_cookie({n.access, t.access, "/", ctx.cfg.access_ttl, true, sec, ss}),
      set_cookie({n.refresh, t.refresh, "/auth", t.refresh_max_age, true, sec, ss}),
      set_cookie({n.csrf_access, t.access_csrf, "/", ctx.cfg.access_ttl, false, sec, ss}),
      set_cookie({n.csrf_refresh, t.refresh_csrf, "/auth", t.refresh_max_age, false, sec, ss}),
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
      set_cookie({n.csrf_refresh, "", "/auth", 0, false, sec, ss}),
      set_cookie({n.vault, "", "/vault", 0, true, sec, "Strict"}),
  };
}

std::string vault_cookie(const Context& ctx, const std::string& token, int64_t max_age) {
  return set_cookie(
      {ctx.cookies.vault, token, "/vault", max_age, true, ctx.cfg.cookie_secure, "Strict"});
}

}  // namespace sr::api
