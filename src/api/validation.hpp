// Field rules shared by several routes (SPEC 4-7).
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "json/json.hpp"
#include "util/utf8.hpp"

namespace sr::api {
std::optional<std::string> check_username(std::string_view v);
std::optional<std::string> check_email(std::string_view v);
// Absolute http/https URL per RFC 3986 with a host and no userinfo (SPEC 6 and 7).
std::optional<std::string> check_url(std::string_view v);
std::optional<std::string> check_phone(std::string_view v);
std::optional<std::string> check_platform(std::string_view v);
using sr::lower_ascii;
}  // namespace sr::api
