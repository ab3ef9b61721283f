#include "http/dispatch.hpp"

#include <array>
#include <charconv>
#include <ctime>

#include "http/errors.hpp"
#include "http/token.hpp"
#include "http/wipe.hpp"
#include "util/random.hpp"

namespace sr::http {
namespace {

bool header_name_ok(std::string_view n) noexcept {
  if (n.empty()) return false;
  for (unsigned char c : n)
    if (!is_tchar(c)) return false;
  return true;
}

bool header_value_ok(std::string_view v) noexcept {
  for (unsigned char c : v)
    if (c == '\r' || c == '\n' || c == '\0') return false;
  return true;
}

// Framing headers belong to the server alone.
bool reserved_header(std::string_view n) noexcept {
  return iequals_ascii(n, "Content-Length") || iequals_ascii(n, "Transfer-Encoding") ||
         iequals_ascii(n, "Connection") || iequals_ascii(n, "Server") ||
         iequals_ascii(n, "Content-Type") || iequals_ascii(n, "X-Request-ID") ||
         iequals_ascii(n, "Date");
}

constexpr std::pair<std::string_view, std::string_view> kSecurityHeaders[] = {
    {"X-Content-Type-Options", "nosniff"},
    {"X-Frame-Options", "DENY"},
    {"Referrer-Policy", "no-referrer"},
    {"Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"},
    {"Cache-Control", "no-store"},
    {"Cross-Origin-Opener-Policy", "same-origin"},
    {"Cross-Origin-Resource-Policy", "same-origin"},
    {"X-XSS-Protection", "0"},
    {"Strict-Transport-Security", "max-age=31536000; includeSubDomains"},  // last: optional
};
constexpr std::size_t kNumSecurity = std::size(kSecurityHeaders);

// "Name: value\r\n" for every SPEC 3 header; a non-empty csp or cache_control replaces that
// header's default value (the web interface's documents).
template <class String>
void append_security_block(String& out, bool hsts, std::string_view csp = {},
                           std::string_view cache_control = {}) {
  for (std::size_t i = 0; i < kNumSecurity - (hsts ? 0 : 1); ++i) {
    auto [name, value] = kSecurityHeaders[i];
    if (name == "Content-Security-Policy" && !csp.empty() && header_value_ok(csp))
      value = csp;
    else if (name == "Cache-Control" && !cache_control.empty() && header_value_ok(cache_control))
      value = cache_control;
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
}

// Pre-rendered blocks with the defaults, with and without HSTS.
const std::string& security_block(bool hsts) {
  static const std::string with = [] {
    std::string s;
    append_security_block(s, true);
    return s;
  }();
  static const std::string without = [] {
    std::string s;
    append_security_block(s, false);
    return s;
  }();
  return hsts ? with : without;
}

// "Date: <IMF-fixdate>\r\n", cached per thread for the current second.
std::string_view date_header() {
  thread_local std::time_t cached = 0;
  thread_local char buf[64];
  thread_local std::size_t len = 0;
  std::time_t now = std::time(nullptr);
  if (now != cached) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    len = std::strftime(buf, sizeof buf, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
    cached = now;
  }
  return {buf, len};
}

bool bodiless_status(int s) noexcept {
  return (s >= 100 && s < 200) || s == 204 || s == 304;
}

template <class String>
void append_int(String& out, uint64_t v) {
  char buf[24];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  out.append(buf, p);
}

}  // namespace

bool request_id_is_sane(std::string_view id) noexcept {
  if (id.empty() || id.size() > 64) return false;
  for (unsigned char c : id) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string generate_request_id() {
  thread_local std::string prefix = random_token(9) + "-";  // 12 random chars
  thread_local uint64_t counter = 0;
  std::string id;
  id.reserve(prefix.size() + 16);
  id = prefix;
  char buf[16];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, ++counter, 36);
  (void)ec;
  id.append(buf, p);
  return id;
}

std::string request_id_for(std::string_view client_value) {
  if (request_id_is_sane(client_value)) return std::string(client_value);
  return generate_request_id();
}

CorsPolicy::CorsPolicy(std::vector<std::string> origins) {
  for (auto& o : origins) {
    if (o == "*")
      wildcard_ = true;
    else if (!o.empty())
      origins_.push_back(std::move(o));
  }
}

std::string_view CorsPolicy::allow_origin(std::string_view origin) const noexcept {
  if (origin.empty()) return {};
  for (const auto& o : origins_)
    if (o == origin) return o;
  if (wildcard_) return "*";
  return {};
}

void CorsPolicy::apply(std::string_view origin, Response& r) const {
  std::string_view allow = allow_origin(origin);
  if (allow.empty()) return;
  r.headers.emplace_back("Access-Control-Allow-Origin", std::string(allow));
  if (allow != "*") {
    r.headers.emplace_back("Access-Control-Allow-Credentials", "true");
    r.headers.emplace_back("Vary", "Origin");
  }
}

Response CorsPolicy::preflight(std::string_view origin, std::string_view allow) const {
  Response r = Response::no_content();
  r.headers.emplace_back("Allow", std::string(allow));
  if (allow_origin(origin).empty()) return r;
  apply(origin, r);
  r.headers.emplace_back("Access-Control-Allow-Methods", std::string(allow));
  r.headers.emplace_back("Access-Control-Allow-Headers", std::string(kCorsAllowHeaders));
  r.headers.emplace_back("Access-Control-Max-Age", "3600");
  return r;
}

std::span<const std::pair<std::string_view, std::string_view>> security_headers(
    bool hsts) noexcept {
  return {kSecurityHeaders, hsts ? kNumSecurity : kNumSecurity - 1};
}

Task<Response> dispatch(const Router& router, const CorsPolicy& cors, Request& req) {
  const std::string_view origin = req.header("Origin");
  // Each branch builds its Response once (no default one replaced): every Response allocates.
  auto with_cors = [&](Response r) {
    if (!origin.empty()) cors.apply(origin, r);
    return r;
  };
  auto m = router.match(req.method, req.path);
  if (!m) {
    req.route = {};
    co_return with_cors(error_response(ErrorCode::not_found, "not found"));
  }
  req.route = m->pattern;
  if (m->handler) {
    req.params = std::move(m->params);
    try {
      Response res = co_await (*m->handler)(req);
      co_return with_cors(std::move(res));
    } catch (...) {
      co_return with_cors(error_from_exception(std::current_exception(), req.request_id));
    }
  }
  if (req.method == Method::OPTIONS) {
    if (!origin.empty() && !req.header("Access-Control-Request-Method").empty())
      co_return cors.preflight(origin, m->allow);
    Response res = Response::no_content();
    res.headers.emplace_back("Allow", std::move(m->allow));
    co_return with_cors(std::move(res));
  }
  Response res = error_response(ErrorCode::method_not_allowed, "method not allowed");
  res.headers.emplace_back("Allow", std::move(m->allow));
  co_return with_cors(std::move(res));
}

std::string_view reason_phrase(int s) noexcept {
  switch (s) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Content";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

bool has_body(const Response& r, const SerializeOptions& o) noexcept {
  const int status = (r.status >= 100 && r.status <= 999) ? r.status : 500;
  return !o.head && !bodiless_status(status);
}

template <class String>
void serialize_head(String& out, const Response& r, const SerializeOptions& o) {
  using namespace std::string_view_literals;  // appends of known length, no strlen
  int status = (r.status >= 100 && r.status <= 999) ? r.status : 500;
  const bool no_body = bodiless_status(status);
  out += o.version == 10 ? "HTTP/1.0 "sv : "HTTP/1.1 "sv;
  append_int(out, static_cast<uint64_t>(status));
  out += ' ';
  out += reason_phrase(status);
  out += "\r\n"sv;
  out += date_header();
  if (r.csp.empty() && r.cache_control.empty())
    out += security_block(o.hsts);
  else
    append_security_block(out, o.hsts, r.csp, r.cache_control);
  if (!o.request_id.empty()) {
    out += "X-Request-ID: "sv;
    out += o.request_id;
    out += "\r\n"sv;
  }
  if (!no_body && !r.content_type.empty() && header_value_ok(r.content_type)) {
    out += "Content-Type: "sv;
    out += r.content_type;
    out += "\r\n"sv;
  }
  for (const auto& [k, v] : r.headers) {
    if (!header_name_ok(k) || !header_value_ok(v) || reserved_header(k)) continue;
    out += k;
    out += ": "sv;
    out += v;
    out += "\r\n"sv;
  }
  for (const auto& c : r.set_cookies) {
    if (!header_value_ok(c)) continue;
    out += "Set-Cookie: "sv;
    out += c;
    out += "\r\n"sv;
  }
  if (!no_body && !r.more) {
    out += "Content-Length: "sv;
    append_int(out, r.body.size());
    out += "\r\n"sv;
  } else if (!no_body && o.version != 10) {
    out += "Transfer-Encoding: chunked\r\n"sv;
  }
  if (!o.keep_alive)
    out += "Connection: close\r\n"sv;
  else if (o.version == 10)
    out += "Connection: keep-alive\r\n"sv;
  out += "\r\n"sv;
}

template <class String>
void serialize_response(String& out, const Response& r, const SerializeOptions& o) {
  serialize_head(out, r, o);
  if (!r.more && has_body(r, o)) out += r.body;
}

template void serialize_head(std::string&, const Response&, const SerializeOptions&);
template void serialize_head(WipingString&, const Response&, const SerializeOptions&);
template void serialize_response(std::string&, const Response&, const SerializeOptions&);
template void serialize_response(WipingString&, const Response&, const SerializeOptions&);

}  // namespace sr::http
