// /auth/*: accounts and sessions (SPEC 4 and 12).
#include <charconv>

#include "api/cookies.hpp"
#include "api/pipeline.hpp"
#include "api/routes.hpp"
#include "api/tokens.hpp"
#include "api/validation.hpp"
#include "observability/log.hpp"
#include "util/clock.hpp"
#include "util/random.hpp"
#include "util/utf8.hpp"

namespace sr::api {
namespace {

using http::Method;
using storage::Access;
using storage::Repository;

json::FieldRule with_check(json::FieldRule r,
                           std::function<std::optional<std::string>(std::string_view)> fn) {
  r.check = std::move(fn);
  return r;
}

// Password fields accept any text up to 1024 code points here (bounding the hashing work); the
// policy of SPEC 4 is applied to new passwords by check_new_password.
json::FieldRule password_field(std::string name) {
  return json::str(std::move(name), 1, 1024, true);
}

void check_new_password(const Context& ctx, std::string_view field, std::string_view pw,
                        std::string_view username) {
  if (auto msg = auth::check_password_policy(pw, username, ctx.policy))
    fail_field(std::string(field), *msg);
}

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

Task<bool> verify_on_pool(Context& ctx, const SecretString& pw, const std::string& stored,
                          bool* needs_rehash = nullptr) {
  auth::VerifyResult vr;
  co_await ctx.hashes.run([&] { vr = auth::verify_password(pw, stored, ctx.argon2); });
  if (needs_rehash) *needs_rehash = vr.needs_rehash;
  co_return vr.ok;
}

Task<std::string> hash_on_pool(Context& ctx, const SecretString& pw) {
  std::string h;
  co_await ctx.hashes.run([&] { h = auth::hash_password(pw, ctx.argon2); });
  co_return h;
}

Task<storage::User> load_user(Context& ctx, int64_t uid) {
  std::optional<storage::User> u;
  co_await ctx.db.run(Access::read, [&](Repository& r) { u = r.find_user(uid); });
  if (!u) throw ApiError(ErrorCode::token_revoked, "Session has been revoked");
  co_return std::move(*u);
}

// ---------------------------------------------------------------------------------------------

Task<http::Response> signup(Call& call) {
  auto& ctx = call.ctx;
  // The policy runs inside the schema so that every problem is reported at once; the
  // username-containment rule needs the username and runs just after.
  const json::Schema schema{
      with_check(json::str("username", 3, 50, true), check_username),
      with_check(json::str("email", 3, 254, true), check_email),
      with_check(
          password_field("password"),
          [&ctx](std::string_view pw) { return auth::check_password_policy(pw, "", ctx.policy); }),
  };
  auto f = call.body(schema);
  std::string username(*f.str("username"));
  std::string email = lower_ascii(*f.str("email"));
  check_new_password(ctx, "password", *f.str("password"), username);
  co_await call.limit("signup", call.ip_key);

  SecretString pw = f.secret("password");
  std::string hash = co_await hash_on_pool(ctx, pw);
  int64_t id = 0;
  bool taken = false;
  try {
    co_await ctx.db.run(Access::write, [&](Repository& r) {
      id = r.create_user(username, lower_ascii(username), email, hash, now_unix());
    });
  } catch (const ConflictError&) {
    taken = true;  // thrown below, not inside the handler (g++ 12 coroutines)
  }
  if (taken) throw ApiError(ErrorCode::conflict, "Username or email is already taken");
  obs::log(obs::Level::info, "auth.signup", {{"request_id", call.req.request_id}, {"user_id", id}});
  json::Writer w;
  w.begin_object().kv("message", "User created!").kv("user_id", id).end_object();
  co_return call.respond(201, w.take());
}

Task<http::Response> signin(Call& call) {
  static const json::Schema schema{
      json::str("username", 1, 254, true),
      password_field("password"),
      json::boolean("return_tokens", false),
  };
  auto& ctx = call.ctx;
  auto f = call.body(schema);
  std::string login = lower_ascii(*f.str("username"));
  co_await call.limit("signin", call.ip_key);

  std::optional<storage::User> user;
  co_await ctx.db.run(Access::read, [&](Repository& r) { user = r.find_user_by_login(login); });
  // The per-account limit is keyed on the account, so its username and its email share one
  // bucket; unknown logins get a bucket of their own (the IP limit was checked first, so an
  // attacker already limited by IP cannot spend a victim's quota).
  const std::string user_key = user ? "id:" + std::to_string(user->id) : "login:" + login;
  co_await call.limit("signin_user", user_key);
  SecretString pw = f.secret("password");
  bool needs_rehash = false;
  // An unknown user still costs one hash, against a dummy made at start: timing does not tell.
  bool ok =
      co_await verify_on_pool(ctx, pw, user ? user->password_hash : ctx.dummy_hash, &needs_rehash);
  if (!user || !ok) {
    ctx.metrics.inc("auth_failures_total", "reason=\"invalid_credentials\"");
    obs::security_event("auth.signin.failure", call.req.request_id, call.ip,
                        {{"user_id", user ? user->id : int64_t{0}},
                         {"reason", user ? "bad_password" : "unknown_user"}});
    throw ApiError(ErrorCode::invalid_credentials, "Invalid username or password");
  }
  // The hash the password was checked against: the session is created only while it is still
  // the user's (Repository::create_session), so a signin racing a password change (or an account
  // deletion) gets no session, and a re-hash never undoes a change that committed meanwhile.
  std::string verified = user->password_hash;
  bool current = true;
  if (needs_rehash) {
    std::string h = co_await hash_on_pool(ctx, pw);
    int64_t uid = user->id;
    co_await ctx.db.run(Access::write,
                        [&](Repository& r) { current = r.update_password_hash(uid, verified, h); });
    if (current) {
      verified = std::move(h);
      obs::log(obs::Level::info, "auth.password.rehashed",
               {{"request_id", call.req.request_id}, {"user_id", uid}});
    }
  }

  const int64_t now = now_unix();
  storage::Session s;
  s.id = random_token(24);
  s.user_id = user->id;
  s.refresh_jti = random_token(16);
  s.created_at = s.last_used_at = now;
  s.expires_at = session_expiry(ctx, now, now);
  s.user_agent = sane_user_agent(call.req.header("User-Agent"));
  s.ip = call.ip;
  if (current) {
    co_await ctx.db.run(Access::write,
                        [&](Repository& r) { current = r.create_session(s, &verified); });
  }
  if (!current) {
    // The password was changed, or the account deleted, while this one was being checked.
    obs::security_event("auth.signin.failure", call.req.request_id, call.ip,
                        {{"user_id", user->id}, {"reason", "changed_during_signin"}});
    throw ApiError(ErrorCode::invalid_credentials, "Invalid username or password");
  }
  auto t = issue_tokens(ctx, user->id, s.id, s.refresh_jti, now, s.expires_at);
  call.cookies = token_cookies(ctx, t);
  obs::security_event("auth.signin.success", call.req.request_id, call.ip, {{"user_id", user->id}},
                      obs::Level::info);
  call.req.user_id = user->id;

  json::Writer w;
  w.begin_object()
      .kv("message", "Signed in")
      .kv("user_id", user->id)
      .kv("csrf_token", t.access_csrf);
  if (f.boolean("return_tokens").value_or(false))
    w.kv("access_token", t.access).kv("refresh_token", t.refresh);
  w.end_object();
  co_return call.respond(200, w.take());
}

Task<http::Response> refresh(Call& call) {
  static const json::Schema schema{json::str("refresh_token", 1, 4096, true)};
  auto& ctx = call.ctx;
  std::string token;
  bool from_body = false;
  if (call.has_body()) {
    auto f = call.body(schema);
    token = std::string(*f.str("refresh_token"));
    from_body = true;
  } else {
    token = std::string(find_cookie(call.req.header("Cookie"), ctx.cookies.refresh));
  }
  if (token.empty()) throw ApiError(ErrorCode::unauthorized, "Refresh token required");
  const int64_t now = now_unix();
  auto v = auth::verify(token, ctx.jwt, "refresh", now);
  if (!v.ok()) {
    ctx.metrics.inc("auth_failures_total", "reason=\"refresh_invalid\"");
    if (v.error == auth::JwtError::expired)
      throw ApiError(ErrorCode::token_expired, "Refresh token has expired");
    throw ApiError(ErrorCode::unauthorized, "Invalid refresh token");
  }
  if (!from_body && !ct_equal(call.req.header("X-CSRF-TOKEN"), v.claims.csrf)) {
    obs::security_event("auth.csrf.failure", call.req.request_id, call.ip,
                        {{"route", call.req.route}});
    throw ApiError(ErrorCode::csrf_failed, "CSRF token missing or invalid");
  }
  // sub must be a positive decimal user id (as in authenticate()); never act on a partial parse.
  int64_t uid = 0;
  const std::string& sub = v.claims.sub;
  auto [end, ec] = std::from_chars(sub.data(), sub.data() + sub.size(), uid);
  if (ec != std::errc() || end != sub.data() + sub.size() || uid <= 0)
    throw ApiError(ErrorCode::unauthorized, "Invalid refresh token");
  const std::string sid = v.claims.sid;
  const std::string session_key = "session:" + sid;
  co_await call.limit("refresh", session_key);

  const std::string new_jti = random_token(16);
  enum class Outcome { rotated, reused, revoked, expired } outcome = Outcome::revoked;
  int64_t new_expires = 0;
  co_await ctx.db.run(Access::write, [&](Repository& r) {
    auto s = r.find_session(sid);
    // Only a live, unexpired session of this very user may be refreshed. (rotate_refresh checks
    // neither the owner nor the expiry; a deleted user's sessions are gone with the user.)
    if (!s || s->revoked_at || s->user_id != uid) return;
    if (s->expires_at <= now) {
      outcome = Outcome::expired;
      return;
    }
    new_expires = session_expiry(ctx, s->created_at, now);
    if (new_expires <= now) {
      outcome = Outcome::expired;
      return;
    }
    if (r.rotate_refresh(sid, v.claims.jti, new_jti, new_expires, now)) {
      r.block_token(v.claims.jti, sid, uid, v.claims.exp);
      outcome = Outcome::rotated;
    } else if (r.revoke_session(sid, now)) {
      // A signed refresh token of a live session that is not its current one was already spent:
      // someone holds a copy. Revoke the whole session (OAuth 2.0 Security BCP, refresh
      // rotation). When the session was revoked meanwhile (logout), it is simply revoked.
      outcome = Outcome::reused;
    }
  });
  if (outcome == Outcome::reused) {
    ctx.metrics.inc("auth_failures_total", "reason=\"token_reused\"");
    obs::security_event("auth.token.reuse", call.req.request_id, call.ip,
                        {{"user_id", uid}, {"session", sid}}, obs::Level::error);
    ApiError e(ErrorCode::token_reused, "Refresh token reuse detected; the session was revoked");
    for (auto& c : clearing_cookies(ctx)) e.headers.emplace_back("Set-Cookie", c);
    throw e;
  }
  if (outcome == Outcome::expired) throw ApiError(ErrorCode::token_expired, "Session has expired");
  if (outcome == Outcome::revoked)
    throw ApiError(ErrorCode::token_revoked, "Session has been revoked");
  auto t = issue_tokens(ctx, uid, sid, new_jti, now, new_expires);
  call.cookies = token_cookies(ctx, t);
  call.req.user_id = uid;
  json::Writer w;
  w.begin_object()
      .kv("message", "Token refreshed")
      .kv("user_id", uid)
      .kv("csrf_token", t.access_csrf);
  if (from_body) w.kv("access_token", t.access).kv("refresh_token", t.refresh);
  w.end_object();
  co_return call.respond(200, w.take());
}

Task<http::Response> logout(Call& call) {
  auto& ctx = call.ctx;
  const std::string sid = call.who().session().id;
  co_await ctx.db.run(Access::write, [&](Repository& r) { r.revoke_session(sid, now_unix()); });
  call.cookies = clearing_cookies(ctx);
  co_return call.respond(200, R"({"message":"Logged out"})");
}

Task<http::Response> logout_all(Call& call) {
  auto& ctx = call.ctx;
  const int64_t uid = call.who().user_id;
  int64_t n = 0;
  co_await ctx.db.run(Access::write,
                      [&](Repository& r) { n = r.revoke_user_sessions(uid, "", now_unix()); });
  call.cookies = clearing_cookies(ctx);
  json::Writer w;
  w.begin_object().kv("message", "Logged out of every session").kv("revoked", n).end_object();
  co_return call.respond(200, w.take());
}

Task<http::Response> list_sessions(Call& call) {
  co_await call.authenticated();  // "current" needs the settled session
  auto& ctx = call.ctx;
  const int64_t uid = call.who().user_id;
  std::vector<storage::Session> v;
  co_await ctx.db.run(Access::read,
                      [&](Repository& r) { v = r.list_active_sessions(uid, now_unix()); });
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
        .kv("current", s.id == call.who().session().id)
        .end_object();
  }
  w.end_array().end_object();
  co_return call.respond(200, w.take());
}

Task<http::Response> delete_session(Call& call) {
  auto& ctx = call.ctx;
  std::string id(call.req.param("id"));
  bool sane = !id.empty() && id.size() <= 64;
  for (char c : id)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_'))
      sane = false;
  if (!sane) throw ApiError(ErrorCode::not_found, "Session not found");
  const int64_t uid = call.who().user_id;
  bool done = false;
  co_await ctx.db.run(Access::write, [&](Repository& r) {
    auto s = r.find_session(id);
    if (s && s->user_id == uid && !s->revoked_at && s->expires_at > now_unix())
      done = r.revoke_session(id, now_unix());
  });
  if (!done) throw ApiError(ErrorCode::not_found, "Session not found");
  co_return http::Response::no_content();
}

Task<http::Response> change_password(Call& call) {
  static const json::Schema schema{password_field("current_password"),
                                   password_field("new_password")};
  auto& ctx = call.ctx;
  auto f = call.body(schema);
  const int64_t uid = call.who().user_id;
  auto user = co_await load_user(ctx, uid);
  check_new_password(ctx, "new_password", *f.str("new_password"), user.username);
  const std::string limit_key = "change-password:user:" + std::to_string(uid);
  co_await call.limit("sensitive", limit_key);
  // Named locals, not temporaries inside the co_await expressions (g++ 12 coroutine caveat).
  const SecretString current = f.secret("current_password"), next = f.secret("new_password");
  if (!co_await verify_on_pool(ctx, current, user.password_hash)) {
    obs::security_event("auth.password_change.failure", call.req.request_id, call.ip,
                        {{"user_id", uid}});
    throw ApiError(ErrorCode::invalid_credentials, "Current password is incorrect");
  }
  std::string h = co_await hash_on_pool(ctx, next);
  const std::string sid = call.who().session().id;
  int64_t revoked = 0;
  // One transaction: never the new password with the other sessions -- perhaps the attacker's --
  // still alive, nor the sessions ended with the password unchanged.
  co_await ctx.db.run(Access::write,
                      [&](Repository& r) { revoked = r.change_password(uid, h, sid, now_unix()); });
  obs::security_event("auth.password_change.success", call.req.request_id, call.ip,
                      {{"user_id", uid}, {"sessions_revoked", revoked}}, obs::Level::info);
  json::Writer w;
  w.begin_object().kv("message", "Password changed").kv("sessions_revoked", revoked).end_object();
  co_return call.respond(200, w.take());
}

Task<http::Response> delete_account(Call& call) {
  static const json::Schema schema{password_field("password")};
  auto& ctx = call.ctx;
  auto f = call.body(schema);
  const int64_t uid = call.who().user_id;
  const std::string limit_key = "delete-account:user:" + std::to_string(uid);
  co_await call.limit("sensitive", limit_key);
  auto user = co_await load_user(ctx, uid);
  const SecretString pw = f.secret("password");  // a named local (g++ 12 coroutine caveat)
  if (!co_await verify_on_pool(ctx, pw, user.password_hash)) {
    obs::security_event("auth.delete_account.failure", call.req.request_id, call.ip,
                        {{"user_id", uid}});
    throw ApiError(ErrorCode::invalid_credentials, "Password is incorrect");
  }
  co_await ctx.db.run(Access::write, [&](Repository& r) {
    r.revoke_user_sessions(uid, "", now_unix());
    r.delete_user(uid);
  });
  obs::security_event("auth.account.deleted", call.req.request_id, call.ip, {{"user_id", uid}},
                      obs::Level::info);
  call.cookies = clearing_cookies(ctx);
  co_return call.respond(200, R"({"message":"Account deleted"})");
}

}  // namespace

void add_auth_routes(http::Router& r, Context& ctx) {
  r.add(Method::POST, "/auth/signup", route(ctx, Gate::anonymous, signup));
  r.add(Method::POST, "/auth/signin", route(ctx, Gate::anonymous, signin));
  r.add(Method::POST, "/auth/refresh", route(ctx, Gate::anonymous, refresh));
  r.add(Method::POST, "/auth/logout", route(ctx, Gate::user, logout));
  r.add(Method::POST, "/auth/logout-all", route(ctx, Gate::user, logout_all));
  r.add(Method::GET, "/auth/sessions", route(ctx, Gate::user, list_sessions));
  r.add(Method::DELETE_, "/auth/sessions/{id}", route(ctx, Gate::user, delete_session));
  r.add(Method::POST, "/auth/change-password", route(ctx, Gate::user, change_password));
  r.add(Method::POST, "/auth/delete-account", route(ctx, Gate::user, delete_account));
}

}  // namespace sr::api
