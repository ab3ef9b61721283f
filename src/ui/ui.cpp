#include "ui/ui.hpp"

#include <algorithm>

#include "http/errors.hpp"

namespace sr::ui {
namespace {

const Asset* find(std::string_view path) noexcept {
  auto all = assets();
  auto it = std::lower_bound(all.begin(), all.end(), path,
                             [](const Asset& a, std::string_view p) { return a.path < p; });
  return it != all.end() && it->path == path ? &*it : nullptr;
}

// RFC 9110 13.1.2: If-None-Match is "*" or a list of entity tags compared weakly (W/ ignored).
bool none_match(std::string_view header, std::string_view etag) noexcept {
  while (!header.empty()) {
    auto comma = header.find(',');
    std::string_view tag = header.substr(0, comma);
    while (!tag.empty() && (tag.front() == ' ' || tag.front() == '\t')) tag.remove_prefix(1);
    while (!tag.empty() && (tag.back() == ' ' || tag.back() == '\t')) tag.remove_suffix(1);
    if (tag == "*") return true;
    if (tag.starts_with("W/")) tag.remove_prefix(2);
    if (tag == etag) return true;
    if (comma == std::string_view::npos) break;
    header.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

http::Response serve(const http::Request& req) {
  const Asset* a = find(req.path);
  if (!a) {
    if (req.path.starts_with("/ui/assets/"))
      return http::error_response(ErrorCode::not_found, "not found");
    static const Asset* shell = find("/ui/index.html");
    a = shell;
  }
  http::Response r;
  r.content_type = a->content_type;  // the asset table is static
  r.csp = kCsp;
  r.cache_control = kCacheControl;
  r.headers.emplace_back("ETag", std::string(a->etag));
  if (none_match(req.header("If-None-Match"), a->etag)) {
    r.status = 304;
    return r;
  }
  r.body = std::string(a->body);
  return r;
}

void add_ui_routes(http::Router& r) {
  auto handler = [](http::Request& req) -> Task<http::Response> { co_return serve(req); };
  r.add(http::Method::GET, "/", handler);
  r.add(http::Method::GET, "/ui", handler);
  r.add_prefix(http::Method::GET, "/ui/", handler);
}

}  // namespace sr::ui
