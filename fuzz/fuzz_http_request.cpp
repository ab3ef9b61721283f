// fuzz_http_request: whole requests through the HTTP layer with the server's limits.
//
// This harness drives Boost.Beast's request_parser exactly as Server::Impl::session does
// (header_limit / body_limit from ServerOptions' defaults, eager off for the header, on for the
// body), applies the server's own framing rules (http/framing.hpp: framing_ok), then runs
// the real sr::http::dispatch() (router, 404/405, OPTIONS/CORS, error mapping) with handlers that
// use the real json / api code, and sr::http::serialize_response(). The bytes we send back must
// be one well-formed HTTP response (re-parsed by Beast) with the SPEC 3 headers and a JSON body.
// The input may hold several pipelined requests (up to 8), like one connection.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <optional>

#include "api/cookies.hpp"
#include "api/net.hpp"
#include "api/validation.hpp"
#include "fuzz_common.hpp"
#include "http/dispatch.hpp"
#include "http/errors.hpp"
#include "http/framing.hpp"
#include "http/router.hpp"
#include "http/server.hpp"
#include "json/json.hpp"
#include "util/error.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace bj = boost::json;
using sr::http::framing_ok;
using sr::http::Method;
using sr::http::Request;
using sr::http::Response;
using sr::http::to_method;

namespace {

using BeastRequest = bhttp::request<bhttp::string_body>;

// As sr::api::parse_json_body (src/api/gate.cpp): 415 unless application/json, then parse.
sr::json::Fields body_of(const Request& req, const sr::json::Schema& schema) {
  std::string_view ct = req.header("Content-Type");
  std::string_view media = ct.substr(0, ct.find(';'));
  while (!media.empty() && media.back() == ' ') media.remove_suffix(1);
  bool ok = media.size() == 16;
  for (size_t i = 0; ok && i < 16; ++i)
    ok = std::tolower(static_cast<unsigned char>(media[i])) == "application/json"[i];
  if (!ok)
    throw sr::ApiError(sr::ErrorCode::unsupported_media_type,
                       "Content-Type must be application/json");
  return sr::json::parse_request(req.body, schema);
}

// As sr::api::path_id: decimal, no sign, fits; else 404.
int64_t path_id(std::string_view t) {
  if (t.empty() || t.size() > 18 || t.find_first_not_of("0123456789") != std::string_view::npos)
    throw sr::ApiError(sr::ErrorCode::not_found, "not found");
  return std::stoll(std::string(t));
}

sr::json::FieldRule checked(sr::json::FieldRule r,
                            std::optional<std::string> (*fn)(std::string_view)) {
  r.check = fn;
  return r;
}

const sr::api::AddressSet& trusted() {
  static const sr::api::AddressSet s({"127.0.0.1", "10.0.0.0/8", "::1"});
  return s;
}

sr::Task<Response> signup(Request& req) {
  static const sr::json::Schema schema{
      checked(sr::json::str("username", 3, 50, true), sr::api::check_username),
      checked(sr::json::str("email", 3, 254, true), sr::api::check_email),
      sr::json::str("password", 1, 1024, true)};
  auto f = body_of(req, schema);
  sr::json::Writer w;
  w.begin_object().kv("message", "User created!").kv("username", *f.str("username")).end_object();
  co_return Response::json(201, w.take());
}

sr::Task<Response> signin(Request& req) {
  static const sr::json::Schema schema{sr::json::str("username", 1, 254, true),
                                       sr::json::str("password", 1, 1024, true),
                                       sr::json::boolean("return_tokens", false)};
  auto f = body_of(req, schema);
  const std::string ip = sr::api::client_ip(req.peer_ip, req.header("X-Forwarded-For"), trusted());
  const auto names = sr::api::CookieNames::for_secure(false);
  std::string_view old = sr::api::find_cookie(req.header("Cookie"), names.access);
  Response r = Response::json(200, sr::json::Writer()
                                       .begin_object()
                                       .kv("ip", ip)
                                       .kv("had_cookie", !old.empty())
                                       .kv("user", *f.str("username"))
                                       .end_object()
                                       .take());
  // Request-controlled text in a header and a cookie: serialize_response must keep them inert.
  r.headers.emplace_back("X-Echo", std::string(req.header("X-CSRF-TOKEN")));
  r.headers.emplace_back(std::string(req.header("X-Header-Name")), "v");
  r.set_cookies.push_back(sr::api::set_cookie({.name = names.csrf_access,
                                               .value = req.header("X-CSRF-TOKEN"),
                                               .path = "/",
                                               .max_age = 900}));
  co_return r;
}

sr::Task<Response> entry_put(Request& req) {
  static const sr::json::Schema schema = [] {
    auto url = checked(sr::json::str("url", 1, 2048, false), sr::api::check_url);
    url.nullable = true;
    auto notes = sr::json::str("notes", 0, 10000, false);
    notes.single_line = false;
    notes.nullable = true;
    return sr::json::Schema{sr::json::str("domain", 1, 255, true),
                            sr::json::str("account_name", 1, 255, true),
                            sr::json::str("pin_or_password", 1, 1024, true), url, notes};
  }();
  const int64_t id = path_id(req.param("id"));
  auto f = body_of(req, schema);
  co_return Response::json(200, sr::json::Writer()
                                    .begin_object()
                                    .kv("id", id)
                                    .kv("domain", *f.str("domain"))
                                    .kv("url", f.str("url"))
                                    .kv("notes", f.str("notes"))
                                    .end_object()
                                    .take());
}

sr::Task<Response> entry_get(Request& req) {
  const int64_t id = path_id(req.param("id"));
  if (id % 2) throw sr::ApiError(sr::ErrorCode::not_found, "not found");
  co_return Response::json(200, sr::json::Writer().begin_object().kv("id", id).end_object().take());
}

sr::Task<Response> entry_delete(Request& req) {
  (void)path_id(req.param("id"));
  co_return Response::no_content();
}

sr::Task<Response> boom(Request&) {
  throw std::runtime_error("internal detail that must not leak /etc/secret");
  co_return Response{};
}

sr::Task<Response> health(Request&) {
  co_return Response::json(200, R"({"status":"ok"})");
}

const sr::http::Router& router() {
  static const sr::http::Router r = [] {
    sr::http::Router r;
    r.add(Method::POST, "/auth/signup", signup);
    r.add(Method::POST, "/auth/signin", signin);
    r.add(Method::GET, "/vault/entries/{id}", entry_get);
    r.add(Method::PUT, "/vault/entries/{id}", entry_put);
    r.add(Method::DELETE_, "/vault/entries/{id}", entry_delete);
    r.add(Method::GET, "/health", health);
    r.add(Method::POST, "/boom", boom);
    return r;
  }();
  return r;
}

const sr::http::CorsPolicy& cors() {
  static const sr::http::CorsPolicy c({"https://app.example"});
  return c;
}

// The bytes sent back must be one well-formed response with our headers.
void check_response(const std::string& out, const Response& res, bool head,
                    std::string_view request_id) {
  bhttp::response_parser<bhttp::string_body> p;
  p.header_limit(1 << 20);
  p.body_limit(1 << 22);
  p.eager(true);
  if (head) p.skip(true);
  beast::error_code ec;
  size_t used = p.put(asio::buffer(out.data(), out.size()), ec);
  if (!ec && !p.is_done()) p.put_eof(ec);
  FUZZ_CHECK(!ec);
  FUZZ_CHECK(p.is_done());
  FUZZ_CHECK(used == out.size());
  const auto& m = p.get();
  FUZZ_CHECK(static_cast<int>(m.result_int()) == res.status);
  FUZZ_CHECK(m["X-Request-ID"] == request_id);
  FUZZ_CHECK(sr::http::request_id_is_sane(request_id));
  FUZZ_CHECK(m["X-Content-Type-Options"] == "nosniff");
  FUZZ_CHECK(m["Cache-Control"] == "no-store");
  FUZZ_CHECK(m["X-Frame-Options"] == "DENY");
  FUZZ_CHECK(m.count(bhttp::field::content_length) <= 1);
  FUZZ_CHECK(m.count("X-Request-ID") == 1);
  if (m["Access-Control-Allow-Origin"] == "*")
    FUZZ_CHECK(m.count("Access-Control-Allow-Credentials") == 0);
  if (res.status == 405) FUZZ_CHECK(!m["Allow"].empty());
  if (!head && res.status >= 400) {
    // SPEC 2 error body, never internals.
    bj::error_code jec;
    bj::value v = bj::parse(m.body(), jec);
    FUZZ_CHECK(!jec && v.is_object());
    FUZZ_CHECK(v.as_object().contains("error") && v.as_object().at("error").is_string());
    FUZZ_CHECK(v.as_object().contains("code") && v.as_object().at("code").is_string());
    FUZZ_CHECK(m.body().find("/etc/secret") == std::string::npos);
  } else if (!head && !m.body().empty() && res.content_type == "application/json") {
    bj::error_code jec;
    (void)bj::parse(m.body(), jec);
    FUZZ_CHECK(!jec);
  }
}

Response run_dispatch(Request& req) {
  static asio::io_context ioc;
  std::optional<Response> out;
  std::exception_ptr err;
  asio::co_spawn(ioc, sr::http::dispatch(router(), cors(), req),
                 [&](std::exception_ptr e, Response r) {
                   err = e;
                   if (!e) out.emplace(std::move(r));
                 });
  ioc.restart();
  ioc.run();
  if (err) return sr::http::error_from_exception(err, req.request_id);
  FUZZ_CHECK(out.has_value());
  return std::move(*out);
}

void send(const Response& res, int version, bool keep, bool head, const std::string& rid) {
  std::string out;
  sr::http::serialize_response(
      out, res,
      {.version = version, .keep_alive = keep, .head = head, .hsts = false, .request_id = rid});
  check_response(out, res, head, rid);
}

void reject(Response res, std::string_view client_rid) {
  send(res, 11, false, false, sr::http::request_id_for(client_rid));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const sr::http::ServerOptions opts;  // the server's default limits (16 KiB / 64 KiB)
  if (size > opts.header_limit + opts.body_limit + 4096) return 0;
  std::string_view in = sr::fuzz::as_view(data, size);
  for (int n = 0; n < 8 && !in.empty(); ++n) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(opts.header_limit));
    parser.body_limit(opts.body_limit);
    beast::error_code ec;
    size_t used = 0;
    // Header (as async_read_header: not eager).
    parser.eager(false);
    while (!parser.is_header_done()) {
      if (used == in.size()) return 0;  // connection closed mid-header
      size_t k = parser.put(asio::buffer(in.data() + used, in.size() - used), ec);
      used += k;
      if (ec == bhttp::error::need_more) {
        if (k == 0) {
          // The server would wait for more bytes; a header beyond the limit is refused.
          if (in.size() > opts.header_limit)
            FUZZ_CHECK(false && "header over the limit not refused");
          return 0;  // connection closed mid-header
        }
        ec = {};
        continue;
      }
      if (!ec && k == 0) return 0;
      if (ec) {
        reject(sr::http::error_response(ec == bhttp::error::header_limit
                                            ? sr::ErrorCode::header_too_large
                                            : sr::ErrorCode::validation_failed,
                                        "malformed request"),
               {});
        return 0;
      }
    }
    BeastRequest& msg = parser.get();
    const unsigned version = msg.version();
    const Method method = to_method(msg.method());
    if (version != 10 && version != 11) {
      Response r =
          sr::http::error_response(sr::ErrorCode::validation_failed, "HTTP version not supported");
      r.status = 505;
      reject(std::move(r), msg["X-Request-ID"]);
      return 0;
    }
    if (!framing_ok(msg, version)) {
      reject(sr::http::error_response(sr::ErrorCode::validation_failed, "malformed request"),
             msg["X-Request-ID"]);
      return 0;
    }
    // Body (as async_read: eager).
    parser.eager(true);
    while (!parser.is_done()) {
      if (used == in.size()) return 0;  // connection closed mid-body
      size_t k = parser.put(asio::buffer(in.data() + used, in.size() - used), ec);
      used += k;
      if (ec == bhttp::error::need_more) {
        if (k == 0) return 0;  // connection closed mid-body
        ec = {};
        continue;
      }
      if (!ec && k == 0) return 0;
      if (ec) {
        reject(sr::http::error_response(ec == bhttp::error::body_limit
                                            ? sr::ErrorCode::payload_too_large
                                            : sr::ErrorCode::validation_failed,
                                        "malformed request"),
               msg["X-Request-ID"]);
        return 0;
      }
    }
    FUZZ_CHECK(msg.body().size() <= opts.body_limit);

    Request req;
    req.method = method;
    req.target = msg.target();
    req.path = req.target.substr(0, req.target.find('?'));
    req.body = msg.body();
    req.peer_ip = (n % 2) ? "10.0.0.1" : "203.0.113.7";
    req.request_id = sr::http::request_id_for(msg["X-Request-ID"]);
    req.header_fn = [&msg](std::string_view name) -> std::string_view {
      auto it = msg.find(name);
      return it == msg.end() ? std::string_view{} : std::string_view(it->value());
    };
    if (sr::http::request_id_is_sane(msg["X-Request-ID"]))
      FUZZ_CHECK(req.request_id == msg["X-Request-ID"]);
    Response res = run_dispatch(req);
    const bool keep = msg.keep_alive();
    send(res, static_cast<int>(version), keep, method == Method::HEAD, req.request_id);
    if (!keep) break;
    in.remove_prefix(used);
  }
  return 0;
}
