#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace sr {
// base64url (RFC 4648 section 5) without padding, as JWT uses.
std::string base64url_encode(std::string_view bytes);
// Strict: rejects padding, whitespace, characters outside the alphabet and non-canonical trailing
// bits.
std::optional<std::string> base64url_decode(std::string_view text);
std::string hex_encode(std::string_view bytes);
std::optional<std::string> hex_decode(std::string_view text);
// Standard base64 with padding.
std::string base64_encode(std::string_view bytes);
std::optional<std::string> base64_decode(std::string_view text);
}  // namespace sr
