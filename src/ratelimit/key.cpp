#include "ratelimit/key.hpp"

#include <algorithm>

#include <sodium.h>

namespace sr::ratelimit::detail {

std::string hashed_key(std::string_view key) {
  unsigned char digest[crypto_generichash_BYTES];  // 32
  crypto_generichash(digest, sizeof digest, reinterpret_cast<const unsigned char*>(key.data()),
                     key.size(), nullptr, 0);
  std::string out(1 + sizeof digest, '\0');
  std::copy(digest, digest + sizeof digest, out.begin() + 1);
  return out;
}

}  // namespace sr::ratelimit::detail
