// The rate-limit rules of SPEC section 8 (and 13), in one table: the API looks up a rule's default
// here, config validates `rate_limits` override names against it, `check --deploy` compares
// overrides with it, and the docs list it. Header-only data, so that config needs no hiredis.
#pragma once
#include <cstdint>
#include <string_view>

namespace sr::ratelimit {

struct Rule {
  std::string_view name;  // the `rate_limits` key and the counter namespace ("signin:...")
  int64_t count;          // default requests per period (before rate_limit_scale)
  int64_t period;         // seconds
  std::string_view key;   // what one counter is keyed on
  std::string_view what;  // the requests it counts
};

inline constexpr Rule kRules[] = {
    {"signin", 5, 60, "client IP", "POST /auth/signin and POST /auth/signin/2fa"},
    {"signin_user", 5, 60, "normalized username or email", "POST /auth/signin"},
    {"signin_2fa", 5, 300, "user", "POST /auth/signin/2fa (second step)"},
    {"signup", 3, 3600, "client IP", "POST /auth/signup"},
    {"refresh", 10, 60, "session", "POST /auth/refresh"},
    {"vault_unlock", 3, 300, "user", "POST /vault/unlock-vault"},
    {"sensitive", 5, 3600, "user",
     "password routes: POST /auth/change-password, /auth/delete-account, /vault/change-password, "
     "/vault/setup and the 2FA setup, confirm, disable and recovery-codes routes"},
    {"authenticated", 600, 60, "user", "any other route, with a valid token"},
    {"anonymous", 120, 60, "client IP", "any other route, without a valid token"},
};

// The rule of that name, or nullptr.
constexpr const Rule* find_rule(std::string_view name) {
  for (const auto& r : kRules)
    if (r.name == name) return &r;
  return nullptr;
}

}  // namespace sr::ratelimit
