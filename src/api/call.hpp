// One request on its way through the gate to its handler: what the gate established (the
// principal, the path parameter, the rows read with the session, the parsed body, the open
// vault), and what the response gets besides its body. It is the services::Caller of the
// services the handler calls.
#pragma once
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/context.hpp"
#include "api/route.hpp"
#include "auth/jwt.hpp"
#include "http/types.hpp"
#include "json/json.hpp"
#include "services/caller.hpp"
#include "services/vault_service.hpp"
#include "storage/repository.hpp"

namespace sr::api {

struct Principal {
  int64_t user_id = 0;
  auth::Claims claims;      // of the access token
  bool via_cookie = false;  // cookie-authenticated (CSRF applies)
  // The token is verified but its session row has not been read yet.
  bool session_pending = true;
  storage::Session settled;  // the auth session, fresh from the database, once settled

  // The settled session; asking before it is settled is a bug, and fails loudly (500) instead
  // of acting on an empty row.
  const storage::Session& session() const {
    if (session_pending) throw std::logic_error("auth session used before it was read");
    return settled;
  }
};

class Call final : public services::Caller {
 public:
  Call(Context& ctx, const Route& route, http::Request& req);

  Context& ctx;
  const Route& route;
  http::Request& req;
  // "ip:" + rate_key_ip(ip): the per-IP rate-limit key, made on first use (most routes are
  // limited per user and never need it).
  const std::string& ip_key();
  std::optional<Principal> principal;  // gates user and vault
  int64_t id = 0;                      // the {id} parameter of a Param::row_id route
  std::string_view session_param;      // the {id} parameter of a Param::session_id route
  storage::ReadBatch rows;             // what the route reads (Route::reads), with the session
  json::Fields fields;                 // the parsed body (Route::body)
  std::optional<services::Unlocked> unlocked;                // Gate::vault
  std::vector<std::pair<std::string, std::string>> headers;  // added to the response
  std::vector<std::string> cookies;                          // Set-Cookie values to add

  const services::Unlocked& vault() const { return *unlocked; }

  // services::Caller
  const storage::Session& session() const override {
    if (!principal) throw std::logic_error("auth session asked for on an anonymous route");
    return principal->session();
  }
  // The route's own rows (Route::limits) keyed on `key`.
  Task<void> limit(services::LimitKey key, std::string_view subject = {}) override;

  // Checks a SPEC 8 row (by name) for key; adds RateLimit-* headers (when several rows apply,
  // those of the most restrictive one); throws 429 rate_limited with Retry-After when exceeded.
  // report = false: the headers are wanted only with a refusal (the general limit on success,
  // whose headers nobody sends), so they are not built otherwise. key: a named local, never a
  // temporary made inside the co_await expression (g++ 12 coroutine caveat).
  Task<void> check_limit(std::string_view rule, std::string_view key, bool report = true);

  http::Response respond(int status, std::string body) const;

 private:
  std::string ip_key_;
  std::string client_ip_;  // what services::Caller::ip views
};

}  // namespace sr::api
