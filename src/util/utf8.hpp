#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace sr {
// Number of Unicode code points in valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF);
// nullopt when the bytes are not valid UTF-8.
std::optional<std::size_t> utf8_length(std::string_view s) noexcept;
// True when s contains a C0 control character (U+0000..U+001F) or DEL.
bool has_control_chars(std::string_view s) noexcept;

// A copy with ASCII letters lowercased and every other byte as it is (usernames and emails are
// compared this way; a non-ASCII byte is never folded into an ASCII one).
std::string lower_ascii(std::string_view s);
}  // namespace sr
