#include "api/gate.hpp"

#include "api/auth_cookies.hpp"
#include "api/cookies.hpp"
#include "api/params.hpp"
#include "http/errors.hpp"
#include "observability/log.hpp"
#include "services/tokens.hpp"
#include "util/clock.hpp"
#include "util/recycled.hpp"
#include "util/secret.hpp"

namespace sr::api {
namespace {

using storage::Access;
using storage::Repository;

std::string_view bearer_token(std::string_view authz) {
  constexpr std::string_view prefix = "Bearer ";
  if (authz.size() > prefix.size()) {
    bool match = true;
    for (size_t i = 0; i < prefix.size() - 1; ++i)
      if (std::tolower(static_cast<unsigned char>(authz[i])) !=
          std::tolower(static_cast<unsigned char>(prefix[i])))
        match = false;
    if (match && authz[prefix.size() - 1] == ' ') return authz.substr(prefix.size());
  }
  return {};
}

ApiError auth_error(auth::JwtError e) {
  if (e == auth::JwtError::expired) return ApiError(ErrorCode::token_expired, "Token has expired");
  return ApiError(ErrorCode::unauthorized, "Invalid or missing authentication token");
}

// The exception behind ep when it is an E (valid while ep lives), else null.
template <class E>
const E* exception_as(const std::exception_ptr& ep) {
  try {
    if (ep) std::rethrow_exception(ep);
  } catch (const E& e) {
    return &e;
  } catch (...) {
  }
  return nullptr;
}

// A GET (or HEAD) route reads what it shows together with its session: its parameter is needed
// before that read.
bool reads_first(const Route& r) {
  return r.method == http::Method::GET;
}

Task<void> admit(Call& call) {
  const Route& route = call.route;
  if (route.gate != Gate::ops && call.ctx.cookies.repeated_in(call.req.header("Cookie"))) {
    const ApiError twice(ErrorCode::unauthorized, "A credential cookie was sent more than once");
    co_await refuse(call, twice);
  }
  switch (route.gate) {
    case Gate::ops:
      break;
    case Gate::anonymous:
      co_await general_limit(call);
      break;
    case Gate::user:
    case Gate::vault: {
      std::optional<ApiError> failed;
      try {
        call.principal = authenticate(call.ctx, call.req);
        call.user_id = call.principal->user_id;
      } catch (const ApiError& e) {
        failed = e;  // refused below, not inside the handler (g++ 12 coroutines)
      }
      if (failed) co_await refuse(call, *failed);
      if (reads_first(route)) parse_param(call);
      co_await read_and_settle(call);
      if (route.gate == Gate::vault) open_vault(call);
      if (!reads_first(route)) parse_param(call);
      break;
    }
  }
  if (route.gate != Gate::user && route.gate != Gate::vault) parse_param(call);
  parse_body(call);
}

// The error answer: a 429 carries the headers of the row that refused it; any other error those
// of the route and the cookies set so far (a renewed vault session: its cookie goes with its
// header). A refresh token's reuse also expires every cookie of ours.
http::Response error_answer(Call& call, const std::exception_ptr& failure) {
  http::Response resp = http::error_from_exception(failure, call.req.request_id);
  if (resp.status == 429) return resp;
  for (auto& h : call.headers) resp.headers.push_back(std::move(h));
  for (auto& c : call.cookies) resp.set_cookies.push_back(std::move(c));
  if (auto* e = exception_as<ApiError>(failure); e && e->code() == ErrorCode::token_reused)
    for (auto& c : clearing_cookies(call.ctx)) resp.set_cookies.push_back(std::move(c));
  return resp;
}

}  // namespace

std::string_view vault_token(const http::Request& req, const CookieNames& names) {
  std::string_view t = req.header("X-Vault-Token");
  if (t.empty()) t = find_cookie(req.header("Cookie"), names.vault);
  return t;
}

Principal authenticate(Context& ctx, const http::Request& req) {
  Principal p;
  std::string_view token = bearer_token(req.header("Authorization"));
  if (token.empty()) {
    token = find_cookie(req.header("Cookie"), ctx.cookies.access);
    p.via_cookie = !token.empty();
  }
  if (token.empty()) throw ApiError(ErrorCode::unauthorized, "Authentication required");
  auto v = ctx.tokens.verify_access(token, now_unix());
  if (!v.ok()) throw auth_error(v.error);
  p.user_id = services::subject_id(v.claims);
  if (p.user_id == 0)
    throw ApiError(ErrorCode::unauthorized, "Invalid or missing authentication token");
  p.claims = std::move(v.claims);
  p.session_pending = true;
  return p;
}

std::optional<ApiError> accept_session(Principal& p, std::optional<storage::Session> s,
                                       int64_t now) {
  if (!s || s->id != p.claims.sid || s->user_id != p.user_id || s->revoked_at)
    return ApiError(ErrorCode::token_revoked, "Session has been revoked");
  if (s->expires_at <= now) return ApiError(ErrorCode::token_expired, "Session has expired");
  p.settled = std::move(*s);
  p.session_pending = false;
  return std::nullopt;
}

bool csrf_applies(http::Method m, bool via_cookie) noexcept {
  const bool unsafe = m == http::Method::POST || m == http::Method::PUT ||
                      m == http::Method::PATCH || m == http::Method::DELETE_;
  return unsafe && via_cookie;
}

void check_csrf(const Call& call, std::string_view expected, int64_t user_id) {
  if (ct_equal(call.req.header("X-CSRF-TOKEN"), expected)) return;
  if (user_id)
    obs::security_event("auth.csrf.failure", call.req.request_id, call.ip,
                        {{"user_id", user_id}, {"route", call.req.route}});
  else
    obs::security_event("auth.csrf.failure", call.req.request_id, call.ip,
                        {{"route", call.req.route}});
  throw ApiError(ErrorCode::csrf_failed, "CSRF token missing or invalid");
}

Task<void> refuse(Call& call, const ApiError& e) {
  co_await call.check_limit("anonymous", call.ip_key());
  call.ctx.metrics.inc("auth_failures_total",
                       "reason=\"" + std::string(code_name(e.code())) + "\"");
  throw e;
}

Task<void> general_limit(Call& call) {
  if (call.principal && !call.principal->session_pending) {
    const std::string key = "user:" + std::to_string(call.principal->user_id);
    co_await call.check_limit("authenticated", key, false);
  } else {
    co_await call.check_limit("anonymous", call.ip_key(), false);
  }
}

Task<void> settle(Call& call, std::optional<storage::Session> s) {
  const int64_t now = now_unix();
  if (auto failed = accept_session(*call.principal, std::move(s), now)) {
    call.principal.reset();  // unauthenticated after all, like a bad token
    call.user_id = 0;
    co_await refuse(call, *failed);
  }
  const Principal& p = *call.principal;
  if (p.settled.last_used_at < now - 60) {
    const std::string sid = p.settled.id;
    co_await call.ctx.db.run(Access::write, [&](Repository& r) { r.touch_session(sid, now); });
  }
  call.req.user_id = p.user_id;
  co_await general_limit(call);
  if (csrf_applies(call.req.method, p.via_cookie)) check_csrf(call, p.claims.csrf, p.user_id);
}

Task<void> read_and_settle(Call& call) {
  auto& want = call.rows.want;
  const Reads& r = call.route.reads;
  want.session = call.principal->claims.sid;
  want.user_id = call.principal->user_id;
  want.user = r.user;
  want.handbook = r.handbook;
  want.links = r.links;
  want.vault_key = r.vault_key || call.route.gate == Gate::vault;
  // A list with a query is a page (SPEC 14): its handler reads just that page.
  want.vault_index = r.vault_index && call.req.target.find('?') == std::string_view::npos;
  if (r.vault_entry) want.vault_entry = call.id;
  co_await call.ctx.db.read(call.rows);
  co_await settle(call, std::move(call.rows.session));
}

void parse_param(Call& call) {
  switch (call.route.param) {
    case Param::none:
      break;
    case Param::row_id:
      call.id = path_id(call.req.param("id"));
      break;
    case Param::session_id:
      call.session_param = path_session_id(call.req.param("id"));
      break;
  }
}

void open_vault(Call& call) {
  call.unlocked = call.ctx.vault.open(call, std::move(call.rows.vault_key),
                                      vault_token(call.req, call.ctx.cookies));
  if (const auto& renewed = call.unlocked->renewed) {
    call.cookies.push_back(vault_cookie(call.ctx, renewed->token, renewed->max_age));
    call.headers.emplace_back("X-Vault-Token", renewed->token);
  }
}

json::Fields parse_json_body(const http::Request& req, const json::Schema& schema) {
  std::string_view ct = req.header("Content-Type");
  auto semi = ct.find(';');
  std::string_view media = ct.substr(0, semi);
  while (!media.empty() && media.back() == ' ') media.remove_suffix(1);
  bool ok = media.size() == 16;
  for (size_t i = 0; ok && i < 16; ++i)
    ok = std::tolower(static_cast<unsigned char>(media[i])) == "application/json"[i];
  if (!ok)
    throw ApiError(ErrorCode::unsupported_media_type, "Content-Type must be application/json");
  return json::parse_request(req.body, schema);
}

void parse_body(Call& call) {
  const Route& r = call.route;
  if (!r.body || (r.body_optional && call.req.body.empty())) return;
  call.fields = parse_json_body(call.req, *r.body);
}

Task<std::exception_ptr> map_failure(Call& call, std::exception_ptr failure) {
  // A request that failed before its session was read (a GET's malformed id: 404) answers 401
  // first when the session is not good (SPEC 12 order).
  if (call.principal && call.principal->session_pending) {
    std::exception_ptr auth_failure;
    try {
      std::optional<storage::Session> s;
      const std::string sid = call.principal->claims.sid;
      co_await call.ctx.db.run(Access::read, [&](Repository& r) { s = r.find_session(sid); });
      co_await settle(call, std::move(s));
    } catch (...) {
      auth_failure = std::current_exception();
    }
    if (auth_failure) co_return auth_failure;
  }
  // A foreign-key violation on a write means the user (and with it the session) was deleted
  // between authentication and the write, e.g. by delete-account on another session: that is a
  // revoked session (401), not a conflict (409).
  if (call.principal && !call.principal->session_pending && exception_as<ConflictError>(failure)) {
    std::optional<storage::Session> s;
    const std::string sid = call.principal->settled.id;
    co_await call.ctx.db.run(Access::read, [&](Repository& r) { s = r.find_session(sid); });
    if (!s || s->revoked_at)
      co_return std::make_exception_ptr(
          ApiError(ErrorCode::token_revoked, "Session has been revoked"));
  }
  co_return failure;
}

Task<http::Response> run_route(Context& ctx, const Route& route, http::Request& req) {
  // The call's state (≈ 2 KiB: the rows read, the principal, the body) in a recycled block, so
  // that this frame stays within the allocator's thread cache (util/recycled.hpp).
  Recycled<Call> held(ctx, route, req);
  Call& call = *held;
  // Failures are captured and answered after the try block: no throw and no co_await inside a
  // catch handler of this coroutine (g++ 12), and the route-limit headers can be added to every
  // error, whatever its type (SPEC 12: every attempt counts, every answer carries them).
  std::exception_ptr failure;
  try {
    co_await admit(call);
    http::Response resp = co_await route.handler(call);
    for (auto& h : call.headers) resp.headers.push_back(std::move(h));
    for (auto& c : call.cookies) resp.set_cookies.push_back(std::move(c));
    co_return resp;
  } catch (...) {
    failure = std::current_exception();
  }
  failure = co_await map_failure(call, std::move(failure));
  co_return error_answer(call, failure);
}

}  // namespace sr::api
