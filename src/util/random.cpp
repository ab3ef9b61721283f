#include "util/random.hpp"

#include <sodium.h>

#include <cstdlib>

#include "util/encoding.hpp"
#include "util/secret.hpp"

namespace sr {

void crypto_init() {
  static const bool ok = [] { return sodium_init() >= 0; }();
  if (!ok) std::abort();
}

void random_fill(void* p, std::size_t n) {
  crypto_init();
  randombytes_buf(p, n);
}

std::string random_token(std::size_t n_bytes) {
  std::string raw(n_bytes, '\0');
  random_fill(raw.data(), n_bytes);
  std::string out = base64url_encode(raw);
  wipe(raw);
  return out;
}

}  // namespace sr
