#include "util/utf8.hpp"

#include <cstdint>
#include <cstring>

namespace sr {
std::optional<std::size_t> utf8_length(std::string_view s) noexcept {
  std::size_t n = 0, i = 0;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t len = s.size();
  while (i < len) {
    // ASCII eight bytes at a time (ids, tokens, most text): no byte with its high bit set.
    if (i + 8 <= len) {
      uint64_t w;
      std::memcpy(&w, p + i, 8);
      if ((w & 0x8080808080808080ull) == 0) {
        i += 8;
        n += 8;
        continue;
      }
    }
    unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
    } else if (c >= 0xC2 && c <= 0xDF) {
      if (i + 1 >= len || (p[i + 1] & 0xC0) != 0x80) return std::nullopt;
      i += 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      if (i + 2 >= len || (p[i + 1] & 0xC0) != 0x80 || (p[i + 2] & 0xC0) != 0x80)
        return std::nullopt;
      if (c == 0xE0 && p[i + 1] < 0xA0) return std::nullopt;   // overlong
      if (c == 0xED && p[i + 1] >= 0xA0) return std::nullopt;  // surrogate
      i += 3;
    } else if (c >= 0xF0 && c <= 0xF4) {
      if (i + 3 >= len || (p[i + 1] & 0xC0) != 0x80 || (p[i + 2] & 0xC0) != 0x80 ||
          (p[i + 3] & 0xC0) != 0x80)
        return std::nullopt;
      if (c == 0xF0 && p[i + 1] < 0x90) return std::nullopt;   // overlong
      if (c == 0xF4 && p[i + 1] >= 0x90) return std::nullopt;  // > U+10FFFF
      i += 4;
    } else {
      return std::nullopt;
    }
    ++n;
  }
  return n;
}
bool has_control_chars(std::string_view s) noexcept {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7F) return true;
  return false;
}
std::string lower_ascii(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

}  // namespace sr
