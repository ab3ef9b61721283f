// /auth/*: accounts and sessions (SPEC 4 and 12). The rules are in services::AccountService.
#include "api/auth_cookies.hpp"
#include "api/cookies.hpp"
#include "api/gate.hpp"
#include "api/handlers.hpp"
#include "util/clock.hpp"
#include "util/utf8.hpp"

namespace sr::api::handlers {

// At most 256 code points of the User-Agent, and only when it is valid single-line UTF-8.
std::string sane_user_agent(std::string_view ua) {
  if (has_control_chars(ua) || !utf8_length(ua)) return "";
  size_t cps = 0, i = 0;
  while (i < ua.size() && cps < 256) {
    unsigned char c = static_cast<unsigned char>(ua[i]);
    i += c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    ++cps;
  }
  return std::string(ua.substr(0, i));
}

// A signin's or a refresh's answer: the session's cookies, and its tokens in the body for API
// clients that asked.
http::Response signed_in(Call& call, const services::NewSession& s, std::string_view message,
                         bool with_tokens) {
  call.cookies = token_cookies(call.ctx, s.tokens);
  call.req.user_id = s.user_id;
  json::Writer w;
  w.begin_object()
      .kv("message", message)
      .kv("user_id", s.user_id)
      .kv("csrf_token", s.tokens.access_csrf);
  if (with_tokens) w.kv("access_token", s.tokens.access).kv("refresh_token", s.tokens.refresh);
  w.end_object();
  return call.respond(200, w.take());
}

Task<http::Response> signup(Call& call) {
  const auto& f = call.fields;
  const services::NewAccount in{std::string(*f.str("username")), std::string(*f.str("email")),
                                f.secret("password")};
  const int64_t id = co_await call.ctx.accounts.signup(call, in);
  json::Writer w;
  w.begin_object().kv("message", "User created!").kv("user_id", id).end_object();
  co_return call.respond(201, w.take());
}

Task<http::Response> signin(Call& call) {
  const auto& f = call.fields;
  const services::SigninRequest in{std::string(*f.str("username")), f.secret("password"),
                                   sane_user_agent(call.req.header("User-Agent"))};
  const services::SigninResult r = co_await call.ctx.accounts.signin(call, in);
  if (!r.mfa_token.empty()) {
    json::Writer w;
    w.begin_object()
        .kv("message", "Second factor required")
        .kv("mfa_required", true)
        .kv("mfa_token", r.mfa_token)
        .end_object();
    co_return call.respond(200, w.take());
  }
  co_return signed_in(call, *r.session, "Signed in", f.boolean("return_tokens").value_or(false));
}

Task<http::Response> refresh(Call& call) {
  // The refresh token comes in the body (API clients) or in its cookie (browsers, with CSRF).
  const bool from_body = !call.req.body.empty();
  const std::string_view token =
      from_body ? *call.fields.str("refresh_token")
                : find_cookie(call.req.header("Cookie"), call.ctx.cookies.refresh);
  if (token.empty()) throw ApiError(ErrorCode::unauthorized, "Refresh token required");
  const auth::Claims claims = call.ctx.accounts.verify_refresh(token, now_unix());
  if (!from_body) check_csrf(call, claims.csrf, 0);
  const services::NewSession s = co_await call.ctx.accounts.refresh(call, claims);
  co_return signed_in(call, s, "Token refreshed", from_body);
}

Task<http::Response> refresh_csrf(Call& call) {
  // By cookie only: a page under /ui/ cannot read csrf_refresh_token (Path /auth), but its
  // refresh cookie travels here (docs/api.md); API clients hold their tokens themselves.
  const std::string_view token = find_cookie(call.req.header("Cookie"), call.ctx.cookies.refresh);
  if (token.empty()) throw ApiError(ErrorCode::unauthorized, "Refresh token required");
  const std::string csrf = co_await call.ctx.accounts.refresh_csrf(call, token, now_unix());
  json::Writer w;
  w.begin_object().kv("csrf_token", csrf).end_object();
  co_return call.respond(200, w.take());
}

Task<http::Response> logout(Call& call) {
  co_await call.ctx.accounts.logout(call);
  call.cookies = clearing_cookies(call.ctx);
  co_return call.respond(200, R"({"message":"Logged out"})");
}

Task<http::Response> logout_all(Call& call) {
  const int64_t n = co_await call.ctx.accounts.logout_all(call);
  call.cookies = clearing_cookies(call.ctx);
  json::Writer w;
  w.begin_object().kv("message", "Logged out of every session").kv("revoked", n).end_object();
  co_return call.respond(200, w.take());
}

Task<http::Response> list_sessions(Call& call) {
  const std::vector<storage::Session> v = co_await call.ctx.accounts.sessions(call);
  const std::string& current = call.session().id;
  json::Writer w;
  w.begin_object().key("sessions").begin_array();
  for (auto& s : v) {
    w.begin_object()
        .kv("id", s.id)
        .kv("created_at", rfc3339(s.created_at))
        .kv("last_used_at", rfc3339(s.last_used_at))
        .kv("expires_at", rfc3339(s.expires_at))
        .kv("user_agent", s.user_agent)
        .kv("ip", s.ip)
        .kv("current", s.id == current)
        .end_object();
  }
  w.end_array().end_object();
  co_return call.respond(200, w.take());
}

Task<http::Response> delete_session(Call& call) {
  const std::string id(call.session_param);
  co_await call.ctx.accounts.revoke_session(call, id);
  co_return http::Response::no_content();
}

Task<http::Response> change_password(Call& call) {
  const services::PasswordChange in{call.fields.secret("current_password"),
                                    call.fields.secret("new_password")};
  const int64_t revoked = co_await call.ctx.accounts.change_password(call, in);
  json::Writer w;
  w.begin_object().kv("message", "Password changed").kv("sessions_revoked", revoked).end_object();
  co_return call.respond(200, w.take());
}

Task<http::Response> delete_account(Call& call) {
  const services::AccountDeletion in{call.fields.secret("password"), call.fields.secret("code")};
  co_await call.ctx.accounts.delete_account(call, in);
  call.cookies = clearing_cookies(call.ctx);
  co_return call.respond(200, R"({"message":"Account deleted"})");
}

}  // namespace sr::api::handlers
