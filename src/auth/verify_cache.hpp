// A memo of access tokens this process has fully verified, so that a client sending the same
// token on every request pays for the HMAC, the base64 and the claims parse once (they were about
// 14% of the CPU of an authenticated GET in a profile; docs/benchmarks.md).
//
// Why it cannot change an answer of verify():
//  - a hit needs the presented token to equal, byte for byte (compared in time independent of
//    the bytes), a token
//    that verify() accepted with the same keys and the same expected type. A token cannot change,
//    so verify() would accept it again, except for its time checks: those are re-run on every hit
//    against the caller's `now`, exactly as verify() runs them;
//  - it holds no session state: revocation is decided by the session row, read on every request
//    after this (api/gate.cpp), so a cached token of a revoked session still gets its 401;
//  - it is bound to one JwtKeys for its whole life (the Context's) and dies with it.
// Slots are picked by SipHash-2-4 under a random key of the token's last 64 bytes (its
// signature), so nobody can aim a token at another client's slot without knowing that client's
// token; a collision or a miss just verifies. Bounded: `slots` entries, evicted by
// overwrite, each wiped when replaced and at destruction.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "auth/jwt.hpp"

namespace sr::auth {

class VerifyCache {
 public:
  VerifyCache(const JwtKeys& keys, std::string expected_type, std::size_t slots = 1024);
  ~VerifyCache();
  VerifyCache(const VerifyCache&) = delete;
  VerifyCache& operator=(const VerifyCache&) = delete;

  // The same result as auth::verify(token, keys, expected_type, now), for every input.
  Verified verify(std::string_view token, int64_t now);

  // Hits since construction (for tests and metrics).
  uint64_t hits() const;

 private:
  struct Slot {
    std::string token;  // empty: free
    Claims claims;
  };
  struct Shard {
    std::mutex mu;
    std::vector<Slot> slots;
    uint64_t hits = 0;
  };
  static constexpr std::size_t kShards = 16;
  static constexpr std::size_t kHashedTail = 64;  // bytes of the token that pick its slot

  const JwtKeys& keys_;
  std::string type_;
  unsigned char hash_key_[16];
  std::unique_ptr<Shard[]> shards_;
  std::size_t per_shard_;
};

}  // namespace sr::auth
