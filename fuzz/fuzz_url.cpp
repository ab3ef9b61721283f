// fuzz_url: the field checks of src/api/validation.cpp on arbitrary text, with invariants written
// independently of the implementation (an accepted URL is http/https with a host, no userinfo,
// and only RFC 3986 characters; an accepted email has one '@' and a dotted domain; ...).
//
// Input: byte 0 selects the check, the rest is the value.
#include <cctype>

#include "api/validation.hpp"
#include "fuzz_common.hpp"

namespace {

bool rfc3986_char(unsigned char c) {
  if (std::isalnum(c)) return true;
  switch (c) {
    case '-':
    case '.':
    case '_':
    case '~':  // unreserved
    case ':':
    case '/':
    case '?':
    case '#':
    case '[':
    case ']':
    case '@':  // gen-delims
    case '!':
    case '$':
    case '&':
    case '\'':
    case '(':
    case ')':
    case '*':
    case '+':
    case ',':
    case ';':
    case '=':  // sub-delims
    case '%':
      return true;
    default:
      return false;
  }
}

bool ihas_prefix(std::string_view s, std::string_view p) {
  if (s.size() < p.size()) return false;
  for (size_t i = 0; i < p.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) != p[i]) return false;
  return true;
}

void run_url(std::string_view v) {
  if (sr::api::check_url(v)) return;                      // refused: fine
  for (unsigned char c : v) FUZZ_CHECK(rfc3986_char(c));  // no space, control, quote, <, >, \ ...
  size_t after;
  if (ihas_prefix(v, "http://"))
    after = 7;
  else if (ihas_prefix(v, "https://"))
    after = 8;
  else
    FUZZ_CHECK(false && "accepted URL is not http(s)://");
  // The authority, as a browser splits it: up to the first '/', '?' or '#'.
  std::string_view rest = v.substr(after);
  std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  FUZZ_CHECK(authority.find('@') == std::string_view::npos);  // no userinfo
  std::string_view host = authority;
  if (!host.empty() && host.front() == '[') {
    auto close = host.find(']');
    FUZZ_CHECK(close != std::string_view::npos && close > 1);
    std::string_view port = host.substr(close + 1);
    FUZZ_CHECK(port.empty() || port.front() == ':');
  } else {
    host = host.substr(0, host.find(':'));
  }
  FUZZ_CHECK(!host.empty());
  // Percent-encodings are well formed.
  for (size_t i = 0; i < v.size(); ++i)
    if (v[i] == '%')
      FUZZ_CHECK(i + 2 < v.size() && std::isxdigit(static_cast<unsigned char>(v[i + 1])) &&
                 std::isxdigit(static_cast<unsigned char>(v[i + 2])));
}

void run_email(std::string_view v) {
  if (sr::api::check_email(v)) return;
  auto at = v.find('@');
  FUZZ_CHECK(at != std::string_view::npos && at > 0);
  FUZZ_CHECK(v.find('@', at + 1) == std::string_view::npos);
  std::string_view domain = v.substr(at + 1);
  FUZZ_CHECK(!domain.empty() && domain.front() != '.' && domain.back() != '.');
  FUZZ_CHECK(domain.find('.') != std::string_view::npos);
  FUZZ_CHECK(domain.find("..") == std::string_view::npos);
  for (unsigned char c : v) {
    FUZZ_CHECK(c > 0x20 && c != 0x7F);
    FUZZ_CHECK(std::string_view("<>\"(),;:\\[]").find(static_cast<char>(c)) ==
               std::string_view::npos);
  }
}

void run_charset(std::string_view v, std::optional<std::string> (*fn)(std::string_view),
                 std::string_view extra, bool letters) {
  bool expect_ok = true;
  for (unsigned char c : v) {
    bool ok = std::isdigit(c) || (letters && std::isalpha(c)) ||
              extra.find(static_cast<char>(c)) != std::string_view::npos;
    expect_ok = expect_ok && ok && c < 0x80;
  }
  FUZZ_CHECK(fn(v).has_value() == !expect_ok);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > 4096) return 0;
  std::string_view v = sr::fuzz::as_view(data + 1, size - 1);
  switch (data[0] % 6) {
    case 0:
      run_url(v);
      break;
    case 1:
      run_email(v);
      break;
    case 2:
      run_charset(v, sr::api::check_username, "_-", true);
      break;
    case 3:
      run_charset(v, sr::api::check_phone, " +()-", false);
      break;
    case 4:
      run_charset(v, sr::api::check_platform, " ._-", true);
      break;
    case 5:  // every check on the same text; none may crash or throw
      run_url(v);
      run_email(v);
      (void)sr::api::lower_ascii(v);
      break;
  }
  return 0;
}
