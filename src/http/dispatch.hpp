// What the server does with a parsed request, without any socket or Beast type, so that it can be
// tested directly: request ids, CORS (SPEC 3), routing with 404/405, the handler call with the one
// error mapping, and the serialization of a Response with the SPEC 3 security headers.
#pragma once
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/router.hpp"
#include "http/types.hpp"

namespace sr::http {

// SPEC 2: <= 64 chars of [A-Za-z0-9._-], non-empty.
bool request_id_is_sane(std::string_view id) noexcept;
// A fresh id: a random per-thread prefix and a per-thread counter (unique, cheap, sane).
std::string generate_request_id();
// The client's id when sane, else a generated one.
std::string request_id_for(std::string_view client_value);

// The exact-origin allowlist of SPEC 3. An entry "*" allows any origin but then answers
// `Access-Control-Allow-Origin: *` without credentials (never both).
class CorsPolicy {
 public:
  CorsPolicy() = default;
  explicit CorsPolicy(std::vector<std::string> origins);
  // The Access-Control-Allow-Origin value for this Origin header, or empty: no CORS headers.
  std::string_view allow_origin(std::string_view origin) const noexcept;
  // Adds ACAO (+ ACAC: true and Vary: Origin for a listed origin) when the origin is allowed.
  void apply(std::string_view origin, Response& r) const;
  // 204 answer to a preflight (OPTIONS with Access-Control-Request-Method) on a known route whose
  // methods are `allow`; CORS headers only for an allowed origin.
  Response preflight(std::string_view origin, std::string_view allow) const;

 private:
  std::vector<std::string> origins_;
  bool wildcard_ = false;
};

inline constexpr std::string_view kCorsAllowHeaders =
    "Content-Type, X-CSRF-TOKEN, X-Request-ID, Authorization, X-Vault-Token";

// SPEC 3 headers sent on every response (HSTS only when hsts).
std::span<const std::pair<std::string_view, std::string_view>> security_headers(bool hsts) noexcept;

// Routing, OPTIONS/preflight, 404/405, the handler (every exception mapped by
// error_from_exception), CORS headers. The caller fills method, target, path, body, peer_ip,
// request_id and header_fn; this fills route and params.
Task<Response> dispatch(const Router& router, const CorsPolicy& cors, Request& req);

struct SerializeOptions {
  int version = 11;  // 10 or 11
  bool keep_alive = true;
  bool head = false;  // HEAD: headers (with the GET Content-Length) but no body
  bool hsts = false;
  std::string_view request_id;
};
// Appends the status line and the headers of an HTTP/1.x response to out, with the blank line
// that ends them. Header names or values from the Response that contain CR, LF or NUL are dropped
// (no header injection). Content-Length is always sent except on 1xx/204/304 and for a body sent
// in pieces (r.more): that one is `Transfer-Encoding: chunked` on HTTP/1.1 and nothing on
// HTTP/1.0 (the caller closes the connection after it). Instantiated for std::string and
// WipingString (http/wipe.hpp).
template <class String>
void serialize_head(String& out, const Response& r, const SerializeOptions& o);
// serialize_head, then r.body unless the answer has none (HEAD, 1xx/204/304) or comes in pieces.
template <class String>
void serialize_response(String& out, const Response& r, const SerializeOptions& o);
// Whether out's body is sent after the head (neither HEAD nor a status without a body).
bool has_body(const Response& r, const SerializeOptions& o) noexcept;

// Status line reason phrase ("Not Found"); "Unknown" for unknown codes.
std::string_view reason_phrase(int status) noexcept;

}  // namespace sr::http
