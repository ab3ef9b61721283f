#include "util/encoding.hpp"

#include <sodium.h>

#include <array>
#include <cstdint>

#include "util/random.hpp"

namespace sr {
namespace {
std::string b64_encode(std::string_view bytes, int variant) {
  crypto_init();
  std::string out(sodium_base64_encoded_len(bytes.size(), variant), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), variant);
  out.resize(out.size() - 1);  // drop the terminating NUL
  return out;
}
// libsodium 1.0.18 (Debian 12) sodium_base642bin() accepts every byte >= 0x80 as if it were an
// alphabet character, so "strict" needs our own check first (found by fuzz/fuzz_base64_utf8).
bool in_alphabet(std::string_view text, int variant) noexcept {
  const bool url = variant == sodium_base64_VARIANT_URLSAFE_NO_PADDING;
  for (unsigned char c : text) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    (url ? (c == '-' || c == '_') : (c == '+' || c == '/' || c == '='));
    if (!ok) return false;
  }
  return true;
}
std::optional<std::string> b64_decode(std::string_view text, int variant) {
  crypto_init();
  if (!in_alphabet(text, variant)) return std::nullopt;
  std::string out(text.size() / 4 * 3 + 3, '\0');
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                        text.size(), nullptr, &len, &end, variant) != 0)
    return std::nullopt;
  if (end != text.data() + text.size()) return std::nullopt;
  out.resize(len);
  return out;
}
}  // namespace

std::string base64url_encode(std::string_view bytes) {
  return b64_encode(bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}
// Table-driven: every authenticated request decodes three JWT segments, and libsodium's
// constant-time decoder was ~5% of the CPU of such a request. Nothing decoded here is secret
// before its MAC is checked (JWT parts, sealed tokens), so a table lookup is fine.
std::optional<std::string> base64url_decode(std::string_view text) {
  static constexpr auto table = [] {
    std::array<signed char, 256> t{};
    for (auto& v : t) v = -1;
    const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(a[i])] = static_cast<signed char>(i);
    return t;
  }();
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.resize(text.size() / 4 * 3 + (text.size() % 4 ? text.size() % 4 - 1 : 0));
  char* o = out.data();
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : text) {
    const int v = table[c];
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      *o++ = static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  // Leftover bits must be zero: one encoding per byte string (as libsodium checks).
  if (bits && (acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}
std::string base64_encode(std::string_view bytes) {
  return b64_encode(bytes, sodium_base64_VARIANT_ORIGINAL);
}
std::optional<std::string> base64_decode(std::string_view text) {
  return b64_decode(text, sodium_base64_VARIANT_ORIGINAL);
}

std::string hex_encode(std::string_view bytes) {
  static const char* d = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(d[c >> 4]);
    out.push_back(d[c & 15]);
  }
  return out;
}
std::optional<std::string> hex_decode(std::string_view text) {
  if (text.size() % 2) return std::nullopt;
  auto val = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(text.size() / 2);
  for (size_t i = 0; i < text.size(); i += 2) {
    int h = val(text[i]), l = val(text[i + 1]);
    if (h < 0 || l < 0) return std::nullopt;
    out.push_back(static_cast<char>(h * 16 + l));
  }
  return out;
}

}  // namespace sr
