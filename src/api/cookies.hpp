// Cookie names, parsing of the Cookie header and building of Set-Cookie values (SPEC 4 and 12).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace sr::api {

struct CookieNames {
  std::string access, refresh, csrf_access, csrf_refresh, vault;
  // With Secure cookies the names carry the RFC 6265bis prefixes: __Host- for Path=/ cookies and
  // __Secure- for the others; on plain HTTP (development/test) they are the bare names.
  static CookieNames for_secure(bool secure);
  // Whether a Cookie header carries one of these names more than once. Such a request is refused
  // (SPEC 14): which copy a server, a proxy or a framework takes differs, and a cookie tossed in
  // from a sibling subdomain could otherwise swap the victim into another session.
  bool repeated_in(std::string_view header) const;
};

// The value of the first cookie called `name` in a Cookie header ("a=1; b=2"); empty if absent.
std::string_view find_cookie(std::string_view header, std::string_view name);

struct CookieSpec {
  std::string_view name, value, path;
  int64_t max_age = 0;  // seconds; 0 with clear=true expires it
  bool http_only = true;
  bool secure = false;
  std::string_view same_site = "Strict";
};
std::string set_cookie(const CookieSpec& c);

}  // namespace sr::api
