// One entry of the route table (api/routes.cpp): everything the router, the request gate and the
// API description need to know about a route, declared in one place.
#pragma once
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "http/types.hpp"
#include "json/json.hpp"
#include "services/caller.hpp"
#include "util/task.hpp"

namespace sr::api {

class Call;

// Who may call a route, and what the gate establishes before its handler runs (api/gate.hpp).
enum class Gate {
  ops,        // health and metrics: no authentication, no general limit
  anonymous,  // no authentication; the general limit per IP
  user,       // an access token (Bearer; or cookie, with CSRF on unsafe methods) of a live
              // session; the general limit per user
  vault,      // user, and an open vault session (X-Vault-Token or the vault cookie), renewed
              // once half of it is gone
};

// The route's {id} path parameter, parsed by the gate; anything else is 404.
enum class Param {
  none,
  row_id,      // a row id: a canonical positive decimal of at most 18 digits
  session_id,  // a session id: 1-64 of [A-Za-z0-9_-]
};

// What a route shows, read by the gate together with the caller's session in one unit of work
// (storage::ReadBatch: one SQLite read transaction, one PostgreSQL pipeline), so that an
// authenticated GET is one trip to the database. The handler finds them in Call::rows.
struct Reads {
  bool user = false, handbook = false, links = false;
  bool vault_key = false;    // the vault gate reads it in any case
  bool vault_index = false;  // the list index chunks
  bool vault_entry = false;  // the entry that {id} names
};

// A SPEC 8 row that the route checks on its own. The service checks it where SPEC 12 puts it
// (services::Caller::limit); the key is `key` as api::Call builds it, prefixed by `bucket` when
// several routes share the row but not their counters.
struct RouteLimit {
  std::string_view rule;  // the row's name (rule_limit)
  services::LimitKey key;
  std::string_view bucket = {};
};

// An optional integer parameter of the query string (GET /vault/entries?limit=&after=), for the
// API description; the route's handler parses the query itself (400 on anything else).
struct QueryParam {
  std::string_view name;
  std::string_view description;
  int64_t minimum = 0;
  std::optional<int64_t> maximum = std::nullopt;
};

// A response shape that several routes share, named in their Route::response ("Link").
struct NamedShape {
  std::string_view name;
  std::string_view shape;
};

struct Route {
  http::Method method;
  std::string_view path;  // "/social/links/{id}"
  Gate gate;
  std::string_view summary;  // one line, for people and for the API description
  Param param = Param::none;
  std::vector<QueryParam> query = {};
  // The JSON body (415, then 400 with every field problem), parsed by the gate into
  // Call::fields; nullopt: the route reads no body.
  std::optional<json::Schema> body = std::nullopt;
  bool body_optional = false;  // the body may be absent (POST /auth/refresh: then by cookie)
  Reads reads = {};
  std::vector<RouteLimit> limits = {};
  int status = 200;  // the success status
  // The success body's shape, for the API description (api/openapi.hpp has the notation, e.g.
  // "{message: string, user_id: id}"); empty only for a 204.
  std::string_view response = {};
  // Error statuses the route answers beyond those its gate, parameter, body and limits imply
  // (api/openapi.cpp lists those), e.g. 409 for a conflict its service reports.
  std::vector<int> errors = {};
  Task<http::Response> (*handler)(Call&) = nullptr;
};

}  // namespace sr::api
