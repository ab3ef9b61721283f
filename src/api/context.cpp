#include "api/context.hpp"

#include "api/openapi.hpp"
#include "api/routes.hpp"

namespace sr::api {
namespace {

auth::JwtKeys jwt_keys(const config::Config& cfg) {
  auth::JwtKeys k;
  k.current = cfg.jwt_secret;
  k.previous = cfg.jwt_previous_secrets;
  k.issuer = cfg.jwt_issuer;
  return k;
}

auth::Argon2Params argon2(const config::Config& cfg) {
  return {static_cast<uint64_t>(cfg.argon2_memory_kib), static_cast<uint64_t>(cfg.argon2_passes)};
}

}  // namespace

Context::Context(const config::Config& c, storage::Storage& d, auth::HashPool& hashes,
                 ratelimit::Limiter& l, obs::Metrics& m)
    : cfg(c),
      db(d),
      limiter(l),
      metrics(m),
      trusted_proxies(c.trusted_proxies),
      metrics_allow(c.metrics_allow),
      cookies(CookieNames::for_secure(c.cookie_secure)),
      passwords(hashes, argon2(c), auth::PolicyOptions{c.password_composition_rules}),
      tokens(jwt_keys(c), c.access_ttl),
      // Only twofa's address is taken here; accounts uses it once a request comes.
      accounts(d, passwords, tokens, m, {c.refresh_ttl, c.session_max_ttl}, &twofa),
      twofa(d, passwords, accounts, m, c.totp_key),
      vault(d, passwords, m, c.vault_session_key,
            {c.vault_ttl, c.vault_max_ttl, c.vault_max_bytes}),
      profile(d),
      routes(route_table(passwords)),
      openapi(openapi_document(routes, response_shapes(), cookies)) {}

}  // namespace sr::api
