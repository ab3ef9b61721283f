// The request pipeline shared by every route (SPEC 12, order of checks):
//   route/method (http core) -> authentication (401) -> CSRF (403) -> content type (415) ->
//   JSON and fields (400) -> the route's own rate limit -> the action.
// The general limit (SPEC 8, last row) is checked as soon as the caller is known: per user with a
// valid token, per IP otherwise (a request whose authentication fails counts against its IP first).
#pragma once
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "api/context.hpp"
#include "auth/jwt.hpp"
#include "http/types.hpp"
#include "json/json.hpp"
#include "storage/repository.hpp"
#include "util/error.hpp"

namespace sr::api {

struct Principal {
  int64_t user_id = 0;
  auth::Claims claims;      // of the access token
  bool via_cookie = false;  // cookie-authenticated (CSRF applies)
  // The token is verified but its session row has not been read yet: an authenticated GET reads
  // it together with the route's own rows (Call::read) and nothing read is used before it checks.
  bool session_pending = false;
  storage::Session settled;  // the auth session, fresh from the database, once settled

  // The settled session; a route that asks before it is settled is a bug, and fails loudly (500)
  // instead of acting on an empty row.
  const storage::Session& session() const {
    if (session_pending) throw std::logic_error("auth session used before it was read");
    return settled;
  }
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
  // The route's reads, in one unit of work (storage::ReadBatch; b.want.user_id is set here). On
  // an authenticated GET whose session is still pending, the session row rides in the same batch
  // and is checked (401, then the general limit) before this returns: one trip to the database.
  Task<void> read(storage::ReadBatch& b);
  // Completes authentication once the session row is known: 401 (counted against the IP) when it
  // is revoked, expired or not the token's; else last_used_at, the general limit, CSRF.
  Task<void> settle(std::optional<storage::Session> s);
  // For a GET that needs its session before (or without) Call::read: reads and settles it now.
  // Does nothing when there is no principal or its session is settled already.
  Task<void> authenticated();
  // An authentication failure: counted against the IP (the anonymous row) before e is thrown.
  Task<void> refuse(const ApiError& e);
  // 415 unless Content-Type is application/json (parameters such as charset=utf-8 allowed), then
  // strict parse and validation (400). Size was enforced by the server (413).
  json::Fields body(const json::Schema& schema) const;
  bool has_body() const { return !req.body.empty(); }
  // Checks the route's own limit (a SPEC 8 row, by name) for key; adds RateLimit-* headers (when
  // several rows apply, those of the most restrictive one); throws 429 rate_limited with
  // Retry-After when exceeded. key is a view: callers pass a named local, never a temporary built
  // inside the co_await expression (g++ 12 coroutine caveat, see route()).
  // report = false: the headers are wanted only with a refusal (the general limit on success,
  // whose headers nobody sends), so they are not built otherwise.
  Task<void> limit(std::string_view rule, std::string_view key, bool report = true);
  http::Response respond(int status, std::string body);
};

using RouteFn = std::function<Task<http::Response>(Call&)>;

// Wraps a route function into an http::Handler running the pipeline above.
http::Handler route(Context& ctx, Gate gate, RouteFn fn);

// Verifies an access token (Bearer or cookie): signature, claims, subject. CPU only; the session
// row is checked by Call::settle. Throws 401 ApiError (unauthorized / token_expired).
Principal verify_access(Context& ctx, const http::Request& req);

// The effective limit of a SPEC 8 row: defaults, config overrides, times rate_limit_scale.
ratelimit::Limit rule_limit(const Context& ctx, std::string_view rule);

// Parses a decimal row id from a path parameter; anything else (sign, overflow, junk) -> 404.
int64_t path_id(std::string_view text);

}  // namespace sr::api
