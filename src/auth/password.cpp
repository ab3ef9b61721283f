#include "auth/password.hpp"

#include <crypt.h>
#include <openssl/evp.h>
#include <sodium.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "util/encoding.hpp"
#include "util/random.hpp"

namespace sr::auth {
namespace {

// Bounds on what a stored hash may ask of us. A stored string is data: a crafted or corrupted
// one must not be able to pin a hash worker for minutes or exhaust memory. Each bound is far
// above what the original app (or any library default) ever produced.
// Measured here: pbkdf2-sha256 at 600k iterations ~ 0.3 s, scrypt 2^15/8/1 ~ 0.15 s.
// Bounds on what a stored hash may ask for: one row must not pin a hash worker for seconds
// (measured by fuzz/fuzz_legacy_hash, docs/fuzzing.md). Each bound sits at or just above the
// largest default any version of the original app's libraries ever wrote.
constexpr uint64_t kMaxPbkdf2Iterations = 1'000'000;    // Werkzeug's defaults: 260k, 600k, 1M
constexpr uint64_t kMaxScryptN = uint64_t{1} << 20;     // Werkzeug's default: 2^15
constexpr uint64_t kMaxScryptMemory = 64ull << 20;      // 128 * N * r bytes (default: 32 MiB)
constexpr uint64_t kMaxScryptWork = uint64_t{1} << 19;  // N * r * p        (default: 2^18)
constexpr int kMinBcryptCost = 4, kMaxBcryptCost = 13;  // default of bcrypt/flask-bcrypt: 12
constexpr uint64_t kMaxArgonMemoryKib = 64u << 10;      // 64 MiB, unless our own p asks for more
constexpr uint64_t kMaxArgonPasses = 4;                 // idem
constexpr uint64_t kMaxArgonLanes = 16;

// Werkzeug 2.2.2 (Debian 12's python3-werkzeug) uses this when "pbkdf2:sha256$..." carries no
// iteration count. No Werkzeug version ever writes such a string (generate_password_hash always
// writes the count), so only a hand-made hash can depend on it. See docs/crypto.md.
constexpr uint64_t kWerkzeugDefaultPbkdf2Iterations = 260'000;
// Werkzeug >= 2.3: "scrypt$..." means scrypt:32768:8:1; the key is 64 bytes (hashlib's default).
constexpr uint64_t kWerkzeugScryptN = 32768, kWerkzeugScryptR = 8, kWerkzeugScryptP = 1;
constexpr std::size_t kWerkzeugScryptKeyLen = 64;

// An empty SecretBytes has a null data(); libsodium's and OpenSSL's arguments must not be null.
std::string_view pw_view(const SecretString& p) {
  return p.empty() ? std::string_view("", 0) : p.view();
}

// Strict decimal: digits only, no sign, no leading '+'/spaces, fits in uint64.
std::optional<uint64_t> parse_uint(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  uint64_t v = 0;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t k = s.find(sep, start);
    if (k == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, k - start));
    start = k + 1;
  }
}

// Compares the lowercase hex of `key` with the stored hex text, as Werkzeug does
// (hmac.compare_digest on the hex strings), in constant time.
bool hex_matches(unsigned char* key, std::size_t n, std::string_view stored_hex) {
  std::string hex = hex_encode(std::string_view(reinterpret_cast<const char*>(key), n));
  const bool ok = ct_equal(hex, stored_hex);
  wipe(hex);
  sodium_memzero(key, n);
  return ok;
}

// ---- Werkzeug ---------------------------------------------------------------------------------
// "method$salt$hash": the salt is used as its UTF-8 text, the hash is lowercase hex.

bool verify_pbkdf2(const SecretString& pw, const std::vector<std::string_view>& args,
                   std::string_view salt, std::string_view hex) {
  // args: [] | [hash] | [hash, iterations]   (Werkzeug >= 2.3 also accepts plain "pbkdf2")
  std::string_view hash_name = "sha256";
  uint64_t iterations = kWerkzeugDefaultPbkdf2Iterations;
  if (args.size() > 2) return false;
  if (!args.empty()) hash_name = args[0];
  if (args.size() == 2) {
    const auto it = parse_uint(args[1]);
    if (!it) return false;
    iterations = *it;
  }
  if (iterations < 1 || iterations > kMaxPbkdf2Iterations) return false;
  const EVP_MD* md = nullptr;
  if (hash_name == "sha256") {
    md = EVP_sha256();
  } else if (hash_name == "sha512") {
    md = EVP_sha512();
  } else if (hash_name == "sha384") {
    md = EVP_sha384();
  } else if (hash_name == "sha224") {
    md = EVP_sha224();
  } else if (hash_name == "sha1") {
    md = EVP_sha1();
  } else {
    return false;
  }
  const int len = EVP_MD_get_size(md);
  if (len <= 0 || hex.size() != static_cast<std::size_t>(len) * 2) return false;
  unsigned char key[EVP_MAX_MD_SIZE];
  const auto p = pw_view(pw);
  if (PKCS5_PBKDF2_HMAC(
          p.data(), static_cast<int>(p.size()), reinterpret_cast<const unsigned char*>(salt.data()),
          static_cast<int>(salt.size()), static_cast<int>(iterations), md, len, key) != 1) {
    sodium_memzero(key, sizeof key);
    return false;
  }
  return hex_matches(key, static_cast<std::size_t>(len), hex);
}

bool verify_scrypt(const SecretString& pw, const std::vector<std::string_view>& args,
                   std::string_view salt, std::string_view hex) {
  uint64_t n = kWerkzeugScryptN, r = kWerkzeugScryptR, p = kWerkzeugScryptP;
  if (!args.empty()) {
    if (args.size() != 3) return false;
    const auto pn = parse_uint(args[0]), pr = parse_uint(args[1]), pp = parse_uint(args[2]);
    if (!pn || !pr || !pp) return false;
    n = *pn, r = *pr, p = *pp;
  }
  // n a power of two in [2, 2^20]; r, p >= 1; memory and work bounded (no overflow: n <= 2^20).
  if (n < 2 || n > kMaxScryptN || (n & (n - 1)) != 0) return false;
  if (r < 1 || p < 1 || r > 1024 || p > 1024) return false;
  if (128 * n * r > kMaxScryptMemory || n * r * p > kMaxScryptWork) return false;
  if (hex.size() != kWerkzeugScryptKeyLen * 2) return false;
  // Werkzeug passes maxmem = 132 * n * r * p to hashlib.scrypt; OpenSSL refuses what needs more.
  const uint64_t maxmem = 132 * n * r * p;
  unsigned char key[kWerkzeugScryptKeyLen];
  const auto pv = pw_view(pw);
  if (EVP_PBE_scrypt(pv.data(), pv.size(), reinterpret_cast<const unsigned char*>(salt.data()),
                     salt.size(), n, r, p, maxmem, key, sizeof key) != 1) {
    sodium_memzero(key, sizeof key);
    return false;
  }
  return hex_matches(key, sizeof key, hex);
}

bool verify_werkzeug(const SecretString& pw, std::string_view stored) {
  // Werkzeug: method, salt, hashval = pwhash.split("$", 2)
  const std::size_t a = stored.find('$');
  if (a == std::string_view::npos) return false;
  const std::size_t b = stored.find('$', a + 1);
  if (b == std::string_view::npos) return false;
  const std::string_view method = stored.substr(0, a);
  const std::string_view salt = stored.substr(a + 1, b - a - 1);
  const std::string_view hex = stored.substr(b + 1);
  if (salt.empty() || salt.size() > 1024 || hex.empty()) return false;
  auto parts = split(method, ':');
  const std::string_view kind = parts.front();
  parts.erase(parts.begin());
  if (kind == "pbkdf2") return verify_pbkdf2(pw, parts, salt, hex);
  if (kind == "scrypt") return verify_scrypt(pw, parts, salt, hex);
  return false;
}

// ---- bcrypt (libxcrypt) -----------------------------------------------------------------------
// "$2b$12$" + 22 chars of salt + 31 chars of hash. bcrypt uses only the first 72 bytes of the
// password; this path only verifies old hashes (new ones are Argon2id), see docs/crypto.md.

bool verify_bcrypt(const SecretString& pw, std::string_view stored) {
  if (stored.size() != 60 || stored[6] != '$') return false;
  const auto cost = parse_uint(stored.substr(4, 2));
  if (!cost || *cost < kMinBcryptCost || *cost > kMaxBcryptCost) return false;
  const auto p = pw_view(pw);
  // crypt takes a C string: a password with a NUL byte would be silently cut; refuse it (Python's
  // bcrypt refuses it as well).
  if (p.find('\0') != std::string_view::npos) return false;
  std::string phrase(p);
  const std::string setting(stored);
  auto data = std::make_unique<crypt_data>();
  std::memset(data.get(), 0, sizeof(crypt_data));
  const char* out = crypt_rn(phrase.c_str(), setting.c_str(), data.get(), sizeof(crypt_data));
  const bool ok = out != nullptr && out[0] != '*' && ct_equal(out, stored);
  wipe(phrase);
  sodium_memzero(data.get(), sizeof(crypt_data));
  return ok;
}

// ---- Argon2 (libsodium) -----------------------------------------------------------------------

struct Argon2Cost {
  uint64_t m = 0, t = 0, p = 0;
};

// Reads "$argon2id$v=19$m=19456,t=2,p=1$..." (or $argon2i$) enough to bound its cost.
std::optional<Argon2Cost> parse_argon2(std::string_view s) {
  const std::string_view id = "$argon2id$", i = "$argon2i$";
  if (s.substr(0, id.size()) == id) {
    s.remove_prefix(id.size());
  } else if (s.substr(0, i.size()) == i) {
    s.remove_prefix(i.size());
  } else {
    return std::nullopt;
  }
  if (s.substr(0, 2) == "v=") {
    const std::size_t d = s.find('$');
    if (d == std::string_view::npos) return std::nullopt;
    s.remove_prefix(d + 1);
  }
  const std::size_t d = s.find('$');
  if (d == std::string_view::npos) return std::nullopt;
  const auto fields = split(s.substr(0, d), ',');
  if (fields.size() != 3) return std::nullopt;
  Argon2Cost c;
  const std::string_view names[] = {"m=", "t=", "p="};
  uint64_t* dst[] = {&c.m, &c.t, &c.p};
  for (int k = 0; k < 3; ++k) {
    if (fields[k].substr(0, 2) != names[k]) return std::nullopt;
    const auto v = parse_uint(fields[k].substr(2));
    if (!v) return std::nullopt;
    *dst[k] = *v;
  }
  return c;
}

VerifyResult verify_argon2(const SecretString& pw, std::string_view stored, const Argon2Params& p) {
  VerifyResult r;
  const auto cost = parse_argon2(stored);
  if (!cost) return r;
  if (cost->m > std::max(kMaxArgonMemoryKib, p.memory_kib) ||
      cost->t > std::max(kMaxArgonPasses, p.passes) || cost->p < 1 || cost->p > kMaxArgonLanes) {
    return r;
  }
  if (stored.size() >= crypto_pwhash_STRBYTES) return r;
  const std::string str(stored);  // NUL-terminated for libsodium
  const auto pv = pw_view(pw);
  if (crypto_pwhash_str_verify(str.c_str(), pv.data(), pv.size()) != 0) return r;
  r.ok = true;
  if (stored.substr(0, 10) != "$argon2id$") {
    r.needs_rehash = true;  // argon2i: move to argon2id
  } else {
    const int n = crypto_pwhash_str_needs_rehash(str.c_str(), p.passes, p.memory_kib * 1024);
    // 1 = the parameters differ: rehash only when weaker, never downgrade a stronger hash.
    r.needs_rehash = n < 0 || (n == 1 && (cost->m < p.memory_kib || cost->t < p.passes));
  }
  return r;
}

}  // namespace

std::string hash_password(const SecretString& password, const Argon2Params& p) {
  crypto_init();
  if (p.memory_kib * 1024 < crypto_pwhash_argon2id_MEMLIMIT_MIN ||
      p.memory_kib > (SIZE_MAX / 1024) || p.passes < crypto_pwhash_argon2id_OPSLIMIT_MIN ||
      p.passes > crypto_pwhash_argon2id_OPSLIMIT_MAX) {
    throw std::invalid_argument("argon2id: parameters out of range");
  }
  char out[crypto_pwhash_STRBYTES];
  const auto pv = pw_view(password);
  if (crypto_pwhash_str_alg(out, pv.data(), pv.size(), p.passes,
                            static_cast<std::size_t>(p.memory_kib * 1024),
                            crypto_pwhash_ALG_ARGON2ID13) != 0) {
    throw std::runtime_error("argon2id: hashing failed (out of memory?)");
  }
  return std::string(out);
}

VerifyResult verify_password(const SecretString& password, std::string_view stored,
                             const Argon2Params& p) {
  try {
    crypto_init();
    if (stored.size() > 4096) return {};
    if (stored.substr(0, 8) == "$argon2i") return verify_argon2(password, stored, p);
    if (stored.substr(0, 4) == "$2a$" || stored.substr(0, 4) == "$2b$" ||
        stored.substr(0, 4) == "$2y$") {
      const bool ok = verify_bcrypt(password, stored);
      return {ok, ok};  // legacy: always re-hashed to Argon2id after a successful signin
    }
    if (stored.substr(0, 7) == "pbkdf2:" || stored.substr(0, 7) == "pbkdf2$" ||
        stored.substr(0, 7) == "scrypt:" || stored.substr(0, 7) == "scrypt$") {
      const bool ok = verify_werkzeug(password, stored);
      return {ok, ok};
    }
  } catch (...) {  // e.g. bad_alloc: a failed verification, never a crash
  }
  return {};
}

}  // namespace sr::auth
