// What every route needs, built once by the composition root (app/) and passed by reference.
// No globals: tests and several instances in one process stay possible.
#pragma once
#include <string>
#include <vector>

#include "api/cookies.hpp"
#include "api/net.hpp"
#include "api/route.hpp"
#include "auth/hash_pool.hpp"
#include "config/config.hpp"
#include "observability/metrics.hpp"
#include "ratelimit/limiter.hpp"
#include "services/account_service.hpp"
#include "services/passwords.hpp"
#include "services/profile_service.hpp"
#include "services/tokens.hpp"
#include "services/twofa_service.hpp"
#include "services/vault_service.hpp"
#include "storage/repository.hpp"

namespace sr::api {

struct Context {
  // Builds the services and the route table from the configuration (spends one password hash:
  // services::Passwords' dummy). cfg and the others must outlive it.
  Context(const config::Config& cfg, storage::Storage& db, auth::HashPool& hashes,
          ratelimit::Limiter& limiter, obs::Metrics& metrics);
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  const config::Config& cfg;
  storage::Storage& db;
  ratelimit::Limiter& limiter;
  obs::Metrics& metrics;
  AddressSet trusted_proxies;  // whose X-Forwarded-For is believed
  AddressSet metrics_allow;    // who may read /metrics
  CookieNames cookies;         // names per cookie_secure

  services::Passwords passwords;
  services::Tokens tokens;
  services::AccountService accounts;  // its second factor is twofa (declared below)
  services::TwoFactorService twofa;
  services::VaultService vault;
  services::ProfileService profile;

  // Every route (api/routes.cpp); add_routes() registers them with the router.
  std::vector<Route> routes;
  // The OpenAPI document of routes (api/openapi.hpp), made once here: GET /openapi.json.
  std::string openapi;
};

}  // namespace sr::api
