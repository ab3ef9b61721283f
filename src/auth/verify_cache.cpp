#include "auth/verify_cache.hpp"

#include <sodium.h>

#include <algorithm>
#include <cstring>

namespace sr::auth {
namespace {

// Equal bytes, in time that depends only on n (public: the lengths were compared already).
// sodium_memcmp goes byte by byte through volatile pointers; this compares words, which matters
// for ~400-byte tokens compared on every request.
bool same_bytes(const char* a, const char* b, std::size_t n) {
  uint64_t diff = 0;
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t x, y;
    std::memcpy(&x, a + i, 8);
    std::memcpy(&y, b + i, 8);
    diff |= x ^ y;
  }
  for (; i < n; ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

void wipe_claims(Claims& c) {
  for (std::string* s : {&c.sub, &c.sid, &c.jti, &c.type, &c.csrf, &c.iss, &c.aud}) wipe(*s);
}

}  // namespace

VerifyCache::VerifyCache(const JwtKeys& keys, std::string expected_type, std::size_t slots)
    : keys_(keys),
      type_(std::move(expected_type)),
      shards_(std::make_unique<Shard[]>(kShards)),
      per_shard_(std::max<std::size_t>(1, slots / kShards)) {
  static_assert(sizeof hash_key_ == crypto_shorthash_KEYBYTES);
  crypto_shorthash_keygen(hash_key_);
  for (std::size_t i = 0; i < kShards; ++i) shards_[i].slots.resize(per_shard_);
}

VerifyCache::~VerifyCache() {
  for (std::size_t i = 0; i < kShards; ++i)
    for (auto& s : shards_[i].slots) {
      wipe(s.token);
      wipe_claims(s.claims);
    }
  sodium_memzero(hash_key_, sizeof hash_key_);
}

Verified VerifyCache::verify(std::string_view token, int64_t now) {
  // The slot comes from the token's last kHashedTail bytes: they hold its signature (43
  // characters of base64url for HS256), which differs between any two tokens the server issued,
  // for a sixth of the cost of hashing all ~375 bytes of an access token on every request. Only
  // where a token is looked up depends on it; a hit still needs the whole token equal.
  const std::string_view tail = token.substr(token.size() - std::min(token.size(), kHashedTail));
  unsigned char h[crypto_shorthash_BYTES];
  crypto_shorthash(h, reinterpret_cast<const unsigned char*>(tail.data()), tail.size(), hash_key_);
  uint64_t v = 0;
  for (unsigned char b : h) v = (v << 8) | b;
  Shard& shard = shards_[v % kShards];
  const std::size_t index = (v / kShards) % per_shard_;
  {
    std::lock_guard lock(shard.mu);
    Slot& s = shard.slots[index];
    if (!token.empty() && s.token.size() == token.size() &&
        same_bytes(s.token.data(), token.data(), token.size())) {
      ++shard.hits;
      // verify()'s time checks, in its order, against this call's clock.
      const Claims& c = s.claims;
      Verified out;
      if (c.exp <= now - keys_.leeway)
        out.error = JwtError::expired;
      else if (c.nbf > now + keys_.leeway || c.iat > now + keys_.leeway)
        out.error = JwtError::not_yet_valid;
      else
        out.claims = c;
      return out;
    }
  }
  Verified out = auth::verify(token, keys_, type_, now);
  if (out.ok()) {
    std::lock_guard lock(shard.mu);
    Slot& s = shard.slots[index];
    wipe(s.token);
    wipe_claims(s.claims);
    s.token.assign(token);
    s.claims = out.claims;
  }
  return out;
}

uint64_t VerifyCache::hits() const {
  uint64_t n = 0;
  for (std::size_t i = 0; i < kShards; ++i) {
    std::lock_guard lock(shards_[i].mu);
    n += shards_[i].hits;
  }
  return n;
}

}  // namespace sr::auth
