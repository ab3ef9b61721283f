// The request gate: what runs between the router and a route's handler, in the order of SPEC 12.
// Each step is a small function of its own, tested on its own (tests/unit/api/gate_test.cpp):
//
//   authenticate     the access token (Bearer, else the access cookie) verified: CPU only
//                    (401; counted against the IP, the anonymous row of SPEC 8)
//   parse_param      the {id} path parameter (404); a GET parses it before its read, since the
//                    read may need it; any other method after the vault step (403 first)
//   read_and_settle  the session row, with the rows the route shows (Route::reads) and, behind
//                    the vault gate, the vault key: one unit of work; then settle (below)
//   settle           the session must exist, be the token's and be live (401, counted against
//                    the IP); then the general limit per user, then CSRF
//   check_csrf       a cookie-authenticated unsafe request carries X-CSRF-TOKEN equal to its
//                    token's csrf claim (403); refresh uses it for the refresh cookie
//   general_limit    the last row of SPEC 8, as soon as the caller is known: per user with a
//                    live session, per IP otherwise
//   open_vault       the vault gate: the open vault session (409/403), renewed when half gone
//   parse_body       415 unless application/json, then the route's schema (400)
//   map_failure      a request that failed before its session was read answers the session's
//                    401 first (401 before 404); a conflict on a write whose user was deleted
//                    meanwhile is that session's 401, not a 409
//
// The route's own limit comes after these, from the service (services::Caller::limit), then the
// action.
#pragma once
#include <exception>
#include <optional>
#include <string_view>

#include "api/call.hpp"
#include "api/context.hpp"
#include "api/route.hpp"
#include "http/types.hpp"
#include "json/json.hpp"
#include "util/error.hpp"
#include "util/task.hpp"

namespace sr::api {

// The access token of the request verified: signature, claims, subject. Throws 401 ApiError
// (unauthorized / token_expired). The session row is checked by settle.
Principal authenticate(Context& ctx, const http::Request& req);

// Why the session row of a verified token is not acceptable (revoked, expired, missing, another
// user's or another session's), or nullopt when it is; accepted, it becomes p's settled session.
std::optional<ApiError> accept_session(Principal& p, std::optional<storage::Session> s,
                                       int64_t now);

// Whether a request must carry the CSRF header (SPEC 4): an unsafe method (POST, PUT, PATCH,
// DELETE) authenticated by a cookie. Bearer requests and safe methods need none.
bool csrf_applies(http::Method m, bool via_cookie) noexcept;
// 403 csrf_failed (and the auth.csrf.failure event) unless X-CSRF-TOKEN equals expected, in
// constant time. user_id: in the event when known (0: not).
void check_csrf(const Call& call, std::string_view expected, int64_t user_id);

// An authentication failure: counted against the IP (the anonymous row), then e is thrown.
Task<void> refuse(Call& call, const ApiError& e);
Task<void> general_limit(Call& call);
Task<void> settle(Call& call, std::optional<storage::Session> s);
Task<void> read_and_settle(Call& call);
void parse_param(Call& call);
void open_vault(Call& call);
void parse_body(Call& call);
Task<std::exception_ptr> map_failure(Call& call, std::exception_ptr failure);

// The vault session token a request carries: X-Vault-Token (API clients), else the vault cookie.
std::string_view vault_token(const http::Request& req, const CookieNames& names);

// 415 unless Content-Type is application/json (parameters such as charset=utf-8 allowed), then
// strict parse and validation (400). Size was enforced by the server (413).
json::Fields parse_json_body(const http::Request& req, const json::Schema& schema);

// The whole gate for route, then its handler; every failure becomes the SPEC error body, with
// the route's rate-limit headers and the cookies set so far (a 429: the refusing row's only).
Task<http::Response> run_route(Context& ctx, const Route& route, http::Request& req);

}  // namespace sr::api
