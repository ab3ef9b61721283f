#include "api/validation.hpp"

#include <boost/url/parse.hpp>  // parse_uri: RFC 3986 URI (fragment allowed)

namespace sr::api {

std::optional<std::string> check_username(std::string_view v) {
  for (char c : v)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-'))
      return "may contain only letters, digits, '_' and '-'";
  return std::nullopt;
}

std::optional<std::string> check_email(std::string_view v) {
  auto at = v.find('@');
  if (at == std::string_view::npos || v.find('@', at + 1) != std::string_view::npos || at == 0)
    return "must be an email address with one '@'";
  std::string_view domain = v.substr(at + 1);
  auto dot = domain.find('.');
  if (domain.empty() || dot == std::string_view::npos || dot == 0 || domain.back() == '.' ||
      domain.find("..") != std::string_view::npos)
    return "must have a dotted domain";
  for (unsigned char c : v)
    if (c <= 0x20 || c == 0x7f || c == '<' || c == '>' || c == '"' || c == '(' || c == ')' ||
        c == ',' || c == ';' || c == ':' || c == '\\' || c == '[' || c == ']')
      return "contains characters not allowed in an email address";
  return std::nullopt;
}

std::optional<std::string> check_url(std::string_view v) {
  for (unsigned char c : v)
    if (c <= 0x20 || c == 0x7f) return "must not contain spaces or control characters";
  auto r = boost::urls::parse_uri(v);
  if (!r) return "must be an absolute http or https URL";
  std::string scheme = lower_ascii(r->scheme());
  if (scheme != "http" && scheme != "https") return "must use http or https";
  if (!r->has_authority() || r->encoded_host().empty()) return "must have a host";
  // Boost.URL 1.81 accepts "http://[::1]x/a" (an IP literal followed by a path without '/'),
  // which RFC 3986 forbids (path-abempty); found by fuzz/fuzz_url.
  if (auto p = r->encoded_path(); !p.empty() && p.front() != '/')
    return "must be an absolute http or https URL";
  if (r->has_userinfo()) return "must not contain credentials";
  return std::nullopt;
}

std::optional<std::string> check_phone(std::string_view v) {
  for (char c : v)
    if (!((c >= '0' && c <= '9') || c == ' ' || c == '+' || c == '(' || c == ')' || c == '-'))
      return "may contain only digits, spaces and + ( ) -";
  return std::nullopt;
}

std::optional<std::string> check_platform(std::string_view v) {
  for (char c : v)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == ' ' ||
          c == '.' || c == '_' || c == '-'))
      return "may contain only letters, digits, spaces and . _ -";
  return std::nullopt;
}

}  // namespace sr::api
