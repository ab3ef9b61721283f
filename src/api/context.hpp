// What every route needs, built once by the composition root (app/) and passed by reference.
// No globals: tests and several instances in one process stay possible.
#pragma once
#include <memory>
#include <string>

#include "api/cookies.hpp"
#include "api/net.hpp"
#include "auth/hash_pool.hpp"
#include "auth/jwt.hpp"
#include "auth/password.hpp"
#include "auth/policy.hpp"
#include "auth/verify_cache.hpp"
#include "config/config.hpp"
#include "observability/metrics.hpp"
#include "ratelimit/limiter.hpp"
#include "storage/repository.hpp"
#include "util/secret.hpp"

namespace sr::api {

struct Context {
  const config::Config& cfg;
  storage::Storage& db;
  auth::HashPool& hashes;
  ratelimit::Limiter& limiter;
  obs::Metrics& metrics;
  auth::JwtKeys jwt;
  SecretBytes vault_key;      // seals vault sessions
  auth::Argon2Params argon2;  // account and vault KDF cost
  auth::PolicyOptions policy;
  std::string dummy_hash;      // spent for unknown users, so timing does not tell
  AddressSet trusted_proxies;  // whose X-Forwarded-For is believed
  AddressSet metrics_allow;    // who may read /metrics
  CookieNames cookies;         // names per cookie_secure
  // Access tokens already verified with `jwt` (see auth/verify_cache.hpp for why it cannot change
  // an answer). Refers to the member above: a Context is built in place and never copied.
  std::unique_ptr<auth::VerifyCache> access_tokens =
      std::make_unique<auth::VerifyCache>(jwt, "access");
};

}  // namespace sr::api
