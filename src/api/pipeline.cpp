#include "api/pipeline.hpp"

#include <charconv>
#include <cmath>

#include "api/cookies.hpp"
#include "observability/log.hpp"
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
    : ctx(c), req(r), ip(client_ip(r.peer_ip, r.header("X-Forwarded-For"), c.trusted_proxies)) {}

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
  struct Row {
    std::string_view name;
    int64_t count, period;
  };
  static constexpr Row rows[] = {
      {"signin", 5, 60},          {"signin_user", 5, 60},      {"signup", 3, 3600},
      {"refresh", 10, 60},        {"vault_unlock", 3, 300},    {"sensitive", 5, 3600},
      {"authenticated", 600, 60}, {"anonymous", 120, 60},
  };
  ratelimit::Limit l{0, 60};
  for (auto& r : rows)
    if (r.name == rule) l = {r.count, r.period};
  if (auto it = ctx.cfg.rate_limits.find(std::string(rule)); it != ctx.cfg.rate_limits.end())
    l = {it->second.count, it->second.period};
  double scaled = std::ceil(static_cast<double>(l.count) * ctx.cfg.rate_limit_scale);
  l.count = scaled > 1e15 ? static_cast<int64_t>(1e15) : static_cast<int64_t>(scaled);
  return l;
}

Task<void> Call::limit(std::string_view rule, std::string key) {
  auto lim = rule_limit(ctx, rule);
  std::string full;
  full.reserve(rule.size() + key.size() + 1);
  full.append(rule).append(":").append(key);
  auto d = co_await ctx.limiter.check(std::move(full), lim);
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
  for (auto& p : h) headers.push_back(std::move(p));
}

http::Response Call::respond(int status, std::string body) {
  auto r = http::Response::json(status, std::move(body));
  if (status == 204) r.content_type.clear();
  return r;
}

Task<Principal> authenticate(Context& ctx, const http::Request& req) {
  Principal p;
  std::string_view token = bearer_token(req.header("Authorization"));
  if (token.empty()) {
    token = find_cookie(req.header("Cookie"), ctx.cookies.access);
    p.via_cookie = !token.empty();
  }
  if (token.empty()) throw ApiError(ErrorCode::unauthorized, "Authentication required");
  const int64_t now = now_unix();
  auto v = auth::verify(token, ctx.jwt, "access", now);
  if (!v.ok()) throw auth_error(v.error);
  int64_t uid = 0;
  auto [ptr, ec] = std::from_chars(v.claims.sub.data(), v.claims.sub.data() + v.claims.sub.size(), uid);
  if (ec != std::errc() || ptr != v.claims.sub.data() + v.claims.sub.size() || uid <= 0)
    throw ApiError(ErrorCode::unauthorized, "Invalid or missing authentication token");
  std::optional<storage::Session> s;
  std::string sid = v.claims.sid;
  co_await ctx.db.run(storage::Access::read, [&](storage::Repository& r) { s = r.find_session(sid); });
  if (!s || s->user_id != uid || s->revoked_at)
    throw ApiError(ErrorCode::token_revoked, "Session has been revoked");
  if (s->expires_at <= now) throw ApiError(ErrorCode::token_expired, "Session has expired");
  if (s->last_used_at < now - 60) {
    co_await ctx.db.run(storage::Access::write,
                        [&](storage::Repository& r) { r.touch_session(sid, now); });
  }
  p.user_id = uid;
  p.session = std::move(*s);
  p.claims = std::move(v.claims);
  co_return p;
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

http::Handler route(Context& ctx, Gate gate, RouteFn fn) {
  return [&ctx, gate, fn = std::move(fn)](http::Request& req) -> Task<http::Response> {
    Call call(ctx, req);
    try {
      if (gate == Gate::user) {
        std::optional<ApiError> failed;
        try {
          call.principal = co_await authenticate(ctx, req);
        } catch (const ApiError& e) {
          failed = e;
        }
        if (failed) {
          // Unauthenticated: counts against the IP before the 401.
          co_await call.limit("anonymous", "ip:" + call.ip);
          ctx.metrics.inc("auth_failures_total", "reason=\"" + std::string(code_name(failed->code())) + "\"");
          throw *failed;
        }
        req.user_id = call.principal->user_id;
        co_await call.limit("authenticated", "user:" + std::to_string(call.principal->user_id));
        if (call.principal->via_cookie && unsafe_method(req.method) &&
            !ct_equal(req.header("X-CSRF-TOKEN"), call.principal->claims.csrf)) {
          obs::security_event("auth.csrf.failure", req.request_id, call.ip,
                              {{"user_id", call.principal->user_id}, {"route", req.route}});
          throw ApiError(ErrorCode::csrf_failed, "CSRF token missing or invalid");
        }
      } else if (gate == Gate::anonymous) {
        co_await call.limit("anonymous", "ip:" + call.ip);
      }
      // The general limit's headers describe the general bucket; routes with their own row
      // replace them with their own.
      call.headers.clear();
      http::Response resp = co_await fn(call);
      for (auto& h : call.headers) resp.headers.push_back(std::move(h));
      for (auto& c : call.cookies) resp.set_cookies.push_back(std::move(c));
      co_return resp;
    } catch (ApiError& e) {
      // Route-limit headers travel with errors too (every attempt counts).
      if (e.code() != ErrorCode::rate_limited)
        for (auto& h : call.headers) e.headers.push_back(h);
      throw;
    }
  };
}

}  // namespace sr::api
