#include "auth/totp.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

#include <array>
#include <stdexcept>

namespace sr::auth::totp {
namespace {

constexpr std::string_view kBase32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
constexpr std::size_t kMaxBase32 = 1024;

int base32_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= '2' && c <= '7') return c - '2' + 26;
  return -1;
}

bool unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

void percent_encode_into(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (unsigned char c : s) {
    if (unreserved(c)) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0x0F];
    }
  }
}

}  // namespace

std::string base32_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() * 8 + 4) / 5);
  uint32_t buffer = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    buffer = (buffer << 8) | c;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += kBase32[(buffer >> bits) & 0x1F];
    }
  }
  if (bits > 0) out += kBase32[(buffer << (5 - bits)) & 0x1F];
  return out;
}

std::optional<std::string> base32_decode(std::string_view text) {
  // Lengths mod 8 that an unpadded encoding can have: 0, 2, 4, 5, 7 characters of a last group.
  static constexpr bool kLengthOk[8] = {true, false, true, false, true, true, false, true};
  if (text.size() > kMaxBase32 || !kLengthOk[text.size() % 8]) return std::nullopt;
  std::string out;
  out.reserve(text.size() * 5 / 8);
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    const int v = base32_value(c);
    if (v < 0) return std::nullopt;
    buffer = (buffer << 5) | static_cast<uint32_t>(v);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xFF);
    }
  }
  if ((buffer & ((1u << bits) - 1)) != 0) return std::nullopt;  // non-canonical trailing bits
  return out;
}

std::string hotp(const SecretBytes& key, uint64_t counter, int digits) {
  if (digits < 6 || digits > 9) throw std::invalid_argument("hotp: digits must be 6..9");
  std::array<unsigned char, 8> msg{};
  for (int i = 7; i >= 0; --i, counter >>= 8) msg[static_cast<std::size_t>(i)] = counter & 0xFF;
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int mac_len = 0;
  static const unsigned char kNoKey = 0;  // OpenSSL wants a pointer even for an empty key
  if (!HMAC(EVP_sha1(), key.empty() ? &kNoKey : key.data(), static_cast<int>(key.size()),
            msg.data(), msg.size(), mac.data(), &mac_len) ||
      mac_len != 20) {
    throw std::runtime_error("hotp: HMAC-SHA1 failed");
  }
  // RFC 4226 section 5.3: 31 bits at the offset named by the low nibble of the last byte.
  const unsigned offset = mac[19] & 0x0F;
  uint32_t bin = (static_cast<uint32_t>(mac[offset] & 0x7F) << 24) |
                 (static_cast<uint32_t>(mac[offset + 1]) << 16) |
                 (static_cast<uint32_t>(mac[offset + 2]) << 8) | mac[offset + 3];
  sodium_memzero(mac.data(), mac.size());
  std::string out(static_cast<std::size_t>(digits), '0');
  for (int i = digits - 1; i >= 0; --i, bin /= 10)
    out[static_cast<std::size_t>(i)] = static_cast<char>('0' + bin % 10);
  return out;
}

int64_t step_at(int64_t unix_seconds) {
  return unix_seconds < 0 ? 0 : unix_seconds / kPeriod;
}

bool is_code(std::string_view code) {
  if (code.size() != static_cast<std::size_t>(kDigits)) return false;
  for (char c : code)
    if (c < '0' || c > '9') return false;
  return true;
}

std::optional<int64_t> verify(const SecretBytes& key, std::string_view code, int64_t now,
                              int64_t last_used_step) {
  if (!is_code(code)) return std::nullopt;
  const int64_t current = step_at(now);
  std::optional<int64_t> match;
  // Every candidate is computed and compared, matching or not: the time taken does not say
  // which step (if any) the code belongs to. The earliest acceptable step wins (a chance
  // collision of two steps' codes spends the lesser).
  for (int64_t step = current - kWindow; step <= current + kWindow; ++step) {
    if (step < 0) continue;
    std::string expected = hotp(key, static_cast<uint64_t>(step));
    const bool equal = sodium_memcmp(expected.data(), code.data(), expected.size()) == 0;
    sodium_memzero(expected.data(), expected.size());
    if (equal && step > last_used_step && !match) match = step;
  }
  return match;
}

std::string otpauth_uri(std::string_view issuer, std::string_view account,
                        std::string_view secret_base32) {
  std::string out = "otpauth://totp/";
  percent_encode_into(out, issuer);
  out += ':';
  percent_encode_into(out, account);
  out += "?secret=";
  out += secret_base32;  // base32's alphabet is unreserved
  out += "&issuer=";
  percent_encode_into(out, issuer);
  out += "&algorithm=SHA1&digits=" + std::to_string(kDigits) + "&period=" + std::to_string(kPeriod);
  return out;
}

}  // namespace sr::auth::totp
