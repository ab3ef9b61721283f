// The request gate's steps (api/gate.hpp), each on its own and through run_route, against real
// SQLite and PostgreSQL: authentication, the session settled (401 before 404), CSRF on every
// unsafe cookie-authenticated method, the general limit, the vault gate, and the failure mapping
// (a conflict on a write whose user was deleted meanwhile is a 401).
#include "api/gate.hpp"

#include <gtest/gtest.h>

#include <map>

#include "api/context.hpp"
#include "http/run_task.hpp"
#include "storage/fixture.hpp"
#include "util/clock.hpp"
#include "vault/crypto.hpp"

namespace sr::api {
namespace {

using http::Method;
using storage::test::Backend;

Task<http::Response> ok_handler(Call& call) {
  co_return call.respond(200, R"({"ok":true})");
}

class GateTest : public storage::test::StorageTest {
 protected:
  void SetUp() override {
    StorageTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    cfg_.profile = "test";
    cfg_.jwt_secret = SecretBytes::random(32);
    cfg_.vault_session_key = SecretBytes::random(32);
    cfg_.totp_key = SecretBytes::random(32);
    cfg_.argon2_memory_kib = 64;
    cfg_.argon2_passes = 1;
    cfg_.rate_limit_scale = 1;
    cfg_.rate_limits["authenticated"] = {3, 60};
    cfg_.rate_limits["anonymous"] = {2, 60};
    pool_ = std::make_unique<auth::HashPool>(1, 16);
    limiter_ = ratelimit::make_memory_limiter();
    ctx_ = std::make_unique<Context>(cfg_, *st_, *pool_, *limiter_, metrics_);
  }
  void TearDown() override {
    ctx_.reset();
    pool_.reset();
    StorageTest::TearDown();
  }

  struct Signed {
    int64_t uid = 0;
    std::string sid;
    services::TokenPair t;
  };
  Signed sign_in(const std::string& name) {
    Signed s;
    s.uid = make_user(name);
    const int64_t now = now_unix();
    auto row = make_session(s.uid, "sid-" + name, now - 10, now + 3600);
    s.sid = row.id;
    s.t = ctx_->tokens.issue(s.uid, row.id, row.refresh_jti, now, row.expires_at);
    return s;
  }

  // A request as the server hands it to a handler.
  struct Req {
    http::Request req;
    std::map<std::string, std::string> headers;
    std::string id;
  };
  std::unique_ptr<Req> request(Method m, std::map<std::string, std::string> headers = {},
                               std::string id = {}, std::string peer = "198.51.100.7") {
    auto r = std::make_unique<Req>();
    r->headers = std::move(headers);
    r->id = std::move(id);
    r->req.method = m;
    r->req.peer_ip = std::move(peer);
    r->req.request_id = "gate-test";
    r->req.header_fn = [h = &r->headers](std::string_view n) -> std::string_view {
      auto it = h->find(std::string(n));
      return it == h->end() ? std::string_view{} : std::string_view(it->second);
    };
    if (!r->id.empty()) r->req.params.emplace_back("id", r->id);
    return r;
  }
  std::map<std::string, std::string> bearer(const Signed& s) {
    return {{"Authorization", "Bearer " + s.t.access}};
  }
  std::map<std::string, std::string> cookie(const Signed& s) {
    return {{"Cookie", "access_token_cookie=" + s.t.access}};
  }

  http::Response run(const Route& route, Req& r) {
    r.req.route = route.path;
    return sr::test::run_task(run_route(*ctx_, route, r.req));
  }
  static std::string code(const http::Response& resp) {
    auto at = resp.body.find("\"code\":\"");
    if (at == std::string::npos) return "";
    at += 8;
    return resp.body.substr(at, resp.body.find('"', at) - at);
  }
  static std::string header(const http::Response& resp, std::string_view name) {
    for (auto& [k, v] : resp.headers)
      if (k == name) return v;
    return "";
  }
  std::optional<storage::Session> r_session(const std::string& sid) {
    return r([&](storage::Repository& repo) { return repo.find_session(sid); });
  }
  void revoke(const std::string& sid) {
    w([&](storage::Repository& r) { r.revoke_session(sid, now_unix()); });
  }

  config::Config cfg_;
  obs::Metrics metrics_;
  std::unique_ptr<auth::HashPool> pool_;
  std::unique_ptr<ratelimit::Limiter> limiter_;
  std::unique_ptr<Context> ctx_;
};

// --- authenticate

TEST_P(GateTest, AuthenticateTakesABearerOrTheAccessCookie) {
  const Signed s = sign_in("ada");
  auto b = request(Method::GET, bearer(s));
  Principal p = authenticate(*ctx_, b->req);
  EXPECT_EQ(p.user_id, s.uid);
  EXPECT_EQ(p.claims.sid, s.sid);
  EXPECT_FALSE(p.via_cookie);
  EXPECT_TRUE(p.session_pending) << "verified, not yet settled";
  auto lower = request(Method::GET, {{"Authorization", "bearer " + s.t.access}});
  EXPECT_EQ(authenticate(*ctx_, lower->req).user_id, s.uid);
  auto c = request(Method::GET, cookie(s));
  EXPECT_TRUE(authenticate(*ctx_, c->req).via_cookie);

  auto expect_401 = [&](std::map<std::string, std::string> h, ErrorCode want) {
    auto r = request(Method::GET, std::move(h));
    try {
      authenticate(*ctx_, r->req);
      ADD_FAILURE() << "accepted";
    } catch (const ApiError& e) {
      EXPECT_EQ(e.code(), want);
    }
  };
  expect_401({}, ErrorCode::unauthorized);
  expect_401({{"Authorization", "Bearer " + s.t.refresh}}, ErrorCode::unauthorized);
  expect_401({{"Authorization", "Bearer x.y.z"}}, ErrorCode::unauthorized);
  expect_401({{"Cookie", "other_cookie=" + s.t.access}}, ErrorCode::unauthorized);
  auth::Claims old;
  old.sub = std::to_string(s.uid);
  old.sid = s.sid;
  old.jti = "jti-old-token-123456";
  old.type = "access";
  old.csrf = "csrf";
  old.iss = old.aud = "strongroom";
  old.iat = old.nbf = now_unix() - 4000;
  old.exp = now_unix() - 3000;
  auth::JwtKeys keys;
  keys.current = cfg_.jwt_secret;
  expect_401({{"Authorization", "Bearer " + auth::sign(old, keys)}}, ErrorCode::token_expired);
  old.exp = now_unix() + 600;
  old.sub = std::to_string(s.uid) + "x";  // not a plain positive id
  expect_401({{"Authorization", "Bearer " + auth::sign(old, keys)}}, ErrorCode::unauthorized);
}

// --- settle

TEST_P(GateTest, AcceptSessionWantsTheTokensOwnLiveSession) {
  const Signed s = sign_in("ada");
  auto r = request(Method::GET, bearer(s));
  const Principal p = authenticate(*ctx_, r->req);
  auto row = [&] { return r_session(s.sid); };
  const int64_t now = now_unix();
  auto code_for = [&](std::optional<storage::Session> session, int64_t at) {
    Principal q = p;
    auto e = accept_session(q, std::move(session), at);
    return e ? std::optional<ErrorCode>(e->code()) : std::nullopt;
  };
  EXPECT_EQ(code_for(row(), now), std::nullopt);
  EXPECT_EQ(code_for(std::nullopt, now), ErrorCode::token_revoked);
  auto other_user = row();
  other_user->user_id += 1;
  EXPECT_EQ(code_for(other_user, now), ErrorCode::token_revoked);
  auto other_sid = row();
  other_sid->id = "another";
  EXPECT_EQ(code_for(other_sid, now), ErrorCode::token_revoked);
  auto revoked = row();
  revoked->revoked_at = now;
  EXPECT_EQ(code_for(revoked, now), ErrorCode::token_revoked);
  EXPECT_EQ(code_for(row(), row()->expires_at), ErrorCode::token_expired);

  Principal settled = p;
  EXPECT_FALSE(accept_session(settled, row(), now));
  EXPECT_FALSE(settled.session_pending);
  EXPECT_EQ(settled.session().id, s.sid);
}

TEST_P(GateTest, EveryGetAnswersARevokedSessionFirstEvenWithAMalformedId) {
  cfg_.rate_limits["anonymous"] = {100, 60};  // each 401 counts against the address
  const Signed s = sign_in("ada");
  const Route get{.method = Method::GET,
                  .path = "/t/{id}",
                  .gate = Gate::user,
                  .summary = "test",
                  .param = Param::row_id,
                  .reads = {.links = true},
                  .handler = ok_handler};
  auto live = request(Method::GET, bearer(s), "abc");
  EXPECT_EQ(code(run(get, *live)), "not_found");
  auto good = request(Method::GET, bearer(s), "12");
  EXPECT_EQ(run(get, *good).status, 200);
  revoke(s.sid);
  for (const char* id : {"abc", "-1", "99999999999999999999", "12"}) {
    auto dead = request(Method::GET, bearer(s), id);
    const http::Response resp = run(get, *dead);
    EXPECT_EQ(resp.status, 401) << id;
    EXPECT_EQ(code(resp), "token_revoked") << id;
  }
}

// --- CSRF

TEST_P(GateTest, CsrfAppliesToEveryUnsafeCookieAuthenticatedMethod) {
  for (Method m : {Method::POST, Method::PUT, Method::PATCH, Method::DELETE_}) {
    EXPECT_TRUE(csrf_applies(m, true));
    EXPECT_FALSE(csrf_applies(m, false)) << "Bearer needs none";
  }
  for (Method m : {Method::GET, Method::HEAD, Method::OPTIONS}) EXPECT_FALSE(csrf_applies(m, true));

  const Signed s = sign_in("ada");
  cfg_.rate_limits["authenticated"] = {100, 60};
  for (Method m : {Method::POST, Method::PUT, Method::PATCH, Method::DELETE_}) {
    const Route route{
        .method = m, .path = "/t", .gate = Gate::user, .summary = "test", .handler = ok_handler};
    auto none = request(m, cookie(s));
    const http::Response refused = run(route, *none);
    EXPECT_EQ(refused.status, 403);
    EXPECT_EQ(code(refused), "csrf_failed");
    auto h = cookie(s);
    h["X-CSRF-TOKEN"] = s.t.refresh_csrf;  // another token's
    auto wrong = request(m, h);
    EXPECT_EQ(code(run(route, *wrong)), "csrf_failed");
    h["X-CSRF-TOKEN"] = s.t.access_csrf;
    auto right = request(m, h);
    EXPECT_EQ(run(route, *right).status, 200);
    auto by_bearer = request(m, bearer(s));
    EXPECT_EQ(run(route, *by_bearer).status, 200);
  }
  const Route get{.method = Method::GET,
                  .path = "/t",
                  .gate = Gate::user,
                  .summary = "test",
                  .handler = ok_handler};
  auto safe = request(Method::GET, cookie(s));
  EXPECT_EQ(run(get, *safe).status, 200);
}

// --- the general limit

TEST_P(GateTest, GeneralLimitIsPerUserWhenKnownAndPerIpOtherwise) {
  const Signed s = sign_in("ada");
  const Route user{.method = Method::GET,
                   .path = "/u",
                   .gate = Gate::user,
                   .summary = "test",
                   .handler = ok_handler};
  const Route anon{.method = Method::GET,
                   .path = "/a",
                   .gate = Gate::anonymous,
                   .summary = "test",
                   .handler = ok_handler};
  const Route ops{.method = Method::GET,
                  .path = "/o",
                  .gate = Gate::ops,
                  .summary = "test",
                  .handler = ok_handler};
  for (int i = 0; i < 3; ++i) {
    auto r = request(Method::GET, bearer(s), {}, "198.51.100." + std::to_string(i));
    EXPECT_EQ(run(user, *r).status, 200) << "per user, whatever the address";
  }
  auto over = request(Method::GET, bearer(s), {}, "198.51.100.99");
  const http::Response limited = run(user, *over);
  EXPECT_EQ(limited.status, 429);
  EXPECT_FALSE(header(limited, "Retry-After").empty());

  for (int i = 0; i < 2; ++i) {
    auto r = request(Method::GET, {}, {}, "203.0.113.1");
    EXPECT_EQ(run(anon, *r).status, 200);
  }
  auto anon_over = request(Method::GET, {}, {}, "203.0.113.1");
  EXPECT_EQ(run(anon, *anon_over).status, 429);
  auto scraper = request(Method::GET, {}, {}, "203.0.113.1");
  EXPECT_EQ(run(ops, *scraper).status, 200) << "health and metrics are not limited";

  // A request whose authentication fails counts against its IP before it gets its 401.
  revoke(s.sid);
  auto dead1 = request(Method::GET, bearer(s), {}, "203.0.113.2");
  EXPECT_EQ(code(run(user, *dead1)), "token_revoked");
  auto dead2 = request(Method::GET, bearer(s), {}, "203.0.113.2");
  EXPECT_EQ(code(run(user, *dead2)), "token_revoked");
  auto dead3 = request(Method::GET, bearer(s), {}, "203.0.113.2");
  EXPECT_EQ(code(run(user, *dead3)), "rate_limited");
  EXPECT_NE(metrics_.render().find("auth_failures_total{reason=\"token_revoked\"} 2"),
            std::string::npos);
}

// --- the vault gate

TEST_P(GateTest, VaultGateWantsAnOpenVaultAndRenewsItWhenHalfIsGone) {
  const Signed s = sign_in("ada");
  cfg_.rate_limits["authenticated"] = {100, 60};
  const Route route{.method = Method::POST,
                    .path = "/v",
                    .gate = Gate::vault,
                    .summary = "test",
                    .handler = ok_handler};
  auto no_vault = request(Method::POST, bearer(s));
  EXPECT_EQ(code(run(route, *no_vault)), "vault_not_initialized");

  storage::VaultKey k;
  k.user_id = s.uid;
  k.kdf_salt = "salt";
  k.wrapped_key = "wrapped";
  k.generation = 4;
  w([&](storage::Repository& r) { return r.create_vault_key(k); });
  auto locked = request(Method::POST, bearer(s));
  EXPECT_EQ(code(run(route, *locked)), "vault_locked");

  const int64_t now = now_unix();
  vault::VaultSession vs;
  vs.user_id = s.uid;
  vs.sid = s.sid;
  vs.data_key = SecretBytes::random(32);
  vs.unlocked_at = vs.issued_at = now - 200;
  vs.expires_at = now + 100;
  vs.key_generation = 4;
  auto h = bearer(s);
  h["X-Vault-Token"] = vault::seal_session(vs, cfg_.vault_session_key);
  auto open = request(Method::POST, h);
  const http::Response resp = run(route, *open);
  EXPECT_EQ(resp.status, 200);
  const std::string renewed = header(resp, "X-Vault-Token");
  ASSERT_FALSE(renewed.empty());
  ASSERT_EQ(resp.set_cookies.size(), 1u);
  EXPECT_EQ(resp.set_cookies[0].rfind("vault_session=" + renewed + ";", 0), 0u);

  vs.key_generation = 3;  // sealed before a vault password change
  h["X-Vault-Token"] = vault::seal_session(vs, cfg_.vault_session_key);
  auto stale = request(Method::POST, h);
  EXPECT_EQ(code(run(route, *stale)), "vault_locked");
}

// --- the failure mapping

Task<http::Response> delete_user_then_write(Call& call) {
  const int64_t uid = call.user_id;
  co_await call.ctx.db.run(storage::Access::write,
                           [&](storage::Repository& r) { r.delete_user(uid); });
  co_await call.ctx.db.run(storage::Access::write, [&](storage::Repository& r) {
    r.add_link(uid, "p", "https://example.org", 1, 50);  // the user is gone: a conflict
  });
  co_return call.respond(201, "{}");
}

Task<http::Response> conflict_while_alive(Call& call) {
  co_await call.ctx.db.run(storage::Access::write, [](storage::Repository& r) {
    r.create_user("ada", "ada", "ada@example.com", "h", 1);  // taken: a conflict
  });
  co_return call.respond(201, "{}");
}

TEST_P(GateTest, ConflictOfAWriteWhoseUserWasDeletedMeanwhileIs401) {
  const Signed s = sign_in("ada");
  const Signed g = sign_in("grace");
  const Route taken{.method = Method::POST,
                    .path = "/c",
                    .gate = Gate::user,
                    .summary = "test",
                    .handler = conflict_while_alive};
  auto alive = request(Method::POST, bearer(g));
  const http::Response conflict = run(taken, *alive);
  EXPECT_EQ(conflict.status, 409) << "a live session's conflict stays a conflict";
  EXPECT_EQ(code(conflict), "conflict");

  const Route gone{.method = Method::POST,
                   .path = "/g",
                   .gate = Gate::user,
                   .summary = "test",
                   .handler = delete_user_then_write};
  auto r = request(Method::POST, bearer(s));
  const http::Response resp = run(gone, *r);
  EXPECT_EQ(resp.status, 401);
  EXPECT_EQ(code(resp), "token_revoked");
}

INSTANTIATE_TEST_SUITE_P(Backends, GateTest,
                         ::testing::Values(Backend::sqlite, Backend::postgresql),
                         storage::test::backend_name);

}  // namespace
}  // namespace sr::api
