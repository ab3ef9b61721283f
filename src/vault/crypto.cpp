#include "vault/crypto.hpp"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <stdexcept>

#include "util/encoding.hpp"
#include "util/random.hpp"

namespace sr::vault {
namespace {

// Every blob starts with its format version; the version is also part of the associated data,
// so a blob cannot be replayed under another version's rules.
constexpr unsigned char kEnvelopeV1 = 0x01;
constexpr unsigned char kEntryV1 = 0x01;
constexpr unsigned char kSessionV1 = 0x01;
constexpr unsigned char kIndexV1 = 0x01;
constexpr std::string_view kSessionContext = "strongroom-vault-session-v1";
constexpr std::string_view kIndexContext = "strongroom-vault-index";

constexpr std::size_t kKeyBytes = crypto_aead_xchacha20poly1305_ietf_KEYBYTES;     // 32
constexpr std::size_t kNonceBytes = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;  // 24
constexpr std::size_t kTagBytes = crypto_aead_xchacha20poly1305_ietf_ABYTES;       // 16
constexpr std::size_t kSaltBytes = crypto_pwhash_argon2id_SALTBYTES;               // 16
constexpr std::size_t kHeader = 1 + kNonceBytes;

// Bounds on stored cost parameters (a corrupted row must not exhaust memory or time).
constexpr int64_t kMaxMemKib = int64_t{1} << 20;  // 1 GiB
constexpr int64_t kMaxPasses = 64;
constexpr std::size_t kMaxSessionToken = 4096;
constexpr std::size_t kMaxSid = 256;

static_assert(kKeyBytes == 32 && kNonceBytes == 24 && kTagBytes == 16 && kSaltBytes == 16);
static_assert(kEntryOverhead == kHeader + kTagBytes);

void put_be64(std::string& out, int64_t v) {
  const auto u = static_cast<uint64_t>(v);
  for (int s = 56; s >= 0; s -= 8) out += static_cast<char>((u >> s) & 0xFF);
}

int64_t get_be64(const unsigned char* p) {
  uint64_t u = 0;
  for (int k = 0; k < 8; ++k) u = (u << 8) | p[k];
  return static_cast<int64_t>(u);
}

const unsigned char* uc(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// version || nonce || AEAD(plaintext, ad)
std::string seal(unsigned char version, const unsigned char* key, std::string_view ad,
                 const unsigned char* plain, std::size_t n) {
  std::string out(kHeader + n + kTagBytes, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  o[0] = version;
  random_fill(o + 1, kNonceBytes);
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(o + kHeader, &clen, plain, n, uc(ad), ad.size(),
                                             nullptr, o + 1, key);
  out.resize(kHeader + static_cast<std::size_t>(clen));
  return out;
}

// The caller has checked blob[0] (the version), built `ad` with it and made room for
// blob.size() - kHeader - kTagBytes bytes at out. libsodium checks the tag before it decrypts:
// out holds no plaintext unless the blob is authentic.
bool open_into(const unsigned char* key, std::string_view ad, std::string_view blob,
               unsigned char* out) {
  if (blob.size() < kHeader + kTagBytes) return false;
  const auto* b = uc(blob);
  unsigned long long mlen = 0;
  return crypto_aead_xchacha20poly1305_ietf_decrypt(out, &mlen, nullptr, b + kHeader,
                                                    blob.size() - kHeader, uc(ad), ad.size(), b + 1,
                                                    key) == 0 &&
         mlen == blob.size() - kHeader - kTagBytes;
}

std::optional<SecretBytes> open(const unsigned char* key, std::string_view ad,
                                std::string_view blob) {
  if (blob.size() < kHeader + kTagBytes) return std::nullopt;
  // Short-lived: wiped on destruction, not mlock'ed (see SecretBytes::transient).
  auto plain = SecretBytes::transient(blob.size() - kHeader - kTagBytes);
  if (!open_into(key, ad, blob, plain.data())) return std::nullopt;  // plain is wiped
  return plain;
}

std::string envelope_ad(int64_t user_id) {
  std::string ad(1, static_cast<char>(kEnvelopeV1));
  put_be64(ad, user_id);
  return ad;
}

std::string entry_ad(int64_t user_id, int64_t entry_id) {
  std::string ad(1, static_cast<char>(kEntryV1));
  put_be64(ad, user_id);
  put_be64(ad, entry_id);
  return ad;
}

// On the stack: it is built on every list.
struct IndexAd {
  std::array<char, kIndexContext.size() + 1 + 8 + 8> b{};
  IndexAd(int64_t user_id, int64_t chunk) {
    auto* p = std::copy(kIndexContext.begin(), kIndexContext.end(), b.begin());
    *p++ = static_cast<char>(kIndexV1);
    for (int64_t v : {user_id, chunk}) {
      for (int s = 56; s >= 0; s -= 8)
        *p++ = static_cast<char>((static_cast<uint64_t>(v) >> s) & 0xFF);
    }
  }
  operator std::string_view() const { return {b.data(), b.size()}; }
};

std::string session_ad() {
  std::string ad(kSessionContext);
  ad += static_cast<char>(kSessionV1);
  return ad;
}

bool valid_cost(int64_t mem_kib, int64_t passes) {
  return mem_kib >= static_cast<int64_t>(crypto_pwhash_argon2id_MEMLIMIT_MIN / 1024) &&
         mem_kib <= kMaxMemKib &&
         passes >= static_cast<int64_t>(crypto_pwhash_argon2id_OPSLIMIT_MIN) &&
         passes <= kMaxPasses;
}

// Key-encryption key = Argon2id(vault password, salt, cost). Wiped by SecretBytes.
std::optional<SecretBytes> derive_kek(const SecretString& password, std::string_view salt,
                                      int64_t mem_kib, int64_t passes) {
  if (salt.size() != kSaltBytes || !valid_cost(mem_kib, passes)) return std::nullopt;
  SecretBytes kek(kKeyBytes);
  // An empty SecretBytes has a null data(); libsodium's arguments are declared non-null.
  const std::string_view pw = password.empty() ? std::string_view("", 0) : password.view();
  if (crypto_pwhash(kek.data(), kek.size(), pw.data(), pw.size(), uc(salt),
                    static_cast<unsigned long long>(passes),
                    static_cast<std::size_t>(mem_kib) * 1024, crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return std::nullopt;
  }
  return kek;
}

}  // namespace

SecretBytes new_data_key() {
  return SecretBytes::random(kKeyBytes);
}

Wrapped wrap_data_key(const SecretBytes& data_key, const SecretString& vault_password,
                      int64_t user_id, const auth::Argon2Params& p) {
  crypto_init();
  if (data_key.size() != kKeyBytes) throw std::invalid_argument("vault: data key must be 32 bytes");
  if (p.memory_kib > static_cast<uint64_t>(kMaxMemKib) ||
      p.passes > static_cast<uint64_t>(kMaxPasses) ||
      !valid_cost(static_cast<int64_t>(p.memory_kib), static_cast<int64_t>(p.passes))) {
    throw std::invalid_argument("vault: Argon2id parameters out of range");
  }
  Wrapped w;
  w.salt.resize(kSaltBytes);
  random_fill(w.salt.data(), kSaltBytes);
  w.mem_kib = static_cast<int64_t>(p.memory_kib);
  w.passes = static_cast<int64_t>(p.passes);
  auto kek = derive_kek(vault_password, w.salt, w.mem_kib, w.passes);
  if (!kek) throw std::runtime_error("vault: key derivation failed (out of memory?)");
  w.blob = seal(kEnvelopeV1, kek->data(), envelope_ad(user_id), data_key.data(), data_key.size());
  return w;
}

std::optional<SecretBytes> unwrap_data_key(const Wrapped& w, const SecretString& vault_password,
                                           int64_t user_id) {
  crypto_init();
  if (w.blob.size() != kHeader + kKeyBytes + kTagBytes ||
      static_cast<unsigned char>(w.blob[0]) != kEnvelopeV1) {
    return std::nullopt;
  }
  auto kek = derive_kek(vault_password, w.salt, w.mem_kib, w.passes);
  if (!kek) return std::nullopt;
  return open(kek->data(), envelope_ad(user_id), w.blob);
}

std::string seal_entry(const SecretBytes& data_key, int64_t user_id, int64_t entry_id,
                       std::string_view plaintext) {
  crypto_init();
  if (data_key.size() != kKeyBytes) throw std::invalid_argument("vault: data key must be 32 bytes");
  return seal(kEntryV1, data_key.data(), entry_ad(user_id, entry_id), uc(plaintext),
              plaintext.size());
}

std::optional<SecretBytes> open_entry(const SecretBytes& data_key, int64_t user_id,
                                      int64_t entry_id, std::string_view blob) {
  crypto_init();
  if (data_key.size() != kKeyBytes || blob.empty() ||
      static_cast<unsigned char>(blob[0]) != kEntryV1) {
    return std::nullopt;
  }
  return open(data_key.data(), entry_ad(user_id, entry_id), blob);
}

std::string seal_index_chunk(const SecretBytes& data_key, int64_t user_id, int64_t chunk,
                             std::string_view plaintext) {
  crypto_init();
  if (data_key.size() != kKeyBytes) throw std::invalid_argument("vault: data key must be 32 bytes");
  return seal(kIndexV1, data_key.data(), IndexAd(user_id, chunk), uc(plaintext), plaintext.size());
}

std::optional<SecretBytes> open_index_chunk(const SecretBytes& data_key, int64_t user_id,
                                            int64_t chunk, std::string_view blob) {
  crypto_init();
  if (data_key.size() != kKeyBytes || blob.empty() ||
      static_cast<unsigned char>(blob[0]) != kIndexV1) {
    return std::nullopt;
  }
  return open(data_key.data(), IndexAd(user_id, chunk), blob);
}

std::optional<std::size_t> index_chunk_plaintext_size(std::string_view blob) {
  if (blob.size() < kHeader + kTagBytes || static_cast<unsigned char>(blob[0]) != kIndexV1)
    return std::nullopt;
  return blob.size() - kHeader - kTagBytes;
}

bool open_index_chunk_into(const SecretBytes& data_key, int64_t user_id, int64_t chunk,
                           std::string_view blob, char* out) {
  crypto_init();
  if (data_key.size() != kKeyBytes || !index_chunk_plaintext_size(blob)) return false;
  return open_into(data_key.data(), IndexAd(user_id, chunk), blob,
                   reinterpret_cast<unsigned char*>(out));
}

// Session plaintext (v1), all integers big-endian:
//   user_id(8) unlocked_at(8) issued_at(8) expires_at(8) key_generation(8) epoch(8)
//   data_key(32) sid_len(2) sid(sid_len)
std::string seal_session(const VaultSession& s, const SecretBytes& server_key) {
  crypto_init();
  if (server_key.size() != kKeyBytes) {
    throw std::invalid_argument("vault: session key must be 32 bytes");
  }
  if (s.data_key.size() != kKeyBytes)
    throw std::invalid_argument("vault: data key must be 32 bytes");
  if (s.sid.size() > kMaxSid) throw std::invalid_argument("vault: session id too long");
  std::string fixed;
  for (int64_t v :
       {s.user_id, s.unlocked_at, s.issued_at, s.expires_at, s.key_generation, s.epoch}) {
    put_be64(fixed, v);
  }
  SecretBytes plain(fixed.size() + kKeyBytes + 2 + s.sid.size());
  unsigned char* p = plain.data();
  std::copy(fixed.begin(), fixed.end(), p);
  p += fixed.size();
  std::copy(s.data_key.data(), s.data_key.data() + kKeyBytes, p);
  p += kKeyBytes;
  *p++ = static_cast<unsigned char>(s.sid.size() >> 8);
  *p++ = static_cast<unsigned char>(s.sid.size() & 0xFF);
  std::copy(s.sid.begin(), s.sid.end(), p);
  std::string sealed =
      seal(kSessionV1, server_key.data(), session_ad(), plain.data(), plain.size());
  return base64url_encode(sealed);
}

std::optional<VaultSession> open_session(std::string_view token, const SecretBytes& server_key) {
  crypto_init();
  if (server_key.size() != kKeyBytes || token.empty() || token.size() > kMaxSessionToken) {
    return std::nullopt;
  }
  const auto raw = base64url_decode(token);
  if (!raw || raw->empty() || static_cast<unsigned char>((*raw)[0]) != kSessionV1) {
    return std::nullopt;
  }
  const auto plain = open(server_key.data(), session_ad(), *raw);
  if (!plain) return std::nullopt;
  constexpr std::size_t kFixed = 6 * 8 + kKeyBytes + 2;
  if (plain->size() < kFixed) return std::nullopt;
  const unsigned char* p = plain->data();
  VaultSession s;
  s.user_id = get_be64(p);
  s.unlocked_at = get_be64(p + 8);
  s.issued_at = get_be64(p + 16);
  s.expires_at = get_be64(p + 24);
  s.key_generation = get_be64(p + 32);
  s.epoch = get_be64(p + 40);
  // Transient like the plaintext it is copied from: it lives for one request, and locking it
  // cost four system calls per vault request (mlock and madvise, then both undone) under the
  // process-wide mmap lock.
  s.data_key = SecretBytes::transient(p + 48, kKeyBytes);
  const std::size_t sid_len = (std::size_t{p[80]} << 8) | p[81];
  if (plain->size() != kFixed + sid_len) return std::nullopt;
  s.sid.assign(reinterpret_cast<const char*>(p + kFixed), sid_len);
  return s;
}

}  // namespace sr::vault
