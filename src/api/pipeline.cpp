#include "api/pipeline.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <exception>

#include "api/cookies.hpp"
#include "http/errors.hpp"
#include "observability/log.hpp"
#include "ratelimit/rules.hpp"
#include "util/clock.hpp"
#include "util/error.hpp"
#include "util/secret.hpp"

namespace sr::api {
namespace {

bool unsafe_method(http::Method m) {
  return m == http::Method::POST || m == http::Method::PUT || m == http::Method::PATCH ||
         m == http::Method::DELETE_;
}

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

}  // namespace

Call::Call(Context& c, http::Request& r)
    : ctx(c),
      req(r),
      ip(client_ip(r.peer_ip, r.header("X-Forwarded-For"), c.trusted_proxies)),
      ip_key("ip:" + rate_key_ip(ip)) {}

json::Fields Call::body(const json::Schema& schema) const {
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

ratelimit::Limit rule_limit(const Context& ctx, std::string_view rule) {
  ratelimit::Limit l{0, 60};
  if (const auto* r = ratelimit::find_rule(rule)) l = {r->count, r->period};
  if (auto it = ctx.cfg.rate_limits.find(std::string(rule)); it != ctx.cfg.rate_limits.end())
    l = {it->second.count, it->second.period};
  double scaled = std::ceil(static_cast<double>(l.count) * ctx.cfg.rate_limit_scale);
  l.count = scaled > 1e15 ? static_cast<int64_t>(1e15) : static_cast<int64_t>(scaled);
  return l;
}

Task<void> Call::limit(std::string_view rule, std::string_view key, bool report) {
  const auto lim = rule_limit(ctx, rule);
  std::string full;
  full.reserve(rule.size() + key.size() + 1);
  full.append(rule).append(":").append(key);
  auto d = co_await ctx.limiter.check(std::move(full), lim);
  if (d.allowed && !report) co_return;
  std::vector<std::pair<std::string, std::string>> h = {
      {"RateLimit-Limit", std::to_string(d.limit)},
      {"RateLimit-Remaining", std::to_string(d.remaining)},
      {"RateLimit-Reset", std::to_string(d.reset)}};
  if (!d.allowed) {
    ctx.metrics.inc("ratelimit_rejections_total", "rule=\"" + std::string(rule) + "\"");
    obs::security_event("ratelimit.exceeded", req.request_id, ip,
                        {{"rule", rule}, {"route", req.route}});
    ApiError e(ErrorCode::rate_limited, "Too many requests, retry later");
    e.retry_after = d.retry_after < 1 ? 1 : d.retry_after;
    e.headers = std::move(h);
    throw e;
  }
  // Signin checks two rows (IP and username): send one set of headers, the most restrictive
  // one's, not two contradicting sets.
  auto prev = std::find_if(headers.begin(), headers.end(),
                           [](const auto& p) { return p.first == "RateLimit-Remaining"; });
  if (prev != headers.end()) {
    int64_t before = 0;
    std::from_chars(prev->second.data(), prev->second.data() + prev->second.size(), before);
    if (before <= d.remaining) co_return;
    std::erase_if(headers, [](const auto& p) { return p.first.starts_with("RateLimit-"); });
  }
  for (auto& p : h) headers.push_back(std::move(p));
}

http::Response Call::respond(int status, std::string body) {
  auto r = http::Response::json(status, std::move(body));
  if (status == 204) r.content_type.clear();
  return r;
}

Principal verify_access(Context& ctx, const http::Request& req) {
  Principal p;
  std::string_view token = bearer_token(req.header("Authorization"));
  if (token.empty()) {
    token = find_cookie(req.header("Cookie"), ctx.cookies.access);
    p.via_cookie = !token.empty();
  }
  if (token.empty()) throw ApiError(ErrorCode::unauthorized, "Authentication required");
  auto v = ctx.access_tokens->verify(token, now_unix());
  if (!v.ok()) throw auth_error(v.error);
  int64_t uid = 0;
  auto [ptr, ec] =
      std::from_chars(v.claims.sub.data(), v.claims.sub.data() + v.claims.sub.size(), uid);
  if (ec != std::errc() || ptr != v.claims.sub.data() + v.claims.sub.size() || uid <= 0)
    throw ApiError(ErrorCode::unauthorized, "Invalid or missing authentication token");
  p.user_id = uid;
  p.claims = std::move(v.claims);
  p.session_pending = true;
  return p;
}

namespace {

// The session row of a verified token must exist, belong to its subject, be live.
void accept_session(Principal& p, std::optional<storage::Session> s, int64_t now) {
  if (!s || s->id != p.claims.sid || s->user_id != p.user_id || s->revoked_at)
    throw ApiError(ErrorCode::token_revoked, "Session has been revoked");
  if (s->expires_at <= now) throw ApiError(ErrorCode::token_expired, "Session has expired");
  p.settled = std::move(*s);
  p.session_pending = false;
}

}  // namespace

Task<void> Call::settle(std::optional<storage::Session> s) {
  const int64_t now = now_unix();
  std::optional<ApiError> failed;
  try {
    accept_session(*principal, std::move(s), now);
  } catch (const ApiError& e) {
    failed = e;
  }
  if (failed) {
    principal.reset();  // unauthenticated after all, like a bad token
    co_await refuse(*failed);
  }
  if (principal->settled.last_used_at < now - 60) {
    const std::string sid = principal->settled.id;
    co_await ctx.db.run(storage::Access::write,
                        [&](storage::Repository& r) { r.touch_session(sid, now); });
  }
  req.user_id = principal->user_id;
  const std::string key = "user:" + std::to_string(principal->user_id);
  co_await limit("authenticated", key, false);
  if (principal->via_cookie && unsafe_method(req.method) &&
      !ct_equal(req.header("X-CSRF-TOKEN"), principal->claims.csrf)) {
    obs::security_event("auth.csrf.failure", req.request_id, ip,
                        {{"user_id", principal->user_id}, {"route", req.route}});
    throw ApiError(ErrorCode::csrf_failed, "CSRF token missing or invalid");
  }
}

Task<void> Call::refuse(const ApiError& e) {
  co_await limit("anonymous", ip_key);
  ctx.metrics.inc("auth_failures_total", "reason=\"" + std::string(code_name(e.code())) + "\"");
  throw e;
}

Task<void> Call::authenticated() {
  if (!principal || !principal->session_pending) co_return;
  std::optional<storage::Session> s;
  const std::string sid = principal->claims.sid;
  co_await ctx.db.run(storage::Access::read,
                      [&](storage::Repository& r) { s = r.find_session(sid); });
  co_await settle(std::move(s));
}

Task<void> Call::read(storage::ReadBatch& b) {
  b.want.user_id = principal->user_id;
  const bool pending = principal->session_pending;
  if (pending) b.want.session = principal->claims.sid;
  co_await ctx.db.run(storage::Access::read, [&b](storage::Repository& r) { r.read_batch(b); });
  if (pending) co_await settle(std::move(b.session));
}

int64_t path_id(std::string_view text) {
  int64_t id = 0;
  if (text.empty() || text.size() > 18 || text[0] == '0')
    throw ApiError(ErrorCode::not_found, "Not found");
  for (char c : text) {
    if (c < '0' || c > '9') throw ApiError(ErrorCode::not_found, "Not found");
    id = id * 10 + (c - '0');
  }
  return id;
}

namespace {

bool is_conflict(const std::exception_ptr& ep) {
  try {
    std::rethrow_exception(ep);
  } catch (const ConflictError&) {
    return true;
  } catch (...) {
  }
  return false;
}

}  // namespace

http::Handler route(Context& ctx, Gate gate, RouteFn fn) {
  return [&ctx, gate, fn = std::move(fn)](http::Request& req) -> Task<http::Response> {
    Call call(ctx, req);
    const bool deferred = gate == Gate::user && req.method == http::Method::GET;
    // Failures are captured and answered after the try block: no throw and no co_await inside a
    // catch handler of this coroutine (g++ 12), and the route-limit headers can be added to every
    // error, whatever its type (SPEC 12: every attempt counts, every answer carries them).
    std::exception_ptr failure;
    try {
      if (gate == Gate::user) {
        std::optional<ApiError> failed;
        try {
          call.principal = verify_access(ctx, req);
        } catch (const ApiError& e) {
          failed = e;
        }
        if (failed) co_await call.refuse(*failed);
        // A GET reads its session with its own rows (Call::read); anything else settles first.
        if (!deferred) co_await call.authenticated();
      } else if (gate == Gate::anonymous) {
        co_await call.limit("anonymous", call.ip_key, false);
      }
      http::Response resp = co_await fn(call);
      // A GET that read nothing through Call::read: settle now; the response it built is thrown
      // away if the session is not good (it only read, so nothing happened on its behalf).
      co_await call.authenticated();
      for (auto& h : call.headers) resp.headers.push_back(std::move(h));
      for (auto& c : call.cookies) resp.set_cookies.push_back(std::move(c));
      co_return resp;
    } catch (...) {
      failure = std::current_exception();
    }
    // A GET that failed before its session was read (a malformed id: 404) still answers 401
    // first when the session is not good (SPEC 12 order).
    {
      std::exception_ptr auth_failure;
      try {
        co_await call.authenticated();  // nothing to do unless the session is still pending
      } catch (...) {
        auth_failure = std::current_exception();
      }
      if (auth_failure) failure = auth_failure;
    }
    // A foreign-key violation on a write means the user (and with it the session) was deleted
    // between authentication and the write, e.g. by delete-account on another session: that is a
    // revoked session (401), not a conflict (409).
    if (gate == Gate::user && call.principal && !call.principal->session_pending &&
        is_conflict(failure)) {
      std::optional<storage::Session> s;
      const std::string sid = call.principal->settled.id;
      co_await ctx.db.run(storage::Access::read,
                          [&](storage::Repository& r) { s = r.find_session(sid); });
      if (!s || s->revoked_at)
        failure =
            std::make_exception_ptr(ApiError(ErrorCode::token_revoked, "Session has been revoked"));
    }
    http::Response resp = http::error_from_exception(failure, req.request_id);
    // A 429 carries the headers of the row that refused it; any other error those of the route,
    // and the cookies set so far (a renewed vault session: its cookie goes with its header).
    if (resp.status != 429) {
      for (auto& h : call.headers) resp.headers.push_back(std::move(h));
      for (auto& c : call.cookies) resp.set_cookies.push_back(std::move(c));
    }
    co_return resp;
  };
}

}  // namespace sr::api
