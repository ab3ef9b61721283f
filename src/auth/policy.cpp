#include "auth/policy.hpp"

#include <algorithm>
#include <iterator>
#include <string>

#include "util/secret.hpp"
#include "util/utf8.hpp"

namespace sr::auth {
namespace {

// zxcvbn 4.4.2's 30,000 most common passwords (see docs/crypto.md), sorted bytewise so that a
// binary search needs no start-up work.
constexpr std::string_view kCommon[] = {
#include "auth/common_passwords.inc"
};

constexpr std::size_t kMinLength = 12;
constexpr std::size_t kMaxLength = 128;

// Folded copies of a password are wiped once used. ASCII case folding only: the list is ASCII, and
// a folded non-ASCII byte can never match it.
struct Folded {
  explicit Folded(std::string_view s) : text(lower_ascii(s)) {}
  ~Folded() { wipe(text); }
  Folded(const Folded&) = delete;
  Folded& operator=(const Folded&) = delete;
  std::string text;
};

bool is_upper(unsigned char c) {
  return c >= 'A' && c <= 'Z';
}
bool is_lower(unsigned char c) {
  return c >= 'a' && c <= 'z';
}
bool is_digit(unsigned char c) {
  return c >= '0' && c <= '9';
}

}  // namespace

bool is_common_password(std::string_view password) {
  if (password.size() > kMaxLength * 4) return false;  // no entry is anywhere near that long
  const Folded folded(password);
  return std::binary_search(std::begin(kCommon), std::end(kCommon), std::string_view(folded.text));
}

std::size_t common_password_count() {
  return std::size(kCommon);
}

std::optional<std::string> check_password_policy(std::string_view password,
                                                 std::string_view username,
                                                 const PolicyOptions& opts) {
  const auto length = utf8_length(password);
  if (!length) return "must be valid UTF-8";
  if (*length < kMinLength || *length > kMaxLength) {
    return "must be between 12 and 128 characters";
  }
  if (is_common_password(password)) return "is too common; choose a less guessable password";
  if (!username.empty()) {
    const Folded p(password);
    const std::string u = lower_ascii(username);
    if (p.text.find(u) != std::string::npos) return "must not contain the username";
  }
  if (opts.composition_rules) {
    bool upper = false, lower = false, digit = false, special = false;
    for (unsigned char c : password) {
      if (is_upper(c)) {
        upper = true;
      } else if (is_lower(c)) {
        lower = true;
      } else if (is_digit(c)) {
        digit = true;
      } else {
        special = true;  // any other character, including every non-ASCII one
      }
    }
    if (!(upper && lower && digit && special)) {
      return "must contain an uppercase letter, a lowercase letter, a digit and a special "
             "character";
    }
  }
  return std::nullopt;
}

}  // namespace sr::auth
