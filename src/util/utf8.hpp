#pragma once
#include <cstddef>
#include <optional>
#include <string_view>

namespace sr {
// Number of Unicode code points in valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF);
// nullopt when the bytes are not valid UTF-8.
std::optional<std::size_t> utf8_length(std::string_view s) noexcept;
// True when s contains a C0 control character (U+0000..U+001F) or DEL.
bool has_control_chars(std::string_view s) noexcept;
}  // namespace sr
