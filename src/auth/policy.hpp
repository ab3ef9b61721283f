// Password policy per SPEC section 4 (NIST SP 800-63B): 12-128 Unicode code points, not in the
// bundled list of common passwords (case-insensitive), not containing the username
// (case-insensitive); composition rules (upper/lower/digit/special) only when enabled.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace sr::auth {

struct PolicyOptions {
  bool composition_rules = false;
};

// nullopt when acceptable, else the message for the "fields" entry (never echoes the password).
std::optional<std::string> check_password_policy(std::string_view password,
                                                 std::string_view username,
                                                 const PolicyOptions& opts);
bool is_common_password(std::string_view password);
std::size_t common_password_count();

}  // namespace sr::auth
