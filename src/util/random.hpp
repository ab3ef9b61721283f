#pragma once
#include <cstddef>
#include <string>

namespace sr {
// Fills with bytes from libsodium's CSPRNG (getrandom). sodium_init() is called once on first use.
void random_fill(void* p, std::size_t n);
// n random bytes, base64url without padding (e.g. 16 bytes -> 22 chars): ids, jti, csrf tokens.
std::string random_token(std::size_t n_bytes);
// Calls sodium_init(); aborts the process if libsodium cannot initialize.
void crypto_init();
}  // namespace sr
