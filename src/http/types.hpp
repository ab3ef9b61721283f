// The HTTP vocabulary that the rest of the program sees. No Beast type appears here: the server
// (http/server.cpp) converts Beast's parsed request into a Request and a Response back into Beast.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/task.hpp"

namespace sr::http {

enum class Method { GET, HEAD, POST, PUT, PATCH, DELETE_, OPTIONS, OTHER };
std::string_view method_name(Method m) noexcept;

struct Request {
  Method method = Method::OTHER;
  std::string_view target;  // as received, e.g. "/social/links/3?x=1"
  std::string_view path;    // target without the query
  std::string_view route;   // the matched pattern, e.g. "/social/links/{id}" (empty if none)
  std::string_view body;
  std::string peer_ip;     // socket peer, textual (IPv4 dotted or IPv6)
  std::string request_id;  // sane client value echoed, else generated
  std::vector<std::pair<std::string_view, std::string_view>> params;  // path parameters

  // Case-insensitive header lookup; empty when absent. Views valid during the handler.
  std::function<std::string_view(std::string_view)> header_fn;
  std::string_view header(std::string_view name) const { return header_fn ? header_fn(name) : ""; }
  std::string_view param(std::string_view name) const {
    for (auto& [k, v] : params)
      if (k == name) return v;
    return {};
  }

  // Filled in by handlers' middleware for the access log.
  int64_t user_id = 0;
};

struct Response {
  int status = 200;
  std::string body;  // JSON unless content_type says otherwise
  // A static string (a view: "application/json" is one byte past the short-string buffer, so a
  // std::string here cost an allocation per response).
  std::string_view content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
  std::vector<std::string> set_cookies;                      // full Set-Cookie values
  // Replace the SPEC 3 values of Content-Security-Policy and Cache-Control for this response (the
  // web interface's documents, src/ui); empty keeps them. Views of static strings only.
  std::string_view csp;
  std::string_view cache_control;
  // A body too large to hold at once (the vault's whole list): the server sends `body`, then what
  // each call of `more` appends to the emptied buffer it is given, until a call returns false
  // (after appending the last piece). It goes chunked (HTTP/1.1; HTTP/1.0: delimited by closing
  // the connection). An exception from `more` closes the connection before the body's end, so
  // the client sees the answer cut short rather than a well-formed partial one.
  std::function<Task<bool>(std::string&)> more;

  static Response json(int status, std::string body) {
    Response r;
    r.status = status;
    r.body = std::move(body);
    return r;
  }
  static Response no_content() {
    Response r;
    r.status = 204;
    r.content_type = {};
    return r;
  }
};

using Handler = std::function<Task<Response>(Request&)>;

}  // namespace sr::http
