// Key normalization shared by the backends (internal header).
#pragma once
#include <string>
#include <string_view>

namespace sr::ratelimit::detail {

// Keys up to this many bytes are stored as given; longer ones are replaced by a digest so that an
// attacker-chosen key (a huge username) costs bounded memory, locally and in Redis.
inline constexpr std::size_t kMaxRawKey = 256;

// True when `key` is stored as given: short, and not starting with NUL (the digest marker).
inline bool key_is_raw(std::string_view key) {
  return key.size() <= kMaxRawKey && (key.empty() || key[0] != '\0');
}

// "\0" + BLAKE2b-256(key): deterministic (every instance agrees) and, thanks to the NUL marker that
// raw keys never carry, never equal to a raw key.
std::string hashed_key(std::string_view key);

// The key as stored: `key` itself when key_is_raw, else hashed_key(key). `buf` holds the digest.
inline std::string_view storage_key(std::string_view key, std::string& buf) {
  if (key_is_raw(key)) return key;
  buf = hashed_key(key);
  return buf;
}

}  // namespace sr::ratelimit::detail
