// The request pipeline shared by every route (SPEC 12, order of checks):
//   route/method (http core) -> authentication (401) -> CSRF (403) -> content type (415) ->
//   JSON and fields (400) -> the route's own rate limit -> the action.
// The general limit (SPEC 8, last row) is checked as soon as the caller is known: per user with a
// valid token, per IP otherwise (a request whose authentication fails counts against its IP first).
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "api/context.hpp"
#include "auth/jwt.hpp"
#include "http/types.hpp"
#include "json/json.hpp"
#include "storage/repository.hpp"

namespace sr::api {

struct Principal {
  int64_t user_id = 0;
  storage::Session session;  // the auth session, fresh from the database
  auth::Claims claims;       // of the access token
  bool via_cookie = false;   // cookie-authenticated (CSRF applies)
};

// Which general limit applies before the route runs.
enum class Gate {
  ops,        // health and metrics: no general limit
  anonymous,  // no authentication; general limit per IP
  user,       // access token required; general limit per user
};

class Call {
 public:
  Call(Context& ctx, http::Request& req);
  Context& ctx;
  http::Request& req;
  std::string ip;                      // client IP (trusted proxies resolved)
  std::string ip_key;                  // "ip:" + rate_key_ip(ip): the per-IP rate-limit key
  std::optional<Principal> principal;  // set for Gate::user
  std::vector<std::pair<std::string, std::string>> headers;  // added to the response
  std::vector<std::string> cookies;                          // Set-Cookie values to add

  const Principal& who() const { return *principal; }
  // 415 unless Content-Type is application/json (parameters such as charset=utf-8 allowed), then
  // strict parse and validation (400). Size was enforced by the server (413).
  json::Fields body(const json::Schema& schema) const;
  bool has_body() const { return !req.body.empty(); }
  // Checks the route's own limit (a SPEC 8 row, by name) for key; adds RateLimit-* headers (when
  // several rows apply, those of the most restrictive one); throws 429 rate_limited with
  // Retry-After when exceeded. key is a view: callers pass a named local, never a temporary built
  // inside the co_await expression (g++ 12 coroutine caveat, see route()).
  Task<void> limit(std::string_view rule, std::string_view key);
  http::Response respond(int status, std::string body);
};

using RouteFn = std::function<Task<http::Response>(Call&)>;

// Wraps a route function into an http::Handler running the pipeline above.
http::Handler route(Context& ctx, Gate gate, RouteFn fn);

// Verifies an access token (Bearer or cookie) and loads its session. Throws 401 ApiError
// (unauthorized / token_expired / token_revoked).
Task<Principal> authenticate(Context& ctx, const http::Request& req);

// The effective limit of a SPEC 8 row: defaults, config overrides, times rate_limit_scale.
ratelimit::Limit rule_limit(const Context& ctx, std::string_view rule);

// Parses a decimal row id from a path parameter; anything else (sign, overflow, junk) -> 404.
int64_t path_id(std::string_view text);

}  // namespace sr::api
