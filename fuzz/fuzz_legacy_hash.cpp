// fuzz_legacy_hash: sr::auth::verify_password() with arbitrary stored strings (Werkzeug pbkdf2 /
// scrypt, bcrypt, Argon2 PHC) and arbitrary passwords: never crashes or throws, never accepts two
// different passwords for one stored string, only accepts known formats.
//
// Cost prefilter (documented in docs/fuzzing.md): the implementation bounds the work a stored
// string may ask for (pbkdf2 <= 2M iterations, scrypt N*r*p <= 2^21, bcrypt cost <= 14, Argon2
// <= 256 MiB / 16 passes), but those bounds still allow ~1-10 s per call, far too slow for fuzzing.
// The harness skips inputs whose numbers (read conservatively: every number after "m=", "t=",
// "p=", every ':'-separated pbkdf2/scrypt parameter, the bcrypt cost) exceed small caps, and
// inputs that fall back to the (expensive) Werkzeug defaults. The parsing is still fully fuzzed;
// the worst cases allowed by the bounds are timed once with SR_FUZZ_LEGACY_WORST=1 (see docs).
//
// Input (FuzzedDataProvider): password (random-length string), then the stored string.
#include <sodium.h>

#include <chrono>
#include <cstring>

#include "auth/password.hpp"
#include "fuzz_common.hpp"

namespace {

const sr::auth::Argon2Params kParams{19456, 2};

// Every run of digits after `key` in s; the largest value (saturating), or 0.
uint64_t max_after(std::string_view s, std::string_view key) {
  uint64_t best = 0;
  for (size_t at = s.find(key); at != std::string_view::npos; at = s.find(key, at + 1)) {
    uint64_t v = 0;
    for (size_t i = at + key.size(); i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i)
      v = v > (UINT64_MAX / 10 - 10) ? UINT64_MAX / 10 : v * 10 + (s[i] - '0');
    best = std::max(best, v);
  }
  return best;
}

// True when the stored string might be expensive to verify.
bool too_costly(std::string_view s) {
  if (s.substr(0, 7) == "$argon2") {
    return max_after(s, "m=") > 256 || max_after(s, "t=") > 2 || max_after(s, "p=") > 2;
  }
  if (s.substr(0, 2) == "$2") {
    if (s.size() < 6) return false;
    int cost = (s[4] - '0') * 10 + (s[5] - '0');
    return cost > 5;
  }
  if (s.substr(0, 6) == "pbkdf2" || s.substr(0, 6) == "scrypt") {
    std::string_view method = s.substr(0, s.find('$'));
    // No parameters: the (expensive) Werkzeug defaults.
    if (method.find(':') == std::string_view::npos) return true;
    // Product of every all-digit ':' part (iterations, or N * r * p), saturating.
    uint64_t product = 1;
    bool any_number = false;
    size_t at = method.find(':');
    while (at != std::string_view::npos) {
      size_t next = method.find(':', at + 1);
      std::string_view part =
          method.substr(at + 1, next == std::string_view::npos ? next : next - at - 1);
      if (!part.empty() && part.find_first_not_of("0123456789") == std::string_view::npos) {
        any_number = true;
        uint64_t v = part.size() > 9 ? UINT64_MAX : std::stoull(std::string(part));
        product = (v != 0 && product > (uint64_t{1} << 40) / v) ? (uint64_t{1} << 40) : product * v;
      }
      at = next;
    }
    if (s.substr(0, 6) == "pbkdf2") return !any_number || product > 2000;  // default iterations
    return product > (uint64_t{1} << 11);
  }
  return false;
}

void worst_cases() {
  const std::string hex128(128, 'a'), hex64(64, 'a');
  const char* cases[] = {
      "pbkdf2:sha256:2000000$salt$",  // + 64 hex
      "pbkdf2:sha512:2000000$salt$",  // + 128 hex
      "scrypt:1048576:1:2$salt$",     // + 128 hex
      "scrypt:8192:128:2$salt$",
      "$2b$14$abcdefghijklmnopqrstuu0123456789012345678901234567890",
      "$argon2id$v=19$m=262144,t=16,p=1$c29tZXNhbHRzb21lc2FsdA$"
      "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
      "$argon2id$v=19$m=262144,t=16,p=16$c29tZXNhbHRzb21lc2FsdA$"
      "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
  };
  auto pw = sr::SecretString::from_view("password");
  for (const char* c : cases) {
    std::string stored = c;
    if (stored.rfind("pbkdf2:sha256", 0) == 0)
      stored += hex64;
    else if (stored.rfind("pbkdf2", 0) == 0 || stored.rfind("scrypt", 0) == 0)
      stored += hex128;
    auto t0 = std::chrono::steady_clock::now();
    auto r = sr::auth::verify_password(pw, stored, kParams);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::fprintf(stderr, "WORST %-40.40s ok=%d %.2f s\n", stored.c_str(), r.ok, s);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (sodium_init() < 0) std::abort();
  if (std::getenv("SR_FUZZ_LEGACY_WORST")) {
    worst_cases();
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4200) return 0;
  FuzzedDataProvider fdp(data, size);
  const std::string password = fdp.ConsumeRandomLengthString(128);
  const std::string stored = fdp.ConsumeRemainingBytesAsString();
  if (too_costly(stored)) return 0;
  const auto pw = sr::SecretString::from_view(password);
  const auto r = sr::auth::verify_password(pw, stored, kParams);
  if (!r.ok) return 0;
  // Accepted: a known format, and legacy formats always ask for a re-hash.
  const bool argon = stored.rfind("$argon2i", 0) == 0;
  const bool bcrypt =
      stored.rfind("$2a$", 0) == 0 || stored.rfind("$2b$", 0) == 0 || stored.rfind("$2y$", 0) == 0;
  const bool werkzeug = stored.rfind("pbkdf2", 0) == 0 || stored.rfind("scrypt", 0) == 0;
  FUZZ_CHECK(argon || bcrypt || werkzeug);
  if (!argon) FUZZ_CHECK(r.needs_rehash);
  // Another password never verifies against the same string (bcrypt reads only 72 bytes).
  std::string other = password + "!";
  if (!(bcrypt && password.size() >= 72)) {
    FUZZ_CHECK(!sr::auth::verify_password(sr::SecretString::from_view(other), stored, kParams).ok);
  }
  std::string flipped = password.empty() ? std::string("x") : password;
  flipped[0] = static_cast<char>(flipped[0] ^ 0x20);
  FUZZ_CHECK(!sr::auth::verify_password(sr::SecretString::from_view(flipped), stored, kParams).ok);
  return 0;
}
