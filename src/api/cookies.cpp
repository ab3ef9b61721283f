#include "api/cookies.hpp"

#include <iterator>

namespace sr::api {

CookieNames CookieNames::for_secure(bool secure) {
  if (!secure)
    return {"access_token_cookie", "refresh_token_cookie", "csrf_access_token",
            "csrf_refresh_token", "vault_session"};
  return {"__Host-access_token_cookie", "__Secure-refresh_token_cookie", "__Host-csrf_access_token",
          "__Secure-csrf_refresh_token", "__Secure-vault_session"};
}

namespace {

// Calls f(name, value) for each cookie of a Cookie header ("a=1; b=2") until it returns true.
template <class F>
void each_cookie(std::string_view header, F&& f) {
  while (!header.empty()) {
    auto semi = header.find(';');
    std::string_view pair = header.substr(0, semi);
    header = semi == std::string_view::npos ? std::string_view{} : header.substr(semi + 1);
    while (!pair.empty() && (pair.front() == ' ' || pair.front() == '\t')) pair.remove_prefix(1);
    auto eq = pair.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view k = pair.substr(0, eq), v = pair.substr(eq + 1);
    while (!k.empty() && (k.back() == ' ' || k.back() == '\t')) k.remove_suffix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    if (f(k, v)) return;
  }
}

}  // namespace

bool CookieNames::repeated_in(std::string_view header) const {
  // One pass over the header (a browser's holds the ~400-byte access token), not one per name.
  const std::string* const names[] = {&access, &refresh, &csrf_access, &csrf_refresh, &vault};
  unsigned seen = 0;
  bool repeated = false;
  each_cookie(header, [&](std::string_view k, std::string_view) {
    for (unsigned i = 0; i < std::size(names); ++i) {
      if (k != *names[i]) continue;
      repeated = (seen & (1u << i)) != 0;
      seen |= 1u << i;
      break;
    }
    return repeated;
  });
  return repeated;
}

std::string_view find_cookie(std::string_view header, std::string_view name) {
  std::string_view found;
  each_cookie(header, [&](std::string_view k, std::string_view v) {
    if (k == name) found = v;
    return k == name;
  });
  return found;
}

std::string set_cookie(const CookieSpec& c) {
  std::string s;
  s.reserve(64 + c.value.size());
  s.append(c.name).append("=").append(c.value);
  s.append("; Path=").append(c.path);
  s.append("; Max-Age=").append(std::to_string(c.max_age));
  if (c.max_age == 0) s.append("; Expires=Thu, 01 Jan 1970 00:00:00 GMT");
  if (c.http_only) s.append("; HttpOnly");
  if (c.secure) s.append("; Secure");
  s.append("; SameSite=").append(c.same_site);
  return s;
}

}  // namespace sr::api
