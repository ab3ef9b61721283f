#include "http/dispatch.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <stdexcept>

#include <boost/json.hpp>

#include "http/run_task.hpp"
#include "util/error.hpp"

namespace sr::http {
namespace {

std::string header(const Response& r, std::string_view name) {
  for (auto& [k, v] : r.headers)
    if (k == name) return v;
  return {};
}
bool has_header(const Response& r, std::string_view name) {
  for (auto& [k, v] : r.headers)
    if (k == name) return true;
  return false;
}

TEST(RequestId, Sanity) {
  EXPECT_TRUE(request_id_is_sane("abc-DEF_123.x"));
  EXPECT_TRUE(request_id_is_sane(std::string(64, 'a')));
  EXPECT_FALSE(request_id_is_sane(std::string(65, 'a')));
  EXPECT_FALSE(request_id_is_sane(""));
  EXPECT_FALSE(request_id_is_sane("a b"));
  EXPECT_FALSE(request_id_is_sane("a\nb"));
  EXPECT_FALSE(request_id_is_sane("a\"b"));
  EXPECT_FALSE(request_id_is_sane("caf\xc3\xa9"));
  EXPECT_FALSE(request_id_is_sane("a/b"));
}

TEST(RequestId, EchoOrGenerate) {
  EXPECT_EQ(request_id_for("client-id.1"), "client-id.1");
  std::string g = request_id_for("bad id\r\nX-Injected: 1");
  EXPECT_TRUE(request_id_is_sane(g));
  EXPECT_EQ(g.find("Injected"), std::string::npos);
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string id = generate_request_id();
    EXPECT_TRUE(request_id_is_sane(id)) << id;
    EXPECT_TRUE(seen.insert(id).second) << "duplicate " << id;
  }
}

TEST(Cors, ListedOriginGetsCredentialedHeaders) {
  CorsPolicy c({"http://localhost:5173", "http://127.0.0.1:5173"});
  EXPECT_EQ(c.allow_origin("http://localhost:5173"), "http://localhost:5173");
  EXPECT_EQ(c.allow_origin("http://localhost:5174"), "");
  EXPECT_EQ(c.allow_origin("http://localhost:5173.evil.com"), "");
  EXPECT_EQ(c.allow_origin("null"), "");
  EXPECT_EQ(c.allow_origin(""), "");

  Response r;
  c.apply("http://127.0.0.1:5173", r);
  EXPECT_EQ(header(r, "Access-Control-Allow-Origin"), "http://127.0.0.1:5173");
  EXPECT_EQ(header(r, "Access-Control-Allow-Credentials"), "true");
  EXPECT_EQ(header(r, "Vary"), "Origin");

  Response u;
  c.apply("https://evil.example", u);
  EXPECT_TRUE(u.headers.empty());
}

TEST(Cors, WildcardNeverWithCredentials) {
  CorsPolicy c({"*"});
  Response r;
  c.apply("https://any.example", r);
  EXPECT_EQ(header(r, "Access-Control-Allow-Origin"), "*");
  EXPECT_FALSE(has_header(r, "Access-Control-Allow-Credentials"));
}

TEST(Cors, Preflight) {
  CorsPolicy c({"http://localhost:5173"});
  Response r = c.preflight("http://localhost:5173", "GET, HEAD, PUT, OPTIONS");
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(header(r, "Access-Control-Allow-Origin"), "http://localhost:5173");
  EXPECT_EQ(header(r, "Access-Control-Allow-Credentials"), "true");
  EXPECT_EQ(header(r, "Access-Control-Allow-Methods"), "GET, HEAD, PUT, OPTIONS");
  EXPECT_EQ(header(r, "Access-Control-Allow-Headers"),
            "Content-Type, X-CSRF-TOKEN, X-Request-ID, Authorization, X-Vault-Token");
  EXPECT_EQ(header(r, "Access-Control-Max-Age"), "3600");

  Response u = c.preflight("http://evil.example", "GET, OPTIONS");
  EXPECT_EQ(u.status, 204);
  EXPECT_FALSE(has_header(u, "Access-Control-Allow-Origin"));
  EXPECT_FALSE(has_header(u, "Access-Control-Allow-Methods"));
}

// --- dispatch -------------------------------------------------------------------------------

struct Fixture {
  Router router;
  CorsPolicy cors{{"http://app.example"}};
  std::map<std::string, std::string> headers;
  Request make(Method m, std::string_view path) {
    Request r;
    r.method = m;
    r.target = path;
    r.path = path;
    r.request_id = "rid";
    r.header_fn = [this](std::string_view n) -> std::string_view {
      auto it = headers.find(std::string(n));
      return it == headers.end() ? std::string_view{} : std::string_view(it->second);
    };
    return r;
  }
};

TEST(Dispatch, RoutesParamsAndCors) {
  Fixture f;
  f.router.add(Method::GET, "/links/{id}", [](Request& r) -> Task<Response> {
    co_return Response::json(200, std::string("{\"id\":\"") + std::string(r.param("id")) + "\"}");
  });
  f.headers["Origin"] = "http://app.example";
  Request req = f.make(Method::GET, "/links/7");
  Response res = test::run_task(dispatch(f.router, f.cors, req));
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.body, "{\"id\":\"7\"}");
  EXPECT_EQ(req.route, "/links/{id}");
  EXPECT_EQ(header(res, "Access-Control-Allow-Origin"), "http://app.example");
}

TEST(Dispatch, NotFoundAndMethodNotAllowed) {
  Fixture f;
  f.router.add(Method::POST, "/auth/signin",
               [](Request&) -> Task<Response> { co_return Response::json(200, "{}"); });
  Request a = f.make(Method::GET, "/nope");
  Response r = test::run_task(dispatch(f.router, f.cors, a));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(boost::json::parse(r.body).at("code").as_string(), "not_found");
  EXPECT_TRUE(a.route.empty());

  Request b = f.make(Method::GET, "/auth/signin");
  r = test::run_task(dispatch(f.router, f.cors, b));
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(boost::json::parse(r.body).at("code").as_string(), "method_not_allowed");
  EXPECT_EQ(header(r, "Allow"), "POST, OPTIONS");
  EXPECT_EQ(b.route, "/auth/signin");
}

TEST(Dispatch, HandlerExceptionsAreMapped) {
  Fixture f;
  f.router.add(Method::GET, "/boom", [](Request&) -> Task<Response> {
    throw std::runtime_error("db password=hunter2");
    co_return Response{};
  });
  f.router.add(Method::GET, "/api-error", [](Request&) -> Task<Response> {
    throw ApiError(ErrorCode::unauthorized, "not signed in");
    co_return Response{};
  });
  Request a = f.make(Method::GET, "/boom");
  Response r = test::run_task(dispatch(f.router, f.cors, a));
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body.find("hunter2"), std::string::npos);
  Request b = f.make(Method::GET, "/api-error");
  r = test::run_task(dispatch(f.router, f.cors, b));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(boost::json::parse(r.body).at("code").as_string(), "unauthorized");
}

TEST(Dispatch, OptionsAndPreflight) {
  Fixture f;
  f.router.add(Method::GET, "/personal/handbook",
               [](Request&) -> Task<Response> { co_return Response::json(200, "{}"); });
  f.router.add(Method::PUT, "/personal/handbook",
               [](Request&) -> Task<Response> { co_return Response::json(200, "{}"); });
  // Plain OPTIONS: 204 + Allow, no CORS.
  Request a = f.make(Method::OPTIONS, "/personal/handbook");
  Response r = test::run_task(dispatch(f.router, f.cors, a));
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(header(r, "Allow"), "GET, HEAD, PUT, OPTIONS");
  EXPECT_FALSE(has_header(r, "Access-Control-Allow-Origin"));

  // Preflight from a listed origin.
  f.headers["Origin"] = "http://app.example";
  f.headers["Access-Control-Request-Method"] = "PUT";
  Request b = f.make(Method::OPTIONS, "/personal/handbook");
  r = test::run_task(dispatch(f.router, f.cors, b));
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(header(r, "Access-Control-Allow-Methods"), "GET, HEAD, PUT, OPTIONS");
  EXPECT_EQ(header(r, "Access-Control-Max-Age"), "3600");
  int acao = 0;
  for (auto& [k, v] : r.headers) acao += k == "Access-Control-Allow-Origin";
  EXPECT_EQ(acao, 1);

  // Preflight from an unlisted origin: no CORS headers.
  f.headers["Origin"] = "http://evil.example";
  Request c = f.make(Method::OPTIONS, "/personal/handbook");
  r = test::run_task(dispatch(f.router, f.cors, c));
  EXPECT_EQ(r.status, 204);
  EXPECT_FALSE(has_header(r, "Access-Control-Allow-Origin"));
  EXPECT_FALSE(has_header(r, "Access-Control-Allow-Methods"));

  // Preflight on an unknown path: 404.
  f.headers["Origin"] = "http://app.example";
  Request d = f.make(Method::OPTIONS, "/unknown");
  r = test::run_task(dispatch(f.router, f.cors, d));
  EXPECT_EQ(r.status, 404);
}

// --- serialization ------------------------------------------------------------------------

TEST(Serialize, SecurityHeadersAndFraming) {
  Response r = Response::json(200, "{\"ok\":true}");
  std::string out;
  serialize_response(out, r, {.version = 11, .keep_alive = true, .request_id = "rid-9"});
  EXPECT_EQ(out.rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  // SPEC section 3, word for word (not the code's own table).
  for (const char* line :
       {"X-Content-Type-Options: nosniff\r\n", "X-Frame-Options: DENY\r\n",
        "Referrer-Policy: no-referrer\r\n",
        "Content-Security-Policy: default-src 'none'; frame-ancestors 'none'\r\n",
        "Cache-Control: no-store\r\n", "Cross-Origin-Opener-Policy: same-origin\r\n",
        "Cross-Origin-Resource-Policy: same-origin\r\n", "X-XSS-Protection: 0\r\n"})
    EXPECT_NE(out.find(line), std::string::npos) << line;
  EXPECT_EQ(out.find("Strict-Transport-Security"), std::string::npos);
  EXPECT_NE(out.find("X-Request-ID: rid-9\r\n"), std::string::npos);
  EXPECT_NE(out.find("Content-Type: application/json\r\n"), std::string::npos);
  EXPECT_NE(out.find("Content-Length: 11\r\n"), std::string::npos);
  EXPECT_EQ(out.find("Server:"), std::string::npos);
  EXPECT_EQ(out.find("Connection:"), std::string::npos);
  EXPECT_EQ(out.substr(out.size() - 15), "\r\n\r\n{\"ok\":true}");

  out.clear();
  serialize_response(out, r, {.version = 11, .keep_alive = false, .hsts = true});
  EXPECT_NE(out.find("Strict-Transport-Security: max-age=31536000; includeSubDomains\r\n"),
            std::string::npos);
  EXPECT_NE(out.find("Connection: close\r\n"), std::string::npos);

  out.clear();
  serialize_response(out, r, {.version = 10, .keep_alive = true});
  EXPECT_EQ(out.rfind("HTTP/1.0 200 OK\r\n", 0), 0u);
  EXPECT_NE(out.find("Connection: keep-alive\r\n"), std::string::npos);
}

TEST(Serialize, HeadAndNoContent) {
  Response r = Response::json(200, "12345");
  std::string out;
  serialize_response(out, r, {.head = true});
  EXPECT_NE(out.find("Content-Length: 5\r\n"), std::string::npos);
  EXPECT_EQ(out.substr(out.size() - 4), "\r\n\r\n");

  out.clear();
  serialize_response(out, Response::no_content(), {});
  EXPECT_EQ(out.rfind("HTTP/1.1 204 No Content\r\n", 0), 0u);
  EXPECT_EQ(out.find("\r\nContent-Length:"), std::string::npos);
  EXPECT_EQ(out.find("\r\nContent-Type:"), std::string::npos);
  EXPECT_EQ(out.substr(out.size() - 4), "\r\n\r\n");
}

TEST(Serialize, BodyInPiecesIsChunkedOnHttp11AndUnframedOnHttp10) {
  Response r = Response::json(200, "[1");
  r.more = [](std::string&) -> Task<bool> { co_return false; };
  std::string out;
  serialize_response(out, r, {.version = 11});
  EXPECT_NE(out.find("\r\nTransfer-Encoding: chunked\r\n"), std::string::npos);
  EXPECT_EQ(out.find("Content-Length"), std::string::npos);
  EXPECT_EQ(out.substr(out.size() - 4), "\r\n\r\n") << "the head only: the server sends the pieces";
  out.clear();
  serialize_head(out, r, {.version = 10, .keep_alive = false});
  EXPECT_EQ(out.find("Transfer-Encoding"), std::string::npos);
  EXPECT_EQ(out.find("Content-Length"), std::string::npos);
  EXPECT_NE(out.find("Connection: close\r\n"), std::string::npos);
  // A plain body: serialize_head stops at the blank line; serialize_response adds the body.
  Response plain = Response::json(200, "12345");
  out.clear();
  serialize_head(out, plain, {});
  EXPECT_EQ(out.substr(out.size() - 4), "\r\n\r\n");
  EXPECT_NE(out.find("Content-Length: 5\r\n"), std::string::npos);
  EXPECT_TRUE(has_body(plain, {}));
  EXPECT_FALSE(has_body(plain, {.head = true}));
  EXPECT_FALSE(has_body(Response::no_content(), {}));
}

TEST(Serialize, ResponseOwnCspAndCacheControl) {
  Response r = Response::json(200, "<!doctype html>");
  r.csp = "default-src 'none'; script-src 'self'";
  r.cache_control = "no-cache";
  std::string out;
  serialize_response(out, r, {.hsts = true});
  EXPECT_NE(out.find("Content-Security-Policy: default-src 'none'; script-src 'self'\r\n"),
            std::string::npos);
  EXPECT_NE(out.find("Cache-Control: no-cache\r\n"), std::string::npos);
  // Replaced, not added: one of each, and every other SPEC 3 header unchanged.
  EXPECT_EQ(out.find("Content-Security-Policy:"), out.rfind("Content-Security-Policy:"));
  EXPECT_EQ(out.find("no-store"), std::string::npos);
  for (auto& [k, v] : security_headers(true)) {
    if (k == "Content-Security-Policy" || k == "Cache-Control") continue;
    EXPECT_NE(out.find(std::string(k) + ": " + std::string(v) + "\r\n"), std::string::npos) << k;
  }

  // A value that would split the header is ignored: the default stays.
  r.csp = "x\r\nSet-Cookie: a=b";
  r.cache_control = {};
  out.clear();
  serialize_response(out, r, {});
  EXPECT_EQ(out.find("Set-Cookie"), std::string::npos);
  EXPECT_NE(out.find("Content-Security-Policy: default-src 'none'; frame-ancestors 'none'\r\n"),
            std::string::npos);
  EXPECT_NE(out.find("Cache-Control: no-store\r\n"), std::string::npos);
}

TEST(Serialize, DropsInjectedAndReservedHeaders) {
  Response r = Response::json(200, "{}");
  r.headers.emplace_back("X-Good", "yes");
  r.headers.emplace_back("X-Bad", "a\r\nSet-Cookie: evil=1");
  r.headers.emplace_back("Bad Name", "x");
  r.headers.emplace_back("Content-Length", "999");
  r.headers.emplace_back("Server", "nginx/1.0");
  r.set_cookies.push_back("a=b; Path=/; HttpOnly");
  r.set_cookies.push_back("c=d\r\nX-Evil: 1");
  std::string out;
  serialize_response(out, r, {});
  EXPECT_NE(out.find("X-Good: yes\r\n"), std::string::npos);
  EXPECT_EQ(out.find("evil"), std::string::npos);
  EXPECT_EQ(out.find("X-Evil"), std::string::npos);
  EXPECT_EQ(out.find("Bad Name"), std::string::npos);
  EXPECT_EQ(out.find("999"), std::string::npos);
  EXPECT_EQ(out.find("nginx"), std::string::npos);
  EXPECT_NE(out.find("Set-Cookie: a=b; Path=/; HttpOnly\r\n"), std::string::npos);
  EXPECT_NE(out.find("Content-Length: 2\r\n"), std::string::npos);
}

}  // namespace
}  // namespace sr::http
