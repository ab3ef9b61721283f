// Time-based one-time passwords (RFC 6238 over RFC 4226's HOTP): HMAC-SHA1 (OpenSSL), 6 digits,
// 30-second steps counted from the Unix epoch, the current step and one step either side
// accepted, each step at most once per user (the replay guard below). Plus the RFC 4648 base32
// the authenticator apps take the secret in, and the otpauth:// URI of their QR codes.
//
// The replay guard: a code is accepted only for a step STRICTLY GREATER than the last step the
// user spent (the caller stores it, atomically: Repository::use_second_factor). Not "not already
// used": with the +/-1 window a set of spent steps would still take the code of step s-1 after
// the code of step s, so a code phished a minute ago would outlive a newer one. With "greater
// than", a code dies as soon as it or any later one is used. The price is small: a user whose
// phone runs ahead by up to a step and who signs in twice within the same 30 s waits for the
// next code.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "util/secret.hpp"

namespace sr::auth::totp {

inline constexpr int64_t kPeriod = 30;           // seconds per step
inline constexpr int kDigits = 6;                // digits of a code
inline constexpr int64_t kWindow = 1;            // steps accepted either side of the current one
inline constexpr std::size_t kSecretBytes = 20;  // 160 bits, RFC 4226's recommendation

// RFC 4648 section 6, upper case, without padding.
std::string base32_encode(std::string_view bytes);
// Strict inverse: upper-case alphabet only, no padding, no whitespace, a length an encoding can
// have, and zero trailing bits (one text per byte string). At most 1024 characters.
std::optional<std::string> base32_decode(std::string_view text);

// RFC 4226 HOTP: HMAC-SHA1(key, counter as 8 bytes big-endian), dynamic truncation, modulo
// 10^digits (digits 6..9), as a zero-padded decimal string.
std::string hotp(const SecretBytes& key, uint64_t counter, int digits = kDigits);

// The step containing unix time t (floor(t / 30); t < 0 is clamped to step 0).
int64_t step_at(int64_t unix_seconds);

// Exactly kDigits ASCII digits, nothing else (no spaces, signs or separators).
bool is_code(std::string_view code);

// The step among step_at(now) - 1 .. step_at(now) + 1 whose code is `code`, provided it is
// greater than last_used_step (the replay guard); nullopt otherwise, and for anything that is
// not is_code(). The three codes are always computed and compared in constant time.
std::optional<int64_t> verify(const SecretBytes& key, std::string_view code, int64_t now,
                              int64_t last_used_step);

// The Key Uri Format of the authenticator apps:
// otpauth://totp/<issuer>:<account>?secret=<base32>&issuer=<issuer>&algorithm=SHA1&digits=6&period=30
// with issuer and account percent-encoded (everything but RFC 3986's unreserved characters).
std::string otpauth_uri(std::string_view issuer, std::string_view account,
                        std::string_view secret_base32);

}  // namespace sr::auth::totp
