#include "api/call.hpp"

#include <algorithm>
#include <charconv>

#include "api/limits.hpp"
#include "observability/log.hpp"

namespace sr::api {

Call::Call(Context& c, const Route& r, http::Request& q)
    : ctx(c),
      route(r),
      req(q),
      client_ip_(client_ip(q.peer_ip, q.header("X-Forwarded-For"), c.trusted_proxies)) {
  request_id = req.request_id;
  ip = client_ip_;
}

const std::string& Call::ip_key() {
  if (ip_key_.empty()) ip_key_ = "ip:" + rate_key_ip(client_ip_);
  return ip_key_;
}

Task<void> Call::limit(services::LimitKey key, std::string_view subject) {
  using services::LimitKey;
  for (const RouteLimit& l : route.limits) {
    if (l.key != key) continue;
    std::string k;
    switch (key) {
      case LimitKey::ip:
        k = ip_key();
        break;
      case LimitKey::user:
        k = "user:" + std::to_string(user_id);
        break;
      case LimitKey::session:
        k = "session:" + std::string(subject);
        break;
      case LimitKey::account:
        k = subject;
        break;
    }
    if (!l.bucket.empty()) k.insert(0, std::string(l.bucket) + ":");
    if (key != LimitKey::account) {
      co_await check_limit(l.rule, k);
      continue;
    }
    // A per-account counter is enforced but never shown (SPEC 14): it is shared by the account's
    // username and email, so its RateLimit-Remaining would tell which email is whose. Its 429
    // carries the headers already shown (the per-IP row's) instead of its own.
    std::optional<ApiError> refused;
    try {
      co_await check_limit(l.rule, k, false);
    } catch (const ApiError& e) {
      refused = e;  // thrown below, not inside the handler (g++ 12 coroutines)
    }
    if (refused) {
      refused->headers.clear();
      for (const auto& h : headers)
        if (h.first.starts_with("RateLimit-")) refused->headers.push_back(h);
      throw *refused;
    }
  }
}

Task<void> Call::check_limit(std::string_view rule, std::string_view key, bool report) {
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
  // A route that checks two shown rows sends one set of headers, the most restrictive one's,
  // not two contradicting sets.
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

http::Response Call::respond(int status, std::string body) const {
  auto r = http::Response::json(status, std::move(body));
  if (status == 204) r.content_type = {};
  return r;
}

}  // namespace sr::api
